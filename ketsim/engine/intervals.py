"""Confidence intervals for a rejection rate (power): Wilson [Wilson1927] and Clopper-Pearson
[Clopper1934].
"""

from __future__ import annotations

import numpy as np

from ketsim.core.distributions import beta_ppf, norm_ppf


# -- intervals ---------------------------------------------------------------------------------
def wilson_interval(x: np.ndarray, n: np.ndarray, conf: float = 0.95) -> tuple[np.ndarray, ...]:
    """Wilson score interval for a binomial proportion ``x / n`` (Wilson 1927)."""
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    z = norm_ppf(0.5 + conf / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        den = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    # exact ends at 0 and R rejections (the formula gives them up to rounding)
    lo = np.where(x == 0, 0.0, np.clip(centre - half, 0, 1))
    hi = np.where(x == n, 1.0, np.clip(centre + half, 0, 1))
    return lo, hi


def clopper_pearson_interval(
    x: np.ndarray, n: np.ndarray, conf: float = 0.95
) -> tuple[np.ndarray, ...]:
    """Exact (Clopper-Pearson 1934) interval for a binomial proportion."""
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    a = 1 - conf
    with np.errstate(invalid="ignore"):
        lo = np.where(x > 0, beta_ppf(a / 2, x, n - x + 1), 0.0)
        hi = np.where(x < n, beta_ppf(1 - a / 2, x + 1, n - x), 1.0)
    return lo, hi
