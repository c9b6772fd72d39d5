"""Placebo response, expectancy and functional unblinding (MODEL.md §3.3, §5).

* Placebo responders (Dahan 2011: 23% in the CRPS trial) come from a Gaussian latent that loads on
  the patient's prior expectancy, so that the marginal probability in the reference population
  (expectancy at its prior mean) is exactly ``placebo_responder_probability``.
* Every patient has some non-specific relief (context, attention; Frisaldi 2023 reports a mean
  placebo change of −1.54 NRS in painful diabetic neuropathy); responders much more.
* Belief and expectancy. The *belief* of being on drug is what the trial rules update: blinded 1:1
  trials start at 0.5, open label at 1, an untreated open-label control at 0. Functional
  unblinding moves it: a patient who feels psychotomimetic effects towards 1, one who has felt
  nothing by the end of the infusion towards 0, an active placebo (midazolam: sedation without
  dissociation) partly up. The *expectancy* that drives the placebo relief follows the belief
  through a first-order lag (:func:`expectancy_step`, half-life ``expectancy_half_life_h``, L):
  a belief update at a check (e.g. at the infusion stop) changes no patient's pain in a step, and
  the expectancy raised by feeling the drug builds up over hours, so it does not hold the acute
  relief up while the drug leaves the effect site (t½ke0 ≈ 8 min).
* A patient's relief scales with expectancy: ``placebo_relief · expectancy / 0.5`` (capped below
  1; Pollo 2001: open label about doubles the expectancy effect, −34% vs −16% rescue analgesic).
* Kinetics (:func:`placebo_fade`): the response holds during the first administration of the
  treatment period (the intervention) and then fades exponentially with the indication's
  half-life ``placebo_half_life_days`` (per indication: :data:`ketsim.core.pd.parameters.
  INDICATION_PD`). Long-standing CRPS: Mbizvo 2015 found a placebo response only 15-30 min after
  the intervention and none at 1 week, 3-4 weeks or later (default 2 days: under 10% left a week
  after the intervention). Painful diabetic neuropathy: Frisaldi 2023 reports a sustained mean
  change over trials lasting weeks (no time scale given: 42 days, L).
* Regression to the mean is not part of this model. It arises, and only arises, from the entry
  threshold on a noisy screening score (:mod:`ketsim.sim.enrolment`: the score adds the screening
  day's slow fluctuation and daily noise to the patient's true mean, which is what this relief
  multiplies). The fade here describes the placebo response alone: the magnitudes are calibrated
  on Sigtermans 2009, a trial without an entry threshold (no regression to the mean in the
  calibration), so a trial with a threshold adds its regression to the mean on top, once.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ketsim.core.pd.parameters import PDParameters

__all__ = [
    "belief_after_effects",
    "expectancy_step",
    "placebo_fade",
    "placebo_relief",
    "placebo_responders",
]


def placebo_responders(
    z_expectancy: np.ndarray, eps: np.ndarray, params: PDParameters | None = None
) -> np.ndarray:
    """Placebo-responder indicator from ``a·z_e + sqrt(1 − a²)·ε`` (standard normal)."""
    p = params or PDParameters()
    a = p.placebo_loading_expectancy
    if not -1.0 <= a <= 1.0:
        raise ValueError("placebo_loading_expectancy must lie in [-1, 1]")
    latent = a * z_expectancy + np.sqrt(1.0 - a * a) * eps
    return latent > special.ndtri(1.0 - p.placebo_responder_probability)


def belief_after_effects(
    belief: np.ndarray,
    felt_dissociation: np.ndarray,
    felt_nothing_at_end: np.ndarray,
    felt_sedation: np.ndarray | None = None,
    params: PDParameters | None = None,
    sedation_up: np.ndarray | float | None = None,
) -> np.ndarray:
    """Belief of being on drug after one update (masks are boolean arrays of patients).

    The belief is the target of the expectancy (:func:`expectancy_step`); the placebo relief reads
    the expectancy, so this update acts on pain only through that lag. ``felt_sedation`` marks a
    comparator's felt effect (midazolam sedation, lidocaine CNS effects), which moves the belief
    ``sedation_up`` of the way up (default ``midazolam_belief_up``).
    """
    p = params or PDParameters()
    b = np.where(felt_dissociation, belief + (1.0 - belief) * p.unblinding_up, belief)
    if felt_sedation is not None:
        up = p.midazolam_belief_up if sedation_up is None else sedation_up
        b = np.where(felt_sedation & ~felt_dissociation, b + (1.0 - b) * up, b)
    b = np.where(felt_nothing_at_end & ~felt_dissociation, b * (1.0 - p.unblinding_down), b)
    return np.clip(b, 0.0, 1.0)


def expectancy_step(
    expectancy: np.ndarray, belief: np.ndarray, dt_h: float, params: PDParameters | None = None
) -> np.ndarray:
    """Expectancy after ``dt_h`` hours of first-order relaxation towards a constant ``belief``.

    Exact for a belief that is constant over the interval (the trial model updates beliefs only
    at events): ``E + (B − E)·(1 − 2^(−dt/t½))`` with ``t½ = expectancy_half_life_h``.

    Parameters
    ----------
    expectancy : expectancies at the start of the interval.
    belief : beliefs of being on drug (the targets) over the interval.
    dt_h : the interval (h, >= 0).
    params : PD parameters.

    Returns
    -------
    np.ndarray
        The expectancies at the end of the interval.
    """
    p = params or PDParameters()
    w = -np.expm1(-np.log(2.0) * dt_h / p.expectancy_half_life_h)
    return expectancy + (belief - expectancy) * w


def placebo_fade(
    time_since_start_h: np.ndarray,
    hold_h: np.ndarray | float = 0.0,
    params: PDParameters | None = None,
) -> np.ndarray:
    """Fraction of the placebo response left ``time_since_start_h`` after the first dose.

    Parameters
    ----------
    time_since_start_h : hours since the first dose of the treatment period (< 0: before it).
    hold_h : hours the response holds at its full size after the first dose (the first
        administration's duration; 0 for an instant dose).
    params : PD parameters (``placebo_half_life_days``).

    Returns
    -------
    np.ndarray
        0 before the first dose, 1 while the first administration runs, then
        ``2^(−(t − hold)/t½)``.
    """
    p = params or PDParameters()
    t = np.asarray(time_since_start_h, dtype=float)
    after = np.maximum(t - hold_h, 0.0)
    fade = np.exp(-np.log(2.0) * after / (24.0 * p.placebo_half_life_days))
    return np.where(t >= 0, fade, 0.0)


def placebo_relief(
    responder: np.ndarray,
    expectancy: np.ndarray,
    time_since_start_h: np.ndarray,
    params: PDParameters | None = None,
    hold_h: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Fraction of pain relieved by the placebo response (0 before treatment starts).

    Parameters
    ----------
    responder : placebo responders.
    expectancy : the patients' expectancies (:func:`expectancy_step`; the belief itself where no
        lag applies).
    time_since_start_h : hours since the first dose of the treatment period.
    params : PD parameters.
    hold_h : hours the response holds after the first dose (:func:`placebo_fade`).

    Returns
    -------
    np.ndarray
        ``min(relief · expectancy / belief_reference, 0.95) · fade``.
    """
    p = params or PDParameters()
    base = np.where(responder, p.placebo_relief, p.placebo_relief_nonresponder)
    mag = np.minimum(base * expectancy / p.belief_reference, 0.95)
    return mag * placebo_fade(time_since_start_h, hold_h, p)
