"""Adverse events (MODEL.md §3.4): psychotomimetic effects with tolerance, nausea/vomiting,
cardiovascular responses and liver injury on re-exposure."""

from __future__ import annotations

import numpy as np

from ketsim.core.pd.acute import sigmoid_emax
from ketsim.core.pd.parameters import PDParameters

__all__ = [
    "REFERENCE_COURSE_AUC_NG_H_ML",
    "background_exposure",
    "background_hazard",
    "background_probability",
    "cardiovascular",
    "liver_injury_probability",
    "nausea_hazard_per_auc",
    "psychotomimetic_intensity",
    "tolerance_step",
]

#: The reference course of the nausea and liver parameters: 100 h at 20 mg/h in a 70-kg man,
#: AUC = dose / CL = 2000 mg / 93.5 L/h (Noppers 2011 CL) = 21,390 ng·h/mL.
REFERENCE_COURSE_AUC_NG_H_ML = 2000.0 / 93.5 * 1000.0


def psychotomimetic_intensity(
    ce_fast: np.ndarray, tolerance: np.ndarray, params: PDParameters | None = None
) -> np.ndarray:
    """Intensity in [0, 1): sigmoid of the fast effect-site S-K with a tolerance-raised C50.

    C50 = 71 ng/mL (Simons 2022 drug high) × (1 + tolerance); tolerance in [0, tolerance_max].
    """
    p = params or PDParameters()
    return sigmoid_emax(ce_fast, p.psy_c50_ng_ml * (1.0 + tolerance), p.psy_gamma)


def tolerance_step(
    tol: np.ndarray, exposed: np.ndarray, dt_h: float, params: PDParameters | None = None
) -> np.ndarray:
    """Exact first-order turnover of tolerance over ``dt`` with a constant drive.

    Tolerance approaches ``tolerance_max`` while the patient is exposed (fast effect site above
    1 ng/mL at the start of the interval) and decays to 0 otherwise, half-life 1.5 d (L).
    """
    p = params or PDParameters()
    target = np.where(exposed, p.tolerance_max, 0.0)
    e = np.exp(-np.log(2.0) * dt_h / (24.0 * p.tolerance_half_life_days))
    return target + (tol - target) * e


def nausea_hazard_per_auc(params: PDParameters | None = None) -> float:
    """Hazard per ng·h/mL such that a reference course gives the reference nausea probability."""
    p = params or PDParameters()
    return -np.log1p(-p.nausea_reference_probability) / REFERENCE_COURSE_AUC_NG_H_ML


def background_exposure(
    n_sessions: np.ndarray | float, hours: np.ndarray | float, params: PDParameters | None = None
) -> np.ndarray:
    """Exposure to background (nocebo) reports in reference units: one 100-h session = 1.

    x = s · n_sessions + (1 − s) · hours / T_ref, with s = ``ae_background_session_share`` (L)
    and T_ref = ``ae_background_reference_hours`` (the Sigtermans 2009 100-h infusion).
    """
    p = params or PDParameters()
    s = p.ae_background_session_share
    return s * np.asarray(n_sessions, float) + (1.0 - s) * np.asarray(hours, float) / (
        p.ae_background_reference_hours
    )


def background_hazard(reference_probability: float, exposure: np.ndarray | float) -> np.ndarray:
    """Cumulative hazard −ln(1 − p_ref) · x of a background report over exposure ``x``."""
    return -np.log1p(-reference_probability) * np.asarray(exposure, float)


def background_probability(
    reference_probability: float, exposure: np.ndarray | float
) -> np.ndarray:
    """P(background report) = 1 − (1 − p_ref)^x over exposure ``x`` (p_ref exactly at x = 1)."""
    return -np.expm1(-background_hazard(reference_probability, exposure))


def cardiovascular(cp: np.ndarray, params: PDParameters | None = None) -> dict[str, np.ndarray]:
    """Percent changes in cardiac output, heart rate and MAP at plasma S-K ``cp`` (ng/mL)."""
    p = params or PDParameters()
    return {
        "cardiac_output_pct": p.co_emax_pct * sigmoid_emax(cp, p.co_ec50_ng_ml),
        "heart_rate_pct": p.hr_emax_pct * sigmoid_emax(cp, p.hr_ec50_ng_ml),
        "map_pct": p.map_emax_pct * sigmoid_emax(cp, p.map_ec50_ng_ml),
    }


def _liver_constants(p: PDParameters) -> tuple[float, float]:
    """(hazard per reference course, priming gain) from the two cited probabilities."""
    h1 = -np.log1p(-p.liver_single_course_probability)
    h2 = -np.log1p(-p.liver_repeat_course_probability)
    decay = 0.5 ** (p.liver_repeat_gap_days / p.liver_priming_half_life_days)
    return h1, (h2 / h1 - 1.0) / decay


def liver_injury_probability(
    course_auc: np.ndarray, priming: np.ndarray, params: PDParameters | None = None
) -> np.ndarray:
    """P(liver injury during a course) = 1 − exp(−h1 · AUC/AUC_ref · (1 + g · priming)).

    ``priming`` = Σ over earlier courses of (AUC/AUC_ref) · 2^(−gap / t½), gap from the end of
    that course to the start of this one. Defaults give 1% for one reference course and 50% for a
    second one 16 days later (3 of 6, Noppers 2011 Pain).
    """
    p = params or PDParameters()
    h1, g = _liver_constants(p)
    x = np.asarray(course_auc) / REFERENCE_COURSE_AUC_NG_H_ML
    return -np.expm1(-h1 * x * (1.0 + g * np.asarray(priming)))
