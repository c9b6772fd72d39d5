"""PD of the comparator drugs: what a patient feels on midazolam or lidocaine, and the relief.

* **Felt effect** (both drugs): an intensity ``E = Ce^γ / (EC50^γ + Ce^γ)`` on the effect site;
  a patient *feels* the drug at a check when ``E`` exceeds the patient's perception threshold
  (log-normal between patients). Midazolam's felt effect is sedation (drowsiness, not
  dissociation: no psychotomimetic report); lidocaine's is the CNS effects of a systemic
  infusion (perioral numbness, light-headedness, tinnitus). A felt effect moves the belief of
  being on drug up by ``belief_up`` (functional unblinding, as ketamine's psychotomimetic effects
  do), and a patient who felt it is not one who "felt nothing" at the end of the infusion.
* **Relief**: lidocaine gives an acute analgesic effect, a sigmoid Emax on its effect site with no
  lasting effect (it leaves with the drug); midazolam gives none (Gitlin 2020 found analgesia
  unchanged when midazolam was added to ketamine, PARAMETERS.md; midazolam is not an analgesic).

Values: :data:`COMPARATOR_PD`; each carries its source and confidence. The trial applies them per
arm (``arms[].comparator``), where every number can be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

__all__ = [
    "COMPARATOR_PD",
    "TREATMENT_DRUG",
    "ArmComparator",
    "ComparatorPD",
    "arm_comparators",
    "comparator_pd",
    "comparator_relief",
    "felt_intensity",
]


@dataclass(frozen=True)
class ComparatorPD:
    """PD of one comparator drug.

    Attributes
    ----------
    felt_ec50_ng_ml, felt_gamma : the felt effect's sigmoid on the effect site.
    perception_threshold : median intensity above which the effect is felt.
    perception_sd_log : between-patient SD of the log threshold.
    belief_up : fraction of the way to 1 the belief moves when the effect is first felt.
    relief_emax, relief_ec50_ng_ml, relief_gamma : acute analgesic sigmoid (fraction of pain).
    """

    felt_ec50_ng_ml: float
    felt_gamma: float
    perception_threshold: float
    perception_sd_log: float
    belief_up: float
    relief_emax: float
    relief_ec50_ng_ml: float
    relief_gamma: float


#: Midazolam. Sedation EC50 100 ng/mL (L: conscious sedation is usually reported at plasma
#: concentrations of roughly 50-150 ng/mL; no single source is relied on), γ 2 (L). Perceived at
#: 20% intensity, SD log 0.5 (L). Belief moves 0.4 of the way up: the same value as the former
#: assumption ``midazolam_belief_up`` (L), now applied only to those who feel it. No analgesia
#: (Gitlin 2020, H: adding midazolam to ketamine left analgesia unchanged).
MIDAZOLAM_PD = ComparatorPD(
    felt_ec50_ng_ml=100.0,
    felt_gamma=2.0,
    perception_threshold=0.2,
    perception_sd_log=0.5,
    belief_up=0.4,
    relief_emax=0.0,
    relief_ec50_ng_ml=1000.0,
    relief_gamma=1.0,
)

#: Lidocaine. CNS effects (perioral numbness, light-headedness, tinnitus) are the first signs of
#: systemic lidocaine and become common from about 3-5 µg/mL (textbook toxicity range, M): felt
#: EC50 3000 ng/mL, γ 3 (L), perceived at 20% intensity (L). Belief up 0.6 (L: a distinct drug
#: sensation, between midazolam's 0.4 and ketamine's unblinding). Analgesia in neuropathic pain:
#: Ferrante 1996 (Anesth Analg 82:91; M) saw pain fall abruptly over a narrow plasma range during
#: a 500 mg/1 h infusion -> steep sigmoid, EC50 1500 ng/mL, γ 4 (L); Emax 0.4 (L). No lasting
#: effect is modelled (the relief leaves with the drug; L).
LIDOCAINE_PD = ComparatorPD(
    felt_ec50_ng_ml=3000.0,
    felt_gamma=3.0,
    perception_threshold=0.2,
    perception_sd_log=0.5,
    belief_up=0.6,
    relief_emax=0.4,
    relief_ec50_ng_ml=1500.0,
    relief_gamma=4.0,
)

COMPARATOR_PD: dict[str, ComparatorPD] = {"midazolam": MIDAZOLAM_PD, "lidocaine": LIDOCAINE_PD}
#: the drug an arm's ``treatment`` gives other than ketamine (placebo: none)
TREATMENT_DRUG: dict[str, str] = {"active_placebo": "midazolam", "lidocaine": "lidocaine"}
#: names that ``arms[].comparator.parameters`` may override
PD_FIELDS = tuple(f.name for f in fields(ComparatorPD))


def comparator_pd(drug: str, overrides: dict[str, float] | None = None) -> ComparatorPD:
    """The PD of ``drug`` with ``overrides`` (names of :class:`ComparatorPD` fields)."""
    base = COMPARATOR_PD[drug]
    vals = {k: v for k, v in (overrides or {}).items() if k in PD_FIELDS}
    return replace(base, **vals)


def felt_intensity(ce_ng_ml: np.ndarray, ec50: float, gamma: float) -> np.ndarray:
    """Sigmoid intensity ``Ce^γ / (EC50^γ + Ce^γ)`` in [0, 1) (0 at Ce = 0)."""
    c = np.maximum(np.asarray(ce_ng_ml, dtype=float), 0.0) / ec50
    cg = c**gamma
    return cg / (1.0 + cg)


def comparator_relief(ce_ng_ml: np.ndarray, pd: ComparatorPD) -> np.ndarray:
    """Acute relief (fraction of pain) at effect-site concentration ``ce_ng_ml``."""
    if pd.relief_emax == 0.0:
        return np.zeros(np.shape(ce_ng_ml))
    return pd.relief_emax * felt_intensity(ce_ng_ml, pd.relief_ec50_ng_ml, pd.relief_gamma)


@dataclass(frozen=True)
class ArmComparator:
    """The comparator of one arm: its drug, dose scale and PD."""

    drug: str
    dose_per_mg: float
    pd: ComparatorPD


def arm_comparators(arms, midazolam_belief_up: float) -> tuple[ArmComparator | None, ...]:
    """The comparator of each scenario arm (None: ketamine or saline).

    ``arms`` are the scenario's arm specs (read for ``treatment`` and ``comparator``).

    ``midazolam_belief_up`` (the PD parameter of that name) is midazolam's belief step unless the
    arm overrides ``belief_up``.
    """
    out = []
    for a in arms:
        drug = TREATMENT_DRUG.get(a.treatment)
        if drug is None:
            out.append(None)
            continue
        spec = a.comparator
        over = dict(spec.parameters) if spec is not None else {}
        if drug == "midazolam":
            over.setdefault("belief_up", midazolam_belief_up)
        scale = spec.dose_per_mg if spec is not None else 1.0
        out.append(ArmComparator(drug, scale, comparator_pd(drug, over)))
    return tuple(out)
