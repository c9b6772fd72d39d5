"""Background therapy: gabapentinoids and opioids as co-medication, MgSO4 as an adjunct infusion.

What each changes, and why (confidence as in MODEL.md: H read, M secondary, L assumption):

* **Baseline pain: nothing.** A trial's baseline diary is recorded on the patient's usual
  background therapy, so its effect is already part of the baseline the population draws; the
  co-medication is assumed stable through the trial (L).
* **Ketamine's acute effect**: a factor on the acute relief. 1 for opioids and gabapentinoids (L):
  ketamine's opioid-sparing effect is perioperative evidence, and no trial in chronic pain shows
  synergy (or antagonism) with a stable background opioid or gabapentinoid. 1 for MgSO4 (L):
  Mg²⁺ blocks the NMDA channel, but added synergy in chronic pain is not shown. The lasting
  (disease-modifying) effect is left unchanged (no evidence either way).
* **Own relief of an adjunct infusion**: MgSO4 0 (Fischer SGL et al. 2013, Pain Med 14:1388,
  M: IV MgSO4 in CRPS-1 did not relieve pain more than placebo).
* **Adverse effects**: the psychotomimetic threshold of ketamine is unchanged (factor 1, L), and
  felt sedation on midazolam comes at a lower concentration with a sedating background: EC50 x0.5
  on opioids (L magnitude; the opioid-benzodiazepine sedative synergy is well known, e.g.
  Ben-Shlomo I et al. 1990, Br J Anaesth 64:45, fentanyl with midazolam, M), x0.8 on
  gabapentinoids (L: somnolence is their commonest adverse effect). An MgSO4 infusion is felt (a
  warm flush) by ``felt_probability`` 0.5 of patients per segment (L), which moves their belief
  up by ``belief_up`` 0.2 (L).

Every number can be overridden per scenario: ``population.background_effects`` (co-medication,
whose prevalence is ``population.comedication``) and ``arms[].mgso4.parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

__all__ = [
    "BACKGROUND_EFFECTS",
    "BACKGROUND_FIELDS",
    "BACKGROUND_MEDICATIONS",
    "BackgroundEffect",
    "background_effect",
    "patient_factor",
]


@dataclass(frozen=True)
class BackgroundEffect:
    """What one background medication or adjunct changes (1 / 0: nothing).

    Attributes
    ----------
    ketamine_acute_factor : factor on ketamine's acute relief.
    psy_threshold_factor : factor on the psychotomimetic threshold (above 1: fewer effects).
    sedation_ec50_factor : factor on midazolam's felt-sedation EC50 (below 1: felt sooner).
    relief : own relief (fraction of pain) while an adjunct infusion runs (co-medication: 0, it
        is part of the baseline).
    felt_probability : chance per segment that an adjunct infusion is felt.
    belief_up : belief step when it is felt.
    """

    ketamine_acute_factor: float = 1.0
    psy_threshold_factor: float = 1.0
    sedation_ec50_factor: float = 1.0
    relief: float = 0.0
    felt_probability: float = 0.0
    belief_up: float = 0.0


BACKGROUND_EFFECTS: dict[str, BackgroundEffect] = {
    # sources and confidence: module docstring
    "gabapentinoid": BackgroundEffect(sedation_ec50_factor=0.8),
    "opioid": BackgroundEffect(sedation_ec50_factor=0.5),
    "mgso4": BackgroundEffect(felt_probability=0.5, belief_up=0.2),
}
#: co-medication names (population.comedication) with PD effects here
BACKGROUND_MEDICATIONS = ("gabapentinoid", "opioid")
BACKGROUND_FIELDS = tuple(f.name for f in fields(BackgroundEffect))


def background_effect(name: str, overrides: dict[str, float] | None = None) -> BackgroundEffect:
    """The effect of ``name`` (a :data:`BACKGROUND_EFFECTS` key) with ``overrides``."""
    return replace(BACKGROUND_EFFECTS[name], **(overrides or {}))


def patient_factor(
    on: dict[str, np.ndarray], effects: dict[str, BackgroundEffect], field: str, n: int
) -> np.ndarray | None:
    """Product over the background medications a patient takes of one factor (None: no patient
    takes one with a factor other than 1).

    Parameters
    ----------
    on : medication name -> boolean array of the patients taking it.
    effects : medication name -> its effect.
    field : a factor field of :class:`BackgroundEffect`.
    n : number of patients.
    """
    out = None
    for name, mask in on.items():
        eff = effects.get(name)
        if eff is None:
            continue
        f = getattr(eff, field)
        if f != 1.0 and np.any(mask):
            out = np.ones(n) if out is None else out
            out = np.where(mask, out * f, out)
    return out
