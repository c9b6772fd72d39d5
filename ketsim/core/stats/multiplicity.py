"""Multiplicity adjustment of per-replicate p-values across comparisons.

Bonferroni, Holm (step-down) and Hochberg (step-up) adjust each row of an ``(R, K)`` p-value
matrix; :func:`dunnett` gives single-step many-to-one adjusted p-values from multivariate t
probabilities (deterministic quadrature for one-factor correlations, quasi-Monte Carlo
otherwise); :func:`adjust` dispatches by method name.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ketsim.core.stats._batched import _CHUNK_ELEMENTS, _check_alternative
from ketsim.core.stats.estimates import p_from_t

__all__ = ["adjust", "bonferroni", "cov_to_corr", "dunnett", "hochberg", "holm"]


def _as_pmatrix(p: np.ndarray) -> tuple[np.ndarray, bool]:
    p = np.asarray(p, dtype=float)
    if p.ndim == 1:
        return p[None, :], True
    if p.ndim != 2:
        raise ValueError(f"p must have shape (R, K) (or (K,)), got {p.shape}")
    return p, False


def bonferroni(p: np.ndarray) -> np.ndarray:
    """Bonferroni-adjusted p-values, row by row.

    Parameters
    ----------
    p : (R, K) or (K,) float
        Unadjusted p-values, one row per replicate; NaN hypotheses are ignored (the number of
        tests in a row is its number of non-NaN entries) and stay NaN.

    Returns
    -------
    (R, K) float
        ``min(1, m p)``.
    """
    pm, flat = _as_pmatrix(p)
    m = np.sum(~np.isnan(pm), axis=1, keepdims=True)
    out = np.minimum(1.0, pm * m)
    return out[0] if flat else out


def _stepwise(p: np.ndarray, step_up: bool) -> np.ndarray:
    pm, flat = _as_pmatrix(p)
    K = pm.shape[1]
    isnan = np.isnan(pm)
    m = np.sum(~isnan, axis=1, keepdims=True)
    order = np.argsort(pm, axis=1, kind="stable")  # NaN sorted last
    ps = np.take_along_axis(pm, order, axis=1)
    adj = np.minimum(1.0, (m - np.arange(K)[None, :]) * ps)
    if step_up:
        # Hochberg: running minimum from the largest p downwards (NaN -> +inf so it is inert)
        adj = np.minimum.accumulate(np.where(np.isnan(adj), np.inf, adj)[:, ::-1], axis=1)
        adj = adj[:, ::-1]
    else:
        # Holm: running maximum from the smallest p upwards (NaN only trail)
        adj = np.fmax.accumulate(adj, axis=1)
    out = np.empty_like(pm)
    np.put_along_axis(out, order, adj, axis=1)
    out[isnan] = np.nan
    return out[0] if flat else out


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, row by row (NaN hypotheses ignored, stay NaN).

    References
    ----------
    Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat
    6:65-70.
    """
    return _stepwise(p, step_up=False)


def hochberg(p: np.ndarray) -> np.ndarray:
    """Hochberg step-up adjusted p-values, row by row (NaN hypotheses ignored, stay NaN).

    References
    ----------
    Hochberg Y (1988). A sharper Bonferroni procedure for multiple tests of significance.
    Biometrika 75:800-802.
    """
    return _stepwise(p, step_up=True)


def cov_to_corr(cov: np.ndarray) -> np.ndarray:
    """Correlation matrices ``cov_ij / sqrt(cov_ii cov_jj)`` of ``(..., K, K)`` covariances."""
    cov = np.asarray(cov, dtype=float)
    with np.errstate(all="ignore"):
        s = 1.0 / np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
        corr = cov * s[..., :, None] * s[..., None, :]
    K = cov.shape[-1]
    ii = np.arange(K)
    corr[..., ii, ii] = np.where(np.isfinite(corr[..., ii, ii]), 1.0, np.nan)
    return corr


def _one_factor(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Loadings ``lam`` with ``corr_ij = lam_i lam_j`` (i != j) where such exist.

    Returns ``(lam, ok)`` for a batch ``(n, K, K)``. Every 2x2 correlation matrix has this
    structure; for K >= 3 it holds e.g. for a many-to-one comparison of group means without
    covariates (``lam_i = sqrt(n_i / (n_i + n_0))``).
    """
    n, K, _ = corr.shape
    if K == 2:
        rho = corr[:, 0, 1]
        a = np.sqrt(np.abs(rho))
        lam = np.stack([a, np.where(rho < 0, -a, a)], axis=1)
    else:
        lam2 = np.full((n, K), np.nan)
        best = np.full((n, K), -1.0)
        for i in range(K):
            others = [j for j in range(K) if j != i]
            for a_ in range(len(others)):
                for b_ in range(a_ + 1, len(others)):
                    j, k = others[a_], others[b_]
                    rjk = corr[:, j, k]
                    with np.errstate(all="ignore"):
                        cand = corr[:, i, j] * corr[:, i, k] / rjk
                    better = np.abs(rjk) > best[:, i]
                    lam2[:, i] = np.where(better, cand, lam2[:, i])
                    best[:, i] = np.where(better, np.abs(rjk), best[:, i])
        # no informative pair (all other correlations 0): only lam_i = 0 can fit
        lam2 = np.where(best == 0.0, 0.0, lam2)
        with np.errstate(all="ignore"):
            lam = np.sqrt(np.where(lam2 >= 0, lam2, np.nan))
        # signs relative to the first hypothesis
        sign = np.where(corr[:, 0, :] < 0, -1.0, 1.0)
        lam = lam * sign
    with np.errstate(all="ignore"):
        rebuilt = lam[:, :, None] * lam[:, None, :]
        off = ~np.eye(K, dtype=bool)
        err = np.max(np.abs(np.where(off, rebuilt - corr, 0.0)), axis=(1, 2))
        # |lam| -> 1 needs ever finer z grids: leave near-degenerate cases to the QMC path
        ok = (err <= 1e-9) & np.all(np.abs(lam) < 0.9999, axis=1)
    return lam, ok


def _nearest_one_factor(corr: np.ndarray, n_iter: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares one-factor fit ``lam lam'`` to the off-diagonal of ``corr`` (n, K, K).

    Principal-factor iteration: replace the diagonal by the communalities ``lam**2`` and take
    the leading eigenvector, batched over matrices. Returns ``lam`` (|lam| <= 0.999) and the
    largest absolute off-diagonal misfit per matrix.
    """
    K = corr.shape[-1]
    idx = np.arange(K)
    w, v = np.linalg.eigh(corr)
    lam = v[:, :, -1] * np.sqrt(np.maximum(w[:, -1], 0.0))[:, None]
    A = corr.copy()
    for _ in range(n_iter):
        A[:, idx, idx] = lam * lam
        w, v = np.linalg.eigh(A)
        lam = v[:, :, -1] * np.sqrt(np.maximum(w[:, -1], 0.0))[:, None]
    lam = np.clip(lam, -0.999, 0.999)
    fit = lam[:, :, None] * lam[:, None, :]
    off = ~np.eye(K, dtype=bool)
    dev = np.max(np.abs(np.where(off, fit - corr, 0.0)), axis=(1, 2))
    return lam, dev


def _dunnett_nodes_s(df: float) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid nodes/weights for S = sqrt(chi2_df / df) on a log-S grid."""
    if np.isinf(df):
        return np.ones(1), np.ones(1)
    # node counts tuned for relative accuracy ~1e-10 (heavier tails need a wider grid)
    ns = 32 if df >= 20 else 48 if df >= 10 else 64 if df >= 5 else 128 if df >= 3 else 256
    from scipy import stats  # ~0.5 s to import: only Dunnett's integration pays it

    lo = 0.5 * np.log(stats.chi2.ppf(1e-16, df) / df)
    hi = 0.5 * np.log(stats.chi2.isf(1e-16, df) / df)
    w = np.linspace(lo, hi, ns)
    s = np.exp(w)
    v = df * s * s
    # density of log S: f_V(v) dv/dlogS = f_V(v) 2 v
    wt = np.exp(stats.chi2.logpdf(v, df) + np.log(2.0 * v))
    return s, wt / wt.sum()


def _dunnett_quadrature(c: np.ndarray, lam: np.ndarray, df: float, two_sided: bool) -> np.ndarray:
    """``P(max_j |T_j| >= c_k)`` (or ``P(max_j T_j >= c_k)``) for one-factor correlations.

    With ``Z_j = lam_j Z_0 + sqrt(1 - lam_j^2) E_j`` and ``T = Z / S`` the probability is a 2-D
    integral over ``Z_0`` and ``S``; conditionally on them the ``T_j`` are independent. Both
    integrals use the trapezoidal rule (exponentially convergent for these smooth, rapidly
    decaying integrands); the complement ``1 - prod(1 - q_j)`` is formed with log1p/expm1 so
    small p-values keep their relative precision. Relative accuracy ~1e-10.
    """
    n, K = c.shape
    sig = np.sqrt(1.0 - lam * lam)
    s, ws = _dunnett_nodes_s(df)
    L = 8.0  # N(0,1) mass beyond 8 is ~1e-15
    # Trapezoid error for an entire integrand ~ exp(-2 pi y / h) times its growth at Im z = y;
    # the product of K normal cdfs with slopes lam/sig grows like exp(y^2 K max(lam/sig)^2 / 2),
    # which gives this step (checked empirically: relative error < 1e-10).
    h = 0.9 / np.sqrt(1.0 + K * float(np.max(lam * lam / (sig * sig))))
    if two_sided:
        # integrand symmetric in Z_0: integrate over [0, L] only
        z = np.linspace(0.0, L, int(np.ceil(L / h)) + 1)
        wz = np.exp(-0.5 * z * z)
        wz[0] *= 0.5
    else:
        z = np.linspace(-L, L, int(np.ceil(2 * L / h)) + 1)
        wz = np.exp(-0.5 * z * z)
    wz /= wz.sum()
    out = np.empty((n, K))
    per_row = K * K * s.size * z.size
    step = max(1, _CHUNK_ELEMENTS // per_row)
    for a in range(0, n, step):
        b = min(n, a + step)
        # Phi(x) = erfc(-x / sqrt 2) / 2; scaling the small factors first keeps the work on the
        # big (n, Kh, S, Z, Kj) array to a few elementwise operations
        root2sig = np.sqrt(2.0) * sig[a:b, None, None, None, :]
        cs = c[a:b, :, None, None, None] * s[None, None, :, None, None] / root2sig  # (n,Kh,S,1,Kj)
        lz = lam[a:b, None, None, None, :] * z[None, None, None, :, None] / root2sig  # (n,1,1,Z,Kj)
        with np.errstate(all="ignore"):
            if two_sided:
                q = 0.5 * (special.erfc(cs - lz) + special.erfc(cs + lz))
            else:
                q = 0.5 * special.erfc(cs - lz)
            g = -np.expm1(np.sum(np.log1p(-np.minimum(q, 1.0)), axis=-1))
        out[a:b] = np.einsum("nhsz,s,z->nh", g, ws, wz)
    return np.clip(out, 0.0, 1.0)


def _dunnett_qmc(
    c: np.ndarray, corr: np.ndarray, df: float, two_sided: bool, log2_points: int = 12
) -> np.ndarray:
    """Same probabilities as :func:`_dunnett_quadrature` for a general correlation matrix.

    Genz's separation-of-variables algorithm for the multivariate t (Genz & Bretz 2009,
    ch. 4) on a fixed scrambled Sobol point set (``2**log2_points`` points, seed 0:
    deterministic), vectorised over replicates and hypotheses. Absolute accuracy ~1e-5 with
    4096 points.
    """
    from scipy import stats  # ~0.5 s to import: only Dunnett's integration pays it

    n, K = c.shape
    out = np.full((n, K), np.nan)
    # Cholesky of the whole batch fails if one matrix is not positive definite: screen first
    pd = np.linalg.eigvalsh(corr)[:, 0] > 1e-10
    if not np.any(pd):
        return out
    rows = np.flatnonzero(pd)
    L = np.linalg.cholesky(corr[rows])
    finite_df = np.isfinite(df)
    dims = K if finite_df else K - 1
    sobol = stats.qmc.Sobol(dims, scramble=True, rng=np.random.default_rng(0))
    w = sobol.random_base2(log2_points)
    if finite_df:
        s = np.sqrt(stats.chi2.ppf(w[:, 0], df) / df)
        w = w[:, 1:]
    else:
        s = np.ones(w.shape[0])
    tiny = np.finfo(float).tiny
    res = np.empty((rows.size, K))
    step = max(1, _CHUNK_ELEMENTS // (4 * K * s.size))
    for a in range(0, rows.size, step):
        b = min(rows.size, a + step)
        Lc = L[a:b]
        upper = c[rows[a:b], :, None] * s[None, None, :]  # (n, Kh, N)
        lower = -upper if two_sided else np.full_like(upper, -np.inf)
        prob = np.ones_like(upper)
        ys: list[np.ndarray] = []
        with np.errstate(all="ignore"):
            for k in range(K):
                shift = sum(Lc[:, k, j, None, None] * ys[j] for j in range(k)) if k else 0.0
                lkk = Lc[:, k, k, None, None]
                d = special.ndtr((lower - shift) / lkk)
                e = special.ndtr((upper - shift) / lkk)
                prob *= e - d
                if k < K - 1:
                    u = np.clip(d + w[None, None, :, k] * (e - d), tiny, 1.0 - 1e-16)
                    ys.append(special.ndtri(u))
        res[a:b] = 1.0 - prob.mean(axis=2)
    out[rows] = np.clip(res, 0.0, 1.0)
    return out


def dunnett(
    statistic: np.ndarray,
    df: np.ndarray | float,
    corr: np.ndarray,
    alternative: str = "two-sided",
) -> np.ndarray:
    """Single-step Dunnett adjusted p-values for K treatment-vs-control t statistics.

    The adjusted p of comparison k is ``P(max_j |T_j| >= |t_k|)`` (two-sided),
    ``P(max_j T_j >= t_k)`` ("greater") or ``P(min_j T_j <= t_k)`` ("less") with ``T``
    multivariate t with ``df`` degrees of freedom and correlation ``corr``.

    Computation is deterministic. When the correlation has one-factor structure
    ``corr_ij = lam_i lam_j`` — always for K = 2, and for K > 2 e.g. for group-mean comparisons
    without covariates — the probability is a 2-D integral evaluated by the trapezoidal rule
    (vectorised over replicates; relative accuracy ~1e-10).
    Otherwise (K >= 3 with covariates) Genz's separation-of-variables algorithm is used on a
    fixed scrambled Sobol point set (seed 0), also vectorised over replicates; when the
    correlation is close to one-factor (as for ANCOVA with covariates, where it deviates by
    ~1e-6..1e-3) the nearest one-factor matrix serves as a control variate, giving absolute
    accuracy ~1e-7..1e-6, otherwise ~1e-5. (``scipy.stats.multivariate_t.cdf`` would need a
    Python loop over replicates and hypotheses and is ~100 times slower.) K = 1 reduces
    exactly to the unadjusted p-value.

    Parameters
    ----------
    statistic : (R, K) or (K,) float
        t statistics (e.g. ``ancova(...).statistic``). NaN entries are ignored: the remaining
        comparisons of that row are adjusted among themselves (with the corresponding
        sub-matrix of ``corr``) and the NaN entries stay NaN.
    df : float or (R,) or (R, K)
        Degrees of freedom (``inf`` for z statistics); for ``(R, K)`` (e.g.
        ``ancova(...).df``) the values of a row must agree (one model per row) and NaN entries
        are ignored.
    corr : (K, K) or (R, K, K)
        Correlation (a covariance such as ``ancova(...).extra["cov"]`` is also accepted: it is
        normalised with :func:`cov_to_corr`).
    alternative : {"two-sided", "less", "greater"}

    Returns
    -------
    (R, K) (or (K,)) float
        Adjusted p-values.

    References
    ----------
    Dunnett CW (1955). A multiple comparison procedure for comparing several treatments with a
    control. J Am Stat Assoc 50:1096-1121.
    Genz A, Bretz F (2009). Computation of Multivariate Normal and t Probabilities. Springer.
    """
    _check_alternative(alternative)
    t, flat = _as_pmatrix(statistic)
    R, K = t.shape
    df_arr = np.asarray(df, dtype=float)
    if df_arr.ndim == 2:
        df_arr = np.fmax.reduce(df_arr, axis=1)  # all equal within a row; NaN-ignoring
    df_arr = np.broadcast_to(df_arr, (R,)).astype(float)
    corr = np.asarray(corr, dtype=float)
    if corr.shape[-2:] != (K, K):
        raise ValueError(f"corr must have shape ({K}, {K}) or (R, {K}, {K}), got {corr.shape}")
    corr = np.broadcast_to(cov_to_corr(corr), (R, K, K))

    out = np.full((R, K), np.nan)
    row_ok = ~np.isnan(df_arr) & (df_arr > 0)
    present = ~np.isnan(t)
    two_sided = alternative == "two-sided"
    # the "less" tail is the "greater" tail of -T (same correlation)
    c = np.abs(t) if two_sided else (t if alternative == "greater" else -t)
    patterns = np.unique(present[row_ok], axis=0) if np.any(row_ok) else np.empty((0, K), bool)
    for pat in patterns:
        rows = np.flatnonzero(row_ok & np.all(present == pat, axis=1))
        cols = np.flatnonzero(pat)
        if cols.size == 0:
            continue
        if cols.size == 1:
            out[rows, cols[0]] = p_from_t(t[rows, cols[0]], df_arr[rows], alternative)
            continue
        sub = corr[rows][:, cols][:, :, cols]
        finite = np.all(np.isfinite(sub), axis=(1, 2))
        rows, sub = rows[finite], sub[finite]
        csub = c[rows][:, cols]
        lam, one = _one_factor(sub)
        res = np.empty((rows.size, cols.size))
        for dfv in np.unique(df_arr[rows[one]]):
            m = np.flatnonzero(one & (df_arr[rows] == dfv))
            res[m] = _dunnett_quadrature(csub[m], lam[m], float(dfv), two_sided)
        if np.any(~one):
            lam_near, dev = _nearest_one_factor(sub)
            near = ~one & (dev <= 0.05)
            for dfv in np.unique(df_arr[rows[~one]]):
                this = df_arr[rows] == dfv
                # near one-factor (e.g. ANCOVA with covariates): the nearest one-factor matrix
                # is a control variate -- its probability is known accurately by quadrature
                # and its QMC error is almost the same as that of the actual matrix
                m = np.flatnonzero(near & this)
                if m.size:
                    approx = lam_near[m, :, None] * lam_near[m, None, :]
                    idx = np.arange(cols.size)
                    approx[:, idx, idx] = 1.0
                    res[m] = (
                        _dunnett_quadrature(csub[m], lam_near[m], float(dfv), two_sided)
                        + _dunnett_qmc(csub[m], sub[m], float(dfv), two_sided, 10)
                        - _dunnett_qmc(csub[m], approx, float(dfv), two_sided, 10)
                    )
                m = np.flatnonzero(~one & ~near & this)
                if m.size:
                    res[m] = _dunnett_qmc(csub[m], sub[m], float(dfv), two_sided)
        out[np.ix_(rows, cols)] = res
    return out[0] if flat else out


def adjust(
    p: np.ndarray,
    method: str,
    *,
    statistic: np.ndarray | None = None,
    df: np.ndarray | float | None = None,
    corr: np.ndarray | None = None,
    alternative: str = "two-sided",
) -> np.ndarray:
    """Multiplicity-adjusted p-values ``(R, K)`` by ``method``.

    Parameters
    ----------
    p : (R, K) float
        Unadjusted p-values (one row per replicate).
    method : {"none", "holm", "hochberg", "bonferroni", "dunnett"}
        ``"dunnett"`` needs ``statistic``, ``df`` and ``corr`` (see :func:`dunnett`) and
        ignores ``p`` except that NaN entries of ``p`` stay NaN.
    statistic, df, corr, alternative
        Passed to :func:`dunnett`.
    """
    if method == "none":
        return np.array(p, dtype=float)
    if method == "holm":
        return holm(p)
    if method == "hochberg":
        return hochberg(p)
    if method == "bonferroni":
        return bonferroni(p)
    if method == "dunnett":
        if statistic is None or df is None or corr is None:
            raise ValueError("method='dunnett' needs statistic, df and corr")
        stat = np.where(np.isnan(np.asarray(p, dtype=float)), np.nan, statistic)
        return dunnett(stat, df, corr, alternative)
    raise ValueError(
        f"method must be one of 'none', 'holm', 'hochberg', 'bonferroni', 'dunnett'; got {method!r}"
    )
