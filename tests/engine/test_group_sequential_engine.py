"""Group-sequential stopping in the engine: the per-look stopping probabilities of simulated
z statistics against the exact crossing probabilities, and the tables of a power run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

from ketsim.config.scenario import parse_scenario
from ketsim.core.stats import group_sequential as gs
from ketsim.engine.chunks import NormalReference
from ketsim.engine.group_sequential import summarise_group_sequential
from ketsim.engine.power import estimate_power
from ketsim.engine.runs import RunOptions


def _scenario(interim: dict, sides: int = 1, alpha: float = 0.025, n: int = 40, **design):
    return parse_scenario(
        {
            "name": "gs_reference",
            "arms": [
                {"name": "treatment", "n": n, "regimens": ["20 mg/h for 4 h"]},
                {
                    "name": "control",
                    "n": n,
                    "treatment": "placebo",
                    "regimens": ["20 mg/h for 4 h"],
                },
            ],
            "trial": {"weeks": 1},
            "design": design,
            "endpoints": [{"name": "y", "type": "weekly_mean", "week": 1}],
            "analyses": [{"endpoint": "y", "method": "t_test"}],
            "statistics": {"alpha": alpha, "sides": sides, "interim": interim},
        }
    )


def _brownian_table(t, drift, R, sides, seed=0):
    """Interim rows whose z statistics follow the canonical joint distribution exactly."""
    rng = np.random.default_rng(seed)
    t = np.asarray(t)
    w = np.cumsum(rng.standard_normal((R, t.size)) * np.sqrt(np.diff(np.r_[0, t])), axis=1)
    z = (w + drift * t) / np.sqrt(t)  # benefit-direction z; benefit = lower pain ("less")
    p = ndtr(-z) if sides == 1 else 2 * ndtr(-np.abs(z))
    k = np.broadcast_to(np.arange(t.size), (R, t.size))
    return pd.DataFrame(
        {
            "replicate": np.repeat(np.arange(R), t.size),
            "look": k.ravel(),
            "analysis_id": 0,
            "comparison": "treatment",
            "alternative": "less" if sides == 1 else "two-sided",
            "estimate": -z.ravel(),  # a pain difference: negative = benefit
            "p_adjusted": p.ravel(),
            "alpha": 0.025 * sides,
            "info": np.broadcast_to(t, (R, t.size)).ravel(),
            "n_analysed": np.round(np.broadcast_to(t, (R, t.size)) * 80).ravel(),
            "n_enrolled": 80,
            "look_day": np.nan,
        }
    )


@pytest.mark.parametrize(
    ("spending", "sides", "futility", "drift"),
    [
        ("obrien_fleming", 1, None, 2.8),
        ("pocock", 1, [0.0, 0.5], 2.8),
        ("obrien_fleming", 2, [0.2, 0.6], 2.0),
        ("pocock", 2, None, 0.0),
    ],
)
def test_stopping_probabilities_match_exact_crossing(spending, sides, futility, drift):
    t = [1 / 3, 2 / 3, 1.0]
    sc = _scenario({"information": t, "spending": spending, "futility": futility}, sides=sides)
    R = 40_000
    looks, summ = summarise_group_sequential(_brownian_table(t, drift, R, sides), sc)
    d = gs.design(t, 0.025 * sides, spending, sides, futility)
    ex = d.exit_probabilities(drift)
    eff = ex["efficacy"] + ex["efficacy_lower"]
    # 4 MC SEs: 7 probabilities per case, 4 cases
    tol = 4 * np.sqrt(np.maximum(eff * (1 - eff), 1e-4) / R)
    np.testing.assert_allclose(looks["p_efficacy"], eff, atol=tol.max())
    np.testing.assert_allclose(looks["efficacy_z"], d.efficacy, atol=1e-12)
    if futility is not None:
        np.testing.assert_allclose(looks["p_futility"], ex["futility"], atol=4 * np.sqrt(0.25 / R))
    s = summ.iloc[0]
    assert s["power"] == pytest.approx(looks["p_efficacy"].sum())
    stop = looks["p_efficacy"] + looks["p_futility"]
    n_exp = float(np.sum(stop[:-1] * looks["n_analysed"][:-1]) + (1 - stop[:-1].sum()) * 80)
    assert s["expected_n"] == pytest.approx(n_exp)
    if drift == 0.0:  # type-I error of the two-sided design: alpha, within MC error
        assert abs(s["power"] - 0.05) < 4 * np.sqrt(0.05 * 0.95 / R)


def test_beta_spending_futility_in_the_engine():
    t = [0.4, 0.7, 1.0]
    sc = _scenario({"information": t, "futility_beta": 0.2, "futility_spending": "pocock"})
    d = gs.design(t, 0.025, "obrien_fleming", beta=0.2, beta_spending="pocock")
    _, delta = gs.beta_spending_futility(t, d.efficacy, 0.2, "pocock")
    R = 40_000
    looks, summ = summarise_group_sequential(_brownian_table(t, delta, R, 1, seed=2), sc)
    np.testing.assert_allclose(looks["futility_z"][:2], d.futility[:2], atol=1e-12)
    ex = d.exit_probabilities(delta)
    np.testing.assert_allclose(looks["p_futility"], ex["futility"], atol=4 * np.sqrt(0.25 / R))
    # power 1 - beta at the design drift
    assert abs(summ["power"].iloc[0] - 0.8) < 4 * np.sqrt(0.8 * 0.2 / R)


def test_calendar_looks_use_observed_information():
    t_obs = np.array([0.4, 0.55])  # two replicates with different shares followed up at week w
    rows = []
    for r, t1 in enumerate(t_obs):
        for k, (t, z) in enumerate([(t1, 1.0), (1.0, 1.5)]):
            rows.append(
                dict(
                    replicate=r, look=k, analysis_id=0, comparison="treatment",
                    alternative="less", estimate=-z, p_adjusted=ndtr(-z), alpha=0.025,
                    info=t, n_analysed=round(80 * t), n_enrolled=80, look_day=7.0 * (k + 1) * 10,
                )
            )  # fmt: skip
    sc = parse_scenario(
        {
            **_scenario({"information": [0.5]}).model_dump(mode="json", exclude_none=True),
            "design": {"recruitment": {"patients_per_week": 4.0}},
            "statistics": {"alpha": 0.025, "sides": 1, "interim": {"weeks": [10]}},
        }
    )
    looks, summ = summarise_group_sequential(pd.DataFrame(rows), sc)
    b_mean = np.mean([gs.spending_boundaries([t, 1], 0.025, "obrien_fleming")[0] for t in t_obs])
    assert looks["efficacy_z"].iloc[0] == pytest.approx(b_mean)
    assert looks["info"].iloc[0] == pytest.approx(t_obs.mean())
    assert summ["expected_weeks"].iloc[0] == pytest.approx(20.0)  # no stop: both run to the end


def test_power_run_writes_group_sequential_tables(tmp_path):
    sc = _scenario({"information": [0.5], "futility": [0.0]}, n=30)
    res = estimate_power(
        sc,
        replicates=200,
        seed=11,
        out=str(tmp_path / "gs"),
        opts=RunOptions(jobs=1, progress=False, argv=["test"]),
        reference=NormalReference((-1.0, 0.0), 2.0),
    )
    looks, summ = res.group_sequential, res.group_sequential_summary
    assert (tmp_path / "gs" / "group_sequential.csv").is_file()
    assert (tmp_path / "gs" / "group_sequential_summary.csv").is_file()
    assert list(looks["look"]) == [1, 2]
    # the interim look analyses the first half of each arm
    assert looks["n_analysed"].tolist() == [30.0, 60.0]
    s = summ.iloc[0]
    assert s["power"] == pytest.approx(looks["p_efficacy"].sum())
    assert 30 <= s["expected_n"] <= 60
    # a trial that stops early never rejects more often than the full one at nominal alpha by
    # more than the early-look crossings
    fixed = res.power.iloc[0]["power"]
    assert s["fixed_power"] == pytest.approx(fixed)
    assert s["power"] <= fixed + looks["p_efficacy"].iloc[0]
    # the report's power panel shows the design
    from ketsim.apps.report import write_report

    html = (tmp_path / "gs" / "report.html").read_text() if write_report(tmp_path / "gs") else ""
    assert "Group-sequential design (obrien_fleming spending, 1-sided alpha 0.025)" in html
