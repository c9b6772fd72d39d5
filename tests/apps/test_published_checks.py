"""Validation against published results: the ``expected:`` schema, every quantity on hand-made
data, pass/fail logic, the HTML page, the ``ketsim validate`` handler and (slow) the published
library."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from ketsim.apps import published_checks as v
from ketsim.apps.published_checks import judging, summaries, trial_checks
from ketsim.config.scenario import ExpectedSpec, ScenarioError, load_scenario, parse_scenario
from ketsim.sim.compile import compile_dosing
from ketsim.sim.trial import AE_EVENTS, TrialArrays

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "scenarios" / "published"
SIGTERMANS = yaml.safe_load((PUBLISHED / "sigtermans2009.yaml").read_text())
SIGTERMANS.pop("expected")
SHORT = {k: x for k, x in SIGTERMANS.items() if k not in ("endpoints", "analyses")}
W1 = {
    "name": "w1",
    "quantity": "arm_mean",
    "arm": "ketamine",
    "week": 1,
    "value": 2.68,
    "se": 0.51,
    "tolerance": {"k_se": 2},
    "source": "abstract",
}
PK = {
    "name": "in",
    "population": {"n": 3},
    "regimens": [{"route": "intranasal", "amount": "0.2 mg/kg"}],
    "output": {"step": "1 min", "end": "3 h"},
    "seed": 7,
}


def _problems(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    return err.value.problems


def _spec(**kw) -> ExpectedSpec:
    base = {"name": "x", "value": 0.0, "tolerance": {"abs": 1.0}, "source": "s"}
    return ExpectedSpec(**{**base, **kw})


# -- schema --------------------------------------------------------------------------------------
def _drop(d: dict, *keys: str) -> dict:
    return {k: x for k, x in d.items() if k not in keys}


@pytest.mark.parametrize(
    "item, expected",
    [
        ({**W1, "colour": 1}, "expected[0].colour: unknown key; allowed: name, quantity"),
        (_drop(W1, "source"), "expected[0].source: required key is missing"),
        ({**W1, "arm": "ketamin"}, "expected[0].arm: unknown arm 'ketamin' (arms: ketamine"),
        ({**W1, "quantity": "volume"}, "expected[0].quantity: must be one of 'arm_mean'"),
        (
            {**W1, "tolerance": {"k_se": 2, "abs": 1}},
            "expected[0].tolerance: give exactly one of k_se, abs, rel, ci, z, tail",
        ),
        ({**W1, "tolerance": {"k_se": -1}}, "expected[0].tolerance.k_se: must be greater than 0"),
        ({**W1, "time": "1 h"}, "expected[0]: 'time' does not apply to quantity arm_mean"),
        (_drop(W1, "se"), "expected[0]: tolerance k_se needs the published 'se'"),
        ({**W1, "week": 13}, "expected[0].week: week 13 is after the trial's last week (12)"),
        (_drop(W1, "week"), "expected[0]: quantity arm_mean needs 'week'"),
        ({**W1, "control": "ketamine", "quantity": "arm_difference"}, "expected[0].control:"),
        (
            {**_drop(W1, "arm", "week"), "quantity": "pk_cmax"},
            "expected[0].quantity: pk_cmax runs population PK on 'regimens'",
        ),
        (
            {**W1, "overrides": {"population": {"n": 0}}},
            "expected[0].overrides: population.n: must be at least 1 (got 0)",
        ),
        ({**W1, "overrides": {"seed": 3, "expected": []}}, "expected[0]: overrides cannot"),
        ({**W1, "tolerance": {"tail": 0.025}}, "expected[0]: tolerance tail applies to p_value"),
        (
            {
                **W1,
                "quantity": "p_value",
                "control": "placebo",
                "statistic": "fraction_significant",
                "value": 1,
            },
            "expected[0]: statistic fraction_significant of one published trial is judged by",
        ),
        ({**W1, "relation": "below"}, "expected[0]: relation below is a bound"),
        ({**W1, "statistic": "mode"}, "expected[0].statistic: must be one of"),
        (
            {**_drop(W1, "week"), "quantity": "proportion", "event": "nausea", "value": 76},
            "expected[0]: 'value' of proportion is a fraction in [0, 1] (got 76.0)",
        ),
        (
            {**W1, "quantity": "p_value", "control": "placebo", "statistic": "mean"},
            "expected[0]: statistic 'mean' does not apply to p_value; allowed: median",
        ),
        (
            {**W1, "quantity": "proportion", "event": "psychotomimetic"},
            "expected[0]: 'week' goes with event nrs_responder",
        ),
        (
            {**_drop(W1, "week"), "quantity": "proportion", "event": "nausea", "value": 0.5}
            | {"anchor": "treatment_end"},
            "expected[0]: 'anchor' goes with event nrs_responder",
        ),
        (
            {**_drop(W1, "week"), "quantity": "proportion_difference", "event": "nausea"},
            "expected[0]: quantity proportion_difference needs 'control'",
        ),
        (
            {**_drop(W1, "week"), "quantity": "proportion", "event": "nausea"}
            | {"events": ["nausea"], "value": 0.5},
            "expected[0]: quantity proportion needs exactly one of 'event' or 'events'",
        ),
        (
            {**_drop(W1, "week", "se"), "quantity": "proportion_ratio", "event": "nausea"}
            | {"control": "placebo", "sd": 1.0},
            "expected[0]: proportion_ratio takes 'se' (of the log ratio) or 'ci', not 'sd'",
        ),
        (
            {**_drop(W1, "week"), "quantity": "any_ae", "events": ["headache"], "value": 0.5},
            "expected[0].events[0]: must be one of",
        ),
        (
            {**_drop(W1, "week"), "quantity": "week_of_largest_difference", "control": "placebo"}
            | {"measure": "day"},
            "expected[0]: week_of_largest_difference compares weeks",
        ),
        (
            {**W1, "quantity": "week_of_largest_difference", "control": "placebo"},
            "expected[0]: 'week' does not apply to quantity week_of_largest_difference",
        ),
        (
            {**_drop(W1, "week"), "quantity": "week_of_largest_difference", "control": "placebo"}
            | {"weeks": [2, 14]},
            "expected[0].weeks: week 14 is after the trial's last week (12)",
        ),
    ],
)
def test_expected_errors_name_the_yaml_path(item, expected):
    """Each bad expectation gives one line naming its YAML path."""
    lines = _problems({**SIGTERMANS, "expected": [item]})
    assert any(line.startswith(expected) for line in lines), lines


def test_expected_names_unique_and_pk_grid():
    lines = _problems({**SIGTERMANS, "expected": [W1, W1]})
    assert lines == ["expected[1].name: 'w1' is used twice"]
    item = {**_drop(W1, "arm", "week"), "quantity": "pk_concentration", "time": "5 h"}
    lines = _problems({**PK, "expected": [item]})
    assert lines == ["expected[0].time: 5 h is after the output grid's end (3 h)"]


def test_overrides_merge_mappings_and_keep_values_exact():
    from ketsim.config.scenario import apply_overrides

    sc = parse_scenario({**PK, "population": {"n": 3, "comedication": {"rifampicin": 0.5}}})
    out = apply_overrides(
        sc, {"population": {"comedication": {"clarithromycin": 1.0}}, "output": {"end": "2 h"}}
    )
    assert out.population.comedication == {"rifampicin": 0.5, "clarithromycin": 1.0}
    assert out.population.n == 3 and out.output.end == 2.0
    assert out.output.step == 1 / 60  # not rounded by a text round trip
    assert out.regimens == sc.regimens and not out.expected


def test_published_se_rules():
    """SE: se, else sd/sqrt(n), else the CI half-width / z, else binomial for proportions."""
    assert _spec(quantity="end_rate", arm="a", se=2.0).published_se() == 2.0
    assert _spec(quantity="end_rate", arm="a", sd=6.0, n=9).published_se() == 2.0
    ci = _spec(quantity="end_rate", arm="a", ci=(1.0, 1.0 + 2 * 1.959963984540054))
    assert ci.published_se() == pytest.approx(1.0, rel=1e-12)
    pr = _spec(quantity="proportion", arm="a", event="nausea", value=0.2, n=100)
    assert pr.published_se() == pytest.approx(0.04)
    assert _spec(quantity="end_rate", arm="a").published_se() is None


def test_published_scenarios_round_trip_with_expected():
    """The library's expectations survive the resolved dump (as the engine re-reads it)."""
    from ketsim.config.scenario import dump_scenario

    for f in sorted(PUBLISHED.glob("*.yaml")):
        sc = load_scenario(f)
        assert sc.expected, f
        assert parse_scenario(yaml.safe_load(dump_scenario(sc))) == sc


# -- trial quantities on hand-made arrays ----------------------------------------------------------
R, PER_ARM, NB, ND = 3, 4, 7, 21


def _arrays(seed: int = 1) -> tuple[TrialArrays, SimpleNamespace]:
    """R replicates x (4 ketamine + 4 placebo) patients, 7 baseline and 21 diary days."""
    rng = np.random.default_rng(seed)
    P = R * 2 * PER_ARM
    rep = np.repeat(np.arange(R), 2 * PER_ARM)
    arm = np.tile(np.repeat([0, 1], PER_ARM), R)
    D = NB + ND
    nrs = rng.integers(0, 11, size=(P, D)).astype(float)
    nrs[rng.random((P, D)) < 0.1] = np.nan
    ae = {k: rng.random((P, 1)) < 0.3 for k in AE_EVENTS}
    ta = TrialArrays(
        type="parallel",
        replicate=rep,
        patient=np.tile(np.arange(2 * PER_ARM), R),
        group=arm,
        arm=arm,
        arm_names=["ketamine", "placebo"],
        arm_treatments=["ketamine", "placebo"],
        group_names=["ketamine", "placebo"],
        segment_arm=arm[:, None],
        segment_start_day=np.zeros((P, 1)),
        randomised_segment=0,
        days=np.concatenate([np.arange(-NB + 1, 1), np.arange(1, ND + 1)]),
        baseline_days=NB,
        nrs=nrs,
        expected_nrs=nrs,
        baseline=np.nanmean(nrs[:, :NB], axis=1),
        discontinued_day=np.where(rng.random(P) < 0.2, 3.5, np.nan),
        dropout_day=np.where(rng.random(P) < 0.2, 9.5, np.nan),
        dropout_reason=np.full(P, "", dtype=object),
        ae=ae,
        in_study=np.ones((P, D), bool),
        segment_end_day=np.full((P, 1), 4.0),
    )
    m = SimpleNamespace(
        responder=rng.random(P) < 0.6,
        placebo_responder=rng.random(P) < 0.3,
        end_rate=np.where(rng.random(P) < 0.8, rng.uniform(5, 30, P), np.nan),
        weight=rng.uniform(50, 100, P),
        racemic=False,
    )
    return ta, m


def _per_rep(ta, values, arm):
    """Reference: plain loop over replicates of the NaN-skipping arm mean."""
    out = []
    for r in range(R):
        x = values[(ta.replicate == r) & (ta.arm == arm)]
        x = x[~np.isnan(x)]
        out.append(x.mean() if x.size else np.nan)
    return np.array(out)


def _q(ta, m, **kw):
    e = _spec(**kw)
    return trial_checks._trial_quantity(m, ta, e, ta.replicate, R)


def test_arm_mean_measures_and_scales():
    ta, m = _arrays()
    day7 = ta.nrs[:, NB + 6]
    assert_eq = np.testing.assert_allclose
    got = _q(ta, m, quantity="arm_mean", arm="ketamine", week=1, measure="end_of_week")
    assert_eq(got, _per_rep(ta, day7, 0), rtol=1e-12)
    got = _q(ta, m, quantity="arm_mean", arm="placebo", day=10, measure="day")
    assert_eq(got, _per_rep(ta, ta.nrs[:, NB + 9], 1), rtol=1e-12)
    wk2 = ta.nrs[:, NB + 7 : NB + 14]
    n_obs = (~np.isnan(wk2)).sum(axis=1)
    wm = np.where(n_obs >= 4, np.nanmean(wk2, axis=1), np.nan)
    got = _q(ta, m, quantity="arm_mean", arm="ketamine", week=2, measure="weekly_mean")
    assert_eq(got, _per_rep(ta, wm, 0), rtol=1e-12)
    got = _q(ta, m, quantity="arm_mean", arm="ketamine", week=2, scale="change_from_baseline")
    assert_eq(got, _per_rep(ta, wm - ta.baseline, 0), rtol=1e-12)
    # anchor treatment_end: day 1 is the day after segment_end_day (4): week 1 ends on day 11
    got = _q(
        ta,
        m,
        quantity="arm_mean",
        arm="ketamine",
        week=1,
        measure="end_of_week",
        anchor="treatment_end",
    )
    assert_eq(got, _per_rep(ta, ta.nrs[:, NB + 10], 0), rtol=1e-12)
    diff = _q(
        ta,
        m,
        quantity="arm_difference",
        arm="ketamine",
        control="placebo",
        week=1,
        measure="end_of_week",
    )
    assert_eq(diff, _per_rep(ta, day7, 0) - _per_rep(ta, day7, 1), rtol=1e-12)


@pytest.mark.parametrize("test", ["t_test", "welch", "wilcoxon"])
def test_p_values_match_scipy(test):
    ta, m = _arrays(3)
    x = _q(
        ta,
        m,
        quantity="p_value",
        arm="ketamine",
        control="placebo",
        weeks=(1, 3),
        measure="end_of_week",
        test=test,
        tolerance={"z": 2},
        value=0.05,
    )
    assert x.shape == (R, 3, 2)
    for r in range(R):
        for j, w in enumerate((1, 2, 3)):
            y = ta.nrs[:, NB + 7 * w - 1]
            a = y[(ta.replicate == r) & (ta.arm == 0)]
            b = y[(ta.replicate == r) & (ta.arm == 1)]
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            if test == "wilcoxon":
                ref = sps.mannwhitneyu(a, b, method="asymptotic", use_continuity=True)
                direction = np.median(np.subtract.outer(a, b)) < 0
            else:
                ref = sps.ttest_ind(a, b, equal_var=test == "t_test")
                direction = a.mean() < b.mean()
            assert x[r, j, 0] == pytest.approx(ref.pvalue, rel=1e-9)
            z = sps.norm.isf(ref.pvalue / 2)
            assert x[r, j, 1] == pytest.approx(z if direction else -z, rel=1e-9)


def test_day_level_difference_and_p_value():
    """measure: day for arm_difference and p_value: the diary score of one day (from anchor)."""
    ta, m = _arrays(4)
    sel = {"arm": "ketamine", "control": "placebo", "measure": "day", "day": 9}
    y = ta.nrs[:, NB + 8]
    diff = _q(ta, m, quantity="arm_difference", **sel)
    np.testing.assert_allclose(diff, _per_rep(ta, y, 0) - _per_rep(ta, y, 1), rtol=1e-12)
    x = _q(ta, m, quantity="p_value", **sel, value=0.05, tolerance={"z": 2})
    assert x.shape == (R, 1, 2)
    y_end = ta.nrs[:, NB + 4 + 2]  # anchor treatment_end (day 4): day 3 after it is day 7
    x_end = _q(
        ta,
        m,
        quantity="p_value",
        **{**sel, "day": 3},
        anchor="treatment_end",
        value=0.05,
        tolerance={"z": 2},
    )
    for r in range(R):
        for xx, yy in ((x, y), (x_end, y_end)):
            a = yy[(ta.replicate == r) & (ta.arm == 0)]
            b = yy[(ta.replicate == r) & (ta.arm == 1)]
            ref = sps.ttest_ind(a[~np.isnan(a)], b[~np.isnan(b)])
            assert xx[r, 0, 0] == pytest.approx(ref.pvalue, rel=1e-9)


def test_p_value_statistics():
    """median p (bootstrap SE), fraction significant per week and in every week."""
    p = np.array([[0.01, 0.2], [0.04, 0.01], [0.5, 0.03], [0.02, 0.02]])
    z = summaries._z_of_p(p, 2)
    x = np.stack([p, z], axis=2)
    rng = np.random.default_rng(0)
    e_all = _spec(
        quantity="p_value",
        arm="a",
        control="b",
        weeks=(1, 2),
        value=1,
        statistic="fraction_all_significant",
        tolerance={"tail": 0.025},
    )
    row = summaries._Row(0, e_all)
    trial_checks._finish_trial_row(row, x, [1, 2], rng)
    assert row.value == 0.5  # replicates 1 and 3 are significant in both weeks
    assert row.mc_se == pytest.approx(math.sqrt(0.25 / 4))
    e_frac = _spec(
        quantity="p_value",
        arm="a",
        control="b",
        weeks=(1, 2),
        value=1,
        statistic="fraction_significant",
        tolerance={"tail": 0.025},
    )
    row = summaries._Row(0, e_frac, week=2)
    trial_checks._finish_trial_row(row, x, [1, 2], rng)
    assert row.value == 0.75
    e_med = _spec(quantity="p_value", arm="a", control="b", week=1, value=0.07, tolerance={"z": 2})
    row = summaries._Row(0, e_med, week=1)
    trial_checks._finish_trial_row(row, x[:, :1], [1], rng)
    assert row.value == pytest.approx(0.03)  # median of 0.01, 0.02, 0.04, 0.5
    assert row.z == pytest.approx(np.median(z[:, 0]))
    assert row.mc_se > 0


def test_proportions_and_end_rate():
    ta, m = _arrays(5)
    for ev in ("psychotomimetic", "nausea", "discontinued"):
        got = _q(ta, m, quantity="proportion", arm="ketamine", event=ev)
        ref = _per_rep(ta, ta.ae[ev][:, 0].astype(float), 0)
        np.testing.assert_allclose(got, ref, rtol=1e-12)
    got = _q(ta, m, quantity="proportion", arm="placebo", event="dropout")
    np.testing.assert_allclose(got, _per_rep(ta, (~np.isnan(ta.dropout_day)) * 1.0, 1))
    got = _q(ta, m, quantity="proportion", arm="ketamine", event="ketamine_responder")
    np.testing.assert_allclose(got, _per_rep(ta, m.responder * 1.0, 0))
    got = _q(ta, m, quantity="proportion", arm="placebo", event="placebo_responder")
    np.testing.assert_allclose(got, _per_rep(ta, m.placebo_responder * 1.0, 1))
    wk1 = ta.nrs[:, NB : NB + 7]
    wm = np.where((~np.isnan(wk1)).sum(axis=1) >= 4, np.nanmean(wk1, axis=1), np.nan)
    resp = np.where(np.isnan(wm), np.nan, (ta.baseline - wm >= 0.5 * ta.baseline) * 1.0)
    got = _q(
        ta,
        m,
        quantity="proportion",
        arm="ketamine",
        event="nrs_responder",
        week=1,
        threshold_pct=50,
    )
    np.testing.assert_allclose(got, _per_rep(ta, resp, 0), rtol=1e-12)
    # anchor treatment_end: week 1 is days 5..11 (segment_end_day 4)
    wk1_end = ta.nrs[:, NB + 4 : NB + 11]
    wm = np.where((~np.isnan(wk1_end)).sum(axis=1) >= 4, np.nanmean(wk1_end, axis=1), np.nan)
    resp = np.where(np.isnan(wm), np.nan, (ta.baseline - wm >= 0.3 * ta.baseline) * 1.0)
    kw = {"quantity": "proportion", "event": "nrs_responder", "week": 1}
    got = _q(ta, m, **kw, arm="placebo", anchor="treatment_end")
    np.testing.assert_allclose(got, _per_rep(ta, resp, 1), rtol=1e-12)
    assert not np.allclose(got, _q(ta, m, **kw, arm="placebo"), equal_nan=True)
    got = _q(ta, m, quantity="end_rate", arm="ketamine")
    np.testing.assert_allclose(got, _per_rep(ta, m.end_rate * 70 / m.weight, 0), rtol=1e-12)


def test_new_trial_quantities_on_hand_made_arrays():
    """proportion_difference/ratio (both arms per replicate), any_ae (union), median_nrs and the
    per-week curve of week_of_largest_difference against plain per-replicate loops."""
    ta, m = _arrays(7)
    nau = ta.ae["nausea"][:, 0].astype(float)
    two = _q(
        ta, m, quantity="proportion_difference", arm="ketamine", control="placebo", event="nausea"
    )
    np.testing.assert_allclose(two, np.column_stack([_per_rep(ta, nau, 0), _per_rep(ta, nau, 1)]))
    union = (ta.ae["nausea"][:, 0] | ta.ae["vomiting"][:, 0]).astype(float)
    two = _q(
        ta,
        m,
        quantity="proportion_ratio",
        arm="ketamine",
        control="placebo",
        events=["nausea", "vomiting"],
        value=1.0,
    )
    np.testing.assert_allclose(two[:, 1], _per_rep(ta, union, 1))
    every = np.any([ta.ae[k][:, 0] for k in AE_EVENTS if k != "discontinued"], axis=0)
    got = _q(ta, m, quantity="any_ae", arm="ketamine")
    np.testing.assert_allclose(got, _per_rep(ta, every * 1.0, 0))
    assert not np.allclose(got, _per_rep(ta, union, 0))  # the default is every AE
    day9 = ta.nrs[:, NB + 8]
    got = _q(ta, m, quantity="median_nrs", arm="placebo", day=9, measure="day")
    ref = [np.nanmedian(day9[(ta.replicate == r) & (ta.arm == 1)]) for r in range(R)]
    np.testing.assert_allclose(got, ref)
    # weeks searched: 1..3
    m.scenario = SimpleNamespace(trial=SimpleNamespace(weeks=3), design=SimpleNamespace(type="x"))
    got = _q(
        ta,
        m,
        quantity="week_of_largest_difference",
        arm="ketamine",
        control="placebo",
        measure="end_of_week",
        value=2,
    )
    assert got.shape == (R, 3)
    for w in (1, 2, 3):
        y = ta.nrs[:, NB + 7 * w - 1]
        np.testing.assert_allclose(got[:, w - 1], _per_rep(ta, y, 1) - _per_rep(ta, y, 0))


def _finish(x, weeks_list=None, **kw):
    row = summaries._Row(0, _spec(**kw))
    trial_checks._finish_trial_row(row, x, weeks_list, np.random.default_rng(0))
    return row


def test_difference_ratio_and_largest_week_summaries():
    pa = np.array([0.5, 0.4, 0.6, 0.3])
    pc = np.array([0.2, 0.3, 0.1, 0.2])
    x = np.column_stack([pa, pc])
    sel = {"arm": "a", "control": "b", "event": "nausea"}
    row = _finish(x, quantity="proportion_difference", **sel)
    d = pa - pc
    assert row.value == pytest.approx(d.mean())
    assert row.mc_se == pytest.approx(d.std(ddof=1) / 2)
    row = _finish(x, quantity="proportion_ratio", value=2.0, **sel)
    assert row.value == pytest.approx(pa.mean() / pc.mean())  # ratio of the means: 0.45/0.2
    c = np.cov(pa, pc) / 4  # delta method on log(mean a / mean c)
    rel = c[0, 0] / pa.mean() ** 2 + c[1, 1] / pc.mean() ** 2 - 2 * c[0, 1] / (0.45 * 0.2)
    assert row.mc_se == pytest.approx(2.25 * math.sqrt(rel))
    # a replicate with no control event does not make the ratio infinite
    row = _finish(np.array([[0.5, 0.0], [0.3, 0.2]]), quantity="proportion_ratio", value=1, **sel)
    assert row.value == pytest.approx(4.0)
    # the week whose mean difference (over replicates) is largest: week 3 (mean 1.5)
    curves = np.array([[0.0, 1.0, 2.0, 0.5], [1.0, 1.0, 1.0, 0.5]])
    row = _finish(
        curves,
        quantity="week_of_largest_difference",
        arm="a",
        control="b",
        weeks=(2, 5),
        value=3,
        weeks_list=[2, 3, 4, 5],
    )
    assert row.value == 4.0 and row.mc_se > 0  # weeks 2..5: the third is week 4
    # the bootstrap spread: 0 when every replicate peaks in the same week
    same = _finish(
        curves[:1],
        quantity="week_of_largest_difference",
        arm="a",
        control="b",
        value=3,
        weeks_list=[2, 3, 4, 5],
    )
    assert same.value == 4.0 and math.isnan(same.mc_se)  # one replicate: no MC SE
    row = _finish(
        np.tile(curves[:1], (5, 1)),
        quantity="week_of_largest_difference",
        arm="a",
        control="b",
        value=3,
        weeks_list=[2, 3, 4, 5],
    )
    assert row.value == 4.0 and row.mc_se == 0.0


def test_new_quantities_on_a_tiny_simulation_match_pandas():
    """validate_scenario's new quantities equal pandas computations on simulate_trial's tables."""
    from ketsim.sim.trial import simulate_trial

    data = {**SHORT, "arms": [{**a, "n": 8} for a in SHORT["arms"]]}
    data["trial"] = {**data["trial"], "weeks": 4}
    pair = {"arm": "ketamine", "control": "placebo", "source": "s"}
    data["expected"] = [
        {"name": "d_nau", "quantity": "proportion_difference", "event": "nausea", "value": 0.2}
        | pair
        | {"se": 0.1, "tolerance": {"k_se": 2}},
        {"name": "r_psy", "quantity": "proportion_ratio", "event": "psychotomimetic"}
        | pair
        | {"value": 3.0, "ci": [1.5, 6.0], "tolerance": {"k_se": 2}},
        {"name": "any", "quantity": "any_ae", "arm": "ketamine", "value": 0.8, "n": 30}
        | {"tolerance": {"k_se": 2}, "source": "s"},
        {"name": "nv", "quantity": "any_ae", "arm": "placebo", "events": ["nausea", "vomiting"]}
        | {"value": 0.3, "tolerance": {"abs": 0.2}, "source": "s"},
        {"name": "med", "quantity": "median_nrs", "arm": "ketamine", "week": 2}
        | {"measure": "end_of_week", "value": 4, "tolerance": {"abs": 2}, "source": "s"},
        {"name": "peak", "quantity": "week_of_largest_difference", "measure": "end_of_week"}
        | pair
        | {"value": 2, "tolerance": {"abs": 1.5}},
    ]
    sc = parse_scenario(data)
    got = v.validate_scenario(sc, replicates=4, seed=3).set_index("check")
    res = simulate_trial(sc, seed=3, replicates=[0, 1, 2, 3])
    p, d = res.patients, res.diary
    per_arm = p.groupby(["replicate", "arm"])[["ae_nausea", "ae_psychotomimetic"]].mean()
    nau = per_arm["ae_nausea"].unstack()
    diff = nau["ketamine"] - nau["placebo"]
    assert got.loc["d_nau", "simulated"] == pytest.approx(diff.mean(), rel=1e-12)
    assert got.loc["d_nau", "mc_se"] == pytest.approx(diff.std(ddof=1) / 2, rel=1e-9)
    psy = per_arm["ae_psychotomimetic"].unstack().mean()
    assert got.loc["r_psy", "simulated"] == pytest.approx(psy["ketamine"] / psy["placebo"])
    se_log = math.log(4.0) / (2 * sps.norm.ppf(0.975))
    assert got.loc["r_psy", "published_se"] == pytest.approx(se_log)
    assert got.loc["r_psy", "lower"] == pytest.approx(3.0 * math.exp(-2 * se_log))
    ae_cols = ["ae_psychotomimetic", "ae_intolerable", "ae_nausea", "ae_vomiting"]
    p = p.assign(
        any_ae=p[[*ae_cols, "ae_liver_injury"]].any(axis=1),
        nv=p[["ae_nausea", "ae_vomiting"]].any(axis=1),
    )
    k, pl = p[p.arm == "ketamine"], p[p.arm == "placebo"]
    ref_any = k.groupby("replicate")["any_ae"].mean()
    assert got.loc["any", "simulated"] == pytest.approx(ref_any.mean(), rel=1e-12)
    assert got.loc["any", "published_se"] == pytest.approx(math.sqrt(0.8 * 0.2 / 30))
    assert got.loc["nv", "simulated"] == pytest.approx(pl.groupby("replicate")["nv"].mean().mean())
    wk2 = d[(d.arm == "ketamine") & (d.day == 14)].groupby("replicate")["nrs"].median()
    assert got.loc["med", "simulated"] == pytest.approx(wk2.mean(), rel=1e-12)
    ends = d[d.day.isin([7, 14, 21, 28])].groupby(["day", "replicate", "arm"])["nrs"].mean()
    curve = (
        (ends.xs("placebo", level="arm") - ends.xs("ketamine", level="arm")).groupby("day").mean()
    )
    assert got.loc["peak", "simulated"] == curve.idxmax() / 7
    assert got.loc["peak", "unit"] == "week" and got.loc["r_psy", "unit"] == "ratio"


def test_crossing_of_a_linear_decline():
    """Difference 10 - (k - 1) on day k: its 7-day mean centred on day D is 11 - D, so half of
    the day-4 value (7) is reached at D = 7.5, i.e. 6.5 days + the diary offset after the end."""
    curve = 10.0 - np.arange(30.0)
    e = _spec(
        quantity="lasting_effect_days",
        definition="difference_below",
        arm="a",
        control="b",
        fraction=0.5,
        value=50,
    )
    assert trial_checks._crossing(curve, 0.25, e) == (pytest.approx(6.75), False)
    e_abs = _spec(
        quantity="lasting_effect_days",
        definition="difference_below",
        arm="a",
        control="b",
        threshold=2.0,
        value=50,
    )
    assert trial_checks._crossing(curve, 0.0, e_abs) == (
        pytest.approx(8.0),
        False,
    )  # 11 - D = 2 at D = 9
    value, censored = trial_checks._crossing(np.full(30, 2.0), 0.25, e)
    assert censored and value == pytest.approx(27 - 1 + 0.25)  # last centre day 27
    bad = trial_checks._crossing(np.where(np.arange(30) == 12, np.nan, curve), 0.25, e)
    assert bad == (pytest.approx(6.75), False)  # a missing day is interpolated


def test_trial_quantities_on_a_tiny_simulation_match_the_trial_tables():
    """validate_scenario's numbers equal the same statistics computed from simulate_trial."""
    from ketsim.sim.trial import simulate_trial

    data = {**SHORT, "arms": [{**a, "n": 6} for a in SHORT["arms"]]}
    data["trial"] = {**data["trial"], "weeks": 4}
    data["expected"] = [
        {**W1, "measure": "end_of_week"},
        {
            "name": "psy",
            "quantity": "proportion",
            "arm": "ketamine",
            "event": "psychotomimetic",
            "value": 0.76,
            "n": 30,
            "tolerance": {"k_se": 2},
            "source": "s",
        },
        {
            "name": "rate",
            "quantity": "end_rate",
            "arm": "ketamine",
            "value": 22.2,
            "se": 2.0,
            "tolerance": {"k_se": 2},
            "source": "s",
        },
    ]
    sc = parse_scenario(data)
    df = v.validate_scenario(sc, replicates=3, seed=11)
    res = simulate_trial(sc, seed=11, replicates=[0, 1, 2])
    d = res.diary
    k = d[(d.arm == "ketamine") & (d.day == 7)].groupby("replicate")["nrs"].mean()
    p = res.patients[res.patients.arm == "ketamine"]
    psy = p.groupby("replicate")["ae_psychotomimetic"].mean()
    rate = p.groupby("replicate")["end_rate_mg_h_70kg"].mean()
    got = df.set_index("check")
    assert got.loc["w1", "simulated"] == pytest.approx(k.mean(), rel=1e-12)
    assert got.loc["w1", "mc_se"] == pytest.approx(k.std(ddof=1) / math.sqrt(3), rel=1e-9)
    assert got.loc["psy", "simulated"] == pytest.approx(psy.mean(), rel=1e-12)
    assert got.loc["rate", "simulated"] == pytest.approx(rate.mean(), rel=1e-12)
    assert list(df.columns) == v.COLUMNS
    assert (df["replicates"] == 3).all() and (df["seed"] == "11").all()


def test_chunking_does_not_change_results():
    """A replicate's numbers depend on its index only, not on the batch it is simulated in."""
    data = {**SHORT, "arms": [{**a, "n": 3} for a in SHORT["arms"]]}
    data["trial"] = {**data["trial"], "weeks": 2}
    sc = parse_scenario(data)
    specs = [(0, _spec(quantity="arm_mean", arm="ketamine", week=1))]
    whole = trial_checks._trial_chunk(sc, specs, 5, 0, 4)[1][0]
    parts = np.concatenate(
        [trial_checks._trial_chunk(sc, specs, 5, lo, lo + 2)[1][0] for lo in (0, 2)]
    )
    np.testing.assert_array_equal(whole, parts)


# -- PK quantities ------------------------------------------------------------------------------
def _pk_expect(**kw) -> dict:
    return {
        "name": kw.pop("name", "q"),
        "value": 1.0,
        "tolerance": {"abs": 1e9},
        "source": "s",
    } | kw


def test_pk_population_statistics_match_simulate_pk():
    """With one replicate, the population is simulate_pk's: Cmax, Tmax, AUC, NK/K ratio."""
    from ketsim.sim.pk_study import simulate_pk

    items = [
        _pk_expect(name="cmax", quantity="pk_cmax"),
        _pk_expect(name="cmax_med", quantity="pk_cmax", statistic="median"),
        _pk_expect(name="cmax_sd", quantity="pk_cmax", statistic="sd"),
        _pk_expect(name="tmax", quantity="pk_tmax", unit="min"),
        _pk_expect(name="auc", quantity="pk_auc", analyte="norketamine"),
        _pk_expect(
            name="ratio",
            quantity="pk_ratio",
            analyte="norketamine",
            ratio_analyte="ketamine",
            statistic="geometric_mean",
        ),
        _pk_expect(name="c30", quantity="pk_concentration", time="30 min"),
    ]
    sc = parse_scenario({**PK, "expected": items})
    df = v.validate_scenario(sc, replicates=1).set_index("check")
    res = simulate_pk(sc)
    s = res.summary()
    assert df.loc["cmax", "simulated"] == pytest.approx(s.ketamine_cmax_ng_ml.mean(), rel=1e-12)
    assert df.loc["cmax_med", "simulated"] == pytest.approx(s.ketamine_cmax_ng_ml.median())
    assert df.loc["cmax_sd", "simulated"] == pytest.approx(s.ketamine_cmax_ng_ml.std(ddof=1))
    assert df.loc["tmax", "simulated"] == pytest.approx(60 * s.ketamine_tmax_h.mean(), rel=1e-12)
    assert df.loc["auc", "simulated"] == pytest.approx(s.norketamine_auc_ng_h_ml.mean(), rel=1e-9)
    gm = np.exp(np.mean(np.log(s.norketamine_auc_ng_h_ml / s.ketamine_auc_ng_h_ml)))
    assert df.loc["ratio", "simulated"] == pytest.approx(gm, rel=1e-9)
    conc = res.to_frame()
    c30 = conc[np.isclose(conc.time_h, 0.5)]["ketamine_ng_ml"].mean()
    assert df.loc["c30", "simulated"] == pytest.approx(c30, rel=1e-12)


def test_pk_typical_patient_exact_numbers():
    """Typical 70-kg man: IV bolus AUC = dose / CL; slow-compartment t½ 10.9 d (Dahan 2011);
    the time below C50 matches a brute-force scan; a ratio with overrides (dose x2) is 2."""
    from ketsim.config.scenario import RegimenSpec
    from ketsim.core.pk.model import Covariates
    from ketsim.sim.pk_study import simulate_concentrations

    iv = [{"route": "iv_infusion", "rate": "20 mg/h", "duration": "100 h"}]
    items = [
        _pk_expect(
            name="auc",
            quantity="pk_auc",
            statistic="typical",
            window=["0 h", "400 h"],
            overrides={"regimens": [{"route": "iv_bolus", "amount": "14 mg"}]},
        ),
        _pk_expect(
            name="thalf",
            quantity="pk_half_life",
            analyte="ce_slow",
            statistic="typical",
            window=["300 h", "1500 h"],
            unit="d",
            overrides={"regimens": iv},
        ),
        _pk_expect(
            name="c50",
            quantity="lasting_effect_days",
            definition="slow_below_c50",
            statistic="typical",
            overrides={"regimens": iv},
        ),
        _pk_expect(
            name="double",
            quantity="pk_ratio",
            statistic="typical",
            overrides={"regimens": [{"route": "intranasal", "amount": "0.4 mg/kg"}]},
        ),
    ]
    data = {**PK, "output": {"step": "1 h", "end": "12 weeks"}, "expected": items}
    df = v.validate_scenario(parse_scenario(data), replicates=2).set_index("check")
    assert df.loc["auc", "simulated"] == pytest.approx(14.0 / 93.5 * 1000, rel=1e-6)
    assert df.loc["thalf", "simulated"] == pytest.approx(10.9, rel=1e-4)
    assert df.loc["double", "simulated"] == pytest.approx(2.0, rel=1e-9)
    assert (df["mc_se"] == 0).all() and (df["replicates"] == 1).all()
    t = np.arange(0, 24 * 80, 0.01)
    ce = simulate_concentrations(
        Covariates.typical(1), None, compile_dosing([RegimenSpec(**iv[0])]), t
    )["S"][0, :, 3]
    first = t[(t > 100) & (ce < 10.5)][0]
    assert df.loc["c50", "simulated"] == pytest.approx((first - 100) / 24, abs=0.01 / 24 + 1e-6)


# -- pass / fail ---------------------------------------------------------------------------------
def _judge(sim, mc_se=0.01, z=math.nan, z_se=math.nan, censored=False, **kw):
    row = summaries._Row(0, _spec(**kw), value=sim, mc_se=mc_se, z=z, z_se=z_se, censored=censored)
    return judging._judge(row)


def test_tolerance_in_published_se_units():
    kw = {"quantity": "end_rate", "arm": "a", "value": 22.2, "sd": 6.0, "n": 9}
    kw["tolerance"] = {"k_se": 2}  # SE = 6 / 3 = 2, so +-4
    passed, decisive, lo, hi, text = _judge(26.2, **kw)
    assert passed and (lo, hi) == (pytest.approx(18.2), pytest.approx(26.2))
    assert not decisive  # on the bound: more replicates could flip it
    assert text == "±4 (2 SE)"
    assert not _judge(26.21, **kw)[0]
    assert _judge(18.2, **kw)[0] and not _judge(18.19, **kw)[0]
    assert _judge(20.0, **kw)[1]  # 2 SE units inside: decisive
    kw["tolerance"] = {"k_se": 1}
    assert not _judge(24.5, **kw)[0]


def test_other_tolerances_and_bounds():
    base = {"quantity": "end_rate", "arm": "a", "value": 10.0}
    assert _judge(10.9, **base, tolerance={"abs": 1.0})[0]
    assert not _judge(11.1, **base, tolerance={"abs": 1.0})[0]
    assert _judge(11.9, **base, tolerance={"rel": 0.2})[0]
    assert not _judge(12.1, **base, tolerance={"rel": 0.2})[0]
    ci = {**base, "ci": (8.0, 15.0), "tolerance": {"ci": True}}
    assert _judge(14.9, **ci)[0] and not _judge(7.9, **ci)[0]
    below = {**base, "relation": "below", "tolerance": None}
    assert _judge(9.9, **below)[0] and not _judge(10.0, **below)[0]
    above = {**base, "relation": "above", "tolerance": None}
    assert _judge(10.1, **above)[0] and not _judge(9.0, **above)[0]
    assert not _judge(math.nan, **base, tolerance={"abs": 1.0})[0]


def test_z_and_tail_tolerances():
    pv = {"quantity": "p_value", "arm": "a", "control": "b", "week": 12, "value": 0.07}
    zp = sps.norm.isf(0.035)
    ok, _, lo, hi, _ = _judge(0.3, z=zp - 1.9, z_se=0.05, tolerance={"z": 2}, **pv)
    assert ok and lo == pytest.approx(2 * sps.norm.sf(zp + 2)) and hi == 1.0
    assert not _judge(0.4, z=zp - 2.1, z_se=0.01, tolerance={"z": 2}, **pv)[0]
    # a strong effect in the wrong direction fails even though its p-value is small
    assert not _judge(0.001, z=-3.3, z_se=0.01, tolerance={"z": 2}, **pv)[0]
    frac = {**pv, "statistic": "fraction_significant", "tolerance": {"tail": 0.025}}
    assert _judge(0.03, **{**frac, "value": 1})[0]
    assert not _judge(0.02, **{**frac, "value": 1})[0]
    assert _judge(0.97, **{**frac, "value": 0})[0]
    assert not _judge(0.98, **{**frac, "value": 0})[0]


def test_censored_values_are_lower_bounds():
    e = {
        "quantity": "lasting_effect_days",
        "definition": "difference_below",
        "arm": "a",
        "control": "b",
        "fraction": 0.5,
        "value": 50,
        "ci": (24.3, 94.0),
        "tolerance": {"ci": True},
    }
    assert not _judge(60.0, censored=True, **e)[0]  # "> 60 days" is not "in 24-94"
    above = {**e, "relation": "above", "tolerance": None, "value": 30}
    assert _judge(60.0, censored=True, **above)[0]


# -- output and command line ---------------------------------------------------------------------
MALICIOUS = "<script>alert('x')</script>"


def _pk_file(tmp_path: Path, value: float, **extra) -> Path:
    item = {
        "name": "cmax",
        "quantity": "pk_cmax",
        "value": value,
        "sd": 5.9,
        "n": 8,
        "tolerance": {"k_se": 2},
        "source": f"<img src=x onerror=alert(1)> {MALICIOUS}",
        "note": "a & b",
    }
    f = tmp_path / f"pk-{value:g}.yaml"
    f.write_text(yaml.safe_dump({**PK, "description": MALICIOUS, "expected": [item], **extra}))
    return f


def test_html_escapes_everything_from_the_scenario(tmp_path):
    run = v.validate_paths([_pk_file(tmp_path, 27.7, reference=f"Ref {MALICIOUS}")], 2)
    page = v.render_html(run)
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "a &amp; b" in page
    assert 'class="pass"' in page and page.startswith("<!DOCTYPE html>")
    assert "http" not in page  # self-contained


def _cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    v.add_validate_parser(sub)
    args = p.parse_args(["validate", *argv])
    return args.func(args)


def test_cli_exit_codes_and_files(tmp_path, capsys):
    good = _pk_file(tmp_path, 27.7)
    wrong = _pk_file(tmp_path, 270.0)  # a deliberately wrong expectation
    out = tmp_path / "out"
    assert _cli([str(good), "--replicates", "5", "--out", str(out), "--quiet"]) == 0
    assert _cli([str(good), str(wrong), "--replicates", "5", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "FAIL" in printed and "1 of 2 checks passed" in printed
    table = pd.read_csv(out / "validation.csv")
    assert list(table.columns) == v.COLUMNS
    assert table["passed"].tolist() == [True, False]
    assert (out / "validation.html").is_file()
    # bad input: a missing path, an invalid scenario, nothing to validate
    assert _cli([str(tmp_path / "missing.yaml"), "--out", str(out)]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**PK, "expected": [{"name": "x", "quantity": "pk_cmax"}]}))
    assert _cli([str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: expected[0].value: required key is missing" in err
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "p.yaml").write_text(yaml.safe_dump(PK))
    assert _cli([str(plain), "--out", str(out)]) == 2
    assert "skipped" in capsys.readouterr().err
    assert _cli([str(good), "--replicates", "0"]) == 2


def test_published_text_of_p_value_fractions():
    """One trial's outcome reads 'significant'; a probability over trials reads as a percentage
    (with its bound), never as one trial's outcome."""
    base = {"quantity": "p_value", "arm": "a", "control": "b", "week": 1}
    frac = {**base, "statistic": "fraction_significant"}
    text = judging._published_text
    assert text(_spec(**frac, value=1, tolerance={"tail": 0.025})) == "significant"
    assert text(_spec(**frac, value=0, tolerance={"tail": 0.025})) == "not significant"
    bound = {**frac, "tolerance": None}
    assert text(_spec(**bound, value=0.8, relation="above")) == "significant in > 80% of trials"
    assert text(_spec(**bound, value=0.4, relation="below")) == "significant in < 40% of trials"
    # a bound at 0 or 1 is a probability too, not a trial outcome
    assert text(_spec(**bound, value=1, relation="below")) == "significant in < 100% of trials"
    all_w = {**base, "statistic": "fraction_all_significant", "week": None, "weeks": (1, 3)}
    assert text(_spec(**all_w, value=1, tolerance={"tail": 0.025})) == "significant in every week"
    assert (
        text(_spec(**all_w, value=0.7, relation="above", tolerance=None))
        == "significant in every week in > 70% of trials"
    )


def test_verdict_legend_on_the_command_line_and_in_html(tmp_path, capsys):
    legend = v.format_legend().splitlines()
    assert [line.split()[0] for line in legend] == ["PASS", "PASS?", "FAIL", "FAIL?"]
    assert all("Monte Carlo" in line for line in legend)
    out = tmp_path / "out"
    assert _cli([str(_pk_file(tmp_path, 27.7)), "--replicates", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    i = next(k for k, line in enumerate(printed) if line.endswith("checks passed"))
    assert printed[i + 1 : i + 5] == legend  # right below the table
    page = (out / "validation.html").read_text()
    for word, meaning in v.VERDICTS.items():
        assert f"<dt>{word}</dt><dd>{meaning}</dd>" in page


def test_default_out_dir_is_utc_stamped():
    d = v.default_out_dir()
    assert d.parent == Path("runs") and d.name.startswith("validation-") and d.name.endswith("Z")


def test_format_table_lists_every_check():
    run = v.validate_paths([PUBLISHED / "huge2010_intranasal.yaml"], replicates=5)
    text = v.format_table(run.table)
    assert "cmax_mean" in text and "tmax_between_patient_sd" in text
    assert text.splitlines()[-1].endswith(f"of {len(run.table)} checks passed")


# -- the published library (slow) ----------------------------------------------------------------
#: checks of the published library that the default model fails, with the reason (reported)
KNOWN_FAILURES: dict[tuple[str, str], str] = {}
SLOW_REPLICATES = 4000


def _library_checks():
    out = []
    for f in sorted(PUBLISHED.glob("*.yaml")):
        sc = load_scenario(f)
        for e in sc.expected:
            key = (sc.name, e.name)
            marks = []
            if key in KNOWN_FAILURES:
                marks = [pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[key])]
            out.append(pytest.param(key, marks=marks, id=f"{sc.name}-{e.name}"))
    return out


@pytest.fixture(scope="module")
def library():
    run = v.validate_paths([PUBLISHED], replicates=SLOW_REPLICATES)
    print("\n" + v.format_table(run.table))
    print(f"{SLOW_REPLICATES} replicates, {run.elapsed_s:.1f} s")
    return run


@pytest.mark.slow
@pytest.mark.parametrize("key", _library_checks())
def test_published_library_passes(library, key):
    rows = library.table[(library.table["scenario"] == key[0]) & (library.table["check"] == key[1])]
    assert len(rows)
    bad = rows[~rows["passed"]]
    assert bad.empty, bad[["check", "week", "published_text", "simulated", "tolerance"]]
