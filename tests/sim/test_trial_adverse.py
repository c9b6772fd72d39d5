"""Adverse-event exposure (issue 15, deliverables 6 and 7): background reports per unit of exposure
(sessions and infusion hours, the Sigtermans 2009 100-h reference exact) and liver courses made of
sessions less than ``liver_course_gap_days`` apart."""

from __future__ import annotations

import numpy as np

from ketsim.config.scenario import parse_scenario
from ketsim.core.pd import adverse
from ketsim.core.pd.parameters import PDParameters, resolve_pd
from ketsim.sim.trial_adverse import session_starts
from ketsim.sim.trial_model import TrialModel

PRM = PDParameters()
NO_DROPOUT = {"loss_to_follow_up_per_week": 0.0, "lack_of_effect_dropout_per_week": 0.0}


def _model(regimen: str, n: int = 200, treatment: str = "placebo", weeks: int = 3, pd=None):
    arm = {"name": "a", "n": n, "treatment": treatment, "regimens": [regimen]}
    sc = parse_scenario(
        {"name": "ae", "arms": [arm], "trial": {"weeks": weeks}, "pd": {**NO_DROPOUT, **(pd or {})}}
    )
    return TrialModel(sc, entropy=11, with_agents=False)


def test_background_exposure_closed_form():
    """x = s·n + (1 − s)·h/100 with s = 0.1; P = 1 − (1 − p_ref)^x."""
    x = adverse.background_exposure([1, 1, 10, 0], [100.0, 2.0, 40.0, 0.0], PRM)
    np.testing.assert_allclose(x, [1.0, 0.1 + 0.9 * 0.02, 1.0 + 0.9 * 0.4, 0.0], rtol=1e-15)
    p = adverse.background_probability(0.18, x)
    np.testing.assert_allclose(p, [0.18, 1 - 0.82**0.118, 1 - 0.82**1.36, 0.0], rtol=1e-13)
    np.testing.assert_allclose(adverse.background_hazard(0.10, x[1]), -np.log(0.9) * 0.118)
    # the share moves the 2-h value and leaves the reference alone
    half = resolve_pd({"ae_background_session_share": 0.5})
    x2 = adverse.background_exposure([1, 1], [100.0, 2.0], half)
    np.testing.assert_allclose(x2, [1.0, 0.51], rtol=1e-15)


def test_session_starts():
    """A dose at an infusion's start, during or at its end belongs to the infusion's session."""
    prev = np.array([[0.0], [0.0], [2.0], [2.0], [0.0]])
    now = np.array([[2.0], [0.0], [2.0], [0.0], [0.0]])
    bol = np.array([[5.0], [5.0], [5.0], [5.0], [0.0]])
    np.testing.assert_array_equal(session_starts(now, prev, bol), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(session_starts(now, prev), [1, 0, 0, 0, 0])


def test_background_reports_scale_with_infusion_length():
    """On saline, a patient reports a background psychotomimetic effect exactly when the
    segment's uniform falls below 1 − 0.82^x: x = 0.118 for one 2-h infusion (2.3%), x = 1 for
    one 100-h infusion (18%, Sigtermans 2009); nausea likewise on the per-check uniform (one check
    at the end of the 2-h infusion)."""
    short = _model("0.35 mg/kg/h over 2h")
    short.run_model()
    x = 0.1 + 0.9 * 0.02
    np.testing.assert_allclose(short.background.exposure(), x, rtol=1e-14)
    u_psy = short.u.background[:, 0]
    np.testing.assert_array_equal(short.ae_seg["psychotomimetic"][:, 0], u_psy < 1 - 0.82**x)
    np.testing.assert_array_equal(short.ae_seg["nausea"][:, 0], short.u.nausea[:, 0] < 1 - 0.9**x)

    long = _model("20 mg/h over 100h", weeks=5)
    long.run_model()
    np.testing.assert_allclose(long.background.exposure(), 1.0, rtol=1e-12)
    u_psy = long.u.background[:, 0]
    np.testing.assert_array_equal(long.ae_seg["psychotomimetic"][:, 0], u_psy < 0.18)
    p_short = adverse.background_probability(0.18, x)
    assert p_short < 0.15 * 0.18
    # the population rates follow (200 patients: binomial SE ~2.7 points at 18%)
    assert long.ae_seg["psychotomimetic"].mean() > short.ae_seg["psychotomimetic"].mean() + 0.05


def test_daily_sessions_count_each_session_and_hour():
    """Ten daily 4-h saline sessions: 10 sessions and 40 h, x = 1.36."""
    m = _model("0.35 mg/kg/h over 4h daily x10", n=20, weeks=3)
    m.run_model()
    np.testing.assert_array_equal(m.background.sessions, 10)
    np.testing.assert_allclose(m.background.hours, 40.0, rtol=1e-14)
    np.testing.assert_allclose(m.background.exposure(), 1.36, rtol=1e-14)


def test_daily_sessions_form_one_liver_course_with_summed_auc():
    """Ten daily 4-h ketamine sessions are one course (gaps of 20 h < 7 d) whose AUC is the sum
    of the sessions' AUCs (each from its start to its end); with a 0.5-day gap they are ten."""
    m = _model("0.35 mg/kg/h over 4h daily x10", n=6, treatment="ketamine", weeks=3)
    starts = {24.0 * i for i in range(10)}
    ends = {24.0 * i + 4.0 for i in range(10)}
    auc_sum = np.zeros(m.n)
    while m.running:
        m.step()
        if m.time_h in starts:
            auc_sum -= m.y["auc"]
        if m.time_h in ends:
            auc_sum += m.y["auc"]
    np.testing.assert_array_equal(m.courses.n_courses, 1)
    np.testing.assert_allclose(m.courses.course_auc, auc_sum, rtol=1e-12)
    assert np.all(auc_sum > 0)

    split = _model(
        "0.35 mg/kg/h over 4h daily x10",
        n=6,
        treatment="ketamine",
        weeks=3,
        pd={"liver_course_gap_days": 0.5},
    )
    split.run_model()
    np.testing.assert_array_equal(split.courses.n_courses, 10)


def test_two_courses_16_days_apart_stay_two_and_injury_is_logged_at_the_course_end():
    """Noppers 2011: the second 100-h course 16 days after the first is a re-exposure under the
    default 7-day gap (two courses); a 17-day gap joins them into one. A certain injury is logged
    at the end of the course's last session, not when the course is found closed."""
    reg = "20 mg/h over 100h every 484h x2"
    m = _model(reg, n=4, treatment="ketamine", weeks=6)
    m.run_model()
    np.testing.assert_array_equal(m.courses.n_courses, 2)
    joined = _model(reg, n=4, treatment="ketamine", weeks=6, pd={"liver_course_gap_days": 17.0})
    joined.run_model()
    np.testing.assert_array_equal(joined.courses.n_courses, 1)
    sure = _model(
        reg, n=4, treatment="ketamine", weeks=6, pd={"liver_single_course_probability": 0.999999}
    )
    res = sure.result()
    ev = res.events[res.events["event"] == "ae_liver_injury"]
    assert len(ev) == 4
    np.testing.assert_allclose(ev["time_h"], 100.0)
    assert res.patients["ae_liver_injury"].all()


def test_course_open_at_the_trial_end_is_closed_there():
    """A course whose gap has not elapsed by the last event closes at the trial's end."""
    m = _model("20 mg/h over 100h", n=3, treatment="ketamine", weeks=1)
    m.run_model()
    np.testing.assert_array_equal(m.courses.n_courses, 1)
    assert not m.courses.open.any()
