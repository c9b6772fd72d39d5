"""Mixed model for repeated measures (MMRM) fitted to every replicate trial at once.

:func:`mmrm` validates and centres the data, builds the per-pattern sufficient statistics and the
mean-model map, fits the replicates in chunks with :mod:`ketsim.core.stats.mixed.mmrm_reml` and
returns the treatment effect at one visit. References are listed in
:mod:`ketsim.core.stats.mixed`.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.stats.estimates import Estimate, wald_estimate
from ketsim.core.stats.mixed._replicates import _check_common, _group_sum, _int_codes
from ketsim.core.stats.mixed.mmrm_reml import _mmrm_fit_chunk, _pattern_stats

__all__ = ["COVARIANCES", "mmrm"]


#: Covariance structures accepted by :func:`mmrm`.
COVARIANCES = ("unstructured", "ar1", "compound_symmetry")

# Largest working-array size (float64 elements) per chunk of replicates in the MMRM.
_CHUNK_ELEMENTS = 6_000_000


def mmrm(
    y,
    group,
    covariates,
    rep,
    n_rep: int,
    *,
    covariance: str = "unstructured",
    visit: int = -1,
    covariate_by_visit: bool = True,
    alternative: str = "two-sided",
    conf_level: float = 0.95,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> Estimate:
    """Mixed model for repeated measures (REML), fitted to every replicate trial at once.

    Mean model (per replicate): visit-specific intercepts, visit-specific effects of each
    treatment group versus group 0, and the patient-level covariates (a separate slope per visit
    if ``covariate_by_visit``, else one common slope). Within-patient covariance across visits:
    unstructured, AR(1) or compound symmetry; patients independent. This is the primary
    analysis recommended for longitudinal trials with dropout [Mallinckrodt2008]; it is valid
    under missing-at-random.

    Parameters
    ----------
    y : (P, V) array
        Outcome at V scheduled visits (e.g. change from baseline in weekly mean pain); NaN =
        missing (monotone dropout or intermittent). Patients with no observed visit, or with a
        non-finite covariate, are dropped.
    group : (P,) int array
        0 = control, 1 = treatment; codes 0..G-1 give G-1 comparisons against group 0.
    covariates : (P, q) array or None
        Patient-level covariates (e.g. baseline pain); ``q = 0`` or None for none. They are
        centred within each replicate (this changes only the intercepts).
    rep, n_rep : (P,) int array, int
        Replicate of each patient, in ``[0, n_rep)``; patients may be in any order.
    covariance : {"unstructured", "ar1", "compound_symmetry"}
        Unstructured: V(V+1)/2 parameters, log-Cholesky parameterisation [Pinheiro1996]. AR(1):
        ``sigma^2 rho^|i-j|`` in the visit index (equally spaced visits). Compound symmetry:
        ``sigma^2 [(1-rho) I + rho J]``; like SAS ``TYPE=CS`` the correlation may be negative
        (it is bounded below only by positive definiteness, -1/(V-1)).
    visit : int
        Index of the visit whose treatment effect is the estimate (default: last).
    covariate_by_visit : bool
        Covariate-by-visit interaction (default) or a common slope.
    alternative, conf_level
        See :mod:`ketsim.core.stats.estimates`.
    max_iter, tol
        Maximum iterations and convergence tolerance on the Newton decrement ``g' H^-1 g``
        (about twice the remaining gain in restricted log-likelihood). The default 1e-10 puts
        the estimates within ~1e-5 standard errors of the exact REML solution.

    Returns
    -------
    Estimate
        Treatment - control at ``visit``: shape (R,) with two groups, (R, G-1) with G > 2.
        Standard errors are model-based, ``(X' Sigma^-1 X)^-1`` at the REML covariance (no
        Kenward-Roger adjustment). ``df`` is the between-within residual df, the analogue of SAS
        ``DDFM=BETWITHIN`` for a model whose mean parameters are all between-patient effects
        within a visit: number of patients with at least one observed visit minus ``G + q``
        (intercept, G-1 group effects and q covariates; also with common slopes). ``extra`` holds
        ``visit_estimate`` and ``visit_se`` ((R, V), or (R, V, G-1)), ``covariance`` (R, V, V)
        REML estimate, ``loglik`` (restricted log-likelihood including the 2 pi constant),
        ``n_iter`` and ``n_patients``.

    Notes
    -----
    Patients with the same missing-data pattern in a replicate share the inverse of their
    observed covariance block, so each REML iteration needs only per-pattern cross-products:
    the cost is (replicates x patterns x V^4) for the unstructured information matrix and does
    not depend on the number of patients. The unstructured covariance is parameterised by its
    log-Cholesky factor [Pinheiro1996]. Each iteration takes a Newton step for the elements of
    Sigma using 2 AI - FI (average information AI [Gilmour1995], expected information FI
    without its O(p/N) second-order REML term), falls back to AI where that is not an ascent
    direction, maps the step to the Cholesky factor with the tangent map [Murray2016] and halves
    it until the restricted likelihood increases. AR(1) and CS use the same matrices through
    the chain rule (plus the curvature term). The start is the moment estimate from the OLS
    residuals. With complete data, unstructured covariance and covariates by visit the GLS
    estimates equal per-visit OLS (seemingly unrelated regressions with identical regressors)
    and the REML covariance is E'E / (n - G - q).

    Patients with a non-finite covariate are dropped. Group codes must all occur in a
    replicate, else that replicate's fit is undefined (NaN).

    References
    ----------
    Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP. Recommendations for the primary
    analysis of continuous endpoints in longitudinal clinical trials. Drug Inf J 2008;42:303-19.
    Jennrich RI, Schluchter MD. Unbalanced repeated-measures models with structured covariance
    matrices. Biometrics 1986;42:805-20. Gilmour AR, Thompson R, Cullis BR. Biometrics
    1995;51:1440-50. SAS/STAT User's Guide, PROC MIXED (DDFM=BETWITHIN; TYPE=UN, AR(1), CS).
    """
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise ValueError(f"y must be a (P, V) array, got shape {y.shape}")
    n_pat, n_vis = y.shape
    if n_vis < 1:
        raise ValueError("y needs at least one visit")
    rep, n_rep = _check_common(rep, n_rep, n_pat, alternative, conf_level)
    group = _int_codes(group, "group", (n_pat,))
    if covariates is None:
        covariates = np.zeros((n_pat, 0))
    covariates = np.asarray(covariates, dtype=float)
    if covariates.ndim == 1:
        covariates = covariates[:, None]
    if covariates.ndim != 2 or covariates.shape[0] != n_pat:
        raise ValueError(f"covariates must have shape ({n_pat}, q), got {covariates.shape}")
    if not -n_vis <= visit < n_vis:
        raise ValueError(f"visit {visit} out of range for {n_vis} visits")
    visit = visit % n_vis
    if max_iter < 1:
        raise ValueError("max_iter must be >= 1")
    n_groups = max(2, int(group.max()) + 1 if group.size else 2)
    q = covariates.shape[1]
    b = n_groups + q
    # With one visit every structure is a single variance.
    cov = covariance if n_vis > 1 else "unstructured"

    with np.errstate(all="ignore"):
        obs = np.isfinite(y)
        keep = obs.any(axis=1) & np.isfinite(covariates).all(axis=1)
        y, obs, group, covariates, rep = (
            y[keep],
            obs[keep],
            group[keep],
            covariates[keep],
            rep[keep],
        )
        n_keep = rep.size
        n_patients = np.bincount(rep, minlength=n_rep)

        # Centre y per visit and covariates per replicate: absorbed by the visit intercepts, and
        # keeps the cross-product arithmetic well conditioned.
        y0 = np.where(obs, y, 0.0)
        cnt_v = _group_sum(obs.astype(float), rep, n_rep)
        mean_v = _group_sum(y0, rep, n_rep) / np.maximum(cnt_v, 1.0)
        y0 = np.where(obs, y0 - mean_v[rep], 0.0)
        if q:
            mean_c = _group_sum(covariates, rep, n_rep) / np.maximum(n_patients, 1)[:, None]
            covariates = covariates - mean_c[rep]
        x = np.zeros((n_keep, b))
        x[:, 0] = 1.0
        for g in range(1, n_groups):
            x[:, g] = group == g
        x[:, n_groups:] = covariates
        st = _pattern_stats(y0, obs, x, rep, n_rep)

        # E maps the (visit, patient-vector) layout to the coefficients.
        if covariate_by_visit:
            p = n_vis * b
            emat = None
            eff_idx = np.arange(n_vis)[:, None] * b + np.arange(1, n_groups)[None, :]
        else:
            p = n_vis * n_groups + q
            emat = np.zeros((n_vis * b, p))
            for v in range(n_vis):
                for k in range(n_groups):
                    emat[v * b + k, v * n_groups + k] = 1.0
                for j in range(q):
                    emat[v * b + n_groups + j, n_vis * n_groups + j] = 1.0
            eff_idx = np.arange(n_vis)[:, None] * n_groups + np.arange(1, n_groups)[None, :]

        df = (n_patients - b).astype(float)
        usable = (df > 0) & (n_patients > 0)

        beta = np.full((n_rep, p), np.nan)
        cinv = np.full((n_rep, p, p), np.nan)
        sigma = np.full((n_rep, n_vis, n_vis), np.nan)
        loglik = np.full(n_rep, np.nan)
        converged = np.zeros(n_rep, dtype=bool)
        n_iter = np.zeros(n_rep, dtype=np.int64)
        todo = np.flatnonzero(usable)
        # Replicates are fitted in buckets of equal pattern count, each with exactly its own
        # slots: padding a replicate with another replicate's empty slots would change the
        # length (hence the rounding) of its sums over patterns, and a replicate's fit must not
        # depend on which replicates share its batch.
        n_slots = (st.n > 0).sum(axis=1)
        for u in np.unique(n_slots[todo]):
            bucket = todo[n_slots[todo] == u]
            per_rep = u * (3 * n_vis * n_vis + 2 * n_vis * b) + p * p
            if cov == "unstructured":
                per_rep += 3 * n_vis**4 + 4 * n_vis * n_vis * p
            else:
                per_rep += 6 * u * n_vis * n_vis
            chunk = max(1, _CHUNK_ELEMENTS // per_rep)
            for start in range(0, bucket.size, chunk):
                idx = bucket[start : start + chunk]
                sub = st.take(idx, int(u))
                fit, sig, conv, nit = _mmrm_fit_chunk(sub, emat, cov, max_iter, tol)
                beta[idx] = fit.beta
                cinv[idx] = fit.cinv
                sigma[idx] = sig
                n_obs = sub.n[:, :, None] * sub.mask
                loglik[idx] = fit.loglik - 0.5 * (n_obs.sum(axis=(1, 2)) - p) * np.log(2.0 * np.pi)
                converged[idx] = conv
                n_iter[idx] = nit

        est_v = beta[:, eff_idx]  # (R, V, G-1)
        se_v = np.sqrt(np.diagonal(cinv, axis1=1, axis2=2)[:, eff_idx])
        okv = converged[:, None, None] & np.isfinite(est_v) & np.isfinite(se_v)
        est_v = np.where(okv, est_v, np.nan)
        se_v = np.where(okv, se_v, np.nan)
        sigma = np.where(converged[:, None, None], sigma, np.nan)
        loglik = np.where(converged, loglik, np.nan)

    squeeze = n_groups == 2
    est = est_v[:, visit, 0] if squeeze else est_v[:, visit]
    se = se_v[:, visit, 0] if squeeze else se_v[:, visit]
    conv_out = converged if squeeze else np.repeat(converged[:, None], n_groups - 1, axis=1)
    df_out = df if squeeze else np.repeat(df[:, None], n_groups - 1, axis=1)
    extra = {
        "visit_estimate": est_v[..., 0] if squeeze else est_v,
        "visit_se": se_v[..., 0] if squeeze else se_v,
        "covariance": sigma,
        "loglik": loglik,
        "n_iter": n_iter,
        "n_patients": n_patients,
    }
    return wald_estimate(
        est,
        se,
        df_out,
        conv_out,
        alternative=alternative,
        conf_level=conf_level,
        name="mmrm",
        scale="difference",
        statistic_name="t",
        extra=extra,
    )
