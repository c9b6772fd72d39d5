"""Between-patient variability of extravascular absorption (nasal ka; mucosal fraction)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from ketsim.core.pk import parameters as prm
from ketsim.core.pk.model import (
    ETA_F_MUCOSAL,
    ETA_KA,
    N_ETA,
    Covariates,
    PKSwitches,
    build_system,
    individual_parameters,
)

F_ABS_ORAL = 0.08 / (0.30 * 0.30)  # Fanta 2015 F 8% over the typical F_g F_H = 0.3 * 0.3


def _eta(p: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((p, N_ETA))


def test_nasal_ka_is_lognormal_with_the_route_cv():
    """ln(ka / ka_typ) = omega * eta exactly, omega^2 = ln(1 + CV^2) with the route's CV."""
    p = 4000
    eta = _eta(p)
    for sw, cv in (("huge2010", 0.40), ("perez_ruixo2021", 0.615)):
        ip = individual_parameters(
            Covariates.typical(p), eta=eta, switches=PKSwitches(intranasal=sw)
        )
        ka = ip.extra["absorption"]["intranasal"].ka_per_h
        omega = math.sqrt(math.log1p(cv * cv))
        assert_allclose(np.log(ka / 2.93), omega * eta[:, ETA_KA], rtol=1e-12, atol=1e-12)
        # and the realised spread: SD of the log within 4 SEs (SE of an SD ~ omega / sqrt(2p))
        assert abs(np.log(ka).std() - omega) < 4 * omega / math.sqrt(2 * p)


def test_absorption_etas_do_not_touch_iv_or_oral_systems():
    """Changing only the absorption etas leaves IV and oral (no ka IIV) systems bit-identical."""
    p = 50
    eta = _eta(p)
    eta2 = eta.copy()
    eta2[:, ETA_KA:] = np.random.default_rng(9).standard_normal((p, N_ETA - ETA_KA))
    cov = Covariates.typical(p)
    a = build_system(individual_parameters(cov, eta=eta), ("iv",), ("iv", "oral"))
    b = build_system(individual_parameters(cov, eta=eta2), ("iv",), ("iv", "oral"))
    for m in ("A", "B", "Bb", "C"):
        assert_array_equal(getattr(a, m), getattr(b, m), err_msg=m)
    # while the nasal depot does move
    a = build_system(individual_parameters(cov, eta=eta), (), ("intranasal",))
    b = build_system(individual_parameters(cov, eta=eta2), (), ("intranasal",))
    assert not np.array_equal(a.A, b.A)


def test_iiv_switch_off_gives_typical_absorption():
    p = 20
    ip = individual_parameters(Covariates.typical(p), eta=_eta(p), switches=PKSwitches(iiv=False))
    ab = ip.extra["absorption"]["intranasal"]
    assert_array_equal(ab.ka_per_h, 2.93)
    assert_array_equal(ab.f_mucosal, prm.ROUTES["intranasal"].f_mucosal)


@pytest.fixture
def variable_fraction(monkeypatch):
    """The intranasal route with a logit-normal nasal fraction (a test-only CV)."""
    base = prm.ROUTE_ALTERNATIVES["intranasal"]["huge2010"]

    def set_cv(cv: float) -> None:
        rp = dataclasses.replace(base, cv_f_mucosal=cv)
        monkeypatch.setitem(prm.ROUTE_ALTERNATIVES["intranasal"], "huge2010", rp)

    return set_cv


def test_mucosal_fraction_logit_normal(variable_fraction):
    """Fractions stay in (0, 1), the median is the typical value, and small CVs are honoured."""
    p = 20000
    eta = _eta(p, seed=11)
    f_typ = prm.ROUTES["intranasal"].f_mucosal
    variable_fraction(2.0)  # extreme: a log-normal would exceed 1 for a fifth of patients
    f = individual_parameters(Covariates.typical(p), eta=eta).extra["absorption"]["intranasal"]
    assert np.all((f.f_mucosal > 0) & (f.f_mucosal < 1))
    assert abs(np.median(f.f_mucosal) - f_typ) < 0.02
    variable_fraction(0.05)  # delta method: CV ~ 0.05 at the typical value
    f = individual_parameters(Covariates.typical(p), eta=eta).extra["absorption"]["intranasal"]
    cv = f.f_mucosal.std() / f.f_mucosal.mean()
    assert abs(cv - 0.05) < 0.003  # delta-method bias ~1e-3 at this CV, MC SE ~2.5e-4
    # what the nose does not absorb is swallowed: f_mucosal + f_swallowed = 1 for every patient
    assert_allclose(f.f_mucosal + f.f_swallowed, 1.0, rtol=1e-14)


def test_input_vector_follows_individual_fraction(variable_fraction):
    """Each patient's nasal dose lands as f_i in the depot and (1 - f_i) f_abs in the gut."""
    variable_fraction(0.3)
    p = 64
    eta = _eta(p, seed=3)
    ip = individual_parameters(Covariates.typical(p), eta=eta)
    f = ip.extra["absorption"]["intranasal"].f_mucosal
    sysm = build_system(ip, (), ("intranasal",))
    bb = sysm.Bb[:, :, 0]
    assert_allclose(bb[:, sysm.index("D_IN")], f, rtol=1e-14)
    assert_allclose(bb[:, sysm.index("GUT")], (1.0 - f) * F_ABS_ORAL, rtol=1e-12)
    # the fraction is monotone in its own eta column
    assert_array_equal(np.argsort(f), np.argsort(eta[:, ETA_F_MUCOSAL]))
