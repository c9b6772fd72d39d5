"""Indications change simulated trials as README "Indications" documents: a lower acute Emax
(cancer) gives less relief during a short infusion than CRPS-1, and the cancer disease-modification
switch turns the lasting effect on (``sensitization``) or leaves it off (``none``, the default).

Noise-free expected NRS, common seeds: the differences are the model's, not Monte Carlo noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketsim.config.scenario import parse_scenario
from ketsim.core.pd.indication_pd import NON_CRPS_LASTING_RESPONDER_PROBABILITY
from ketsim.core.pd.progression import progressed_baseline
from ketsim.sim.trial import simulate_trial
from ketsim.sim.trial_model import TrialModel


def _relief_during_infusion(indication: str, pd_overrides: dict | None = None) -> pd.Series:
    """Per-patient ketamine-arm relief (1 − pain / baseline) at 80% of a 1-h 0.3 mg/kg infusion
    (the pre→post-session fall; the diary is moved into the infusion)."""
    reg = [{"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": "1 h"}]
    data = {
        "name": "session",
        "drug": "S-ketamine",
        "parameter_set": "noppers2011",
        "population": {"indication": indication},
        "arms": [
            {"name": "ketamine", "n": 15, "treatment": "ketamine", "regimens": reg},
            {"name": "placebo", "n": 15, "treatment": "placebo", "regimens": reg},
        ],
        "trial": {"weeks": 1, "baseline_days": 3, "start_hour": 8, "diary_hour": 8.8},
    }
    if pd_overrides:
        data["pd"] = pd_overrides
    d = simulate_trial(parse_scenario(data, "session"), seed=7).diary
    d = d[d.arm == "ketamine"]
    base = d[d.day <= 0].groupby("patient")["expected_nrs"].mean()
    during = d[d.day == 1].set_index("patient")["expected_nrs"]
    return (1.0 - during / base).dropna()


def test_lower_acute_emax_gives_smaller_session_relief():
    crps = _relief_during_infusion("crps1")
    cancer = _relief_during_infusion("cancer")  # acute Emax 0.5 (L)
    assert crps.mean() > 0.3  # the session works in CRPS (Noppers 2010: ~50%)
    assert cancer.mean() < crps.mean() - 0.1
    # on the same patients, the acute Emax alone lowers the relief of every latent ketamine
    # responder; non-responders have no acute effect to lower (acute_emax_nonresponder 0)
    half = _relief_during_infusion("crps1", {"acute_emax": 0.5})
    h, c = half.to_numpy(), crps.to_numpy()
    assert np.all(h <= c + 1e-12)
    assert (h < c - 1e-6).mean() > 0.5


def _week3_nrs(indication: str, switch: str) -> pd.DataFrame:
    """Mean expected NRS per arm in week 3 after a 100-h 0.3 mg/kg/h infusion, per patient."""
    reg = [{"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": "100 h"}]
    data = {
        "name": "course",
        "drug": "S-ketamine",
        "parameter_set": "noppers2011",
        "population": {"indication": indication},
        "arms": [
            {"name": "ketamine", "n": 20, "treatment": "ketamine", "regimens": reg},
            {"name": "placebo", "n": 20, "treatment": "placebo", "regimens": reg},
        ],
        "trial": {"weeks": 3, "baseline_days": 3},
        "switches": {"cancer_disease_modification": switch},
    }
    d = simulate_trial(parse_scenario(data, "course"), seed=5).diary
    d = d[(d.day >= 15) & (d.day <= 21)]
    return d.groupby(["arm", "patient"], observed=True)["expected_nrs"].mean()


def test_cancer_switch_turns_the_lasting_effect_on():
    """``none`` (default, Bell 2017): no lasting relief in cancer pain; ``sensitization``: the
    lasting effect reverses part of the sensitization share (weeks after a 100-h course)."""
    none = _week3_nrs("cancer", "none")
    alt = _week3_nrs("cancer", "sensitization")
    # the placebo arm has no drug: identical under both values
    assert np.array_equal(none["placebo"].to_numpy(), alt["placebo"].to_numpy())
    # on ketamine, responders under `sensitization` are better, nobody is worse
    gain = (none["ketamine"] - alt["ketamine"]).to_numpy()
    assert np.all(gain >= -1e-12)
    assert gain.mean() > 0.2
    assert (gain > 0.05).sum() >= 3


def test_no_lasting_responders_in_cancer_under_none():
    """The switch acts through the lasting responders: none under ``none``, about the non-CRPS
    responder probability (0.45, L) under ``sensitization``."""
    reg = [{"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": "1 h"}]
    frac = {}
    for switch in ("none", "sensitization"):
        data = {
            "name": "resp",
            "drug": "S-ketamine",
            "parameter_set": "noppers2011",
            "population": {"indication": "cancer"},
            "arms": [{"name": "ketamine", "n": 2000, "treatment": "ketamine", "regimens": reg}],
            "trial": {"weeks": 1, "baseline_days": 1},
            "switches": {"cancer_disease_modification": switch},
        }
        model = TrialModel(parse_scenario(data, "resp"), entropy=3, with_agents=False)
        frac[switch] = model.responder.mean()
    assert frac["none"] == 0.0
    # binomial SE at n = 2000: 0.011
    assert abs(frac["sensitization"] - NON_CRPS_LASTING_RESPONDER_PROBABILITY) < 0.04


def test_cancer_switch_is_ignored_outside_cancer():
    a = _week3_nrs("crps1", "none")
    b = _week3_nrs("crps1", "sensitization")
    assert np.array_equal(a.to_numpy(), b.to_numpy())


def test_disease_progression_raises_untreated_pain_linearly():
    """``pain_progression_per_week`` (L, default 0): expected pain is the stable-disease pain
    times ``1 + r t / 168`` on the same patients (capped at NRS 10), whatever the arm."""
    reg = [{"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": "4 h"}]

    def diary(rate: float) -> pd.DataFrame:
        data = {
            "name": "prog",
            "drug": "S-ketamine",
            "parameter_set": "noppers2011",
            "population": {"indication": "cancer"},
            "arms": [
                {"name": "ketamine", "n": 10, "treatment": "ketamine", "regimens": reg},
                {"name": "placebo", "n": 10, "treatment": "placebo", "regimens": reg},
            ],
            "trial": {"weeks": 3, "baseline_days": 2, "start_hour": 8, "diary_hour": 20},
            "pd": {"pain_progression_per_week": rate},
        }
        d = simulate_trial(parse_scenario(data, "prog"), seed=2).diary
        return d.set_index(["arm", "patient", "day"])["expected_nrs"]

    stable, rising = diary(0.0), diary(0.05)
    base = stable.xs(0, level="day")  # the baseline columns hold the untreated pain
    days = stable.index.get_level_values("day").to_numpy()
    t_h = 12.0 + 24.0 * (days - 1)  # diary at 20:00, treatment starts at 08:00 on day 1
    factor = np.where(days >= 1, 1.0 + 0.05 * t_h / 168.0, 1.0)
    b = base.reindex(stable.index.droplevel("day")).to_numpy()
    ok = np.isfinite(stable.to_numpy()) & np.isfinite(rising.to_numpy()) & (b * factor < 10.0)
    assert ok.sum() > 200
    np.testing.assert_allclose(
        rising.to_numpy()[ok], stable.to_numpy()[ok] * factor[ok], rtol=1e-12
    )
    # three weeks on, the untreated pain has risen by 1 + 0.05 * ~3 = ~15%
    assert rising.xs(21, level="day").mean() > 1.1 * stable.xs(21, level="day").mean()


def test_no_progression_is_bit_identical():
    b = np.array([5.0, 9.5])
    assert progressed_baseline(b, 500.0, 0.0) is b
    assert progressed_baseline(b, -3.0, 0.1) is b
    np.testing.assert_array_equal(progressed_baseline(b, 168.0, 0.1), [5.5, 10.0])
