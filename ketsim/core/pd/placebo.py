"""Placebo response, expectancy and functional unblinding (MODEL.md §3.3).

* Placebo responders (Dahan 2011: 23% in the CRPS trial) come from a Gaussian latent that loads on
  the patient's prior expectancy, so that the marginal probability in the reference population
  (expectancy at its prior mean) is exactly ``placebo_responder_probability``.
* Every patient has some non-specific relief (context, attention, natural history; Frisaldi 2023
  reports a mean placebo change of −1.54 NRS in painful diabetic neuropathy); responders much more.
* A patient's relief scales with the patient's current *belief of being on drug*: relief =
  ``placebo_relief · belief / 0.5`` (capped below 1). Blinded 1:1 trials start at belief 0.5; open
  label at 1 (doubling the expectancy effect, Pollo 2001: −34% vs −16% rescue analgesic); an
  untreated open-label control at 0.
* Functional unblinding: a patient who feels psychotomimetic effects moves belief towards 1; one
  who has felt nothing by the end of the infusion moves it towards 0; an active placebo
  (midazolam: sedation without dissociation) moves it partly up.
* The response fades exponentially after treatment starts (half-life L; Mbizvo 2015 reports no
  placebo effect beyond a week in long-standing CRPS, selectable through the parameter).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ketsim.core.pd.parameters import PDParameters

__all__ = ["belief_after_effects", "placebo_relief", "placebo_responders"]


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
) -> np.ndarray:
    """Belief of being on drug after one update (masks are boolean arrays of patients)."""
    p = params or PDParameters()
    b = np.where(felt_dissociation, belief + (1.0 - belief) * p.unblinding_up, belief)
    if felt_sedation is not None:
        b = np.where(felt_sedation & ~felt_dissociation, b + (1.0 - b) * p.midazolam_belief_up, b)
    b = np.where(felt_nothing_at_end & ~felt_dissociation, b * (1.0 - p.unblinding_down), b)
    return np.clip(b, 0.0, 1.0)


def placebo_relief(
    responder: np.ndarray,
    belief: np.ndarray,
    time_since_start_h: np.ndarray,
    params: PDParameters | None = None,
) -> np.ndarray:
    """Fraction of pain relieved by the placebo response (0 before treatment starts)."""
    p = params or PDParameters()
    t = np.asarray(time_since_start_h, dtype=float)
    fade = np.where(
        t >= 0, np.exp(-np.log(2.0) * np.maximum(t, 0.0) / (24.0 * p.placebo_half_life_days)), 0.0
    )
    base = np.where(responder, p.placebo_relief, p.placebo_relief_nonresponder)
    mag = np.minimum(base * belief / p.belief_reference, 0.95)
    return mag * fade
