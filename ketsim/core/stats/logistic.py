"""Logistic regression per replicate: maximum likelihood and Firth's penalised likelihood.

:func:`logistic` fits every replicate at once by batched Newton-Raphson (IRLS). With
``firth=True`` it maximises Firth's penalised log-likelihood ``l(b) + 1/2 log|I(b)|`` instead
(Firth 1993), whose estimates stay finite under (quasi-)complete separation -- which small
ketamine trials with a responder endpoint reach often (in a 30-per-arm trial where most treated
patients respond, ML fails in a quarter of the replicates and each failure would count as "not
rejected"). Conventions are those of :mod:`ketsim.core.stats`.

References
----------
.. [Firth1993] Firth D. Bias reduction of maximum likelihood estimates. Biometrika
   1993;80:27-38.
.. [Heinze2002] Heinze G, Schemper M. A solution to the problem of separation in logistic
   regression. Stat Med 2002;21:2409-19.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ketsim.core.stats._batched import (
    _as_1d_float,
    _as_design,
    _check_alternative,
    _check_conf_level,
    _coef_index,
    _grouped_crossprod,
    _grouped_xty,
    _rep_index,
    _sym_inverse,
)
from ketsim.core.stats.estimates import Estimate, wald_estimate

__all__ = ["logistic"]

#: Firth iterations cap each coefficient's Newton step at this size (as logistf's ``maxstep``)
_FIRTH_MAX_STEP = 5.0


def _rep_deviance(eta: np.ndarray, y: np.ndarray, r: np.ndarray, n_rep: int) -> np.ndarray:
    """Per-replicate binomial deviance ``2 sum(log(1 + e^eta) - y eta)``, overflow-safe."""
    return 2.0 * np.bincount(r, np.logaddexp(0.0, eta) - y * eta, minlength=n_rep)


def logistic(
    yb: np.ndarray,
    X: np.ndarray,
    rep: np.ndarray,
    n_rep: int,
    *,
    coef: int | list[int] = 1,
    alternative: str = "two-sided",
    conf_level: float = 0.95,
    max_iter: int | None = None,
    tol: float = 1e-10,
    firth: bool = False,
) -> Estimate:
    """Logistic regression per replicate by batched Newton–Raphson (IRLS), Wald z tests.

    All replicates are iterated simultaneously: per-replicate gradients and Hessians
    ``(R, k, k)`` are grouped sums, the Newton systems are solved in one batched call, and a
    step is halved (up to 30 times) where it would increase a replicate's deviance (a replicate
    whose deviance still does not decrease is given up as not converged). A replicate stops
    iterating once its full Newton step is below ``tol * (1 + max|beta|)``; only the patients
    of replicates still iterating are processed.

    Parameters
    ----------
    yb : (P,) float
        Binary outcome 0/1; NaN = missing. Patients with any non-finite ``X`` entry are also
        dropped.
    X : (P, k) float
        Design matrix including the intercept column.
    rep, n_rep
        Replicate of each patient and number of replicates R.
    coef : int or list of int
        Column(s) to test (an int gives ``(R,)`` results, a list ``(R, K)``).
    alternative, conf_level
        See :mod:`ketsim.core.stats.estimates`.
    max_iter, tol
        Newton iteration limit (default 50; 200 with ``firth``, whose steps converge linearly
        near separation, where the estimate sits many capped steps from 0) and relative step
        tolerance.
    firth : bool
        Maximise Firth's penalised likelihood (:func:`_firth_fit`) instead of the likelihood.
        The SE is then from the inverse information at the penalised estimate and the test a
        Wald z, as SAS PROC LOGISTIC's ``FIRTH`` option reports by default (logistf in R uses
        profile penalised-likelihood intervals and tests instead, which differ under
        separation; not implemented). Separated replicates get finite estimates and converge.

    Returns
    -------
    Estimate
        Coefficient (log odds ratio for a treatment indicator), SE from the inverse Hessian at
        the estimate, Wald z (``df = inf``). ``extra``: ``"cov"`` ``(R, K, K)``, ``"params"``
        ``(R, k)``, ``"deviance"``, ``"n_iter"``. Replicates with (quasi-)complete separation
        (the MLE does not exist: the iteration does not converge or the Hessian becomes
        numerically singular as fitted probabilities reach 0 or 1), too few patients, or
        non-convergence within ``max_iter`` have ``converged=False`` and NaN p-values, so
        :meth:`Estimate.reject` counts them as **not rejected** (conservative for power).
        ``name`` is ``"firth_logistic"`` with ``firth=True``.

    References
    ----------
    Firth D (1993). Bias reduction of maximum likelihood estimates. Biometrika 80:27-38.
    McCullagh P, Nelder JA (1989). Generalized Linear Models, 2nd ed. Chapman & Hall.
    Albert A, Anderson JA (1984). On the existence of maximum likelihood estimates in logistic
    regression models. Biometrika 71:1-10.
    """
    _check_alternative(alternative)
    _check_conf_level(conf_level)
    yb = _as_1d_float(yb, "yb")
    X = _as_design(X, yb.size)
    r = _rep_index(rep, n_rep, yb.size)
    keep = np.isfinite(yb) & np.all(np.isfinite(X), axis=1)
    yb, X, r = yb[keep], X[keep], r[keep]
    if np.any((yb != 0) & (yb != 1)):
        raise ValueError("yb must contain only 0, 1 or NaN")
    k = X.shape[1]
    idx, scalar = _coef_index(coef, k)
    n = np.bincount(r, minlength=n_rep).astype(float)

    fit = _firth_fit if firth else _ml_fit
    if max_iter is None:
        max_iter = 200 if firth else 50
    beta, dev, converged, n_iter = fit(X, yb, r, n_rep, n > k, max_iter, tol)

    # covariance from the Hessian at the final estimates (as statsmodels' Logit)
    eta = np.einsum("pk,pk->p", X, beta[r])
    mu = special.expit(eta)
    H = _grouped_crossprod(X, r, n_rep, w=mu * (1.0 - mu))
    cov_full, nonsingular = _sym_inverse(H)
    ok = converged & nonsingular
    cov = cov_full[:, idx][:, :, idx]
    with np.errstate(all="ignore"):
        se = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    est = beta[:, idx]
    if scalar:
        est, se = est[:, 0], se[:, 0]
    return wald_estimate(
        est,
        se,
        np.inf,
        ok,
        alternative=alternative,
        conf_level=conf_level,
        name="firth_logistic" if firth else "logistic",
        scale="log odds ratio",
        statistic_name="z",
        extra={
            "cov": np.where(ok[:, None, None], cov, np.nan),
            "params": np.where(ok[:, None], beta, np.nan),
            # ML: the deviance; Firth: -2 x the penalised log-likelihood at the estimate
            "deviance": np.where(ok, dev, np.nan),
            "n_iter": n_iter,
            "n": n,
        },
    )


def _ml_fit(
    X: np.ndarray,
    yb: np.ndarray,
    r: np.ndarray,
    n_rep: int,
    active: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximum likelihood by batched Newton-Raphson with step halving on the deviance.

    Returns ``beta (R, k)``, the deviance, converged flags and iteration counts.
    """
    k = X.shape[1]
    beta = np.zeros((n_rep, k))
    eta = np.zeros(yb.size)  # linear predictor of every patient at the current beta
    dev = _rep_deviance(eta, yb, r, n_rep)
    active = active.copy()  # replicates still iterating
    converged = np.zeros(n_rep, dtype=bool)
    n_iter = np.zeros(n_rep, dtype=np.intp)
    in_set = np.zeros(n_rep, dtype=bool)
    for _ in range(max_iter):
        if not np.any(active):
            break
        # restrict the work to patients of replicates still iterating
        psel = np.flatnonzero(active[r])
        Xa, ya, ra = X[psel], yb[psel], r[psel]
        mu = special.expit(eta[psel])
        grad = _grouped_xty(Xa, ya - mu, ra, n_rep)
        H = _grouped_crossprod(Xa, ra, n_rep, w=mu * (1.0 - mu))
        act = np.flatnonzero(active)
        Hinv, nonsingular = _sym_inverse(H[act])
        # a singular Hessian while iterating = fitted probabilities at 0/1 (separation)
        active[act[~nonsingular]] = False
        act = act[nonsingular]
        if act.size == 0:
            break
        delta = np.zeros((n_rep, k))
        delta[act] = np.einsum("rij,rj->ri", Hinv[nonsingular], grad[act])
        # convergence is judged on the full Newton step, not on a halved one
        full_step = np.max(np.abs(delta[act]), axis=1)
        n_iter[act] += 1

        # step halving where the deviance would increase (rounding-level increases ignored)
        new_dev = dev.copy()
        todo = act
        pts = psel
        for _halving in range(30):
            eta_try = eta[pts] + np.einsum("pk,pk->p", X[pts], delta[r[pts]])
            new_dev[todo] = _rep_deviance(eta_try, yb[pts], r[pts], n_rep)[todo]
            eta[pts] = eta_try  # provisional; recomputed below if the step is halved again
            worse = new_dev[todo] > dev[todo] * (1.0 + 1e-12) + 1e-12
            if not np.any(worse):
                break
            todo = todo[worse]
            in_set[:] = False
            in_set[todo] = True
            pts = pts[in_set[r[pts]]]
            eta[pts] -= np.einsum("pk,pk->p", X[pts], delta[r[pts]])  # back to current beta
            delta[todo] *= 0.5
        else:
            # no decrease even after 30 halvings: give up on these replicates (not converged)
            delta[todo] = 0.0
            new_dev[todo] = dev[todo]
            active[todo] = False
        beta[act] += delta[act]
        dev[act] = new_dev[act]

        with np.errstate(all="ignore"):
            small = full_step <= tol * (1.0 + np.max(np.abs(beta[act]), axis=1))
        finite = np.all(np.isfinite(beta[act]), axis=1)
        converged[act[small & finite]] = True
        active[act[small | ~finite]] = False

    return beta, dev, converged, n_iter


def _penalised_loglik(
    X: np.ndarray, yb: np.ndarray, r: np.ndarray, n_rep: int, eta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-replicate ``l(b) + 1/2 log det I(b)`` and the information ``I = X' W X``."""
    mu = special.expit(eta)
    info = _grouped_crossprod(X, r, n_rep, w=mu * (1.0 - mu))
    sign, logdet = np.linalg.slogdet(info)
    loglik = -0.5 * _rep_deviance(eta, yb, r, n_rep)
    return np.where(sign > 0, loglik + 0.5 * logdet, -np.inf), info


def _firth_fit(
    X: np.ndarray,
    yb: np.ndarray,
    r: np.ndarray,
    n_rep: int,
    active: np.ndarray,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Firth's penalised likelihood by batched Newton steps on the modified score.

    The modified score is ``U*(b) = X' (y - mu + h (1/2 - mu))`` with ``h`` the diagonal of the
    hat matrix ``W^1/2 X I^-1 X' W^1/2`` (Firth 1993, Heinze & Schemper 2002); the step is
    ``I^-1 U*``, capped at :data:`_FIRTH_MAX_STEP` per coefficient and halved while it would
    lower the penalised log-likelihood. The Jeffreys-prior penalty goes to minus infinity as
    fitted probabilities reach 0 or 1, so the maximum is finite even for separated replicates
    (Heinze & Schemper 2002), which therefore converge too.

    Returns ``beta (R, k)``, ``-2`` x the penalised log-likelihood, converged flags and
    iteration counts.
    """
    k = X.shape[1]
    active = active.copy()
    beta = np.zeros((n_rep, k))
    eta = np.zeros(yb.size)
    pl, info = _penalised_loglik(X, yb, r, n_rep, eta)
    converged = np.zeros(n_rep, dtype=bool)
    n_iter = np.zeros(n_rep, dtype=np.intp)
    for _ in range(max_iter):
        act = np.flatnonzero(active)
        if act.size == 0:
            break
        inv, nonsingular = _sym_inverse(info[act])
        active[act[~nonsingular]] = False
        act, inv = act[nonsingular], inv[nonsingular]
        if act.size == 0:
            break
        inv_full = np.zeros((n_rep, k, k))
        inv_full[act] = inv
        psel = np.flatnonzero(active[r])
        Xa, ra = X[psel], r[psel]
        mu = special.expit(eta[psel])
        w = mu * (1.0 - mu)
        h = w * np.einsum("pk,pkl,pl->p", Xa, inv_full[ra], Xa)
        score = _grouped_xty(Xa, yb[psel] - mu + h * (0.5 - mu), ra, n_rep)
        delta = np.zeros((n_rep, k))
        delta[act] = np.einsum("rij,rj->ri", inv, score[act])
        full_step = np.max(np.abs(delta[act]), axis=1)
        big = full_step > _FIRTH_MAX_STEP
        delta[act[big]] *= (_FIRTH_MAX_STEP / full_step[big])[:, None]
        n_iter[act] += 1
        # step halving on the penalised log-likelihood (rounding-level decreases ignored)
        todo = act
        for _halving in range(30):
            trial = beta[todo] + delta[todo]
            sel = np.isin(r, todo)
            eta_try = eta.copy()
            full = np.zeros((n_rep, k))
            full[todo] = trial
            eta_try[sel] = np.einsum("pk,pk->p", X[sel], full[r[sel]])
            pl_try, info_try = _penalised_loglik(X[sel], yb[sel], r[sel], n_rep, eta_try[sel])
            better = pl_try[todo] >= pl[todo] - 1e-12 * (1.0 + np.abs(pl[todo]))
            ok = todo[better]
            beta[ok] = full[ok]
            pl[ok] = pl_try[ok]
            info[ok] = info_try[ok]
            moved = np.isin(r, ok)
            eta[moved] = eta_try[moved]
            todo = todo[~better]
            if todo.size == 0:
                break
            delta[todo] *= 0.5
        else:
            active[todo] = False  # no increase even after 30 halvings: not converged
        with np.errstate(all="ignore"):
            small = full_step <= tol * (1.0 + np.max(np.abs(beta[act]), axis=1))
        finite = np.all(np.isfinite(beta[act]), axis=1)
        converged[act[small & finite]] = True
        active[act[small | ~finite]] = False
    return beta, -2.0 * pl, converged, n_iter
