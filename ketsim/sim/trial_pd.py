"""PD state of the trial's patients: the exact step of tolerance and sensitization over an
interval, the drug-modulated sensitization target, cardiovascular maxima and expected pain.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.pd import acute, adverse, placebo, sensitization
from ketsim.core.pd.parameters import DEFAULT_LASTING_EFFECT, PDParameters
from ketsim.sim.compile import EffectSwitches

__all__ = [
    "blockade_memory_step",
    "cardiovascular_maxima",
    "expected_pain",
    "sensitization_target",
    "tolerance_and_sensitization_step",
]


def sensitization_target(
    set_point: np.ndarray,
    responder: np.ndarray,
    ce_slow: np.ndarray,
    slow_c50: np.ndarray,
    params: PDParameters,
    hypothesis: str = DEFAULT_LASTING_EFFECT,
    blockade_memory: np.ndarray | None = None,
) -> np.ndarray:
    """Drug-modulated sensitization target under the lasting-effect ``hypothesis``.

    Parameters
    ----------
    set_point : each patient's sensitization before treatment.
    responder : ketamine responders.
    ce_slow : slow-compartment S-ketamine concentrations (ng/mL).
    slow_c50 : each patient's C50 of the desensitizing drive (ng/mL).
    params : PD parameters.
    hypothesis : ``dahan`` and ``delayed_peak`` drive by Dahan's sigmoid of ``ce_slow``;
        ``sustained_blockade`` by the blockade memory.
    blockade_memory : the memory (h of blockade; ``sustained_blockade`` only).

    Returns
    -------
    np.ndarray
        The target of the sensitization state.
    """
    if hypothesis == "sustained_blockade":
        drive = sensitization.blockade_drive(
            blockade_memory, params.blockade_m50_h, params.blockade_gamma
        )
    else:
        drive = sensitization.desensitizing_drive(ce_slow, slow_c50, params)
    return sensitization.sensitization_target(set_point, responder, drive)


def blockade_memory_step(
    memory: np.ndarray, ce_fast0: np.ndarray, ce_fast1: np.ndarray, dt: float, params: PDParameters
) -> np.ndarray:
    """The ``sustained_blockade`` memory after ``dt`` hours (exact for linear ``ce_fast``).

    Parameters
    ----------
    memory : memories at the start (h of blockade).
    ce_fast0, ce_fast1 : fast effect-site S-ketamine at the start and end (ng/mL).
    dt : the interval (h).
    params : PD parameters (threshold and recovery half-life).

    Returns
    -------
    np.ndarray
        The memories at the end.
    """
    k = np.log(2.0) / (24.0 * params.blockade_recovery_half_life_days)
    return sensitization.blockade_step(
        memory, ce_fast0, ce_fast1, params.blockade_threshold_ng_ml, dt, k
    )


def tolerance_and_sensitization_step(
    tolerance: np.ndarray,
    sens_state: np.ndarray,
    ce_fast_before: np.ndarray,
    target_before: np.ndarray,
    target_after: np.ndarray,
    dt: float,
    params: PDParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """Tolerance and sensitization states after an interval of ``dt`` hours (exact).

    Parameters
    ----------
    tolerance, sens_state : the states at the start of the interval.
    ce_fast_before : fast effect-site S-ketamine at the start (exposed above 1 ng/mL).
    target_before, target_after : sensitization targets at the start and end of the interval
        (the target runs linearly between them).
    dt : the interval (h, > 0).
    params : PD parameters.

    Returns
    -------
    tolerance, sens_state : the states at the end of the interval.
    """
    exposed = ce_fast_before > 1.0
    tolerance = adverse.tolerance_step(tolerance, exposed, dt, params)
    half = params.sensitization_half_life_days
    kk = np.inf if half == 0 else np.log(2.0) / (24.0 * half)
    sens_state = sensitization.sensitization_step(sens_state, target_before, target_after, dt, kk)
    return tolerance, sens_state


def cardiovascular_maxima(
    cv_max: dict[str, np.ndarray], cp: np.ndarray, params: PDParameters
) -> dict[str, np.ndarray]:
    """Running maxima of the cardiovascular changes, updated at plasma S-ketamine ``cp``."""
    cv = adverse.cardiovascular(cp, params)
    out = dict(cv_max)
    for key, v in cv.items():
        out[key] = np.maximum(cv_max[key], v)
    return out


def expected_pain(
    y: dict[str, np.ndarray],
    baseline_pain: np.ndarray,
    set_point: np.ndarray,
    sens_state: np.ndarray,
    placebo_responder: np.ndarray,
    expectancy: np.ndarray,
    since_first_dose: np.ndarray,
    params: PDParameters,
    switches: EffectSwitches,
    placebo_hold_h: np.ndarray | float = 0.0,
    responder: np.ndarray | None = None,
    other_terms: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> np.ndarray:
    """Expected pain (NRS scale) of every patient from the current state.

    Parameters
    ----------
    y : PK outputs (``ce_fast``, ``nk`` and, for the racemate, ``nk_r``, ``ce_fast_r``).
    baseline_pain : baseline pain.
    set_point, sens_state : sensitization before treatment and now.
    placebo_responder : placebo responders.
    expectancy : expectancy of relief (follows the belief of being on drug through a lag).
    since_first_dose : hours since the first dose of the current segment.
    params : PD parameters.
    switches : the PD switches (norketamine and R-ketamine analgesia).
    placebo_hold_h : hours the placebo response holds after the first dose (the first
        administration's duration).
    responder : latent ketamine responders (None: all); non-responders' acute Emax is reduced.
    other_terms : (comparator relief, factor on ketamine's acute relief) of each patient, None
        where absent (:meth:`ketsim.sim.trial_comparators.ComparatorState.pain_terms`): a
        comparator's relief multiplies pain like ketamine's; background co-medication and
        adjuncts scale ketamine's acute effect.

    Returns
    -------
    np.ndarray
        Expected pain of each patient.
    """
    c_eq = acute.analgesic_concentration(
        y["ce_fast"],
        y["nk"] + (y.get("nk_r", 0.0)),
        y.get("ce_fast_r"),
        norketamine=switches.norketamine_analgesia,
        r_ketamine=switches.r_ketamine_analgesia,
        params=params,
    )
    a = acute.acute_relief(c_eq, params, responder)
    other, factor = other_terms
    if factor is not None:
        a = np.minimum(a * factor, 1.0)
    plc = placebo.placebo_relief(
        placebo_responder, expectancy, since_first_dose, params, placebo_hold_h
    )
    b = baseline_pain
    pain = b * (1.0 - set_point + sens_state) * (1.0 - a) * (1.0 - plc)
    return pain if other is None else pain * (1.0 - other)
