"""The lasting-effect hypotheses (issue 15, deliverable 1): the sustained-blockade memory against
an independent ODE solution, and what each hypothesis does to a virtual trial."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from ketsim.config.scenario import ScenarioError, parse_scenario
from ketsim.core.pd.parameters import HYPOTHESIS_PD, LASTING_EFFECTS, resolve_pd
from ketsim.core.pd.sensitization import blockade_step
from ketsim.sim.trial import simulate_trial

K = np.log(2.0) / (24.0 * 10.9)


def _ode_memory(m0, c0, c1, theta, dt, k):
    """dM/dt = 1[c(t) >= θ] − k M by an adaptive solver, split at the crossing for accuracy."""
    cross = (theta - c0) / (c1 - c0) * dt if c1 != c0 else -1.0
    pieces = [0.0, dt] if not 0.0 < cross < dt else [0.0, cross, dt]
    m = m0
    for a, b in itertools.pairwise(pieces):
        mid = 0.5 * (a + b)
        u = 1.0 if c0 + (c1 - c0) * mid / dt >= theta else 0.0
        sol = solve_ivp(lambda t, y, u=u: [u - k * y[0]], (a, b), [m], rtol=1e-11, atol=1e-13)
        m = sol.y[0, -1]
    return m


@settings(max_examples=60, deadline=None)
@given(
    m0=st.floats(0.0, 500.0),
    c0=st.floats(0.0, 60.0),
    c1=st.floats(0.0, 60.0),
    theta=st.floats(0.1, 30.0),
    dt=st.floats(0.01, 400.0),
)
def test_blockade_step_matches_an_ode_solution(m0, c0, c1, theta, dt):
    got = blockade_step(np.array([m0]), np.array([c0]), np.array([c1]), theta, dt, K)[0]
    ref = _ode_memory(m0, c0, c1, theta, dt, K)
    assert got == pytest.approx(ref, rel=1e-8, abs=1e-9)


def test_blockade_memory_is_hours_above_threshold_when_recovery_is_negligible():
    # 10 h entirely above θ, a tiny k: the memory is the 10 h it spent there
    got = blockade_step(np.zeros(1), np.array([5.0]), np.array([6.0]), 1.0, 10.0, 1e-12)[0]
    assert got == pytest.approx(10.0, rel=1e-9)
    # rising through θ halfway: 5 h
    got = blockade_step(np.zeros(1), np.array([0.0]), np.array([2.0]), 1.0, 10.0, 1e-12)[0]
    assert got == pytest.approx(5.0, rel=1e-9)


def test_each_hypothesis_resolves_to_valid_parameters_and_overrides_win():
    for h in LASTING_EFFECTS:
        p = resolve_pd(None, h)
        for name, value in HYPOTHESIS_PD[h].items():
            assert getattr(p, name) == value
    p = resolve_pd({"slow_gamma": 1.25}, "delayed_peak")
    assert p.slow_gamma == 1.25


def test_an_unknown_hypothesis_is_refused_naming_the_switch():
    data = _trial_dict(1.0)
    data["switches"] = {"lasting_effect": "magic"}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "t")
    assert any("switches.lasting_effect" in p for p in err.value.problems)


def _trial_dict(hours: float, weeks: int = 3) -> dict:
    reg = [{"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": f"{hours:g} h"}]
    return {
        "name": "t",
        "drug": "S-ketamine",
        "parameter_set": "noppers2011",
        "population": {"indication": "crps1"},
        "arms": [{"name": "ketamine", "n": 40, "treatment": "ketamine", "regimens": reg}],
        "trial": {"weeks": weeks, "baseline_days": 7, "start_hour": 8, "diary_hour": 20},
    }


def _sens_course(hypothesis: str, hours: float, pd: dict | None = None) -> tuple[float, float]:
    """(mean sensitization relief at the end of infusion, at its maximum) of responders, and the
    day of the maximum, from the daily diary expectation (no measurement noise involved)."""
    data = _trial_dict(hours)
    data["switches"] = {"lasting_effect": hypothesis}
    if pd:
        data["pd"] = pd
    res = simulate_trial(parse_scenario(data, "t"), seed=3)
    return res


def test_sustained_blockade_leaves_nothing_after_a_short_infusion_but_does_after_a_long_one():
    # with a threshold above the peak a 1-h infusion brings the fast effect site to, the 1-h course
    # has no lasting effect at all, whatever its peak; the 30-h course has one
    pd = {"blockade_threshold_ng_ml": 150.0, "blockade_m50_h": 3.0, "blockade_gamma": 4.0}
    short = _sens_course("sustained_blockade", 1.0, pd)
    long_ = _sens_course("sustained_blockade", 30.0, pd)
    day = 7  # five days or more after either infusion: acute effects long gone
    s_short = short.diary.query("day == @day").expected_nrs.mean()
    s_long = long_.diary.query("day == @day").expected_nrs.mean()
    base = short.patients.baseline_nrs.mean()
    assert s_short == pytest.approx(_no_drug_expectation(short, day), rel=1e-9)
    assert s_long < s_short - 0.1 * base / 7.2


def _no_drug_expectation(res, day):
    """The same patients' expectation under no lasting effect (threshold out of reach)."""
    data = _trial_dict(1.0)
    data["switches"] = {"lasting_effect": "sustained_blockade"}
    data["pd"] = {"blockade_threshold_ng_ml": 1e6}
    ref = simulate_trial(parse_scenario(data, "t"), seed=3)
    return ref.diary.query("day == @day").expected_nrs.mean()
