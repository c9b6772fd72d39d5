"""Linear models per replicate: ordinary least squares and ANCOVA.

Per-replicate ``X'X`` and ``X'y`` are grouped sums and the ``(R, k, k)`` systems are solved in one
batched call; :func:`ols` tests chosen coefficients, :func:`ancova` builds the treatment,
covariate and stratum design and returns the adjusted differences against the control.
Conventions are those of :mod:`ketsim.core.stats`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ketsim.core.stats._batched import (
    _ZERO_SS,
    _as_1d_float,
    _as_design,
    _as_int_array,
    _check_alternative,
    _check_conf_level,
    _coef_index,
    _group_codes,
    _grouped_crossprod,
    _grouped_xty,
    _rep_index,
    _sym_inverse,
)
from ketsim.core.stats.estimates import Estimate, wald_estimate

__all__ = ["ancova", "ols"]


def _ols_fit(y: np.ndarray, X: np.ndarray, r: np.ndarray, n_rep: int) -> dict[str, np.ndarray]:
    """Batched OLS on complete cases; returns params, (X'X)^-1, sigma2, df, n, ok per replicate."""
    keep = np.isfinite(y) & np.all(np.isfinite(X), axis=1)
    y, X, r = y[keep], X[keep], r[keep]
    k = X.shape[1]
    xtx = _grouped_crossprod(X, r, n_rep)
    xty = _grouped_xty(X, y, r, n_rep)
    xtx_inv, nonsingular = _sym_inverse(xtx)
    with np.errstate(all="ignore"):
        params = np.einsum("rij,rj->ri", xtx_inv, xty)
        # residuals computed directly (not y'y - b'X'y) to avoid cancellation
        resid = y - np.einsum("pk,pk->p", X, params[r])
        ssr = np.bincount(r, resid * resid, minlength=n_rep)
        ssr[ssr <= _ZERO_SS * np.bincount(r, y * y, minlength=n_rep)] = 0.0  # perfect fit
        n = np.bincount(r, minlength=n_rep).astype(float)
        # full-rank replicates only (rank-deficient ones are flagged), so rank = k
        df = n - k
        sigma2 = ssr / df
    ok = nonsingular & (df >= 1) & np.isfinite(sigma2) & (sigma2 > 0)
    return {
        "params": params,
        "xtx_inv": xtx_inv,
        "sigma2": sigma2,
        "df": df,
        "n": n,
        "ok": ok,
    }


def _ols_estimate(
    fit: dict[str, np.ndarray],
    coef: int | Sequence[int],
    *,
    alternative: str,
    conf_level: float,
    name: str,
    extra: dict | None = None,
) -> Estimate:
    k = fit["params"].shape[1]
    idx, scalar = _coef_index(coef, k)
    with np.errstate(all="ignore"):
        cov = fit["sigma2"][:, None, None] * fit["xtx_inv"][:, idx][:, :, idx]
        se = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    est = fit["params"][:, idx]
    df = np.broadcast_to(fit["df"][:, None], est.shape)
    ok = fit["ok"]
    cov = np.where(ok[:, None, None], cov, np.nan)
    out_extra = {
        "cov": cov,
        "params": np.where(ok[:, None], fit["params"], np.nan),
        "sigma2": np.where(ok, fit["sigma2"], np.nan),
        "n": fit["n"],
        **(extra or {}),
    }
    if scalar:
        est, se, df = est[:, 0], se[:, 0], df[:, 0]
    return wald_estimate(
        est,
        se,
        df,
        ok,
        alternative=alternative,
        conf_level=conf_level,
        name=name,
        scale="difference",
        statistic_name="t",
        extra=out_extra,
    )


def ols(
    y: np.ndarray,
    X: np.ndarray,
    rep: np.ndarray,
    n_rep: int,
    *,
    coef: int | list[int] = 1,
    alternative: str = "two-sided",
    conf_level: float = 0.95,
) -> Estimate:
    """Ordinary least squares per replicate, t-tests of selected coefficients.

    ``X'X`` and ``X'y`` are accumulated per replicate by grouped sums and the ``(R, k, k)``
    systems are solved in one batched call.

    Parameters
    ----------
    y : (P,) float
        Outcome; NaN = missing. Patients with a non-finite ``y`` or any non-finite ``X`` entry
        are dropped (complete case).
    X : (P, k) float
        Design matrix; include the intercept column yourself.
    rep, n_rep
        Replicate of each patient and number of replicates R.
    coef : int or list of int
        Column(s) of ``X`` to test. An int gives ``(R,)`` results, a list of K ints ``(R, K)``.
    alternative, conf_level
        See :mod:`ketsim.core.stats.estimates`.

    Returns
    -------
    Estimate
        t statistics with ``df = n_r - k``. ``extra["cov"]`` is the ``(R, K, K)`` covariance
        matrix of the requested coefficients (``K = 1`` for an int ``coef``),
        ``extra["params"]`` all ``(R, k)`` coefficients, ``extra["sigma2"]`` the residual
        variance and ``extra["n"]`` the number of complete cases. Rank-deficient replicates
        (numerically singular ``X'X``, e.g. a stratum dummy that is constant within the
        replicate), replicates with ``n_r <= k`` and perfect fits are NaN / not converged.
        ``converged`` has shape ``(R,)`` (one model per replicate).
    """
    _check_alternative(alternative)
    _check_conf_level(conf_level)
    y = _as_1d_float(y, "y")
    X = _as_design(X, y.size)
    r = _rep_index(rep, n_rep, y.size)
    fit = _ols_fit(y, X, r, n_rep)
    return _ols_estimate(fit, coef, alternative=alternative, conf_level=conf_level, name="ols")


def _dummies(codes: np.ndarray) -> np.ndarray:
    """Treatment-coded dummy columns of integer codes, lowest level as reference."""
    codes = _as_int_array(codes, "strata")
    if codes.ndim == 1:
        codes = codes[:, None]
    cols = []
    for j in range(codes.shape[1]):
        levels = np.unique(codes[:, j])
        cols.extend((codes[:, j] == lev).astype(float) for lev in levels[1:])
    if not cols:
        return np.empty((codes.shape[0], 0))
    return np.stack(cols, axis=1)


def ancova(
    y: np.ndarray,
    group: np.ndarray,
    covariates: np.ndarray | None,
    rep: np.ndarray,
    n_rep: int,
    *,
    strata: np.ndarray | None = None,
    n_groups: int | None = None,
    alternative: str = "two-sided",
    conf_level: float = 0.95,
) -> Estimate:
    """Analysis of covariance ``y ~ 1 + treatment + covariates + strata`` per replicate.

    Parameters
    ----------
    y : (P,) float
        Outcome (e.g. end-of-treatment pain); NaN = missing.
    group : (P,) int
        Group codes ``0..G-1``; 0 is the control. Each non-control group gets an indicator
        column.
    covariates : (P,) or (P, q) float or None
        Continuous covariates (e.g. baseline pain); a patient with a NaN covariate is dropped.
    rep, n_rep
        Replicate of each patient and number of replicates R.
    strata : (P,) or (P, m) int, optional
        Categorical factors (integer codes); each enters as dummy columns with its lowest
        level as reference.
    n_groups : int, optional
        Number of groups G (default ``max(group) + 1``, at least 2); fixes the output shape.
    alternative, conf_level
        See :mod:`ketsim.core.stats.estimates`.

    Returns
    -------
    Estimate
        Adjusted differences group g minus control from one model with a common residual
        variance: shape ``(R,)`` for two groups, ``(R, G-1)`` otherwise. ``extra["cov"]`` is the
        ``(R, G-1, G-1)`` covariance of these differences (for :func:`dunnett`, via
        :func:`cov_to_corr`). A replicate where some group or stratum level is absent (or a
        stratum dummy is constant) has a singular design and is NaN / not converged.

    References
    ----------
    Fisher RA (1932). Statistical Methods for Research Workers, 4th ed. Oliver & Boyd.
    EMA (2015). Guideline on adjustment for baseline covariates in clinical trials.
    EMA/CHMP/295050/2013.
    """
    _check_alternative(alternative)
    _check_conf_level(conf_level)
    y = _as_1d_float(y, "y")
    P = y.size
    r = _rep_index(rep, n_rep, P)
    g_raw = _as_int_array(group, "group")
    if n_groups is None:
        n_groups = max(2, int(g_raw.max()) + 1 if g_raw.size else 2)
    g = _group_codes(g_raw, P, n_groups)
    cols = [np.ones((P, 1)), (g[:, None] == np.arange(1, n_groups)[None, :]).astype(float)]
    if covariates is not None:
        cols.append(_as_design(covariates, P))
    if strata is not None:
        s = np.asarray(strata)
        if s.shape[0] != P:
            raise ValueError(f"strata must have {P} rows, got shape {s.shape}")
        cols.append(_dummies(s))
    X = np.concatenate(cols, axis=1)
    fit = _ols_fit(y, X, r, n_rep)
    coef: int | list[int] = 1 if n_groups == 2 else list(range(1, n_groups))
    return _ols_estimate(
        fit,
        coef,
        alternative=alternative,
        conf_level=conf_level,
        name="ancova",
        extra={"n_groups": n_groups},
    )
