"""The result of one analysis on many replicate trials at once, and its p-value/CI helpers.

Every analysis in :mod:`ketsim.core.stats` (tests, regressions, mixed models) returns an
:class:`Estimate` whose arrays have one entry per replicate (shape ``(R,)``) or per replicate and
comparison (``(R, K)``).
Sign convention: the estimate is *treatment minus control* (a difference in means, a log odds
ratio, a log hazard ratio, ...), so that lower pain on treatment gives a negative estimate.

``alternative`` follows scipy: ``"two-sided"``, ``"less"`` (H1: estimate < 0) or ``"greater"``.
The confidence interval is always two-sided at ``conf_level``; a one-sided test at level alpha
matches the two-sided ``1 - 2 alpha`` interval (rejection <=> the interval excludes 0 on the
tested side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import special

from ketsim.core.distributions import t_cdf, t_isf, t_sf

__all__ = ["ALTERNATIVES", "Estimate", "ci_from_t", "p_from_t", "wald_estimate"]

Alternative = Literal["two-sided", "less", "greater"]
ALTERNATIVES = ("two-sided", "less", "greater")


@dataclass
class Estimate:
    """Per-replicate results of one analysis.

    Attributes
    ----------
    estimate, se : point estimate (treatment - control scale, see ``scale``) and its standard error.
    statistic : test statistic (t, z or chi-square; see ``statistic_name``).
    df : degrees of freedom of ``statistic`` (``inf`` for normal/z statistics).
    p_value : p-value for ``alternative``.
    ci_low, ci_high : two-sided ``conf_level`` confidence interval of ``estimate``.
    converged : False where a fit did not converge or is undefined (then values may be NaN).
    """

    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    converged: np.ndarray
    name: str = ""
    scale: str = "difference"
    statistic_name: str = "t"
    alternative: str = "two-sided"
    conf_level: float = 0.95
    extra: dict = field(default_factory=dict)

    @classmethod
    def masked(
        cls,
        mask: np.ndarray,
        *,
        estimate: np.ndarray,
        se: np.ndarray,
        statistic: np.ndarray,
        df: np.ndarray | float,
        p_value: np.ndarray,
        ci_low: np.ndarray,
        ci_high: np.ndarray,
        converged: np.ndarray,
        **meta: Any,
    ) -> Estimate:
        """An estimate whose numbers are NaN wherever ``mask`` is False (undefined fits)."""
        values = (estimate, se, statistic, df, p_value, ci_low, ci_high)
        e, s, t, d, p, lo, hi = (np.where(mask, v, np.nan) for v in values)
        return cls(e, s, t, d, p, lo, hi, converged, **meta)

    def reject(self, alpha: float) -> np.ndarray:
        """True where ``p_value < alpha`` (NaN p-values never reject)."""
        p = np.asarray(self.p_value, dtype=float)
        return np.where(np.isnan(p), False, p < alpha)

    def __len__(self) -> int:
        return int(np.shape(self.estimate)[0])


def p_from_t(
    statistic: np.ndarray, df: np.ndarray | float, alternative: str = "two-sided"
) -> np.ndarray:
    """p-value of a t (finite ``df``) or z (``df = inf``) statistic for ``alternative``."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    t = np.asarray(statistic, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), t.shape)
    finite = np.isfinite(df)
    # survival function of |t|: t distribution where df is finite, normal otherwise
    with np.errstate(invalid="ignore"):
        sf_t = np.where(finite, t_sf(t, np.where(finite, df, 1.0)), special.ndtr(-t))
        cdf_t = np.where(finite, t_cdf(t, np.where(finite, df, 1.0)), special.ndtr(t))
    if alternative == "greater":
        return sf_t
    if alternative == "less":
        return cdf_t
    return np.minimum(1.0, 2.0 * np.minimum(sf_t, cdf_t))


def ci_from_t(
    estimate: np.ndarray, se: np.ndarray, df: np.ndarray | float, conf_level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``conf_level`` interval ``estimate ± q · se`` with a t (or normal) quantile."""
    est = np.asarray(estimate, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), est.shape)
    a = (1.0 - conf_level) / 2.0
    finite = np.isfinite(df)
    q = np.where(finite, t_isf(a, np.where(finite, df, 1.0)), special.ndtri(1.0 - a))
    return est - q * se, est + q * se


def wald_estimate(
    estimate: np.ndarray,
    se: np.ndarray,
    df: np.ndarray | float,
    ok: np.ndarray,
    *,
    alternative: str,
    conf_level: float,
    name: str,
    scale: str,
    statistic_name: str,
    extra: dict | None = None,
) -> Estimate:
    """Wald-type result ``estimate / se`` with t (finite df) or normal (df = inf) reference.

    ``ok`` has shape ``(R,)`` (one fit per replicate: a replicate with any undefined comparison
    is wholly NaN) or the shape of ``estimate`` (one fit per entry). Where it, or a finite
    positive ``se`` and ``df``, fails, every value is NaN and ``converged`` is False.
    """
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    df = np.broadcast_to(np.asarray(df, dtype=float), est.shape).copy()
    with np.errstate(all="ignore"):
        good = np.isfinite(est) & np.isfinite(se) & (se > 0) & ~np.isnan(df) & (df > 0)
        ok = np.asarray(ok, dtype=bool)
        if ok.ndim == est.ndim:
            ok_r = mask = ok & good
        else:
            ok_r = ok & (good if good.ndim == 1 else np.all(good, axis=tuple(range(1, good.ndim))))
            mask = ok_r.reshape(ok_r.shape + (1,) * (est.ndim - 1)) & good
        # placeholders keep scipy's distribution functions away from NaN/invalid df
        df_safe = np.where(mask, df, 1.0)
        stat = np.where(mask, est / np.where(mask, se, 1.0), np.nan)
        p = p_from_t(np.where(mask, stat, 0.0), df_safe, alternative)
        lo, hi = ci_from_t(np.where(mask, est, 0.0), np.where(mask, se, 1.0), df_safe, conf_level)
    return Estimate.masked(
        mask,
        estimate=est,
        se=se,
        statistic=stat,
        df=df,
        p_value=p,
        ci_low=lo,
        ci_high=hi,
        converged=ok_r,
        name=name,
        scale=scale,
        statistic_name=statistic_name,
        alternative=alternative,
        conf_level=conf_level,
        extra=extra or {},
    )
