"""Simulate one trial (or a batch of replicate trials) of a scenario: :func:`simulate_trial`.

The trial's pieces live in their own modules: enrolment (:mod:`ketsim.sim.enrolment`), the model
(:mod:`ketsim.sim.trial_model`), its dose record (:mod:`ketsim.sim.dose_recorder`) and the result
tables (:mod:`ketsim.sim.trial_tables`); their public names are importable from here too.
"""

from __future__ import annotations

from ketsim.config.scenario import Scenario
from ketsim.core.seeds import root_entropy
from ketsim.sim.dose_recorder import DoseRecorder
from ketsim.sim.enrolment import STRATA, patient_strata
from ketsim.sim.trial_model import TrialModel
from ketsim.sim.trial_tables import AE_EVENTS, TREATMENTS, TrialArrays, TrialResult, trial_arrays

__all__ = [
    "AE_EVENTS",
    "STRATA",
    "TREATMENTS",
    "DoseRecorder",
    "TrialArrays",
    "TrialModel",
    "TrialResult",
    "patient_strata",
    "simulate_trial",
    "trial_arrays",
]


def simulate_trial(
    scenario: Scenario,
    seed: int | None = None,
    replicates: tuple[int, ...] | list[int] = (0,),
    with_agents: bool = False,
    record_doses: bool = False,
) -> TrialResult:
    """Simulate replicate trials of a scenario and return their tables.

    The seed is taken from the argument, else the scenario, else drawn fresh (and recorded in
    :attr:`TrialResult.entropy`). ``record_doses`` adds the administered doses and the plasma
    concentrations (:attr:`TrialResult.doses`, :attr:`TrialResult.concentrations`); the other
    tables are the same either way.
    """
    entropy = root_entropy(seed, scenario.seed)
    model = TrialModel(
        scenario, entropy, replicates, with_agents=with_agents, record_doses=record_doses
    )
    model.run_model()
    return model.result()
