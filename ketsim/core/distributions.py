"""Distribution functions the hot path needs, from :mod:`scipy.special` alone.

``import scipy.stats`` costs ~0.5 s, paid by every worker process of a Monte Carlo run before it
simulates anything; the functions ketsim uses on that path are thin wrappers around special
functions. These are those wrappers, computed the same way, so their results are bit-identical to
scipy.stats 1.17's (checked against it in ``tests/core/test_distributions_reference.py``, over
every branch):

* Student t: ``t.sf(x, df) = stdtr(df, -x)``, ``t.cdf = stdtr(df, x)``,
  ``t.isf(q, df) = -stdtrit(df, q)``;
* the normal quantile ``norm.ppf = ndtri`` and the beta quantile ``beta.ppf = betaincinv``;
* the truncated normal quantile ``truncnorm.ppf(q, a, b, loc, scale)``: scipy's log-space
  algorithm (left or right tail chosen by the sign of ``a``), written out here.

Dunnett's multivariate-t integration still imports scipy.stats (its Sobol lattice), on demand.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["beta_ppf", "norm_ppf", "t_cdf", "t_isf", "t_sf", "truncnorm_ppf"]


def t_sf(x, df):
    """Upper tail of Student's t (``scipy.stats.t.sf``)."""
    return special.stdtr(df, -np.asarray(x, dtype=float))


def t_cdf(x, df):
    """CDF of Student's t (``scipy.stats.t.cdf``)."""
    return special.stdtr(df, np.asarray(x, dtype=float))


def t_isf(q, df):
    """Inverse upper tail of Student's t (``scipy.stats.t.isf``)."""
    return -special.stdtrit(df, q)


def norm_ppf(q):
    """Standard normal quantile (``scipy.stats.norm.ppf``)."""
    return special.ndtri(q)


def beta_ppf(q, a, b):
    """Beta quantile (``scipy.stats.beta.ppf``)."""
    return special.betaincinv(a, b, q)


def _log_sum(log_p, log_q):
    return special.logsumexp([log_p, log_q], axis=0)


def _log_diff(log_p, log_q):
    return special.logsumexp([log_p, log_q + np.pi * 1j], axis=0)


def _log_gauss_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Log of the standard normal mass in [a, b] (left-tail formulas; as scipy.stats)."""
    a, b = np.broadcast_arrays(a, b)
    left = b <= 0
    right = a > 0
    central = ~(left | right)
    out = np.full_like(a, fill_value=np.nan, dtype=np.complex128)
    if a[left].size:
        out[left] = _log_diff(special.log_ndtr(b[left]), special.log_ndtr(a[left]))
    if a[right].size:
        out[right] = _log_diff(special.log_ndtr(-a[right]), special.log_ndtr(-b[right]))
    if a[central].size:
        out[central] = special.log1p(-special.ndtr(a[central]) - special.ndtr(-b[central]))
    return np.real(out)


def _truncnorm_std_ppf(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q, a, b = np.broadcast_arrays(q, a, b)
    left = a < 0
    right = ~left
    out = np.empty_like(q)
    if q[left].size:
        ql, al, bl = q[left], a[left], b[left]
        log_phi = _log_sum(special.log_ndtr(al), np.log(ql) + _log_gauss_mass(al, bl))
        out[left] = special.ndtri_exp(log_phi)
    if q[right].size:
        qr, ar, br = q[right], a[right], b[right]
        log_phi = _log_sum(special.log_ndtr(-br), np.log1p(-qr) + _log_gauss_mass(ar, br))
        out[right] = -special.ndtri_exp(log_phi)
    return out


def truncnorm_ppf(q, a: float, b: float, loc: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """Quantile of the normal(loc, scale) truncated to standardised [a, b]
    (``scipy.stats.truncnorm.ppf(q, a, b, loc=loc, scale=scale)``).

    Parameters
    ----------
    q : probabilities in [0, 1] (0 and 1 give the bounds).
    a, b : standardised truncation bounds, ``a < b``.
    loc, scale : location and scale (``scale > 0``).
    """
    q = np.asarray(q, dtype=float)
    out = np.full(q.shape, np.nan)
    if not (a < b and scale > 0 and loc == loc):
        return out
    inside = (q > 0) & (q < 1)
    out[q == 0] = a * scale + loc
    out[q == 1] = b * scale + loc
    if np.any(inside):
        qi = q[inside]
        out[inside] = (
            _truncnorm_std_ppf(qi, np.full(qi.shape, a), np.full(qi.shape, b)) * scale + loc
        )
    return out
