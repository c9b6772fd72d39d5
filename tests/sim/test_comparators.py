"""Comparator arms in the trial model: midazolam's felt sedation, lidocaine's acute relief."""

from __future__ import annotations

import numpy as np
import pytest

from ketsim.config.scenario import Scenario
from ketsim.sim.trial_model import TrialModel


def _scenario(arms, weeks=1, **extra):
    return Scenario.model_validate(
        {
            "name": "comparators",
            "drug": "S-ketamine",
            "population": {"indication": "crps1", **extra.pop("population", {})},
            "arms": arms,
            "trial": {"weeks": weeks, "baseline_days": 3, "start_hour": 8, "diary_hour": 20},
            **extra,
        }
    )


ARMS = [
    {"name": "ketamine", "n": 60, "regimens": ["0.5 mg/kg over 30min"]},
    {"name": "saline", "n": 60, "treatment": "placebo", "regimens": ["0.5 mg/kg over 30min"]},
    # Noppers 2011 (fibromyalgia): midazolam 5 mg over 30 min as the active placebo
    {"name": "midazolam", "n": 60, "treatment": "active_placebo", "regimens": ["5 mg over 30min"]},
    {"name": "lidocaine", "n": 60, "treatment": "lidocaine", "regimens": ["5 mg/kg over 30min"]},
]


def _events(m, name):
    ids = [idx for idx, _, ev, _ in m.events_log if ev == name]
    return np.concatenate(ids) if ids else np.array([], int)


def _run_to(m, t):
    while m.running and m.time_h < t - 1e-9:
        m.step()


def test_sedation_felt_by_most_midazolam_patients_and_no_one_else():
    m = TrialModel(_scenario(ARMS), 3, with_agents=False)
    _run_to(m, 0.5)
    _, ce = m.cmp.concentrations("midazolam")
    mid = m.arm == 2
    assert np.all(ce[~mid] == 0.0) and np.all(ce[mid] > 0.0)
    sed = _events(m, "ae_sedation")
    assert np.all(m.arm[sed] == 2)
    assert np.unique(sed).size == sed.size  # felt once per segment
    assert sed.size > 0.6 * mid.sum()
    # felt sedation moves the belief up; "felt nothing" pulls it down for the rest
    felt = np.zeros(m.n, bool)
    felt[sed] = True
    assert m.belief[felt].min() > m.blinded_prior
    assert m.belief[mid & ~felt & ~m.felt_psy].max() < m.blinded_prior
    assert _events(m, "ae_lidocaine_cns").size > 0


def test_midazolam_dose_sets_what_is_felt():
    low = [dict(ARMS[2], regimens=["0.2 mg over 30min"])]
    m = TrialModel(_scenario(low), 3, with_agents=False)
    _run_to(m, 1.0)
    assert _events(m, "ae_sedation").size == 0
    # the dose scale is exact (linear PK): twice the scale, twice the concentration
    sc2 = [dict(ARMS[2], comparator={"dose_per_mg": 2.0})]
    m1 = TrialModel(_scenario([ARMS[2]]), 3, with_agents=False)
    m2 = TrialModel(_scenario(sc2), 3, with_agents=False)
    _run_to(m1, 0.5)
    _run_to(m2, 0.5)
    np.testing.assert_allclose(
        m2.cmp.concentrations("midazolam")[0], 2 * m1.cmp.concentrations("midazolam")[0]
    )


def test_lidocaine_relieves_during_the_infusion_and_not_a_day_later():
    lido = [ARMS[3]]
    none = [dict(ARMS[3], comparator={"parameters": {"relief_emax": 0.0}})]
    m1 = TrialModel(_scenario(lido), 5, with_agents=False)
    m0 = TrialModel(_scenario(none), 5, with_agents=False)
    _run_to(m1, 0.5)
    _run_to(m0, 0.5)
    ratio = m1.pain / m0.pain
    assert np.mean(ratio) < 0.85  # acute relief at the end of the infusion
    m1.run_model()
    m0.run_model()
    # same seeds, same felt effects: the diary a day later is the same (the relief has gone)
    np.testing.assert_allclose(m1.mu_diary[:, 1:], m0.mu_diary[:, 1:], rtol=1e-9)
    assert np.all(m1.mu_diary[:, 0] <= m0.mu_diary[:, 0])


def test_comparator_spec_is_validated():
    with pytest.raises(ValueError, match="comparator"):
        _scenario([dict(ARMS[0], comparator={"dose_per_mg": 0.5})])
    with pytest.raises(ValueError, match="unknown comparator parameters"):
        _scenario([dict(ARMS[3], comparator={"parameters": {"ec50": 1.0}})])
    with pytest.raises(ValueError, match="IV"):
        _scenario([dict(ARMS[2], regimens=["5 mg intranasal"])])
