"""``expected:`` on crossover designs: per-period units and within-patient differences, checked
against pandas/scipy computations on ``simulate_trial``'s diary and event tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from ketsim.apps import published_checks as v
from ketsim.apps.published_checks import crossover_checks, trial_checks
from ketsim.config.scenario import ScenarioError, parse_scenario
from ketsim.sim.trial import simulate_trial

ROOT = Path(__file__).resolve().parents[2]
DESIGN = yaml.safe_load(
    (ROOT / "scenarios" / "designs" / "pickering_style_crossover.yaml").read_text()
)
for key in ("endpoints", "analyses"):
    DESIGN.pop(key)
# 3 periods of 2 weeks, 1-week washouts: period j starts after diary day 21 j
DESIGN["design"]["crossover"].update(n_per_sequence=2, period_weeks=2, washout_weeks=1)
PAIR = {"arm": "ketamine_1.0", "control": "placebo", "source": "s"}
SEED, REPS = 3, 3


def _scenario(expected: list[dict]) -> object:
    return parse_scenario({**DESIGN, "expected": expected})


def _units(res) -> pd.DataFrame:
    """Diary rows with their period, the period's treatment and the day within the period."""
    d = res.diary.copy()
    d["period"] = np.where(d.day >= 1, (d.day - 1) // 21, -1)
    d = d[(d.period >= 0) & ((d.day - 1) % 21 < 14)]
    seqs = d.arm.str.split("-")
    d["treatment"] = [s[p] for s, p in zip(seqs, d.period, strict=True)]
    d["pday"] = d.day - 21 * d.period
    return d


@pytest.fixture(scope="module")
def sim():
    expected = [
        {"name": "m", "quantity": "arm_mean", "arm": "ketamine_1.0", "week": 1}
        | {"measure": "end_of_week", "value": 4, "tolerance": {"abs": 3}, "source": "s"},
        {"name": "d", "quantity": "arm_difference", "week": 2, "measure": "end_of_week"}
        | PAIR
        | {"value": -1, "tolerance": {"abs": 3}},
        {"name": "t", "quantity": "p_value", "weeks": (1, 2), "measure": "end_of_week"}
        | PAIR
        | {"value": 0.05, "tolerance": {"z": 2}},
        {"name": "w", "quantity": "p_value", "week": 1, "measure": "end_of_week"}
        | PAIR
        | {"test": "wilcoxon", "sides": 1, "value": 0.05, "tolerance": {"z": 2}},
        {"name": "psy", "quantity": "proportion_difference", "event": "psychotomimetic"}
        | PAIR
        | {"value": 0.3, "tolerance": {"abs": 0.5}},
        {"name": "pk", "quantity": "week_of_largest_difference", "measure": "end_of_week"}
        | PAIR
        | {"value": 1, "tolerance": {"abs": 1}},
        {"name": "med", "quantity": "median_nrs", "arm": "placebo", "day": 10, "measure": "day"}
        | {"value": 5, "tolerance": {"abs": 3}, "source": "s"},
    ]
    sc = _scenario(expected)
    specs = list(enumerate(sc.expected))
    arrays = trial_checks._trial_chunk(sc, specs, SEED, 0, REPS)[1]
    res = simulate_trial(sc, seed=SEED, replicates=list(range(REPS)))
    return sc, arrays, res, _units(res)


def _within(u: pd.DataFrame, pday: int) -> pd.Series:
    """Per (replicate, patient): ketamine_1.0 minus placebo NRS on day ``pday`` of the period."""
    x = u[u.pday == pday].pivot_table(
        index=["replicate", "patient"], columns="treatment", values="nrs", dropna=False
    )
    return (x["ketamine_1.0"] - x["placebo"]).dropna()


def test_period_means_and_within_patient_differences(sim):
    _, arrays, _, u = sim
    k = u[(u.treatment == "ketamine_1.0") & (u.pday == 7)].groupby("replicate")["nrs"].mean()
    np.testing.assert_allclose(arrays[0], k.to_numpy(), rtol=1e-12)
    d = _within(u, 14).groupby("replicate").mean()
    np.testing.assert_allclose(arrays[1], d.to_numpy(), rtol=1e-12)
    med = u[(u.treatment == "placebo") & (u.pday == 10)].groupby("replicate")["nrs"].median()
    np.testing.assert_allclose(arrays[6], med.to_numpy(), rtol=1e-12)
    # week_of_largest_difference: the period's 2 weeks, placebo - ketamine within patients
    curve = [-_within(u, 7 * w).groupby("replicate").mean() for w in (1, 2)]
    np.testing.assert_allclose(arrays[5], np.column_stack(curve), rtol=1e-12)


def test_paired_p_values_match_scipy(sim):
    _, arrays, _, u = sim
    t = arrays[2]
    assert t.shape == (REPS, 2, 2)
    for j, day in enumerate((7, 14)):
        d = _within(u, day)
        for r in range(REPS):
            ref = sps.ttest_rel(d.loc[r].to_numpy(), np.zeros(len(d.loc[r])))
            assert t[r, j, 0] == pytest.approx(ref.pvalue, rel=1e-9)
            z = sps.norm.isf(ref.pvalue / 2)
            assert t[r, j, 1] == pytest.approx(z if d.loc[r].mean() < 0 else -z, rel=1e-9)
    d = _within(u, 7)
    for r in range(REPS):
        x = d.loc[r].to_numpy()
        ref = sps.wilcoxon(
            x, zero_method="wilcox", correction=True, alternative="less", method="approx"
        )
        assert arrays[3][r, 0, 0] == pytest.approx(ref.pvalue, rel=1e-9)


def test_period_adverse_events_from_the_event_table(sim):
    _, arrays, res, _ = sim
    ev = res.events[res.events.event == "ae_psychotomimetic"].copy()
    ev["period"] = (ev.time_h // (21 * 24)).astype(int)
    ev["treatment"] = [s.split("-")[p] for s, p in zip(ev.arm, ev.period, strict=True)]
    hit = ev.groupby(["replicate", "patient", "treatment"]).size() > 0
    n = res.patients.groupby("replicate").size()  # every patient has one period per arm
    # a short saline infusion may give no background report at all (exposure-scaled background)
    by_arm = hit.unstack("treatment", fill_value=False)
    for j, arm in enumerate(("ketamine_1.0", "placebo")):
        col = by_arm[arm] if arm in by_arm else pd.Series(False, index=by_arm.index)
        per = col.groupby("replicate").sum().reindex(n.index, fill_value=0)
        np.testing.assert_allclose(arrays[4][:, j], (per / n).to_numpy(), rtol=1e-12)
    assert arrays[4][:, 0].mean() > arrays[4][:, 1].mean()  # ketamine: more psychotomimetic


def test_signed_rank_matches_scipy_with_ties_and_zeros():
    x = np.array([-3, -2, -2, 0, 1, -1, -4, 2, -2, -3, 0, -1.0])
    for alt, sides in (("two-sided", 2), ("less", 1)):
        ref = sps.wilcoxon(
            x, zero_method="wilcox", correction=True, alternative=alt, method="approx"
        )
        p, dev = crossover_checks.signed_rank(x, sides)
        assert p == pytest.approx(ref.pvalue, rel=1e-12) and dev < 0


def test_validate_runs_a_crossover_and_says_within_patient(sim):
    sc = sim[0]
    df = v.validate_scenario(sc, replicates=4, seed=SEED).set_index("check")
    assert "within-patient" in df.loc["d", "note"]
    assert all("paired test" in x for x in df.loc["t", "note"])  # one row per week
    assert df["simulated"].notna().all()


@pytest.mark.parametrize(
    "item, message",
    [
        ({"name": "r", "quantity": "end_rate", "arm": "ketamine_1.0", "value": 1}, "end_rate is"),
        (
            {"name": "r", "quantity": "proportion", "arm": "placebo", "event": "dropout"}
            | {"value": 0.1},
            "expected[0].event: dropout is per patient, not per crossover period",
        ),
        (
            {"name": "r", "quantity": "p_value", "week": 1, "test": "welch", "value": 0.05}
            | PAIR
            | {"tolerance": {"z": 2}},
            "expected[0].test: welch compares independent groups",
        ),
        (
            {"name": "r", "quantity": "arm_mean", "arm": "placebo", "week": 1}
            | {"anchor": "treatment_end", "value": 5},
            "expected[0].anchor: treatment_end is for parallel and enrichment designs",
        ),
        (
            {"name": "r", "quantity": "arm_mean", "arm": "placebo", "week": 3, "value": 5},
            "expected[0].week: week 3 is after the period's last week (2)",
        ),
    ],
)
def test_crossover_refusals(item, message):
    item = {"source": "s", "tolerance": {"abs": 1}} | item
    with pytest.raises(ScenarioError) as err:
        _scenario([item])
    assert any(message in line for line in err.value.problems), err.value.problems
