"""Calibration of the default model against the MODEL.md §4 targets (slow suite).

Run with ``python -m pytest -m slow tests/validation -s`` (prints the calibration table).

The targets and tolerances are those of the issue that introduced the trial model:
averaged over R = 200 replicates of ``scenarios/published/sigtermans2009.yaml``,

* end-of-week-1 NRS within ±1.0 of 2.68 (ketamine) and 5.45 (placebo) (Sigtermans 2009);
* the ketamine-placebo difference still present at week 11 and smaller at week 12;
* psychotomimetic incidence within ±15 points of 76% / 18%;
* mean end-of-infusion rate within ±4 of 22.2 mg/h/70 kg;
* Dahan 2011: responders 67% vs 23% placebo responders, relief outlasting the infusion by
  about 50 days.

The tolerances are much wider than the Monte Carlo error of a 200-replicate mean (the SE of an
arm mean is about 2.6/sqrt(30·200) = 0.02 NRS), so a pass or fail reflects the model, not
simulation noise. "Present" and "smaller" are judged against 3 Monte Carlo SEs of the mean
difference (replicate-to-replicate SD / sqrt(R)).
"""

from __future__ import annotations

import numpy as np
import pytest

from ketsim.config.scenario import RegimenSpec, load_scenario
from ketsim.core.pd.parameters import PDParameters
from ketsim.core.pd.sensitization import desensitizing_drive
from ketsim.core.pk.model import Covariates
from ketsim.sim.compile import compile_dosing
from ketsim.sim.pk_study import simulate_concentrations
from ketsim.sim.trial import simulate_trial

pytestmark = pytest.mark.slow
R = 200


@pytest.fixture(scope="module")
def calib():
    sc = load_scenario("scenarios/published/sigtermans2009.yaml")
    res = simulate_trial(sc, seed=20091, replicates=list(range(R)))
    d = res.diary.dropna(subset=["nrs"])
    # end-of-week score (the day-7k diary entry) and weekly means, per replicate and arm
    eow = d[(d.day > 0) & (d.day % 7 == 0)].assign(week=lambda x: x.day // 7)
    eow = eow.groupby(["replicate", "arm", "week"], observed=True)["nrs"].mean().unstack("arm")
    wk = d.groupby(["replicate", "arm", "week"], observed=True)["nrs"].mean().unstack("arm")
    p = res.patients
    out = {"eow": eow, "weekly": wk, "patients": p}
    rows = []
    for label, t in (("end-of-week", eow), ("weekly mean", wk)):
        for w in (1, 11, 12):
            x = t.xs(w, level="week")
            diff = x["placebo"] - x["ketamine"]
            rows.append(
                f"{label:>12} week {w:>2}: ketamine {x['ketamine'].mean():.2f}  placebo "
                f"{x['placebo'].mean():.2f}  difference {diff.mean():.2f}"
                f" ± {diff.std() / np.sqrt(R):.3f}"
            )
    k, pl = p[p.arm == "ketamine"], p[p.arm == "placebo"]
    rows.append(
        f"psychotomimetic: ketamine {100 * k.ae_psychotomimetic.mean():.1f}%  placebo "
        f"{100 * pl.ae_psychotomimetic.mean():.1f}%"
    )
    rows.append(f"end rate: {k.end_rate_mg_h_70kg.mean():.2f} mg/h/70 kg (completers)")
    rows.append(
        f"responders: ketamine {100 * p.ketamine_responder.mean():.1f}%  placebo "
        f"{100 * p.placebo_responder.mean():.1f}%; stopped on ketamine "
        f"{100 * k.discontinued.mean():.1f}%"
    )
    print("\n" + "\n".join(rows))
    return out


def test_week1_end_of_week_nrs(calib):
    x = calib["eow"].xs(1, level="week").mean()
    assert abs(x["ketamine"] - 2.68) <= 1.0
    assert abs(x["placebo"] - 5.45) <= 1.0


def test_week1_weekly_mean_nrs(calib):
    x = calib["weekly"].xs(1, level="week").mean()
    assert abs(x["ketamine"] - 2.68) <= 1.0
    assert abs(x["placebo"] - 5.45) <= 1.0


def test_difference_present_at_week11_and_smaller_at_week12(calib):
    t = calib["weekly"]
    d11 = t.xs(11, level="week")["placebo"] - t.xs(11, level="week")["ketamine"]
    d12 = t.xs(12, level="week")["placebo"] - t.xs(12, level="week")["ketamine"]
    assert d11.mean() > 3 * d11.std() / np.sqrt(R)
    change = d11 - d12  # paired over replicates
    assert change.mean() > 3 * change.std() / np.sqrt(R)


def test_psychotomimetic_incidence(calib):
    p = calib["patients"]
    assert abs(100 * p[p.arm == "ketamine"].ae_psychotomimetic.mean() - 76) <= 15
    assert abs(100 * p[p.arm == "placebo"].ae_psychotomimetic.mean() - 18) <= 15


def test_end_of_infusion_rate(calib):
    p = calib["patients"]
    assert abs(p[p.arm == "ketamine"].end_rate_mg_h_70kg.mean() - 22.2) <= 4.0


def test_dahan_responder_fractions(calib):
    """Latent responder classes: 67% and 23% (Dahan 2011) within 4 binomial SE."""
    p = calib["patients"]
    n = len(p)
    # the latent's reference population is the indication's; Sigtermans patients are that
    # population (no entry threshold), so the marginal rates apply directly
    for col, target in (("ketamine_responder", 0.67), ("placebo_responder", 0.23)):
        se = np.sqrt(target * (1 - target) / n)
        assert abs(p[col].mean() - target) <= 4 * se


def test_dahan_relief_outlasts_infusion_by_about_50_days():
    """A typical responder's lasting relief after 100 h at 22.2 mg/h/70 kg stays above half its
    end-of-infusion value for ~50 days (Dahan 2011: 'about 50 days'; accepted 35-65 d).

    This is the ``dahan`` hypothesis' slow-compartment drive (Dahan's own model), checked on
    its own. The default hypothesis' duration of relief is checked at trial level by
    ``scenarios/published/dahan2011.yaml`` (``relief_outlasts_infusion``: 77 d, inside the
    24.3-94 d interval derived from Dahan's half-life CI)."""
    prm = PDParameters()
    cov = Covariates.typical(1)
    reg = [RegimenSpec(route="iv_infusion", rate="22.2 mg/h", duration="100 h")]
    t = np.arange(0.0, 100.0 + 24 * 120, 1.0)
    ce = simulate_concentrations(cov, None, compile_dosing(reg), t)["S"][0, :, 3]
    d = desensitizing_drive(ce, prm.slow_c50_ng_ml, prm)
    end = np.searchsorted(t, 100.0)
    below = np.flatnonzero(d[end:] < 0.5 * d[end])[0]
    days = (t[end + below] - 100.0) / 24.0
    print(f"\nlasting relief above half its end-of-infusion value for {days:.1f} days")
    assert 35 <= days <= 65
