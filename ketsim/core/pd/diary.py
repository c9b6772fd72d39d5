"""The pain diary: daily integer NRS 0-10 with realistic measurement properties (MODEL.md §3.5).

Observed NRS on day d = round(clip(μ_d + F_d + ε_d, 0, 10)), where μ is the model's expected pain,
F a slow within-patient fluctuation (Ornstein–Uhlenbeck, flares; correlation time 30 d, L) and ε
independent day-to-day noise whose variance is set so that a single day's score has the
intraclass correlation 0.65 with the patient's mean (Heapy 2014):

    ICC = σ_B² / (σ_B² + σ_ε²)  →  σ_ε² = σ_B² (1 − ICC) / ICC,

with σ_B² the between-patient variance of the untreated pain (true baseline SD² + fluctuation SD²,
the fluctuation being nearly constant over the few days of a reliability study). Days are missing
with a patient-specific probability (beta-distributed propensity).
"""

from __future__ import annotations

import numpy as np

from ketsim.core.pd.parameters import PDParameters

__all__ = ["daily_noise_sd", "observe_nrs", "ou_path"]


def daily_noise_sd(baseline_sd: float, params: PDParameters | None = None) -> float:
    """SD of day-to-day noise giving the single-day ICC for the given between-patient SD."""
    p = params or PDParameters()
    var_b = baseline_sd**2 + p.fluctuation_sd**2
    return float(np.sqrt(var_b * (1.0 - p.diary_icc_single_day) / p.diary_icc_single_day))


def ou_path(
    z: np.ndarray, sd: float, tau_days: float, start: np.ndarray | None = None
) -> np.ndarray:
    """OU process on a daily grid from standard normals ``z (P, D)`` (exact AR(1)).

    Without ``start`` the first day is drawn from the stationary law (``sd · z[:, 0]``); with
    ``start`` (the value the day before the grid) every day is one AR(1) step on from it.
    """
    rho = np.exp(-1.0 / tau_days)
    innov = sd * np.sqrt(1.0 - rho * rho)
    out = np.empty_like(z)
    if start is None:
        out[:, 0] = sd * z[:, 0]
    else:
        out[:, 0] = rho * start + innov * z[:, 0]
    for d in range(1, z.shape[1]):
        out[:, d] = rho * out[:, d - 1] + innov * z[:, d]
    return out


def observe_nrs(mu: np.ndarray, fluct: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Integer NRS from expected pain, fluctuation and noise (rounded half away from zero)."""
    x = np.clip(mu + fluct + eps, 0.0, 10.0)
    r = np.floor(x)
    # x - floor(x) is exact on [0, 10]; floor(x + 0.5) would round 0.49999999999999994 up
    return (r + (x - r >= 0.5)).astype(np.int8)
