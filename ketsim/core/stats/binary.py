"""Binary outcomes per replicate: event counts and two proportions (Fisher, chi-square).

:func:`count_by_group` turns patient-level 0/1 data into per-replicate 2x2 tables;
:func:`proportions` compares them (risk difference with the Newcombe interval, Fisher's exact or
a chi-square p-value). Logistic regression is in :mod:`ketsim.core.stats.logistic`. Conventions
are those of :mod:`ketsim.core.stats`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ketsim.core.stats._batched import (
    _CHUNK_ELEMENTS,
    _as_1d_float,
    _as_int_array,
    _check_alternative,
    _check_conf_level,
    _group_codes,
    _rep_index,
)
from ketsim.core.stats.estimates import Estimate, p_from_t

__all__ = ["count_by_group", "proportions"]


def count_by_group(
    b: np.ndarray, group: np.ndarray, rep: np.ndarray, n_rep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Events and non-missing counts per replicate and arm from patient-level 0/1 data.

    Parameters
    ----------
    b : (P,) float
        1 = event (e.g. responder), 0 = no event, NaN = missing (not counted).
    group : (P,) int
        0 = control, 1 = treatment.
    rep, n_rep
        Replicate of each patient and number of replicates R.

    Returns
    -------
    x1, n1, x0, n0 : (R,) int64
        Events and non-missing patients in treatment (1) and control (0).
    """
    b = _as_1d_float(b, "b")
    r = _rep_index(rep, n_rep, b.size)
    g = _group_codes(group, b.size)
    keep = ~np.isnan(b)
    if np.any((b[keep] != 0) & (b[keep] != 1)):
        raise ValueError("b must contain only 0, 1 or NaN")
    cell = 2 * r[keep] + g[keep]
    n = np.bincount(cell, minlength=2 * n_rep).reshape(n_rep, 2)
    x = np.rint(np.bincount(cell, b[keep], minlength=2 * n_rep)).astype(np.int64)
    x = x.reshape(n_rep, 2)
    return x[:, 1], n[:, 1].astype(np.int64), x[:, 0], n[:, 0].astype(np.int64)


def _wilson(x: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (no continuity correction)."""
    z2 = z * z
    centre = (2 * x + z2) / (2 * (n + z2))
    half = z * np.sqrt(z2 + 4 * x * (n - x) / n) / (2 * (n + z2))
    return centre - half, centre + half


def _lchoose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


def _row_sum(x: np.ndarray) -> np.ndarray:
    """Row sums added strictly left to right.

    ``np.sum`` groups a row's terms by its length (pairwise, unrolled), so zero padding to the
    widest row of a batch would change the rounding of the others; a sequential accumulation
    is unchanged by trailing zeros, so a replicate's p-value does not depend on its batch.
    """
    return np.cumsum(x, axis=1)[:, -1] if x.shape[1] else np.zeros(x.shape[0])


def _fisher_p(
    x1: np.ndarray, n1: np.ndarray, x0: np.ndarray, n0: np.ndarray, alternative: str
) -> np.ndarray:
    """Fisher's exact test for 2x2 tables, vectorised over the hypergeometric support.

    The number of treatment events given the margins is hypergeometric; its pmf is evaluated
    over the whole support (padded to the largest support in a chunk of replicates).
    Two-sided: sum of the pmf over tables no more likely than the observed one, with a
    relative tolerance of 1e-7 (as R's fisher.test; scipy uses 1e-14; mathematically tied
    tables are included by both).
    """
    R = x1.size
    p = np.full(R, np.nan)
    valid = (n1 > 0) & (n0 > 0)
    if not np.any(valid):
        return p
    K = x1 + x0
    N = n1 + n0
    lo = np.maximum(0, K - n0)
    hi = np.minimum(n1, K)
    width = int(np.max(np.where(valid, hi, 0))) + 1
    step = max(1, _CHUNK_ELEMENTS // width)
    j = np.arange(width)[None, :]
    log_tol = np.log1p(1e-7)
    for a in range(0, R, step):
        b = min(R, a + step)
        v = valid[a:b]
        n1c, n0c, Kc, Nc = (t[a:b, None].astype(float) for t in (n1, n0, K, N))
        x1c = x1[a:b, None]
        support = (j >= lo[a:b, None]) & (j <= hi[a:b, None]) & v[:, None]
        with np.errstate(all="ignore"):
            logpmf = _lchoose(n1c, j) + _lchoose(n0c, Kc - j) - _lchoose(Nc, Kc)
            logpmf = np.where(support, logpmf, -np.inf)
            pmf = np.exp(logpmf)
        if alternative == "less":
            pc = _row_sum(np.where(j <= x1c, pmf, 0.0))
        elif alternative == "greater":
            pc = _row_sum(np.where(j >= x1c, pmf, 0.0))
        else:
            obs = np.take_along_axis(logpmf, np.clip(x1c, 0, width - 1), axis=1)
            pc = _row_sum(np.where(logpmf <= obs + log_tol, pmf, 0.0))
        p[a:b] = np.where(v, np.minimum(pc, 1.0), np.nan)
    return p


def proportions(
    x1: np.ndarray,
    n1: np.ndarray,
    x0: np.ndarray,
    n0: np.ndarray,
    *,
    test: str = "fisher",
    alternative: str = "two-sided",
    conf_level: float = 0.95,
) -> Estimate:
    """Compare two proportions per replicate (risk difference, Fisher or chi-square test).

    Parameters
    ----------
    x1, n1, x0, n0 : (R,) int
        Events and patients per replicate in treatment (1) and control (0); see
        :func:`count_by_group`.
    test : {"fisher", "chi2", "chi2_yates"}
        p-value method: Fisher's exact test (one-sided by hypergeometric tail sums), Pearson's
        chi-square without or with Yates' continuity correction. The chi-square tests use the
        signed ``z = sign(p1 - p0) sqrt(chi2)`` against the normal, so the two-sided p equals the
        chi-square(1) p and one-sided alternatives are available.
    alternative, conf_level
        See :mod:`ketsim.core.stats.estimates` (``"greater"``: p1 > p0, i.e. odds ratio > 1).

    Returns
    -------
    Estimate
        ``estimate`` = risk difference ``p1 - p0`` with the Newcombe hybrid-score interval
        (method 10: Wilson limits of each proportion combined by the square-and-add rule);
        ``se`` = unpooled Wald SE (informational; the CI and p-value do not use it);
        ``statistic`` = sample odds ratio for Fisher (``statistic_name="odds_ratio"``) or the
        signed z for the chi-square tests; ``df = inf``. ``extra["odds_ratio"]`` is the sample
        odds ratio ``x1 (n0 - x0) / ((n1 - x1) x0)`` (``inf``/NaN when a cell is zero),
        ``extra["chi2"]`` the chi-square for the chi-square tests. Replicates with an empty arm
        are NaN / not converged; when nobody (or everybody) has an event, Fisher gives p = 1
        while the chi-square is undefined (NaN p, not converged; the estimate and CI are kept).

    References
    ----------
    Newcombe RG (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. Stat Med 17:873-890.
    Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
    J Am Stat Assoc 22:209-212.
    Fisher RA (1935). The logic of inductive inference. J R Stat Soc 98:39-82.
    Yates F (1934). Contingency tables involving small numbers and the chi-square test.
    Suppl J R Stat Soc 1:217-235.
    """
    _check_alternative(alternative)
    _check_conf_level(conf_level)
    if test not in ("fisher", "chi2", "chi2_yates"):
        raise ValueError(f"test must be 'fisher', 'chi2' or 'chi2_yates', got {test!r}")
    arrs = [np.atleast_1d(_as_int_array(a, nm)) for a, nm in ((x1, "x1"), (n1, "n1"))]
    arrs += [np.atleast_1d(_as_int_array(a, nm)) for a, nm in ((x0, "x0"), (n0, "n0"))]
    x1, n1, x0, n0 = (a.astype(np.int64) for a in np.broadcast_arrays(*arrs))
    if x1.ndim != 1:
        raise ValueError("counts must be one-dimensional (one entry per replicate)")
    if np.any((x1 < 0) | (x0 < 0) | (x1 > n1) | (x0 > n0)):
        raise ValueError("counts must satisfy 0 <= x <= n")
    valid = (n1 > 0) & (n0 > 0)
    z = special.ndtri(0.5 + conf_level / 2.0)
    f1, f0, fx1, fx0 = n1.astype(float), n0.astype(float), x1.astype(float), x0.astype(float)
    with np.errstate(all="ignore"):
        p1, p0 = fx1 / f1, fx0 / f0
        d = p1 - p0
        l1, u1 = _wilson(fx1, f1, z)
        l0, u0 = _wilson(fx0, f0, z)
        ci_lo = d - np.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
        ci_hi = d + np.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
        se = np.sqrt(p1 * (1 - p1) / f1 + p0 * (1 - p0) / f0)
        odds_ratio = fx1 * (f0 - fx0) / ((f1 - fx1) * fx0)

    extra: dict[str, np.ndarray] = {"odds_ratio": np.where(valid, odds_ratio, np.nan)}
    if test == "fisher":
        p = _fisher_p(x1, n1, x0, n0, alternative)
        stat = extra["odds_ratio"]
        stat_name = "odds_ratio"
    else:
        N = f1 + f0
        K = fx1 + fx0
        with np.errstate(all="ignore"):
            # expected counts of the four cells; |O - E| is the same for all four in a 2x2
            E = np.stack([f1 * K, f1 * (N - K), f0 * K, f0 * (N - K)], axis=1) / N[:, None]
            dev = np.abs(fx1 - f1 * K / N)
            if test == "chi2_yates":
                dev = dev - np.minimum(0.5, dev)
            chi2 = np.sum(dev[:, None] ** 2 / E, axis=1)
            stat = np.sign(d) * np.sqrt(chi2)
        chi_ok = valid & np.all(E > 0, axis=1) & np.isfinite(chi2)
        stat = np.where(chi_ok, stat, np.nan)
        with np.errstate(all="ignore"):
            p = np.where(chi_ok, p_from_t(np.where(chi_ok, stat, 0.0), np.inf, alternative), np.nan)
        extra["chi2"] = np.where(chi_ok, chi2, np.nan)
        stat_name = "z"
    converged = valid & np.isfinite(p)
    return Estimate.masked(
        valid,
        estimate=d,
        se=se,
        statistic=stat,
        df=np.inf,
        p_value=p,
        ci_low=ci_lo,
        ci_high=ci_hi,
        converged=converged,
        name=f"proportions_{test}",
        scale="risk difference",
        statistic_name=stat_name,
        alternative=alternative,
        conf_level=conf_level,
        extra=extra,
    )
