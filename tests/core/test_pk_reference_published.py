"""Published PK numbers the model must reproduce (MODEL.md §2 and §4), each with its source."""

import numpy as np
import pytest

from ketsim.core.pk.model import Covariates, PKSwitches
from ketsim.core.pk.parameters import COMEDICATIONS
from ketsim.core.units import Amount, Rate
from ketsim.sim.compile import Dosing
from ketsim.sim.pk_study import simulate_concentrations


def infusion(rate_mg_h: float, hours: float) -> Dosing:
    """An IV infusion from t = 0 (compiled dosing: no scenario spec needed)."""
    return Dosing("iv_infusion", True, (0.0,), hours, Rate(rate_mg_h), None)


def dose(route: str, mg_per_kg: float) -> Dosing:
    """One instant administration at t = 0."""
    return Dosing(route, False, (0.0,), 0.0, None, Amount(mg_per_kg, per_kg=True))


ORAL = [dose("oral", 0.2)]
IV = [dose("iv_bolus", 0.1)]


def _auc(cov, regimen, horizon_h=400.0):
    """Exact AUC(0-horizon) of ketamine and norketamine (ng·h/mL) from the integrator states."""
    c = simulate_concentrations(cov, None, regimen, np.array([0.0, horizon_h]), with_auc=True)["S"]
    return c[:, -1, 4], c[:, -1, 5]


def _with(name: str) -> Covariates:
    c = COMEDICATIONS[name]
    return Covariates(
        np.array([70.0]),
        np.array([False]),
        cyp2b6_mult=[c.cyp2b6],
        cyp3a_liver_mult=[c.cyp3a_liver],
        cyp3a_gut_mult=[c.cyp3a_gut],
        nk_clearance_mult=[c.nk_clearance],
    )


def test_typical_man_100h_20mg_per_h_reaches_214():
    """Typical 70-kg man, 20 mg/h for 100 h: ~214 ng/mL = 20/93.5 (Noppers 2011; MODEL.md §3.2)."""
    reg = [infusion(20.0, 100.0)]
    c = simulate_concentrations(Covariates.typical(1), None, reg, np.array([100.0]))["S"]
    assert c[0, 0, 0] == pytest.approx(20.0 / 93.5 * 1000.0, rel=0.01)


def test_slow_compartment_after_100h_infusion():
    """Slow compartment ~50 ng/mL at 100 h, below C50 10.5 ~25 d after the stop (MODEL.md §3.2)."""
    reg = [infusion(20.0, 100.0)]
    t = np.arange(0.0, 60 * 24.0, 1.0)
    c = simulate_concentrations(Covariates.typical(1), None, reg, t)["S"][0, :, 3]
    assert c[100] == pytest.approx(50.0, rel=0.05)
    below = t[(t > 100) & (c < 10.5)][0]
    assert (below - 100) / 24 == pytest.approx(25.0, abs=2.0)


def test_women_17_percent_lower_css():
    """Women clear S-K x1.20, so Css is ~17% lower (Sigtermans 2009 Anesthesiology 111:892)."""
    reg = [infusion(20.0, 2000.0)]
    t = np.array([1999.0])
    f = simulate_concentrations(Covariates.typical(1, female=True), None, reg, t)["S"][0, 0, 0]
    m = simulate_concentrations(Covariates.typical(1), None, reg, t)["S"][0, 0, 0]
    assert 1 - f / m == pytest.approx(1 - 1 / 1.2, abs=0.005)
    off = PKSwitches(sex_effect=False)
    f0 = simulate_concentrations(Covariates.typical(1, female=True), None, reg, t, switches=off)
    assert f0["S"][0, 0, 0] == pytest.approx(m, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "route", "published", "source"),
    [
        ("clarithromycin", "oral", 2.6, "Hagelberg 2010 Eur J Pain 14:625"),
        ("ticlopidine", "oral", 2.4, "Peltoniemi 2011 Clin Pharmacol Ther 90:296"),
        ("grapefruit", "oral", 3.0, "Peltoniemi 2012 Eur J Clin Pharmacol 68:979"),
        ("rifampicin", "oral", 0.14, "Peltoniemi 2012 Basic Clin Pharmacol Toxicol 111:325"),
        ("rifampicin", "iv", 0.86, "Peltoniemi 2012 Basic Clin Pharmacol Toxicol 111:325"),
        ("st_johns_wort", "oral", 0.42, "Peltoniemi 2012"),
    ],
)
def test_interaction_auc_ratios(name, route, published, source):
    """S-ketamine AUC ratio with a co-medication within ±25% of the published ratio."""
    reg = ORAL if route == "oral" else IV
    ratio = _auc(_with(name), reg)[0][0] / _auc(Covariates.typical(1), reg)[0][0]
    assert ratio == pytest.approx(published, rel=0.25), source


def test_rifampicin_norketamine_elimination_tripled():
    """Rifampicin: S-NK elimination +200% (Noppers 2011), so IV S-NK AUC falls by half or more."""
    _k0, n0 = _auc(Covariates.typical(1), IV)
    _k1, n1 = _auc(_with("rifampicin"), IV)
    assert n1[0] / n0[0] < 0.5


def test_oral_bioavailability_and_norketamine_ratio():
    """Oral S-K: F = 8% (Fanta 2015) and NK/K AUC >> 1 (Fanta 2015: 16.5)."""
    k, n = _auc(Covariates.typical(1), ORAL)
    dose_equiv_auc = 0.2 * 70 / 93.5 * 1000  # AUC of the same dose given IV
    assert k[0] / dose_equiv_auc == pytest.approx(0.08, rel=1e-6)
    assert n[0] / k[0] > 8


def test_intranasal_cmax_huge2010():
    """Intranasal 0.2 mg/kg: Cmax 27.7 ± 5.9 ng/mL at 10 ± 6 min (Huge 2010 Eur J Pain 14:387)."""
    t = np.arange(0.0, 3.0, 1 / 120)
    c = simulate_concentrations(Covariates.typical(1), None, [dose("intranasal", 0.2)], t)["S"][
        0, :, 0
    ]
    assert 27.7 - 5.9 <= c.max() <= 27.7 + 5.9
    assert 4 <= t[c.argmax()] * 60 <= 16


def test_cyp2b6_null_switch_and_gene_dose():
    """CYP2B6 *6/*6 lowers IV clearance modestly (in vitro switch) and not at all with 'null'."""
    reg = [infusion(20.0, 2000.0)]
    t = np.array([1999.0])
    cov = Covariates(np.full(3, 70.0), np.zeros(3, bool), cyp2b6_activity=[1.0, 0.5, 0.17])
    c = simulate_concentrations(cov, None, reg, t)["S"][:, 0, 0]
    assert c[0] < c[1] < c[2] < 1.35 * c[0]
    c0 = simulate_concentrations(cov, None, reg, t, switches=PKSwitches(cyp2b6_effect="null"))
    np.testing.assert_allclose(c0["S"][:, 0, 0], c[0], rtol=1e-12)


def test_racemate_halves_and_r_clearance():
    """Racemate: R and S systems get half the dose; CL_R = 0.944 CL_S (Hasan 2021)."""
    reg = [infusion(20.0, 2000.0)]
    t = np.array([1999.0])
    c = simulate_concentrations(Covariates.typical(1), None, reg, t, racemic=True)
    s, r = c["S"][0, 0, 0], c["R"][0, 0, 0]
    assert s == pytest.approx(10 / 93.5 * 1000, rel=1e-3)
    assert s / r == pytest.approx(1530 / 1620, rel=1e-3)
    inh = simulate_concentrations(
        Covariates.typical(1), None, reg, t, racemic=True, switches=PKSwitches(r_inhibits_s=True)
    )
    assert inh["S"][0, 0, 0] == pytest.approx(s / 0.7, rel=1e-3)
