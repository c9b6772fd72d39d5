"""Endpoints on hand-made diaries (exact values) and intercurrent-event strategies."""

from __future__ import annotations

import numpy as np
import pytest

from ketsim.analysis.analyses import _apply_strategy
from ketsim.analysis.endpoints import _auc, compute_endpoint, hypothetical_diary, weekly_matrix
from ketsim.config.scenario import AnalysisSpec, EndpointSpec, parse_scenario
from ketsim.sim.trial import TrialArrays

NB = 7


def _scenario(weeks: int = 6):
    return parse_scenario(
        {
            "name": "t",
            "arms": [
                {"name": "ket", "n": 2, "regimens": ["0.5 mg/kg over 2h"]},
                {"name": "plc", "n": 2, "treatment": "placebo", "regimens": ["0.5 mg/kg over 2h"]},
            ],
            "trial": {"weeks": weeks, "baseline_days": NB},
        }
    )


def _arrays(nrs_treat: np.ndarray, baseline: np.ndarray, **kw) -> TrialArrays:
    """TrialArrays for P patients with the given post-day-0 diaries."""
    P, nd = nrs_treat.shape
    nrs = np.concatenate([np.repeat(baseline[:, None], NB, axis=1), nrs_treat], axis=1)
    days = np.concatenate([np.arange(-NB + 1, 1), np.arange(1, nd + 1)])
    d = {
        "type": "parallel",
        "replicate": np.zeros(P, int),
        "patient": np.arange(P),
        "group": np.arange(P) % 2,
        "arm": np.arange(P) % 2,
        "arm_names": ["ket", "plc"],
        "arm_treatments": ["ketamine", "placebo"],
        "group_names": ["ket", "plc"],
        "segment_arm": (np.arange(P) % 2)[:, None],
        "segment_start_day": np.zeros((P, 1)),
        "randomised_segment": 0,
        "days": days,
        "baseline_days": NB,
        "nrs": nrs,
        "expected_nrs": nrs.copy(),
        "baseline": baseline.astype(float),
        "discontinued_day": np.full(P, np.nan),
        "dropout_day": np.full(P, np.nan),
        "dropout_reason": np.full(P, "", dtype=object),
        "ae": {"psychotomimetic": np.zeros((P, 1), bool)},
        "in_study": np.ones(nrs.shape, bool),
    }
    d.update(kw)
    return TrialArrays(**d)


def test_weekly_mean_change_and_responders_exact():
    sc = _scenario()
    diary = np.full((2, 42), 5.0)
    diary[0, 7:14] = [2, 3, 4, np.nan, 3, 2, 4]  # week 2 of patient 0: mean 3 over 6 days
    diary[1, 7:14] = [np.nan] * 4 + [1, 1, 1]  # only 3 days: below min_days 4 -> missing
    ta = _arrays(diary, np.array([6.0, 8.0]))
    wm = weekly_matrix(ta, [1, 2], np.zeros(2))
    assert wm[0].tolist() == [5.0, 3.0]
    assert wm[1, 0] == 5.0 and np.isnan(wm[1, 1])
    ch = compute_endpoint(ta, EndpointSpec(name="c", type="change_from_baseline", week=2), sc)
    assert ch.value[0, 0] == -3.0 and np.isnan(ch.value[1, 0])
    r50 = compute_endpoint(
        ta, EndpointSpec(name="r", type="responder", week=2, threshold_pct=50), sc
    )
    r30 = compute_endpoint(ta, EndpointSpec(name="r", type="responder", week=2), sc)
    assert r50.value[0, 0] == 1.0  # 3 <= 6 * 0.5: exactly 50% counts
    assert r30.value[0, 0] == 1.0 and np.isnan(r30.value[1, 0])


def test_auc_trapezoid_with_interpolated_gaps():
    x = np.array([[5.0] * 35, [np.nan, 2, np.nan, 4, np.nan, np.nan] + [4.0] * 29]).astype(float)
    a = _auc(x)
    assert a[0] == pytest.approx(5.0 * 34)
    filled = np.array([2, 2, 3, 4, 4, 4] + [4.0] * 29)
    assert a[1] == pytest.approx(np.trapezoid(filled))
    # fewer than half the days recorded: missing
    y = np.full((1, 10), np.nan)
    y[0, :4] = 3
    assert np.isnan(_auc(y)[0])


def test_time_to_relapse_and_censoring():
    sc = _scenario()
    diary = np.full((3, 42), 2.0)
    diary[0, 20:] = 9.0  # relapses: 7-day mean crosses 10 x 0.7 = 7 when >= 5 of 7 days are 9
    diary[2, 25:] = np.nan  # never relapses, last evaluable window ends on day 25+3
    ta = _arrays(diary, np.array([10.0, 10.0, 10.0]))
    ta.arm = np.array([0, 1, 0])
    ep = EndpointSpec(name="t", type="time_to_relapse", threshold_pct=30)
    d = compute_endpoint(ta, ep, sc)
    # window ending on day t has (t - 20) days at 9 and 27 - t at 2: mean > 7 first at t = 26
    assert d.value[0, 0] == 26 and d.event[0] == 1
    assert d.value[1, 0] == 42 and d.event[1] == 0
    assert d.value[2, 0] == 28 and d.event[2] == 0  # windows need 4 entries: last ends day 28


def test_strategies_bocf_composite_and_hypothetical():
    sc = _scenario()
    diary = np.full((2, 42), 3.0)
    ta = _arrays(
        diary,
        np.array([6.0, 6.0]),
        discontinued_day=np.array([10.5, np.nan]),
        dropout_day=np.array([np.nan, 30.2]),
        dropout_reason=np.array(["", "lack_of_effect"], dtype=object),
    )
    ep = EndpointSpec(name="c", type="change_from_baseline", week=4)
    d = compute_endpoint(ta, ep, sc)
    tp = _apply_strategy(d, AnalysisSpec(endpoint="c", method="ancova"), ep)
    assert tp[:, 0].tolist() == [-3.0, -3.0]
    bocf = _apply_strategy(d, AnalysisSpec(endpoint="c", method="ancova", strategy="bocf"), ep)
    assert bocf[0, 0] == 0.0 and bocf[1, 0] == -3.0  # dropout on day 30 is after week 4
    epr = EndpointSpec(name="r", type="responder", week=4)
    dr = compute_endpoint(ta, epr, sc)
    comp = _apply_strategy(
        dr, AnalysisSpec(endpoint="r", method="fisher", strategy="composite"), epr
    )
    assert comp[:, 0].tolist() == [0.0, 1.0]
    hyp = hypothetical_diary(ta)
    assert np.isnan(hyp[0, NB + 10 :]).all() and not np.isnan(hyp[0, : NB + 10]).any()
    assert not np.isnan(hyp[1]).any()


def test_day_windows_and_the_treatment_end_anchor_exact():
    sc = _scenario()
    diary = np.tile(np.arange(1.0, 43.0), (2, 1))  # day d records the value d
    diary[1, 5] = np.nan  # patient 1 misses day 6
    ta = _arrays(diary, np.array([50.0, 50.0]), segment_end_day=np.array([[4.0], [10.0]]))
    ep = EndpointSpec(name="w", type="weekly_mean", days=[2, 3])
    np.testing.assert_array_equal(compute_endpoint(ta, ep, sc).value[:, 0], [2.5, 2.5])
    # from the end of dosing: day 1 is the day after the anchor
    ep = EndpointSpec(name="w", type="weekly_mean", days=[2, 3], anchor="treatment_end")
    np.testing.assert_array_equal(compute_endpoint(ta, ep, sc).value[:, 0], [6.5, 12.5])
    ep = EndpointSpec(name="w", type="weekly_mean", days=[2, 2], anchor="treatment_end")
    assert compute_endpoint(ta, ep, sc).value[0, 0] == 6.0
    ta.segment_end_day = np.array([[4.0], [4.0]])
    v = compute_endpoint(ta, ep, sc).value[:, 0]
    assert v[0] == 6.0 and np.isnan(v[1])  # the only day of the window is missing
    wk = EndpointSpec(name="c", type="change_from_baseline", week=1, anchor="treatment_end")
    assert compute_endpoint(ta, wk, sc).value[0, 0] == np.mean(np.arange(5.0, 12.0)) - 50.0


def test_treatment_end_anchor_follows_the_schedule_in_a_trial():
    """100-h infusion from 08:00, diary at 20:00: the last entry before the end is day 4."""
    from ketsim.sim.trial import simulate_trial

    sc = parse_scenario(
        {
            "name": "t",
            "arms": [
                {"name": "ket", "n": 3, "regimens": ["20 mg/h for 100 h"]},
                {"name": "plc", "n": 3, "treatment": "placebo", "regimens": ["20 mg/h for 4 h"]},
            ],
            "trial": {"weeks": 2, "start_hour": 8, "diary_hour": 20},
            "seed": 1,
        }
    )
    ta = simulate_trial(sc).arrays
    # diary entry of day d is at 12 + 24 (d - 1) h: day 5 (108 h) is the first after 100 h,
    # day 1 (12 h) the first after 4 h
    np.testing.assert_array_equal(ta.segment_end_day[:, 0], np.where(ta.arm == 0, 4.0, 0.0))


@pytest.mark.parametrize(
    ("endpoint", "analysis", "message"),
    [
        ({"type": "weekly_mean", "week": 2, "days": [1, 3]}, {}, "a 'week' or 'days"),
        ({"type": "responder"}, {}, "a 'week' or 'days"),
        ({"type": "weekly_mean", "days": [3, 2]}, {}, "1 <= first <= last"),
        ({"type": "dropout", "anchor": "treatment_end"}, {}, "applies to diary windows"),
        (
            {"type": "change_from_baseline", "week": 2, "anchor": "treatment_end"},
            {"method": "mmrm"},
            "mmrm needs an endpoint with a 'week' counted from the start",
        ),
    ],
)
def test_window_and_anchor_errors(endpoint, analysis, message):
    from ketsim.config.scenario import ScenarioError

    data = {
        "name": "t",
        "arms": [
            {"name": "ket", "n": 2, "regimens": ["0.5 mg/kg over 2h"]},
            {"name": "plc", "n": 2, "treatment": "placebo", "regimens": ["0.5 mg/kg over 2h"]},
        ],
        "endpoints": [{"name": "e", **endpoint}],
        "analyses": [{"endpoint": "e", **analysis}] if analysis else [],
    }
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert any(message in p for p in err.value.problems), err.value.problems
