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
    # same seeds, same felt effects: the diary a day later is the same (the relief has gone:
    # under a millionth of an NRS point even for the slowest clearance)
    np.testing.assert_allclose(m1.mu_diary[:, 1:], m0.mu_diary[:, 1:], rtol=0, atol=1e-6)
    assert np.all(m1.mu_diary[:, 0] <= m0.mu_diary[:, 0])


def test_comparator_spec_is_validated():
    with pytest.raises(ValueError, match="comparator"):
        _scenario([dict(ARMS[0], comparator={"dose_per_mg": 0.5})])
    with pytest.raises(ValueError, match="unknown comparator parameters"):
        _scenario([dict(ARMS[3], comparator={"parameters": {"ec50": 1.0}})])
    with pytest.raises(ValueError, match="IV"):
        _scenario([dict(ARMS[2], regimens=["5 mg intranasal"])])


# -- background therapy ----------------------------------------------------------------------------
KP = ARMS[:2]


def _pair(arms, pop_a, pop_b, seed=11, t=0.5):
    ms = []
    for pop in (pop_a, pop_b):
        m = TrialModel(_scenario(arms, population=pop), seed, with_agents=False)
        _run_to(m, t)
        ms.append(m)
    return ms


def test_background_with_default_effects_changes_nothing_without_midazolam():
    a, b = _pair(KP, {}, {"comedication": {"opioid": 0.5, "gabapentinoid": 0.5}})
    assert b.pop.comedication["opioid"].any() and not b.pop.comedication["opioid"].all()
    a.run_model()
    b.run_model()
    np.testing.assert_array_equal(a.mu_diary, b.mu_diary)
    np.testing.assert_array_equal(a.psy_threshold, b.psy_threshold)


def test_opioid_acute_factor_changes_ketamine_relief_of_users_only():
    pop = {"comedication": {"opioid": 0.5}}
    over = dict(pop, background_effects={"opioid": {"ketamine_acute_factor": 0.5}})
    a, b = _pair(KP, pop, over)
    user = a.pop.comedication["opioid"]
    ket = a.arm == 0
    np.testing.assert_array_equal(a.pain[~(user & ket)], b.pain[~(user & ket)])
    # latent non-responders have no acute relief to scale (acute_emax_nonresponder 0)
    assert np.all(b.pain[user & ket] >= a.pain[user & ket])
    assert np.mean(b.pain[user & ket] > a.pain[user & ket]) > 0.5
    # the same felt effects and beliefs: only the pain of ketamine patients on opioids moved
    np.testing.assert_array_equal(a.belief, b.belief)
    assert [e[2] for e in a.events_log] == [e[2] for e in b.events_log]


def test_psy_threshold_factor_scales_users_thresholds_only():
    pop = {"comedication": {"gabapentinoid": 0.5}}
    over = dict(pop, background_effects={"gabapentinoid": {"psy_threshold_factor": 2.0}})
    a, b = _pair(KP, pop, over, t=0.0)
    user = a.pop.comedication["gabapentinoid"]
    np.testing.assert_allclose(b.psy_threshold[user], 2.0 * a.psy_threshold[user], rtol=1e-15)
    np.testing.assert_array_equal(b.psy_threshold[~user], a.psy_threshold[~user])


def test_opioids_make_midazolam_sedation_felt_sooner():
    low = [dict(ARMS[2], n=200, regimens=["2 mg over 30min"])]
    pop = {"comedication": {"opioid": 0.5}}
    neutral = dict(pop, background_effects={"opioid": {"sedation_ec50_factor": 1.0}})
    a, b = _pair(low, neutral, pop)
    user = a.pop.comedication["opioid"]
    sa, sb = (np.isin(np.arange(m.n), _events(m, "ae_sedation")) for m in (a, b))
    np.testing.assert_array_equal(sa[~user], sb[~user])  # non-users feel exactly as before
    assert sb[user].sum() > sa[user].sum()
    assert np.all(sb[user] >= sa[user])


def test_mgso4_adjunct_acts_while_the_infusion_runs():
    ket = [dict(ARMS[0], regimens=["0.5 mg/kg over 30min"])]
    quiet = {"felt_probability": 0.0}
    a_arms = [dict(ket[0], mgso4={"parameters": quiet})]
    b_arms = [dict(ket[0], mgso4={"parameters": {**quiet, "ketamine_acute_factor": 1.5}})]
    a = TrialModel(_scenario(a_arms), 2, with_agents=False)
    b = TrialModel(_scenario(b_arms), 2, with_agents=False)
    _run_to(a, 0.25)
    _run_to(b, 0.25)
    assert np.all(b.pain <= a.pain) and np.any(b.pain < a.pain)
    a.run_model()
    b.run_model()
    np.testing.assert_array_equal(a.mu_diary, b.mu_diary)  # nothing once it has stopped
    # the default MgSO4 is felt (a warm flush) by about half the patients and moves belief
    sal = [dict(ARMS[1], n=200, mgso4={})]
    m = TrialModel(_scenario(sal), 2, with_agents=False)
    _run_to(m, 0.5)
    flush = _events(m, "ae_mgso4_flush")
    assert 0.35 * 200 < flush.size < 0.65 * 200
    assert m.belief[flush].min() > m.blinded_prior
