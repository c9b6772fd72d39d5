"""Hypothesis properties of the full ketsim PK model and its exact propagator.

Regimens are drawn as lists of infusions ``(start, duration, route, rate)`` and boluses
``(time, route, amount)`` over all supported routes and turned into a :class:`DosingPlan` on the
union of their event times. A few patients with seeded log-normal IIV are simulated.

Tolerances: mass balance to 1e-9 of the dose; linearity and time-shift invariance to 1e-10 of each
output series' maximum (plus 1e-12 ng/mL); determinism bitwise; non-negativity allows round-off of
-1e-12 of the series' maximum (an exact matrix exponential of a Metzler matrix is non-negative,
a floating-point one only up to round-off).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from ketsim.core.pk import parameters as prm
from ketsim.core.pk.model import N_ETA, Covariates, PKSwitches, build_system, individual_parameters
from ketsim.core.pk.propagate import DosingPlan, Propagator

INFUSION = ("iv", "subcutaneous")
BOLUS = ("iv", "oral", "sublingual", "intranasal", "subcutaneous", "intramuscular")
P = 3
MW = prm.MW_NORKETAMINE / prm.MW_KETAMINE  # mg norketamine formed per mg ketamine metabolised
KETAMINE_STATES = ("K1", "K2", "K3", "GUT", "D_SL", "D_IN", "D_SC", "D_IM", "SK")
NK_STATES = ("T1", "T2", "N1", "N2", "SN")


def _system(with_sinks=True, seed=2024):
    rng = np.random.default_rng(seed)
    cov = Covariates(
        weight_kg=np.array([55.0, 70.0, 102.0]),
        female=np.array([True, False, False]),
        cyp2b6_activity=np.array([1.0, 0.5, 0.17]),
    )
    ip = individual_parameters(cov, "noppers2011", eta=rng.standard_normal((P, N_ETA)))
    return build_system(ip, INFUSION, BOLUS, with_sinks=with_sinks)


SYSTEM = _system(True)
SYSTEM_NOSINK = _system(False)

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)

# Event and output times on a 1/64-h grid: exactly representable, so that shifting them by a
# grid multiple is exact and cannot merge a bolus with an output time by round-off (a bolus at
# 1e-262 h shifted by 1 h lands exactly on 1 h, where outputs are right-continuous).
_time = st.integers(0, 48 * 64).map(lambda k: k / 64)
_infusion = st.tuples(
    _time,
    st.floats(1e-3, 24.0),
    st.integers(0, len(INFUSION) - 1),
    st.floats(0.01, 50.0),
)
_bolus = st.tuples(_time, st.integers(0, len(BOLUS) - 1), st.floats(0.01, 100.0))
regimens = st.tuples(st.lists(_infusion, max_size=3), st.lists(_bolus, max_size=4)).filter(
    lambda r: len(r[0]) + len(r[1]) > 0
)


def _make_plan(infusions, boluses, p=P, shift=0.0, scale=1.0):
    """DosingPlan on the union of event times; rates sum the infusions active on [t_k, t_k+1)."""
    ev = [s + shift for s, _, _, _ in infusions] + [s + d + shift for s, d, _, _ in infusions]
    ev += [t + shift for t, _, _ in boluses]
    times = np.unique(np.asarray(ev, dtype=float))
    rates = np.zeros((times.size, p, len(INFUSION)))
    bol = np.zeros((times.size, p, len(BOLUS)))
    for s, d, r, rate in infusions:
        on = (times >= s + shift) & (times < s + d + shift)
        rates[on, :, r] += rate * scale
    for t, r, amt in boluses:
        bol[np.searchsorted(times, t + shift), :, r] += amt * scale
    return DosingPlan(times, rates, bol)


def _output_times(t_end, h, extra, shift=0.0):
    grid = np.arange(0.0, t_end, h)
    return np.sort(np.concatenate([grid, np.asarray(extra, dtype=float)])) + shift


def _series_close(a, b, rel=1e-10, floor=1e-12):
    scale = np.maximum(np.abs(a).max(axis=1, keepdims=True), np.abs(b).max(axis=1, keepdims=True))
    assert np.all(np.abs(a - b) <= rel * scale + floor), (
        f"max |diff|/scale = {(np.abs(a - b) / (scale + floor)).max():.3g}"
    )


_out_spec = st.tuples(
    st.sampled_from([0.25, 0.5, 1.0, 1.7]),
    st.lists(st.integers(0, 80 * 64).map(lambda k: k / 64), max_size=8),
)


# ---------------------------------------------------------------------------------------------
@SETTINGS
@given(regimen=regimens, t_extra=st.floats(0.0, 50.0))
def test_mass_balance(regimen, t_extra):
    """Ketamine equivalents in the system (incl. sinks, NK / MW ratio) equal the absorbable dose."""
    infusions, boluses = regimen
    plan = _make_plan(infusions, boluses)
    t_end = float(plan.times[-1]) + t_extra + 1e-3  # after every event
    times = np.linspace(0.0, t_end, 7)
    _, z = Propagator(SYSTEM).run(plan, times)
    n = SYSTEM.A.shape[1]
    x = z[:, :n]
    s = SYSTEM.states
    ket = sum(x[:, s.index(k)] for k in KETAMINE_STATES)
    nk = sum(x[:, s.index(k)] for k in NK_STATES)
    total = ket + nk / MW
    # the absorbable fraction of each route is the sum of its input vector over the mass states
    mass_idx = [s.index(k) for k in KETAMINE_STATES + NK_STATES]
    f_inf = SYSTEM.B[:, mass_idx, :].sum(axis=1)  # (P, n_inf)
    f_bol = SYSTEM.Bb[:, mass_idx, :].sum(axis=1)  # (P, n_bol)
    expected = np.zeros(P)
    for _, d, r, rate in infusions:
        expected += f_inf[:, r] * rate * d
    for _, r, amt in boluses:
        expected += f_bol[:, r] * amt
    dose = sum(rate * d for _, d, _, rate in infusions) + sum(a for _, _, a in boluses)
    assert_allclose(total, expected, rtol=0, atol=1e-9 * dose)


@pytest.mark.parametrize("intranasal", ["huge2010", "perez_ruixo2021"])
def test_input_vector_fractions(intranasal):
    """Input-vector sums are f_mucosal + f_swallowed * f_abs of parameters.ROUTES (per switch)."""
    ip = individual_parameters(Covariates.typical(2), switches=PKSwitches(intranasal=intranasal))
    sysm = build_system(ip, INFUSION, BOLUS, with_sinks=True)
    s = sysm.states
    mass_idx = [s.index(k) for k in KETAMINE_STATES + NK_STATES]
    f_bol = sysm.Bb[:, mass_idx, :].sum(axis=1)
    f_abs = 0.08 / (0.30 * 0.30)  # Fanta 2015 F 8% over the typical F_g F_H = 0.3 * 0.3
    routes = {**prm.ROUTES, "intranasal": prm.ROUTE_ALTERNATIVES["intranasal"][intranasal]}
    exp = [1.0] + [routes[r].f_mucosal + routes[r].f_swallowed * f_abs for r in BOLUS[1:]]
    assert_allclose(f_bol, np.broadcast_to(exp, (2, len(BOLUS))), rtol=1e-14)
    f_inf = sysm.B[:, mass_idx, :].sum(axis=1)
    assert_allclose(f_inf, np.broadcast_to([1.0, routes["subcutaneous"].f_mucosal], (2, 2)))
    # nothing is put into effect sites or sinks by dosing
    other = [s.index(k) for k in ("EF", "ES", "SK", "SN", "T1", "T2", "N1", "N2")]
    assert_array_equal(sysm.Bb[:, other, :], 0.0)
    assert_array_equal(sysm.B[:, other, :], 0.0)


@SETTINGS
@given(r1=regimens, r2=regimens, out=_out_spec)
def test_superposition(r1, r2, out):
    """Response to plan1 + plan2 equals the sum of the responses (linearity)."""
    times = _output_times(72.0, out[0], out[1])
    y1, _ = Propagator(SYSTEM_NOSINK).run(_make_plan(*r1), times)
    y2, _ = Propagator(SYSTEM_NOSINK).run(_make_plan(*r2), times)
    y12, _ = Propagator(SYSTEM_NOSINK).run(_make_plan(r1[0] + r2[0], r1[1] + r2[1]), times)
    _series_close(y12, y1 + y2)


@SETTINGS
@given(regimen=regimens, a=st.floats(1e-3, 1e3), out=_out_spec)
def test_scaling(regimen, a, out):
    """Scaling every dose and rate by a scales every output by a (homogeneity)."""
    times = _output_times(72.0, out[0], out[1])
    y1, _ = Propagator(SYSTEM_NOSINK).run(_make_plan(*regimen), times)
    ya, _ = Propagator(SYSTEM_NOSINK).run(_make_plan(*regimen, scale=a), times)
    _series_close(ya, a * y1, rel=1e-12, floor=0.0)


@SETTINGS
@given(regimen=regimens, out=_out_spec)
def test_non_negative_outputs_and_states(regimen, out):
    """All outputs and states are >= 0 (up to -1e-12 of the series max) for non-negative dosing."""
    times = _output_times(96.0, out[0], out[1])
    y, z = Propagator(SYSTEM).run(_make_plan(*regimen), times)
    scale = np.abs(y).max(axis=1, keepdims=True)
    assert np.all(y >= -1e-12 * scale)
    assert np.all(z >= -1e-12 * np.abs(z).max())
    assert np.all(np.isfinite(y))


@SETTINGS
@given(regimen=regimens, shift=st.integers(0, 500 * 64).map(lambda k: k / 64), out=_out_spec)
def test_time_shift_invariance(regimen, shift, out):
    """Shifting all events and output times by a constant leaves the outputs unchanged."""
    times = _output_times(72.0, out[0], out[1])
    y0, _ = Propagator(SYSTEM_NOSINK).run(_make_plan(*regimen), times)
    ys, _ = Propagator(SYSTEM_NOSINK).run(_make_plan(*regimen, shift=shift), times + shift)
    # a shifted time differs from the original by round-off of ~1e-16 * shift hours
    _series_close(ys, y0, rel=1e-10, floor=1e-12)


@SETTINGS
@given(regimen=regimens, out=_out_spec)
def test_determinism(regimen, out):
    """Same inputs give bitwise identical outputs, with a fresh or a cache-warm Propagator."""
    times = _output_times(72.0, out[0], out[1])
    plan = _make_plan(*regimen)
    prop = Propagator(SYSTEM)
    ya, za = prop.run(plan, times)
    yb, zb = prop.run(plan, times)  # exponentials now come from the cache
    yc, zc = Propagator(SYSTEM).run(_make_plan(*regimen), times.copy())
    assert_array_equal(ya, yb)
    assert_array_equal(ya, yc)
    assert_array_equal(za, zb)
    assert_array_equal(za, zc)


def test_no_dose_no_drug():
    """A plan with only zero-rate, zero-amount events gives identically zero outputs."""
    plan = DosingPlan(
        np.array([0.0, 5.0]), np.zeros((2, P, len(INFUSION))), np.zeros((2, P, len(BOLUS)))
    )
    y, z = Propagator(SYSTEM).run(plan, np.arange(0.0, 24.0, 0.5))
    assert_array_equal(y, 0.0)
    assert_array_equal(z, 0.0)


@SETTINGS
@given(regimen=regimens, out=_out_spec, layout=st.sampled_from(["owned", "slice", "strided", "T"]))
def test_run_into_preallocated_out(regimen, out, layout):
    """run(out=view) fills any (even non-contiguous) view exactly as run() returns, nothing else."""
    times = _output_times(72.0, out[0], out[1])
    plan = _make_plan(*regimen)
    y_ref, z_ref = Propagator(SYSTEM).run(plan, times)
    t_n, n_out = times.size, y_ref.shape[2]
    if layout == "owned":
        base = np.full((P, t_n, n_out), np.nan)
        view = base
    elif layout == "slice":  # outputs axis sliced out of a wider array
        base = np.full((P, t_n, n_out + 3), np.nan)
        view = base[:, :, 1 : 1 + n_out]
    elif layout == "strided":  # every other time row
        base = np.full((P, 2 * t_n, n_out), np.nan)
        view = base[:, ::2]
    else:  # time-major storage seen patients-first
        base = np.full((t_n, P, n_out), np.nan)
        view = base.transpose(1, 0, 2)
    y, z = Propagator(SYSTEM).run(plan, times, out=view)
    assert y is view
    assert_array_equal(view, y_ref)
    assert_array_equal(z, z_ref)
    assert np.isnan(base).sum() == base.size - y_ref.size  # nothing outside the view written
