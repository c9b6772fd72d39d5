"""Closed-form pharmacokinetics against the exact propagator.

Hand-built :class:`LinearSystem` objects (one- and two-compartment models, Bateman oral absorption)
are propagated by :class:`Propagator` and compared with the textbook closed forms (e.g. Gibaldi &
Perrier, *Pharmacokinetics*, 2nd ed., chapters 1-2) to rtol 1e-9. Output grids are chosen so that
both code paths of ``Propagator._eval`` are exercised: a regular grid of >= 4 equal steps goes
through the blocked ``grid`` evaluation, irregular (random, sorted) times go through ``step``.
Event times deliberately fall off the output grid (e.g. an infusion stop at 10.37 h).

Absolute floor: values are compared with ``rtol=1e-9`` and ``atol=1e-12 * max|y|`` of the series,
so that the far tails of exponentials (< 1e-12 of the peak) cannot fail on round-off alone.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from ketsim.core.pk import parameters as prm
from ketsim.core.pk.model import Covariates, LinearSystem, build_system, individual_parameters
from ketsim.core.pk.propagate import DosingPlan, Propagator

RTOL = 1e-9
HOURLY = np.arange(500, dtype=float)  # 0, 1, ..., 499 h: regular grid -> blocked path
RNG_TIMES = np.sort(np.random.default_rng(20240601).uniform(0.0, 60.0, size=80))  # irregular


def _close(actual, expected, rtol=RTOL):
    """assert_allclose with an absolute floor of 1e-12 of the series' largest magnitude."""
    expected = np.asarray(expected, dtype=float)
    floor = 1e-12 * max(np.abs(expected).max(), 1e-300)
    assert_allclose(actual, expected, rtol=rtol, atol=floor)


def _one_cmt(k, v):
    """One-compartment system per patient: dA/dt = -k A + r, C = 1000 A / V (ng/mL)."""
    k = np.atleast_1d(np.asarray(k, dtype=float))
    v = np.atleast_1d(np.asarray(v, dtype=float))
    p = k.size
    A = (-k)[:, None, None] * np.ones((p, 1, 1))
    B = np.ones((p, 1, 1))
    Bb = np.ones((p, 1, 1))
    C = (1000.0 / v)[:, None, None] * np.ones((p, 1, 1))
    return LinearSystem(A, B, Bb, C, ("X",), ("iv",), ("iv",), outputs=("c",))


def _plan(p, events):
    """DosingPlan from ``[(time, rate_mg_h, bolus_mg), ...]`` for a 1-input/1-bolus system."""
    times = np.array([e[0] for e in events], dtype=float)
    rates = np.array([[[e[1]]] * p for e in events], dtype=float)
    bol = np.array([[[e[2]]] * p for e in events], dtype=float)
    return DosingPlan(times, rates, bol)


GRIDS = pytest.mark.parametrize(
    "times",
    [HOURLY, RNG_TIMES, np.concatenate([RNG_TIMES[:20], 20.0 + 0.25 * np.arange(1, 200)])],
    ids=["hourly500", "random", "mixed"],
)


# ---------------------------------------------------------------------------------------------
# (a) one-compartment IV bolus
# ---------------------------------------------------------------------------------------------
@GRIDS
def test_one_cmt_iv_bolus(times):
    """1-cmt IV bolus D at t=0 gives C(t) = D/V exp(-k t) (Gibaldi & Perrier eq. 1.5)."""
    k = np.array([0.05, 0.3, 0.9])
    v = np.array([10.0, 42.0, 150.0])
    d = 25.0
    sysm = _one_cmt(k, v)
    y, _ = Propagator(sysm).run(_plan(3, [(0.0, 0.0, d)]), times)
    expected = 1000.0 * d / v[:, None] * np.exp(-k[:, None] * times[None, :])
    assert y.shape == (3, times.size, 1)
    _close(y[..., 0], expected)


def test_bolus_off_grid_is_right_continuous():
    """A bolus at 3.7 h is absent at 3.7-1e-9 h and fully present at 3.7 h (right-continuity)."""
    k, v, d = 0.2, 20.0, 10.0
    sysm = _one_cmt(k, v)
    t_b = 3.7
    times = np.array([0.0, 1.0, t_b - 1e-9, t_b, t_b, t_b + 0.5, 7.0, 8.0, 9.0, 10.0, 11.0])
    y, _ = Propagator(sysm).run(_plan(1, [(t_b, 0.0, d)]), times)
    expected = np.where(times >= t_b, 1000.0 * d / v * np.exp(-k * (times - t_b)), 0.0)
    assert_array_equal(y[0, times < t_b, 0], 0.0)
    _close(y[0, :, 0], expected)


@GRIDS
def test_one_cmt_repeated_boluses_superpose(times):
    """Boluses at 0, 7.3 and 19.91 h give the sum of shifted exponentials (linear superposition)."""
    k, v = 0.17, 33.0
    doses = [(0.0, 5.0), (7.3, 12.0), (19.91, 3.5)]
    y, _ = Propagator(_one_cmt(k, v)).run(_plan(1, [(t, 0.0, d) for t, d in doses]), times)
    expected = sum(
        np.where(times >= t, 1000.0 * d / v * np.exp(-k * np.clip(times - t, 0, None)), 0.0)
        for t, d in doses
    )
    _close(y[0, :, 0], expected)


# ---------------------------------------------------------------------------------------------
# (b) one-compartment constant infusion with washout
# ---------------------------------------------------------------------------------------------
def _infusion_closed_form(t, r, cl, k, t_inf):
    """C(t) for a zero-order infusion of rate r from 0 to t_inf (Gibaldi & Perrier eq. 2.5/2.9)."""
    t = np.asarray(t, dtype=float)
    during = r / cl * (-np.expm1(-k * np.minimum(t, t_inf)))
    after = np.exp(-k * np.clip(t - t_inf, 0.0, None))
    return 1000.0 * during * after


@GRIDS
def test_one_cmt_infusion_and_washout_off_grid_stop(times):
    """Infusion R 0-10.37 h: C = R/CL(1-e^{-kt}), then C(T)e^{-k(t-T)} (Gibaldi & Perrier ch. 2)."""
    k = np.array([0.08, 0.4, 1.3])
    v = np.array([12.0, 50.0, 90.0])
    cl = k * v
    r, t_inf = 7.5, 10.37
    y, z = Propagator(_one_cmt(k, v)).run(_plan(3, [(0.0, r, 0.0), (t_inf, 0.0, 0.0)]), times)
    expected = np.stack([_infusion_closed_form(times, r, cl[i], k[i], t_inf) for i in range(3)])
    _close(y[..., 0], expected)
    # the rate state carried in the augmented vector is off after the stop
    assert_array_equal(z[:, 1], 0.0)


def test_one_cmt_infusion_reaches_steady_state():
    """A long constant infusion approaches Css = R/CL (Gibaldi & Perrier eq. 2.6) to 1e-9."""
    k = np.array([0.1, 0.5])
    v = np.array([30.0, 80.0])
    cl = k * v
    r = 20.0
    times = np.arange(0.0, 501.0)  # 500 h >= 50 half-lives for k = 0.1/h
    y, _ = Propagator(_one_cmt(k, v)).run(_plan(2, [(0.0, r, 0.0)]), times)
    css = 1000.0 * r / cl
    assert_allclose(y[:, -1, 0], css, rtol=RTOL, atol=0)
    # monotone rise to the plateau (round-off of 1e-12 Css allowed once the plateau is reached)
    assert np.all(np.diff(y[:, :, 0], axis=1) >= -1e-12 * css[:, None])


def test_infusion_start_and_stop_both_off_grid():
    """Infusion from 2.13 h to 10.37 h on an hourly grid matches the shifted closed form."""
    k, v, r = 0.35, 25.0, 4.0
    t0, t1 = 2.13, 10.37
    times = np.arange(0.0, 40.0, 0.5)
    y, _ = Propagator(_one_cmt(k, v)).run(_plan(1, [(t0, r, 0.0), (t1, 0.0, 0.0)]), times)
    s = np.clip(times - t0, 0.0, None)
    expected = _infusion_closed_form(s, r, k * v, k, t1 - t0)
    _close(y[0, :, 0], expected)


# ---------------------------------------------------------------------------------------------
# (c) Bateman function: oral one-compartment model with a gut depot
# ---------------------------------------------------------------------------------------------
def _bateman_system(ka, k, v, f):
    p = ka.size
    A = np.zeros((p, 2, 2))
    A[:, 0, 0] = -ka
    A[:, 1, 0] = ka
    A[:, 1, 1] = -k
    B = np.zeros((p, 2, 0))
    Bb = np.zeros((p, 2, 1))
    Bb[:, 0, 0] = f  # bioavailable fraction reaches the depot
    C = np.zeros((p, 1, 2))
    C[:, 0, 1] = 1000.0 / v
    return LinearSystem(A, B, Bb, C, ("GUT", "X"), (), ("oral",), outputs=("c",))


@GRIDS
def test_bateman_oral_one_cmt(times):
    """Oral dose: C = F D ka/(V(ka-k)) (e^{-kt} - e^{-ka t}) (Bateman function, Gibaldi ch. 1)."""
    ka = np.array([0.97, 2.0, 0.3])
    k = np.array([0.25, 0.7, 0.05])
    v = np.array([40.0, 17.0, 200.0])
    f = np.array([0.08, 0.5, 0.9])
    d = 50.0
    t_dose = 0.0
    plan = DosingPlan(np.array([t_dose]), np.zeros((1, 3, 0)), np.full((1, 3, 1), d))
    y, _ = Propagator(_bateman_system(ka, k, v, f)).run(plan, times)
    t = times[None, :]
    expected = (
        1000.0
        * f[:, None]
        * d
        * ka[:, None]
        / (v[:, None] * (ka - k)[:, None])
        * (np.exp(-k[:, None] * t) - np.exp(-ka[:, None] * t))
    )
    _close(y[..., 0], expected)


def test_bateman_peak_time():
    """The Bateman peak is at t_max = ln(ka/k)/(ka-k) (Gibaldi & Perrier eq. 1.36)."""
    ka, k, v, f, d = np.array([1.5]), np.array([0.2]), np.array([30.0]), np.array([1.0]), 10.0
    tmax = math.log(ka[0] / k[0]) / (ka[0] - k[0])
    times = np.array([tmax - 1e-3, tmax, tmax + 1e-3])
    plan = DosingPlan(np.array([0.0]), np.zeros((1, 1, 0)), np.full((1, 1, 1), d))
    y, _ = Propagator(_bateman_system(ka, k, v, f)).run(plan, times)
    assert y[0, 1, 0] > y[0, 0, 0] and y[0, 1, 0] > y[0, 2, 0]
    cmax = 1000.0 * d / v[0] * math.exp(-k[0] * tmax)  # at t_max, ka e^{-ka t} = k e^{-k t}
    assert_allclose(y[0, 1, 0], cmax, rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# (d) two-compartment IV bolus: biexponential
# ---------------------------------------------------------------------------------------------
def _two_cmt(k10, k12, k21, v1):
    p = k10.size
    A = np.zeros((p, 2, 2))
    A[:, 0, 0] = -(k10 + k12)
    A[:, 0, 1] = k21
    A[:, 1, 0] = k12
    A[:, 1, 1] = -k21
    B = np.zeros((p, 2, 1))
    B[:, 0, 0] = 1.0
    Bb = B.copy()
    C = np.zeros((p, 1, 2))
    C[:, 0, 0] = 1000.0 / v1
    return LinearSystem(A, B, Bb, C, ("X1", "X2"), ("iv",), ("iv",), outputs=("c",))


def _biexp(t, d, k10, k12, k21, v1):
    """C(t) = D/V1 [(α-k21)/(α-β) e^{-αt} + (k21-β)/(α-β) e^{-βt}] (Gibaldi & Perrier eq. 2.8x)."""
    s = k10 + k12 + k21
    disc = np.sqrt(s * s - 4.0 * k10 * k21)
    alpha = 0.5 * (s + disc)
    beta = k10 * k21 / alpha  # product of roots; avoids cancellation in (s - disc)/2
    a = (alpha - k21) / (alpha - beta)
    b = (k21 - beta) / (alpha - beta)
    return 1000.0 * d / v1 * (a * np.exp(-alpha * t) + b * np.exp(-beta * t))


@GRIDS
def test_two_cmt_iv_bolus_biexponential(times):
    """2-cmt IV bolus equals the biexponential closed form (Gibaldi & Perrier ch. 2)."""
    k10 = np.array([93.5 / 17.0, 0.3, 1.2])  # first: Noppers 2011 CL/V1
    k12 = np.array([127.0 / 17.0, 0.8, 0.05])  # Noppers 2011 Q2/V1
    k21 = np.array([127.0 / 28.3, 0.2, 0.02])  # Noppers 2011 Q2/V2
    v1 = np.array([17.0, 10.0, 5.0])
    d = 35.0
    y, _ = Propagator(_two_cmt(k10, k12, k21, v1)).run(_plan(3, [(0.0, 0.0, d)]), times)
    expected = np.stack([_biexp(times, d, k10[i], k12[i], k21[i], v1[i]) for i in range(3)])
    _close(y[..., 0], expected)


def test_two_cmt_bolus_then_infusion_off_grid():
    """2-cmt: bolus at 1.234 h plus infusion from 5.55 h, on a 0.1-h grid, matches closed forms."""
    k10, k12, k21, v1 = np.array([0.4]), np.array([0.9]), np.array([0.15]), np.array([12.0])
    d, r, t_b, t_i = 8.0, 3.0, 1.234, 5.55
    times = np.round(np.arange(0.0, 80.0, 0.1), 10)
    plan = _plan(1, [(t_b, 0.0, d), (t_i, r, 0.0)])
    y, _ = Propagator(_two_cmt(k10, k12, k21, v1)).run(plan, times)
    bol = np.where(times >= t_b, _biexp(np.clip(times - t_b, 0, None), d, k10, k12, k21, v1), 0.0)
    # infusion response = integral of the unit-bolus response: closed form of the integral
    s = k10 + k12 + k21
    disc = np.sqrt(s * s - 4.0 * k10 * k21)
    alpha = 0.5 * (s + disc)
    beta = k10 * k21 / alpha
    a = (alpha - k21) / (alpha - beta)
    b = (k21 - beta) / (alpha - beta)
    u = np.clip(times - t_i, 0, None)
    inf = 1000.0 * r / v1 * (a / alpha * -np.expm1(-alpha * u) + b / beta * -np.expm1(-beta * u))
    _close(y[0, :, 0], bol + inf)
    # the infusion plateau is R/CL (CL = k10 V1)
    assert_allclose(1000.0 * r / v1 * (a / alpha + b / beta), 1000.0 * r / (k10 * v1), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Full ketsim model: steady states
# ---------------------------------------------------------------------------------------------
def _typical_man_system(with_sinks=False):
    ip = individual_parameters(Covariates.typical(1), "noppers2011", eta=None)
    return ip, build_system(ip, ("iv",), (), with_sinks=with_sinks)


def test_typical_clearance_is_noppers():
    """Typical 70-kg man: CL = 93.5 L/h and V1 = 17.0 L (Noppers 2011 Anesthesiology 114:1435)."""
    ip, _ = _typical_man_system()
    assert_allclose(ip.cl, 93.5, rtol=1e-12)
    assert_allclose(ip.v1, 17.0, rtol=1e-12)


def test_full_model_infusion_steady_state_ketamine_and_fast_effect_site():
    """20 mg/h for 1000 h: ketamine and Ce_fast reach Css = 20/93.5*1000 ng/mL (Noppers 2011 CL)."""
    _, sysm = _typical_man_system()
    times = np.arange(1.0, 1001.0)  # hourly grid, blocked path
    plan = DosingPlan(np.array([0.0]), np.full((1, 1, 1), 20.0), np.zeros((1, 1, 0)))
    y, _ = Propagator(sysm).run(plan, times)
    css = 20.0 / 93.5 * 1000.0
    assert_allclose(y[0, -1, 0], css, rtol=RTOL, atol=0)
    assert_allclose(y[0, -1, 2], css, rtol=RTOL, atol=0)
    # norketamine: fm * MW ratio * R / CL_NK (Simons 2022: fm 0.8, CLN 60 L/h)
    nk_css = 0.8 * (prm.MW_NORKETAMINE / prm.MW_KETAMINE) * 20.0 / 60.0 * 1000.0
    assert_allclose(y[0, -1, 1], nk_css, rtol=RTOL, atol=0)


def test_full_model_slow_compartment_reaches_same_steady_state():
    """Ce_slow (t½ 10.9 d, Dahan 2011 Eur J Pain 15:258) reaches the plasma Css after 2e4 h."""
    # After 1000 h the slow compartment is only 1 - 2^(-1000/261.6) ~ 93% equilibrated, so the
    # 1e-9 check on it needs ~30+ half-lives: 20000 h is 76 half-lives.
    _, sysm = _typical_man_system()
    times = np.arange(0.0, 20001.0, 100.0)
    plan = DosingPlan(np.array([0.0]), np.full((1, 1, 1), 20.0), np.zeros((1, 1, 0)))
    y, _ = Propagator(sysm).run(plan, times)
    css = 20.0 / 93.5 * 1000.0
    assert_allclose(y[0, -1, 3], css, rtol=RTOL, atol=0)
    assert_allclose(y[0, -1, 0], css, rtol=RTOL, atol=0)


def test_full_model_slow_compartment_after_100h():
    """Ce_slow after 100 h at 20 mg/h ~ Css(1 - 2^(-100/(10.9*24))) within 3% (Dahan 2011)."""
    _, sysm = _typical_man_system()
    times = np.array([25.0, 50.0, 100.0])
    plan = DosingPlan(np.array([0.0]), np.full((1, 1, 1), 20.0), np.zeros((1, 1, 0)))
    y, _ = Propagator(sysm).run(plan, times)
    approx = 20.0 / 93.5 * 1000.0 * (1.0 - math.exp(-math.log(2.0) * 100.0 / (10.9 * 24.0)))
    assert_allclose(y[0, -1, 3], approx, rtol=0.03)
    # plasma lags the step, so the slow compartment is below the idealised curve, not above
    assert y[0, -1, 3] < approx


def test_full_model_effect_site_ke0_half_life():
    """With plasma clamped by hand, Ce_fast relaxes with t½ke0 = 8.3 min (Olofsen 2022)."""
    _, sysm = _typical_man_system()
    # state: only EF = 1 mg/L, ketamine zero -> EF decays as exp(-ke0 t)
    x0 = np.zeros((1, sysm.A.shape[1]))
    x0[0, sysm.index("EF")] = 1.0
    plan = DosingPlan(np.array([0.0]), np.zeros((1, 1, 1)), np.zeros((1, 1, 0)))
    t_half = 8.3 / 60.0
    y, _ = Propagator(sysm).run(plan, np.array([t_half, 2 * t_half]), x0=x0)
    assert_allclose(y[0, :, 2], [500.0, 250.0], rtol=1e-12)


def test_grid_fixture_paths_are_exercised(monkeypatch):
    """The hourly grid goes through Propagator.grid (blocked path); random times do not."""
    calls = []
    orig = Propagator.grid

    def spy(self, z, h, R, *args, **kwargs):
        calls.append((h, R))
        return orig(self, z, h, R, *args, **kwargs)

    monkeypatch.setattr(Propagator, "grid", spy)
    sysm = _one_cmt(0.1, 10.0)
    Propagator(sysm).run(_plan(1, [(0.0, 0.0, 1.0)]), HOURLY)
    assert calls and sum(r for _, r in calls) == HOURLY.size - 1
    calls.clear()
    Propagator(sysm).run(_plan(1, [(0.0, 0.0, 1.0)]), RNG_TIMES)
    assert calls == []


# ---------------------------------------------------------------------------------------------
# Bioavailability and AUC of the full model
# ---------------------------------------------------------------------------------------------
def _auc_inf(sysm, col):
    """AUC_0-inf of plasma ketamine (ng·h/mL) per mg of bolus ``col``: -C A^-1 b (no propagator)."""
    x = np.linalg.solve(sysm.A, sysm.Bb[:, :, col][..., None])[..., 0]
    return -np.einsum("pn,pn->p", sysm.C[:, 0, :], x)


F_ABS = 0.08 / (0.30 * 0.30)


@pytest.mark.parametrize(
    "route,intranasal,expected",
    [
        ("oral", "huge2010", 0.08),  # Fanta 2015 Eur J Clin Pharmacol 71:441: oral S-K F 8%
        ("sublingual", "huge2010", 0.29),  # Rolan 2014 Br J Clin Pharmacol 77:1011: F 29%
        ("subcutaneous", "huge2010", 0.90),  # MODEL.md §2 assumption
        ("intramuscular", "huge2010", 0.93),  # Clements 1982 J Pharm Sci 71:539: F 93%
        ("intranasal", "huge2010", 0.247 + 0.753 * 0.08),  # calibrated nasal fraction (L)
        ("intranasal", "perez_ruixo2021", 0.54 + 0.46 * 0.08),  # Perez-Ruixo 2021: FRn 0.54
    ],
)
def test_systemic_bioavailability(route, intranasal, expected):
    """F = AUC_route / AUC_iv of the typical man matches the published/derived route F."""
    from ketsim.core.pk.model import PKSwitches

    ip = individual_parameters(Covariates.typical(1), switches=PKSwitches(intranasal=intranasal))
    sysm = build_system(ip, (), ("iv", route))
    auc = _auc_inf(sysm, 0), _auc_inf(sysm, 1)
    assert_allclose(auc[0], 1000.0 / 93.5, rtol=1e-12)  # AUC_iv = D / CL
    assert_allclose(auc[1] / auc[0], expected, rtol=1e-9)


def test_auc_outputs_match_dose_over_clearance():
    """with_auc: the integrated ketamine concentration after an IV bolus tends to 1000 D/CL."""
    ip = individual_parameters(Covariates.typical(2, weight_kg=85.0), eta=None)
    sysm = build_system(ip, ("iv",), ("iv", "oral"), with_auc=True)
    assert sysm.outputs[4:] == ("auc_ketamine", "auc_norketamine")
    d_iv, d_oral = 12.0, 40.0
    plan = DosingPlan(
        np.array([1.3]), np.zeros((1, 2, 1)), np.array([[[d_iv, d_oral], [d_iv, d_oral]]])
    )
    times = np.arange(0.0, 400.0, 1.0)
    y, _ = Propagator(sysm).run(plan, times)
    no_auc = build_system(ip, ("iv",), ("iv", "oral"))
    expected = d_iv * _auc_inf(no_auc, 0) + d_oral * _auc_inf(no_auc, 1)
    assert_allclose(y[:, -1, 4], expected, rtol=1e-9)
    assert_allclose(d_iv * _auc_inf(no_auc, 0), 1000.0 * d_iv / ip.cl, rtol=1e-12)
    # AUC is zero before the dose and non-decreasing (round-off of 1e-12 of the final AUC allowed)
    assert_array_equal(y[:, times < 1.3, 4:], 0.0)
    assert np.all(np.diff(y[:, :, 4:], axis=1) >= -1e-12 * y[:, -1:, 4:])


def test_intranasal_huge2010_calibration():
    """IN 0.2 mg/kg S-K (14 mg, 70 kg): 27.7 ng/mL at 10 min (Huge 2010 Eur J Pain 14:387)."""
    ip = individual_parameters(Covariates.typical(1), eta=None)
    sysm = build_system(ip, (), ("intranasal",))
    plan = DosingPlan(np.array([0.0]), np.zeros((1, 1, 0)), np.full((1, 1, 1), 14.0))
    y, _ = Propagator(sysm).run(plan, np.array([10.0 / 60.0]))
    assert_allclose(y[0, 0, 0], 27.7, rtol=0.01)  # calibration target stated in parameters.ROUTES
