"""Crossover-trial mixed model (REML, random patient intercept) for every replicate at once.

:func:`crossover` reduces each replicate to within-patient cross-products and padded patient
means, profiles the residual variance out of the restricted likelihood and finds the intraclass
correlation by a vectorised golden-section search polished by an Illinois regula-falsi root of
the analytic derivative. References are listed in :mod:`ketsim.core.stats.mixed`.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.stats.estimates import Estimate, p_from_t, wald_estimate
from ketsim.core.stats.mixed._linalg import _mT, _spd_inverse
from ketsim.core.stats.mixed._replicates import _check_common, _group_sum, _int_codes, _slots

__all__ = ["crossover"]


def _golden_max(f, n_rep: int, lo: float, hi: float, n_iter: int):
    """Vectorised golden-section search for the maximum of ``f`` on [lo, hi] per replicate."""
    gr = (np.sqrt(5.0) - 1.0) / 2.0
    a = np.full(n_rep, lo)
    b = np.full(n_rep, hi)
    c = b - gr * (b - a)
    d = a + gr * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(n_iter):
        # NaN compares False, so a replicate with an undefined objective just walks right.
        left = fc > fd  # the maximum lies in [a, d]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new_x = np.where(left, b - gr * (b - a), a + gr * (b - a))
        f_new = f(new_x)
        c, d = np.where(left, new_x, d), np.where(left, c, new_x)
        fc, fd = np.where(left, f_new, fd), np.where(left, fc, f_new)
    return 0.5 * (a + b)


def _illinois_root(f, lo: np.ndarray, hi: np.ndarray, x0: np.ndarray, n_iter: int = 30):
    """Vectorised Illinois (modified regula falsi) root of a decreasing ``f`` in [lo, hi].

    Replicates without a sign change (f(lo) > 0 > f(hi)) keep ``x0``.
    """
    a, b = lo.copy(), hi.copy()
    fa, fb = f(a), f(b)
    live = (fa > 0) & (fb < 0)
    x = x0.copy()
    side = np.zeros(a.size)
    for _ in range(n_iter):
        if not live.any():
            break
        xn = np.where(live, (a * fb - b * fa) / (fb - fa), x)
        fx = f(xn)
        x = np.where(live, xn, x)
        up = live & (fx > 0)  # root in [xn, b]
        dn = live & (fx < 0)
        fb = np.where(up & (side == -1), 0.5 * fb, fb)
        fa = np.where(dn & (side == 1), 0.5 * fa, fa)
        a, fa = np.where(up, xn, a), np.where(up, fx, fa)
        b, fb = np.where(dn, xn, b), np.where(dn, fx, fb)
        side = np.where(up, -1, np.where(dn, 1, side))
        live &= (fx != 0) & np.isfinite(fx) & (b - a > 1e-15)
    return x


def crossover(
    y,
    treatment,
    sequence,
    rep,
    n_rep: int,
    *,
    control: int = 0,
    carryover: bool = False,
    alternative: str = "two-sided",
    conf_level: float = 0.95,
) -> Estimate:
    """Crossover-trial mixed model (REML) for every replicate at once [JonesKenward2014].

    ``y_ij = mu + pi_j + tau_d(i,j) [+ lambda_d(i,j-1)] + psi_s(i) + s_i + e_ij`` with period
    effects ``pi``, direct treatment effects ``tau`` (control = 0), optional first-order
    carry-over ``lambda`` of the treatment given in the previous period (periods >= 1; carry-over
    of the control treatment = 0), fixed sequence effects ``psi``, a random patient intercept
    ``s_i ~ N(0, sigma_b^2)`` and ``e_ij ~ N(0, sigma^2)``. With missing periods the random
    intercept recovers between-patient information; with complete data from a design balanced
    for treatments within patients the estimates equal the within-patient (patient-as-fixed) OLS
    estimates.

    Parameters
    ----------
    y : (P, J) array
        Outcome per period (NaN = missing). Patients with no observed period are dropped.
    treatment : (P, J) int array
        Treatment code 0..K-1 given in each period (also for missing outcomes: it still matters
        for the next period's carry-over).
    sequence : (P,) int array
        Sequence (randomisation group) code; sequences absent from a replicate are dropped.
    rep, n_rep : (P,) int array, int
        Replicate of each patient in ``[0, n_rep)``.
    control : int
        Treatment code of the reference (e.g. placebo).
    carryover : bool
        Include first-order carry-over effects. Then the direct treatment effects are estimated
        from fewer (within-patient) comparisons and their SEs grow; in two-period designs with
        sequence effects (AB/BA) carry-over is aliased with sequence and every replicate is
        NaN / not converged.
    alternative, conf_level
        See :mod:`ketsim.core.stats.estimates`.

    Returns
    -------
    Estimate
        Treatment k - control for the K-1 non-control codes in increasing order: shape (R, K-1),
        squeezed to (R,) when K = 2. SEs are model-based ``sigma^2 (X'V^-1 X)^-1``. ``df`` is the
        within-patient residual df ``n_obs - n_patients - (J-1) - (K-1) [- (K-1) carry-over]``
        counting only effects present in the replicate. ``extra``: ``sigma2_within``,
        ``sigma2_between``, ``loglik`` (restricted, with constants), ``n_patients``, ``n_obs``;
        with ``carryover``: ``carryover_estimate``, ``carryover_se``, ``carryover_p`` (same shape
        as the estimate; p-values for ``alternative``, on the same t df).

    Notes
    -----
    With compound-symmetric covariance ``sigma^2 (I + gamma J)`` within a patient with n_i
    observed periods, ``V_i^-1 = (I - J/n_i) + J / (n_i (1 + n_i gamma))``: the GLS cross-products
    are the within-patient cross-products plus the patient means weighted by
    ``n_i / (1 + n_i gamma)``. ``sigma^2`` is profiled out of the restricted likelihood and the
    intraclass correlation ``gamma / (1 + gamma)`` in [0, 1) is found by a golden-section search
    run on all replicates in parallel, then polished to machine precision by an Illinois
    regula-falsi root of the analytic derivative (golden section alone resolves a smooth
    maximum only to ~sqrt(eps)). The between-patient variance is constrained to be >= 0, as in
    a random-intercept model; the maximum may be on that boundary. A replicate where no
    patient gets a treatment, or with no within-patient df, is NaN; absent sequences, periods
    or carry-over columns are dropped from that replicate's design.

    References
    ----------
    Jones B, Kenward MG. Design and Analysis of Cross-Over Trials, 3rd ed. Boca Raton: CRC Press;
    2014 (the model with period, direct treatment and first-order carry-over effects, random
    subject effects and the recovery of between-subject information).
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 2:
        raise ValueError(f"y must be a (P, J) array, got shape {y.shape}")
    n_pat, n_per = y.shape
    rep, n_rep = _check_common(rep, n_rep, n_pat, alternative, conf_level)
    treatment = _int_codes(treatment, "treatment", (n_pat, n_per))
    sequence = _int_codes(sequence, "sequence", (n_pat,))
    if control < 0 or (treatment.size and not (treatment == control).any()):
        raise ValueError(f"control code {control} does not occur in treatment")
    n_trt = max(int(treatment.max()) + 1 if treatment.size else 2, control + 1, 2)
    n_seq = int(sequence.max()) + 1 if sequence.size else 1
    others = np.array([k for k in range(n_trt) if k != control])
    n_cmp = others.size

    with np.errstate(all="ignore"):
        obs = np.isfinite(y)
        keep = obs.any(axis=1)
        y, obs, treatment, sequence, rep = (
            y[keep],
            obs[keep],
            treatment[keep],
            sequence[keep],
            rep[keep],
        )
        n_keep = rep.size
        pid, per = np.nonzero(obs)  # one row per observed outcome
        yo = y[pid, per]
        ro = rep[pid]

        # Design: intercept | periods 1.. | treatments != control | sequences 1.. | carry-over.
        cols = [np.ones((pid.size, 1))]
        cols.append((per[:, None] == np.arange(1, n_per)[None, :]).astype(float))
        trt_o = treatment[pid, per]
        cols.append((trt_o[:, None] == others[None, :]).astype(float))
        cols.append((sequence[pid][:, None] == np.arange(1, n_seq)[None, :]).astype(float))
        if carryover:
            prev = np.where(per > 0, treatment[pid, np.maximum(per - 1, 0)], control)
            cols.append(((prev[:, None] == others[None, :]) & (per[:, None] > 0)).astype(float))
        xo = np.concatenate(cols, axis=1)
        p = xo.shape[1]
        j_trt = 1 + (n_per - 1) + np.arange(n_cmp)
        j_co = 1 + (n_per - 1) + n_cmp + (n_seq - 1) + np.arange(n_cmp)
        counted = np.zeros(p, dtype=bool)  # parameters in the within-patient df
        counted[1:n_per] = True
        counted[j_trt] = True
        if carryover:
            counted[j_co] = True

        # Centre y per replicate (absorbed by the intercept).
        n_obs = np.bincount(ro, minlength=n_rep).astype(float)
        yo = yo - (np.bincount(ro, weights=yo, minlength=n_rep) / np.maximum(n_obs, 1))[ro]

        # Patient means and within-patient deviations.
        n_i = np.bincount(pid, minlength=n_keep).astype(float)
        xbar = _group_sum(xo, pid, n_keep) / n_i[:, None]
        ybar = np.bincount(pid, weights=yo, minlength=n_keep) / n_i
        xw = xo - xbar[pid]
        yw = yo - ybar[pid]
        a_w = _group_sum((xw[:, :, None] * xw[:, None, :]).reshape(-1, p * p), ro, n_rep)
        a_w = a_w.reshape(n_rep, p, p)
        c_w = _group_sum(xw * yw[:, None], ro, n_rep)
        s_w = np.bincount(ro, weights=yw * yw, minlength=n_rep)
        present = _group_sum(xo * xo, ro, n_rep) > 0  # (R, p) column has data
        p_r = present.sum(axis=1)

        # Patients padded per replicate for the gamma-dependent between-patient part.
        slot, n_max = _slots(rep, n_rep)
        nb = np.zeros((n_rep, n_max))
        xb = np.zeros((n_rep, n_max, p))
        yb = np.zeros((n_rep, n_max))
        nb[rep, slot] = n_i
        xb[rep, slot] = xbar
        yb[rep, slot] = ybar
        n_patients = np.bincount(rep, minlength=n_rep)
        fill = np.where(present, 0.0, 1.0)
        dof_reml = n_obs - p_r

        def reml(gamma, slope=False):
            wt = nb / (1.0 + nb * gamma[:, None])
            xwt = xb * wt[:, :, None]
            c = a_w + _mT(xwt) @ xb
            # Absent columns (e.g. a sequence nobody was randomised to in this replicate) get a
            # unit diagonal: their coefficient is 0 and they drop out of the determinant.
            c = c + fill[:, :, None] * np.eye(p)
            rhs = c_w + np.einsum("rij,ri->rj", xwt, yb)
            yvy = s_w + (wt * yb * yb).sum(axis=1)
            cinv, logdet, ok = _spd_inverse(c)
            beta = np.einsum("rij,rj->ri", cinv, rhs)
            quad = yvy - np.einsum("ri,ri->r", beta, rhs)
            ll = -0.5 * (
                np.log1p(nb * gamma[:, None]).sum(axis=1) + logdet + dof_reml * np.log(quad)
            )
            ok &= np.isfinite(ll) & (quad > 0) & (dof_reml > 0)
            if slope:
                # dl/dgamma: dw/dgamma = -w^2, dC = -sum w^2 xbar xbar', dQ = -sum w^2 e^2 with
                # e the between-patient residual ybar - xbar'beta.
                w2 = wt * wt
                e = yb - np.einsum("rij,rj->ri", xb, beta)
                tr = np.einsum("ri,rij,rjk,rik->r", w2, xb, cinv, xb)
                return -0.5 * (wt.sum(axis=1) - tr - dof_reml * (w2 * e * e).sum(axis=1) / quad)
            return np.where(ok, ll, np.nan), beta, cinv, quad, ok

        def objective(icc):
            return reml(icc / (1.0 - icc))[0]

        def slope(icc):  # same sign as dl/dicc (dgamma/dicc > 0)
            return reml(icc / (1.0 - icc), slope=True)

        top = 1.0 - 1e-9
        icc = _golden_max(objective, n_rep, 0.0, top, 32)
        # Golden section resolves a smooth maximum only to ~sqrt(machine eps); polish by finding
        # the root of the analytic derivative (Illinois regula falsi) in a bracket around it.
        icc = _illinois_root(
            slope, np.clip(icc - 1e-5, 0.0, top), np.clip(icc + 1e-5, 0.0, top), icc
        )
        # The search never lands exactly on the boundary: keep gamma = 0 if it is better.
        zero = np.zeros(n_rep)
        f0, f1 = objective(zero), objective(icc)
        icc = np.where(np.isfinite(f0) & ~(f1 > f0), zero, icc)
        gamma = icc / (1.0 - icc)
        ll, beta, cinv, quad, ok = reml(gamma)
        s2 = quad / dof_reml
        cov_b = s2[:, None, None] * cinv
        se_all = np.sqrt(np.diagonal(cov_b, axis1=1, axis2=2))
        df = n_obs - n_patients - (present & counted).sum(axis=1)
        ok &= (n_patients > 0) & present[:, 0]
        ok &= np.isfinite(s2) & (s2 > 0) & (df > 0)
        # A comparison is undefined if its treatment column has no data in the replicate.
        est = np.where(present[:, j_trt], beta[:, j_trt], np.nan)
        se = np.where(present[:, j_trt], se_all[:, j_trt], np.nan)
        conv = ok[:, None] & np.isfinite(est) & np.isfinite(se)
        loglik = ll - 0.5 * dof_reml * (1.0 + np.log(2.0 * np.pi) - np.log(dof_reml))
        extra = {
            "sigma2_within": np.where(ok, s2, np.nan),
            "sigma2_between": np.where(ok, gamma * s2, np.nan),
            "loglik": np.where(ok, loglik, np.nan),
            "n_patients": n_patients,
            "n_obs": n_obs.astype(np.int64),
        }
        if carryover:
            co = np.where(ok[:, None] & present[:, j_co], beta[:, j_co], np.nan)
            co_se = np.where(ok[:, None] & present[:, j_co], se_all[:, j_co], np.nan)
            co_p = p_from_t(co / co_se, np.where(df > 0, df, 1.0)[:, None], alternative)
            co_p = np.where(np.isfinite(co) & np.isfinite(co_se) & (co_se > 0), co_p, np.nan)
            sq = (lambda a: a[:, 0]) if n_cmp == 1 else (lambda a: a)
            extra["carryover_estimate"] = sq(co)
            extra["carryover_se"] = sq(co_se)
            extra["carryover_p"] = sq(co_p)
        dfk = np.repeat(df.astype(float)[:, None], n_cmp, axis=1)

    if n_cmp == 1:
        est, se, dfk, conv = est[:, 0], se[:, 0], dfk[:, 0], conv[:, 0]
    return wald_estimate(
        est,
        se,
        dfk,
        conv,
        alternative=alternative,
        conf_level=conf_level,
        name="crossover",
        scale="difference",
        statistic_name="t",
        extra=extra,
    )
