"""Comparator PK (midazolam, lidocaine) against closed forms and a tight ODE solve, and the
comparator PD curves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from ketsim.core.pd.comparators import (
    COMPARATOR_PD,
    comparator_pd,
    comparator_relief,
    felt_intensity,
)
from ketsim.core.pk.comparator_pk import LIDOCAINE, MIDAZOLAM, comparator_system
from ketsim.core.pk.propagate import DosingPlan, Propagator


def _run(pk, weight, rate, dur, times, bolus=0.0):
    sys_ = comparator_system(pk, np.array([weight]))
    prop = Propagator(sys_)
    plan = DosingPlan(
        times=np.array([0.0, dur]),
        rates=np.array([[[rate]], [[0.0]]]),
        boluses=np.array([[[bolus]], [[0.0]]]),
    )
    y, _ = prop.run(plan, times)
    return y[0]


def test_lidocaine_one_compartment_infusion_matches_closed_form():
    w, rate, dur = 70.0, 700.0, 0.5  # 5 mg/kg over 30 min
    v = LIDOCAINE.v1_l_kg * w
    cl = LIDOCAINE.cl_l_h_kg * w
    k, ke0 = cl / v, LIDOCAINE.ke0_per_h
    t = np.array([0.1, 0.25, 0.5, 1.0, 3.0, 24.0])
    y = _run(LIDOCAINE, w, rate, dur, t)

    def during(s):  # plasma and effect site during a constant infusion from 0
        css = rate / cl
        cp = css * (1 - np.exp(-k * s))
        ce = css * (1 - (ke0 * np.exp(-k * s) - k * np.exp(-ke0 * s)) / (ke0 - k))
        return cp, ce

    cp, ce = during(t)
    # after the stop: superpose a negative infusion from dur (linearity)
    late = t > dur
    cp2, ce2 = during(np.maximum(t - dur, 0.0))
    cp = np.where(late, cp - cp2, cp) * 1000.0
    ce = np.where(late, ce - ce2, ce) * 1000.0
    np.testing.assert_allclose(y[:, 0], cp, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(y[:, 1], ce, rtol=1e-9, atol=1e-9)
    assert LIDOCAINE.terminal_half_life_h() == pytest.approx(np.log(2) / k)


def test_midazolam_two_compartment_matches_ode():
    w, rate, dur, bolus = 80.0, 10.0, 0.5, 2.0
    t = np.array([0.05, 0.3, 0.5, 0.75, 2.0, 6.0, 12.0])
    y = _run(MIDAZOLAM, w, rate, dur, t, bolus=bolus)
    A = comparator_system(MIDAZOLAM, np.array([w])).A[0]

    def rhs(s, x):
        u = np.array([rate if s < dur else 0.0, 0.0, 0.0])
        return A @ x + u

    x0 = np.array([bolus, 0.0, 0.0])
    s1 = solve_ivp(rhs, (0, dur), x0, rtol=1e-11, atol=1e-13, dense_output=True, method="LSODA")
    s2 = solve_ivp(
        rhs, (dur, 12.0), s1.y[:, -1], rtol=1e-11, atol=1e-13, dense_output=True, method="LSODA"
    )
    x = np.array([s1.sol(s) if s <= dur else s2.sol(s) for s in t])
    v1 = MIDAZOLAM.v1_l_kg * w
    np.testing.assert_allclose(y[:, 0], 1000 * x[:, 0] / v1, rtol=1e-8)
    np.testing.assert_allclose(y[:, 1], 1000 * x[:, 2], rtol=1e-8)


def test_midazolam_typical_values_match_sources():
    # Greenblatt 1984: terminal t½ 2-3 h in young adults; Buhrer 1990: t½ke0 5.6 min
    assert 2.0 < MIDAZOLAM.terminal_half_life_h() < 3.0
    assert MIDAZOLAM.vss_l_kg == pytest.approx(1.1)
    assert np.log(2) / MIDAZOLAM.ke0_per_h * 60 == pytest.approx(5.6)


def test_iiv_scales_clearance_and_volume():
    eta = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, -1.0]])
    s = comparator_system(MIDAZOLAM, np.full(3, 70.0), eta)
    om = np.sqrt(np.log1p(0.3**2))
    v1 = 1000.0 / s.C[:, 0, 0]
    assert v1[2] / v1[0] == pytest.approx(np.exp(-om))
    cl = -s.A[:, 0, 0] * v1 - MIDAZOLAM.q_l_h_kg * 70.0
    assert cl[1] / cl[0] == pytest.approx(np.exp(om))


def test_comparator_pd_curves():
    pd = COMPARATOR_PD["lidocaine"]
    assert felt_intensity(np.array([0.0]), 100.0, 2.0)[0] == 0.0
    assert felt_intensity(np.array([pd.felt_ec50_ng_ml]), pd.felt_ec50_ng_ml, 3.0)[0] == 0.5
    r = comparator_relief(np.array([pd.relief_ec50_ng_ml, 1e9]), pd)
    np.testing.assert_allclose(r, [pd.relief_emax / 2, pd.relief_emax])
    # midazolam is no analgesic (Gitlin 2020)
    assert np.all(comparator_relief(np.array([1e4]), COMPARATOR_PD["midazolam"]) == 0.0)
    assert comparator_pd("midazolam", {"relief_emax": 0.1}).relief_emax == 0.1
