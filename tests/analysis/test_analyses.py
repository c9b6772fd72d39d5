"""Declared analyses on simulated trials: type-I error under the null, designs end to end, CLI.

Type-I error: two identical placebo arms (or a placebo-placebo crossover) are simulated many times
and every declared test is run on each replicate; the rejection rate must lie within
``alpha ± 4 · sqrt(alpha (1 - alpha) / R)`` (4 Monte Carlo standard errors; the chance that a
valid test falls outside is < 1e-4 per test). Tests that are conservative by construction (Fisher,
Yates) only get the upper bound.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ketsim.analysis.analyses import analyse_trials, endpoint_summaries
from ketsim.config.scenario import load_scenario, parse_scenario
from ketsim.sim.trial import simulate_trial

ALPHA = 0.05
REG = "0.5 mg/kg over 40min"


def _null_parallel(n_arms: int = 2) -> dict:
    arms = [
        {"name": f"placebo{i}", "n": 30, "treatment": "placebo", "regimens": [REG]}
        for i in range(n_arms)
    ]
    return {
        "name": "null",
        "population": {"indication": "neuropathic"},
        "arms": arms,
        "trial": {"weeks": 3},
        "endpoints": [
            {"name": "change3", "type": "change_from_baseline", "week": 3},
            {"name": "auc", "type": "auc", "days": [1, 21]},
            {"name": "resp", "type": "responder", "week": 3, "threshold_pct": 10},
            {"name": "relapse", "type": "time_to_relapse", "threshold_pct": 10},
            {"name": "psy", "type": "adverse_event", "event": "psychotomimetic"},
        ],
        "statistics": {"alpha": ALPHA},
    }


def _bounds(r: int) -> tuple[float, float]:
    h = 4 * np.sqrt(ALPHA * (1 - ALPHA) / r)
    return ALPHA - h, ALPHA + h


NULL_ANALYSES = [
    ({"endpoint": "change3", "method": "t_test"}, False),
    ({"endpoint": "change3", "method": "welch"}, False),
    ({"endpoint": "change3", "method": "ancova"}, False),
    ({"endpoint": "change3", "method": "wilcoxon"}, False),
    ({"endpoint": "change3", "method": "mmrm", "covariance": "unstructured"}, False),
    ({"endpoint": "change3", "method": "mmrm", "covariance": "ar1"}, False),
    ({"endpoint": "auc", "method": "ancova", "sides": 1}, False),
    ({"endpoint": "resp", "method": "chi2"}, False),
    ({"endpoint": "resp", "method": "logistic"}, False),
    ({"endpoint": "resp", "method": "fisher", "strategy": "composite"}, True),
    ({"endpoint": "relapse", "method": "logrank"}, False),
]


@pytest.fixture(scope="module")
def null_results():
    d = _null_parallel()
    d["analyses"] = [a for a, _ in NULL_ANALYSES]
    sc = parse_scenario(d)
    res = simulate_trial(sc, seed=123, replicates=range(600))
    return sc, res, analyse_trials(res.arrays, sc)


@pytest.mark.parametrize("i", range(len(NULL_ANALYSES)))
def test_type_one_error_within_monte_carlo_interval(null_results, i):
    _sc, _, table = null_results
    spec, conservative = NULL_ANALYSES[i]
    rows = table[table["analysis_id"] == i]
    r = len(rows)
    assert r == 600
    rate = rows["reject"].mean()
    lo, hi = _bounds(r)
    assert rate <= hi, (spec, rate)
    if not conservative:
        assert rate >= lo, (spec, rate)
    assert rows["converged"].mean() > 0.98


def test_multiplicity_controls_familywise_error():
    d = _null_parallel(n_arms=3)
    d["analyses"] = [
        {"endpoint": "change3", "method": "ancova", "control": "placebo0", "multiplicity": m}
        for m in ("none", "holm", "hochberg", "dunnett")
    ]
    sc = parse_scenario(d)
    res = simulate_trial(sc, seed=5, replicates=range(400))
    t = analyse_trials(res.arrays, sc)
    fwer = {}
    for i, m in enumerate(("none", "holm", "hochberg", "dunnett")):
        rows = t[t["analysis_id"] == i]
        assert len(rows) == 2 * 400
        fwer[m] = rows.groupby("replicate")["reject"].any().mean()
    _lo, hi = _bounds(400)
    # unadjusted: two comparisons inflate the familywise error to about 1 - 0.95^2 (correlated)
    assert fwer["none"] > fwer["holm"]
    for m in ("holm", "hochberg", "dunnett"):
        assert fwer[m] <= hi, fwer
    # Dunnett is exact for this family, Holm conservative
    assert fwer["dunnett"] >= fwer["holm"]


def test_null_crossover_type_one_error():
    d = {
        "name": "nullxo",
        "population": {"indication": "neuropathic"},
        "arms": [
            {"name": "p1", "treatment": "placebo", "regimens": [REG]},
            {"name": "p2", "treatment": "placebo", "regimens": [REG]},
        ],
        "design": {
            "type": "crossover",
            "crossover": {"sequences": "latin_square", "n_per_sequence": 10, "period_weeks": 3},
        },
        "endpoints": [{"name": "auc", "type": "auc", "days": [1, 21]}],
        "analyses": [{"endpoint": "auc", "method": "crossover"}],
    }
    sc = parse_scenario(d)
    res = simulate_trial(sc, seed=8, replicates=range(500))
    t = analyse_trials(res.arrays, sc)
    lo, hi = _bounds(500)
    assert lo <= t["reject"].mean() <= hi


def _carryover_design(washout_weeks: int, sequences) -> dict:
    reg = {"route": "iv_infusion", "rate": "0.35 mg/kg/h", "duration": "100 h"}
    return {
        "name": "xo",
        "population": {"indication": "crps1"},
        "arms": [
            {"name": "placebo", "treatment": "placebo", "regimens": [reg]},
            {"name": "ketamine", "regimens": [reg]},
        ],
        "design": {
            "type": "crossover",
            "crossover": {
                "sequences": sequences,
                "n_per_sequence": 150,
                "period_weeks": 4,
                "washout_weeks": washout_weeks,
            },
        },
        "endpoints": [{"name": "wk1", "type": "weekly_mean", "week": 1}],
        "analyses": [
            {"endpoint": "wk1", "method": "crossover", "carryover": True},
            {"endpoint": "wk1", "method": "crossover"},
        ],
    }


def test_crossover_with_two_week_washout_detects_carryover():
    """Ketamine's lasting effect (t1/2 ~11 d, Dahan 2011) leaks through a 2-week washout.

    Detected three ways: the model-truth diagnostic (residual relief at the next period's start),
    the observed period baselines (a t-test between patients whose previous period was ketamine
    or placebo), and the treatment estimate, which shrinks when carry-over is ignored.
    """
    from ketsim.analysis.endpoints import carryover_diagnostic, period_baselines
    from ketsim.core import stats

    seqs = [["ketamine", "placebo"], ["placebo", "ketamine"]]
    out = {}
    for washout in (2, 30):
        d = _carryover_design(washout, seqs)
        d["analyses"] = d["analyses"][1:]  # AB/BA: no carry-over term (aliased)
        ta, sc = _run(d)
        diag = carryover_diagnostic(ta).set_index("previous_arm")
        pb = period_baselines(ta)[:, 1]
        after_k = (ta.segment_arm[:, 0] == 1).astype(int)
        _, rep = np.unique(ta.replicate, return_inverse=True)
        # H1: lower period-2 baseline after ketamine
        t = stats.two_sample_t(pb, after_k, rep, 3, alternative="less")
        est = analyse_trials(ta, sc)["estimate"].to_numpy()
        out[washout] = (diag.loc["ketamine", "excess_over_placebo"], t.p_value, est)
    excess, p, est = out[2]
    assert excess > 0.15  # a fifth of baseline pain still relieved when period 2 starts
    assert np.all(p < 0.001)
    excess_l, p_l, est_l = out[30]
    assert excess_l < 0.02
    assert np.median(p_l) > 0.01
    # carry-over into the placebo period shrinks the estimated benefit
    assert est.mean() > est_l.mean() + 0.2


def _run(d):
    sc = parse_scenario(d)
    res = simulate_trial(sc, seed=21, replicates=range(3))
    return res.arrays, sc


def test_carryover_is_rejected_for_two_by_two_designs():
    from ketsim.config.scenario import ScenarioError

    d = _carryover_design(2, [["ketamine", "placebo"], ["placebo", "ketamine"]])
    with pytest.raises(ScenarioError, match="aliased with the sequence effect"):
        parse_scenario(d)


@pytest.mark.parametrize(
    "path",
    [
        "scenarios/published/sigtermans2009.yaml",
        "scenarios/designs/pickering_style_crossover.yaml",
        "scenarios/designs/eerw_ketamine_infusion.yaml",
    ],
)
def test_declared_analyses_run_for_each_design(path, tmp_path):
    sc = load_scenario(path)
    res = simulate_trial(sc, replicates=[0, 1])
    t = analyse_trials(res.arrays, sc)
    assert sorted(t["analysis_id"].unique()) == list(range(len(sc.analyses)))
    assert set(t["endpoint"]) == {a.endpoint for a in sc.analyses}
    assert t["converged"].mean() > 0.9
    ok = t["converged"]
    assert np.all((t["ci_low"][ok] <= t["estimate"][ok]) & (t["estimate"][ok] <= t["ci_high"][ok]))
    assert np.all((t["p_value"][ok] >= 0) & (t["p_value"][ok] <= 1))
    es = endpoint_summaries(res.arrays, sc)
    assert set(es["endpoint"]) == {e.name for e in sc.endpoints}


def test_simulate_prints_declared_analyses(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ketsim",
            "simulate",
            "scenarios/designs/pickering_style_crossover.yaml",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "auc35" in out and "crossover" in out and "95% [" in out
    assert (tmp_path / "x" / "analyses.csv").exists()


def test_find_analysis_by_index_endpoint_or_label():
    from ketsim.analysis.analyses import find_analysis
    from ketsim.config.scenario import load_scenario

    sc = load_scenario(
        Path(__file__).resolve().parents[2] / "scenarios/published/sigtermans2009.yaml"
    )
    assert find_analysis(sc, "2") == 2
    assert sc.analyses[find_analysis(sc, "relapse30")].endpoint == "relapse30"
    i = find_analysis(sc, "change_week12 mmrm unstructured (hypothetical)")
    assert sc.analyses[i].strategy == "hypothetical"
    with pytest.raises(ValueError, match="2 analyses use endpoint 'change_week12'"):
        find_analysis(sc, "change_week12")
    with pytest.raises(ValueError, match="must be one of: 0 = "):
        find_analysis(sc, "nope")
