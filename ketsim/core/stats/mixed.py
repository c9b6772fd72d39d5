"""REML linear mixed models fitted to many replicate trials at once: MMRM and crossover.

The Monte Carlo engine analyses hundreds or thousands of simulated trials, so nothing here loops
over replicates in Python. Each model is reduced to small per-replicate sufficient statistics
(cross-products per missing-data pattern for the MMRM, per-patient means and within-patient
cross-products for the crossover model) and the REML iterations run on stacked arrays with one
leading axis per replicate.

* :func:`mmrm` -- mixed model for repeated measures: visit-specific intercepts and treatment
  effects (+ covariates), unstructured / AR(1) / compound-symmetry covariance across visits,
  REML by Newton steps on an approximate observed information (average-information fallback,
  Gilmour et al. 1995) with step halving.
* :func:`crossover` -- Jones & Kenward crossover model: period, treatment, sequence (and
  optionally first-order carry-over) fixed effects, random patient intercept, REML with the
  variance ratio profiled out, a vectorised golden-section search polished by a regula-falsi
  root of the analytic derivative.

Both return a :class:`ketsim.core.stats.estimates.Estimate` (treatment minus control). A replicate
whose
fit is undefined (too few patients, an arm with no data, a singular design, no convergence)
gets NaN results and ``converged=False``; it never raises and never emits numpy warnings.

References
----------
.. [Mallinckrodt2008] Mallinckrodt CH, Lane PW, Schnell D, Peng Y, Mancuso JP. Recommendations
   for the primary analysis of continuous endpoints in longitudinal clinical trials. Drug Inf J
   2008;42:303-19.
.. [JonesKenward2014] Jones B, Kenward MG. Design and Analysis of Cross-Over Trials, 3rd ed.
   Boca Raton: CRC Press; 2014 (chapters 2-5: the model with period, treatment, carry-over and
   random subject effects; recovery of between-subject information).
.. [Gilmour1995] Gilmour AR, Thompson R, Cullis BR. Average information REML: an efficient
   algorithm for variance parameter estimation in linear mixed models. Biometrics
   1995;51:1440-50.
.. [Jennrich1986] Jennrich RI, Schluchter MD. Unbalanced repeated-measures models with
   structured covariance matrices. Biometrics 1986;42:805-20.
.. [Pinheiro1996] Pinheiro JC, Bates DM. Unconstrained parametrizations for variance-covariance
   matrices. Stat Comput 1996;6:289-96.
.. [Murray2016] Murray I. Differentiation of the Cholesky decomposition. arXiv:1602.07527
   (2016) (tangent map dL = L Phi(L^-1 dSigma L^-T)).
.. [SAS] SAS/STAT User's Guide, PROC MIXED: DDFM=BETWITHIN and TYPE=UN/AR(1)/CS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketsim.core.stats.estimates import ALTERNATIVES, Estimate, p_from_t, wald_estimate

__all__ = ["COVARIANCES", "crossover", "mmrm"]

#: Covariance structures accepted by :func:`mmrm`.
COVARIANCES = ("unstructured", "ar1", "compound_symmetry")

# Relative pivot below which a (scaled) cross-product matrix counts as singular.
_SINGULAR_RTOL = 1e-10
# Step halvings tried before a Newton / scoring step is declared a failure.
_MAX_HALVINGS = 30
# Largest working-array size (float64 elements) per chunk of replicates in the MMRM.
_CHUNK_ELEMENTS = 6_000_000


# ------------------------------------------------------------------------------------------------
# Small batched linear-algebra helpers (never raise, report failures per matrix)
# ------------------------------------------------------------------------------------------------


def _mT(a: np.ndarray) -> np.ndarray:
    """Contiguous transpose of the last two axes (stacked matmul is only fast on contiguous
    operands: numpy falls back to a slow non-BLAS loop for strided ones)."""
    return np.ascontiguousarray(np.swapaxes(a, -1, -2))


def _cholesky(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched lower Cholesky factor of ``a`` (..., n, n) and a per-matrix success flag.

    ``np.linalg.cholesky`` raises for the whole stack if one matrix is not positive definite,
    so on failure we fall back to a per-matrix loop (rare: only degenerate replicates get here,
    and they are dropped from the active set afterwards). Failed matrices get an identity factor.
    """
    n = a.shape[-1]
    flat = a.reshape(-1, n, n)
    finite = np.isfinite(flat).all(axis=(1, 2))
    if not finite.all():
        flat = np.where(finite[:, None, None], flat, np.eye(n))
    try:
        low = np.linalg.cholesky(flat)
        ok = finite.copy()
    except np.linalg.LinAlgError:
        low = np.empty_like(flat)
        ok = finite.copy()
        for i, m in enumerate(flat):
            try:
                low[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                low[i] = np.eye(n)
                ok[i] = False
    diag = np.diagonal(low, axis1=1, axis2=2)
    ok &= np.isfinite(diag).all(axis=1) & (diag > 0).all(axis=1)
    low = np.where(ok[:, None, None], low, np.eye(n))
    return low.reshape(a.shape), ok.reshape(a.shape[:-2])


def _spd_inverse(a: np.ndarray, rtol: float = _SINGULAR_RTOL):
    """Inverse and log-determinant of a stack of symmetric positive (semi)definite matrices.

    The matrix is scaled to unit diagonal first so that the singularity test (smallest squared
    Cholesky pivot of the correlation-scaled matrix below ``rtol``) is independent of the units
    of the columns (an intercept next to a baseline pain score, ...).

    Returns ``(inverse, logdet, ok)``; where ``ok`` is False the inverse is an identity
    placeholder and the log-determinant NaN.
    """
    n = a.shape[-1]
    d2 = np.diagonal(a, axis1=-2, axis2=-1)
    okd = np.isfinite(d2).all(axis=-1) & (d2 > 0).all(axis=-1)
    d = np.sqrt(np.where(okd[..., None], d2, 1.0))
    scaled = a / (d[..., :, None] * d[..., None, :])
    scaled = np.where(okd[..., None, None], scaled, np.eye(n))
    low, ok = _cholesky(scaled)
    piv = np.diagonal(low, axis1=-2, axis2=-1)
    ok &= okd & (piv.min(axis=-1) ** 2 > rtol)
    low = np.where(ok[..., None, None], low, np.eye(n))
    linv = np.linalg.inv(low)
    inv = (_mT(linv) @ linv) / (d[..., :, None] * d[..., None, :])
    logdet = 2.0 * (np.log(np.diagonal(low, axis1=-2, axis2=-1)).sum(-1) + np.log(d).sum(-1))
    inv = np.where(ok[..., None, None], inv, np.eye(n))
    logdet = np.where(ok, logdet, np.nan)
    return inv, logdet, ok


def _group_sum(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum ``values`` (N, ...) over rows sharing ``group`` (N,) -> (n_groups, ...)."""
    out = np.zeros((n_groups, *values.shape[1:]), dtype=float)
    if values.shape[0] == 0:
        return out
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    out[g[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out


def _slots(rep: np.ndarray, n_rep: int) -> tuple[np.ndarray, int]:
    """Position of each item among the items of its replicate (0, 1, ...) and the maximum count."""
    if rep.size == 0:
        return np.zeros(0, dtype=np.int64), 1
    order = np.argsort(rep, kind="stable")
    r = rep[order]
    counts = np.bincount(r, minlength=n_rep)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    slot = np.empty(rep.size, dtype=np.int64)
    slot[order] = np.arange(rep.size) - first[r]
    return slot, max(1, int(counts.max()))


def _check_common(rep, n_rep: int, n_rows: int, alternative: str, conf_level: float):
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    if not 0.0 < conf_level < 1.0:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    n_rep = int(n_rep)
    if n_rep < 0:
        raise ValueError("n_rep must be >= 0")
    rep = np.asarray(rep)
    if rep.shape != (n_rows,):
        raise ValueError(f"rep must have shape ({n_rows},), got {rep.shape}")
    if rep.size and not np.issubdtype(rep.dtype, np.integer):
        if not np.all(np.mod(rep, 1) == 0):
            raise ValueError("rep must hold integers")
    rep = rep.astype(np.int64)
    if rep.size and (rep.min() < 0 or rep.max() >= n_rep):
        raise ValueError("rep values must lie in [0, n_rep)")
    return rep, n_rep


def _int_codes(a, name: str, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(a)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if a.size and not np.issubdtype(a.dtype, np.integer):
        if not np.all(np.isfinite(a)) or not np.all(np.mod(a, 1) == 0):
            raise ValueError(f"{name} must hold integer codes")
    a = a.astype(np.int64)
    if a.size and a.min() < 0:
        raise ValueError(f"{name} codes must be >= 0")
    return a


@dataclass
class _PatternStats:
    """Sufficient statistics per replicate and missing-data pattern slot (padded).

    For the patients of replicate r sharing observed-visit mask ``mask[r, u]`` (missing outcomes
    set to 0): ``n`` patients, ``sxx = sum x x'`` (b, b), ``syx = sum y x'`` (V, b) and
    ``syy = sum y y'`` (V, V), where x is the patient-level design vector (1, group dummies,
    covariates). Empty slots have ``n = 0``, zero sums and an all-observed mask so that they
    contribute nothing and keep every padded covariance block positive definite.
    """

    n: np.ndarray
    mask: np.ndarray
    sxx: np.ndarray
    syx: np.ndarray
    syy: np.ndarray

    def take(self, idx, u: int | None = None) -> _PatternStats:
        """Replicates ``idx``, keeping the first ``u`` pattern slots (all if None)."""
        s = slice(None) if u is None else slice(0, u)
        return _PatternStats(
            self.n[idx, s], self.mask[idx, s], self.sxx[idx, s], self.syx[idx, s], self.syy[idx, s]
        )


def _pattern_stats(y0, mask, x, rep, n_rep) -> _PatternStats:
    """Group patients by (replicate, observed-visit mask) and sum their cross-products."""
    n_pat, n_vis = y0.shape
    b = x.shape[1]
    if n_vis <= 40 and n_rep < 2 ** (62 - n_vis):
        # One int64 key per patient: replicate and the visit mask as bits (fast 1-D unique).
        bits = mask.astype(np.int64) @ (np.int64(1) << np.arange(n_vis, dtype=np.int64))
        ukey, inv = np.unique(rep * (np.int64(1) << n_vis) + bits, return_inverse=True)
        u_rep = ukey >> n_vis
        u_mask = ((ukey[:, None] >> np.arange(n_vis)) & 1).astype(bool)
    else:
        uniq, inv = np.unique(np.column_stack([rep, mask]), axis=0, return_inverse=True)
        u_rep, u_mask = uniq[:, 0], uniq[:, 1:].astype(bool)
    inv = inv.reshape(-1)
    n_u = u_rep.size
    slot, u_max = _slots(u_rep, n_rep)
    cnt = np.bincount(inv, minlength=n_u).astype(float)
    sxx = _group_sum((x[:, :, None] * x[:, None, :]).reshape(n_pat, b * b), inv, n_u)
    syx = _group_sum((y0[:, :, None] * x[:, None, :]).reshape(n_pat, n_vis * b), inv, n_u)
    syy = _group_sum((y0[:, :, None] * y0[:, None, :]).reshape(n_pat, n_vis * n_vis), inv, n_u)
    st = _PatternStats(
        n=np.zeros((n_rep, u_max)),
        mask=np.ones((n_rep, u_max, n_vis), dtype=bool),
        sxx=np.zeros((n_rep, u_max, b, b)),
        syx=np.zeros((n_rep, u_max, n_vis, b)),
        syy=np.zeros((n_rep, u_max, n_vis, n_vis)),
    )
    st.n[u_rep, slot] = cnt
    st.mask[u_rep, slot] = u_mask
    st.sxx[u_rep, slot] = sxx.reshape(n_u, b, b)
    st.syx[u_rep, slot] = syx.reshape(n_u, n_vis, b)
    st.syy[u_rep, slot] = syy.reshape(n_u, n_vis, n_vis)
    return st


@dataclass
class _Fit:
    """REML quantities at one covariance value for a stack of replicates."""

    ok: np.ndarray
    loglik: np.ndarray
    beta: np.ndarray
    cinv: np.ndarray
    grad_sigma: np.ndarray | None = None  # dl/dSigma (entries treated as independent)
    w: np.ndarray | None = None  # W_u: padded inverse of the observed block
    s_u: np.ndarray | None = None  # W_u (sum_i r_i r_i') W_u
    b_u: np.ndarray | None = None  # n_u W_u / 2 - W_u M_u W_u (expected-information part)
    y_u: np.ndarray | None = None  # W_u sum_i r_i x_i'

    _FIELDS = ("ok", "loglik", "beta", "cinv", "grad_sigma", "w", "s_u", "b_u", "y_u")

    def take(self, idx) -> _Fit:
        return _Fit(*(getattr(self, f)[idx] for f in self._FIELDS))

    def put(self, idx, other: _Fit) -> None:
        for f in self._FIELDS:
            getattr(self, f)[idx] = getattr(other, f)


def _emul(a: np.ndarray, emat: np.ndarray | None) -> np.ndarray:
    return a if emat is None else a @ emat


def _mmrm_eval(sigma: np.ndarray, st: _PatternStats, emat: np.ndarray | None, grad: bool) -> _Fit:
    """Restricted log-likelihood (without the 2 pi constant), GLS fit and its gradient pieces.

    With W_u the inverse of the observed block of ``sigma`` padded with zeros, every GLS and REML
    term is a contraction of W_u with the pattern sums: X'WX = E' [sum_u W_u (x) Sxx_u] E,
    X'Wy = E' vec(sum_u W_u Syx_u), y'Wy = sum_u tr(W_u Syy_u), where E maps the
    visit-by-patient-vector layout to the model's coefficients (None = identity).
    """
    n_rep, n_u, n_vis = st.mask.shape
    b = st.sxx.shape[-1]
    vb = n_vis * b
    mm = st.mask[..., :, None] & st.mask[..., None, :]
    # Missing rows/columns replaced by the identity: the inverse is then block diagonal, i.e. the
    # observed-block inverse padded with zeros once masked.
    sig_u = np.where(mm, sigma[:, None], np.eye(n_vis))
    low, ok_u = _cholesky(sig_u)
    ok = ok_u.all(axis=1)
    linv = np.linalg.inv(low)
    w = np.where(mm, _mT(linv) @ linv, 0.0)
    logdet_u = 2.0 * np.log(np.diagonal(low, axis1=-2, axis2=-1)).sum(-1)

    wt = _mT(w.reshape(n_rep, n_u, n_vis * n_vis))  # (R, V^2, U)
    kron = wt @ st.sxx.reshape(n_rep, n_u, b * b)
    kron = kron.reshape(n_rep, n_vis, n_vis, b, b).transpose(0, 1, 3, 2, 4).reshape(n_rep, vb, vb)
    c_mat = kron if emat is None else emat.T @ kron @ emat
    c_vec = _emul((w @ st.syx).sum(axis=1).reshape(n_rep, vb), emat)
    ywy = np.einsum("ruvw,ruvw->r", w, st.syy)
    cinv, logdet_c, ok_c = _spd_inverse(c_mat)
    ok &= ok_c
    beta = np.einsum("rij,rj->ri", cinv, c_vec)
    quad = ywy - np.einsum("ri,ri->r", beta, c_vec)
    loglik = -0.5 * ((st.n * logdet_u).sum(axis=1) + logdet_c + quad)
    ok &= np.isfinite(loglik)
    fit = _Fit(ok=ok, loglik=np.where(ok, loglik, np.nan), beta=beta, cinv=cinv)
    if not grad:
        return fit

    # Residual cross-products per pattern from the sums: r_i = y_i - F x_i (F is V x b).
    coef = beta if emat is None else beta @ emat.T
    fmap = coef.reshape(n_rep, 1, n_vis, b)
    srx = st.syx - fmap @ st.sxx  # sum r x'
    r_u = st.syy - st.syx @ _mT(fmap) - fmap @ _mT(srx)
    s_u = w @ r_u @ w  # W_u (sum r r') W_u; W's zero rows/cols mask the unobserved entries
    # tr(C^-1 X'W dSigma W X) = tr(dSigma sum_u W_u M_u W_u), M_u[v,w] = sum_kl H[vk,wl] Sxx_u[kl]
    h = cinv if emat is None else emat @ cinv @ emat.T
    h = h.reshape(n_rep, n_vis, b, n_vis, b).transpose(0, 2, 4, 1, 3).reshape(n_rep, b * b, -1)
    m_u = (st.sxx.reshape(n_rep, n_u, b * b) @ np.ascontiguousarray(h)).reshape(w.shape)
    wmw = w @ m_u @ w
    n_w = st.n[..., None, None] * w
    fit.grad_sigma = -0.5 * (n_w - wmw - s_u).sum(axis=1)
    fit.w = w
    fit.s_u = s_u
    fit.b_u = 0.5 * n_w - wmw
    fit.y_u = w @ srx
    return fit


def _info_unstructured(fit: _Fit, emat, ia: np.ndarray, ib: np.ndarray, newton: bool):
    """Score and information matrix in the free elements sigma_j of Sigma (lower triangle,
    j = (ia, ib)): approximate observed information if ``newton``, else average information.

    Sigma is linear in sigma_j, so the negative REML Hessian is exactly 2 AI - FI, with the
    average information AI_jk = 1/2 y'P S_j P S_k P y [Gilmour1995] and the expected information
    FI_jk = 1/2 tr(P S_j P S_k), S_j = dSigma/dsigma_j. With q_j = S_j P y:
    q_j'P q_k = q_j'W q_k - (X'W q_j)' C^-1 (X'W q_k). For elementary S_j = e_a e_b' the first
    term is sum_u W_u[a,c] (W R W)_u[b,d] -- a sum of Kronecker products, one batched matmul --
    and X'W q_j has (v,k) entry sum_u W_u[v,a] (W sum r x')_u[b,k]. FI is approximated by
    1/2 sum_u tr(S_j W_u S_k (n_u W_u - 2 W_u M_u W_u)), i.e. without the positive semidefinite
    term 1/2 tr(C^-1 X'W S_j W X C^-1 X'W S_k W X) of relative size O(p/N): the Newton matrix is
    then never smaller than the exact one and the iterations converge linearly at a rate of
    about p/N. Symmetric elements add the (a,b) and (b,a) terms.
    """
    w, y_u = fit.w, fit.y_u
    n_rep, n_u, n_vis, _ = w.shape
    b = y_u.shape[-1]
    v2 = n_vis * n_vis
    wt = _mT(w.reshape(n_rep, n_u, v2))
    rhs = fit.s_u - fit.b_u if newton else fit.s_u
    o = (wt @ rhs.reshape(n_rep, n_u, v2)).reshape(n_rep, v2 * v2)  # [(a,c),(b,d)]
    a_, b_ = ia[:, None], ib[:, None]
    c_, d_ = ia[None, :], ib[None, :]

    def flat(i, j, k, m):
        return (i * n_vis + j) * v2 + k * n_vis + m

    half = np.where(ia == ib, 0.5, 1.0)
    # T[a,b,c,d] = O[a,c,b,d], summed over (a,b),(b,a) x (c,d),(d,c).
    idx = (flat(a_, c_, b_, d_), flat(b_, c_, a_, d_), flat(a_, d_, b_, c_), flat(b_, d_, a_, c_))
    t = sum(np.take(o, i, axis=1) for i in idx) * (half[:, None] * half[None, :])
    z = (wt @ y_u.reshape(n_rep, n_u, n_vis * b)).reshape(n_rep, n_vis, n_vis, n_vis, b)
    z = z[:, :, ia, ib, :] + z[:, :, ib, ia, :]  # (R, v, j, k)
    z = z.transpose(0, 2, 1, 3).reshape(n_rep, ia.size, n_vis * b)
    z = _emul(z, emat) * half[:, None]
    zcz = z @ fit.cinv @ _mT(z)
    info = t - zcz if newton else 0.5 * (t - zcz)
    g = fit.grad_sigma
    score = (g + np.swapaxes(g, 1, 2))[:, ia, ib] * half
    return score, info


def _info_structured(fit: _Fit, emat, derivs, newton: bool):
    """Score and information for a few parameters, ``derivs = (dSigma/dtheta, d2Sigma/dtheta2)``.

    The Newton matrix is the approximate observed information of :func:`_info_unstructured` in
    the chain rule J' H J plus the curvature term -sum_ab (dl/dSigma_ab) d2Sigma_ab/dtheta2.
    """
    dsig, d2sig = derivs
    w = fit.w
    n_rep = w.shape[0]
    score = np.einsum("rvw,rjvw->rj", fit.grad_sigma, dsig)
    rhs = fit.s_u - fit.b_u if newton else fit.s_u
    a = dsig[:, :, None] @ w[:, None]  # S_j W_u
    t = np.einsum("rjuab,rkuba->rjk", a, dsig[:, :, None] @ rhs[:, None])
    z = (w[:, None] @ dsig[:, :, None] @ fit.y_u[:, None]).sum(axis=2)
    z = _emul(z.reshape(n_rep, dsig.shape[1], -1), emat)
    zcz = z @ fit.cinv @ _mT(z)
    if not newton:
        return score, 0.5 * (t - zcz)
    return score, t - zcz - np.einsum("rvw,rjkvw->rjk", fit.grad_sigma, d2sig)


def _structured_sigma(cov: str, theta: np.ndarray, n_vis: int):
    """Sigma(theta) and its first and second derivatives for AR(1) and compound symmetry.

    AR(1): theta = (log sigma^2, atanh rho), Sigma_ab = sigma^2 rho^|a-b| (equally spaced visits).
    CS: theta = (log sigma^2, logit((rho - lo)/(1 - lo))), lo = -1/(V-1), Sigma = sigma^2 [(1-rho)I
    + rho J]; like SAS TYPE=CS the common covariance may be negative (down to PD's limit).
    """
    s2 = np.exp(theta[:, 0])[:, None, None]
    eta = theta[:, 1][:, None, None]
    idx = np.arange(n_vis)
    lag = np.abs(idx[:, None] - idx[None, :])
    if cov == "ar1":
        rho = np.tanh(eta)
        one = 1.0 - rho**2
        corr = rho**lag
        dcorr = lag * rho ** np.maximum(lag - 1, 0) * one
        d2corr = lag * one * ((lag - 1) * rho ** np.maximum(lag - 2, 0) * one - 2.0 * corr)
    else:
        lo = -1.0 / max(n_vis - 1, 1)
        e = 1.0 / (1.0 + np.exp(-eta))
        rho = lo + (1.0 - lo) * e
        off = (lag > 0).astype(float)
        corr = np.eye(n_vis) + rho * off
        dcorr = off * (1.0 - lo) * e * (1.0 - e)
        d2corr = dcorr * (1.0 - 2.0 * e)
    sigma = s2 * corr
    dsig = np.stack([sigma, s2 * dcorr], axis=1)
    d2sig = np.stack([dsig, np.stack([s2 * dcorr, s2 * d2corr], axis=1)], axis=1)
    return sigma, (dsig, d2sig)


def _start_values(st: _PatternStats, emat: np.ndarray):
    """Moment estimate of Sigma from the residuals of the identity-covariance (OLS) fit.

    Pairwise-available residual cross-products (the complete-case moment estimate when data are
    complete), visit variances with the per-visit residual df, correlations shrunk towards the
    identity so that the smallest eigenvalue is at least 0.1.
    """
    n_rep, _, n_vis = st.mask.shape
    b = st.sxx.shape[-1]
    eye = np.broadcast_to(np.eye(n_vis), (n_rep, n_vis, n_vis))
    fit = _mmrm_eval(eye, st, emat, grad=False)
    coef = fit.beta if emat is None else fit.beta @ emat.T
    fmap = coef.reshape(n_rep, 1, n_vis, b)
    srx = st.syx - fmap @ st.sxx
    r_u = st.syy - st.syx @ _mT(fmap) - fmap @ _mT(srx)
    mm = (st.mask[..., :, None] & st.mask[..., None, :]) & (st.n > 0)[..., None, None]
    rsum = np.where(mm, r_u, 0.0).sum(axis=1)
    cnt = (mm * st.n[..., None, None]).sum(axis=1)
    cov = np.where(cnt > 0, rsum / np.maximum(cnt, 1.0), 0.0)
    nv = np.diagonal(cnt, axis1=1, axis2=2)
    var = np.diagonal(rsum, axis1=1, axis2=2) / np.maximum(nv - b, 1.0)
    good = np.isfinite(var) & (var > 0)
    fill = np.where(good, var, 0.0).sum(1) / np.maximum(good.sum(1), 1)
    fill = np.where(fill > 0, fill, 1.0)
    var = np.where(good, var, fill[:, None])
    dv = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    corr = cov / (dv[:, :, None] * dv[:, None, :])
    corr = np.where(np.isfinite(corr), np.clip(corr, -0.99, 0.99), 0.0)
    corr[:, np.arange(n_vis), np.arange(n_vis)] = 1.0
    lam = np.linalg.eigvalsh(corr)[:, 0]
    f = np.where(lam < 0.1, 0.9 / (1.0 - lam), 1.0)
    corr = f[:, None, None] * corr + (1.0 - f[:, None, None]) * np.eye(n_vis)
    sd = np.sqrt(var)
    return sd[:, :, None] * corr * sd[:, None, :], corr, var, fit.ok


def _phi(x: np.ndarray) -> np.ndarray:
    """Lower triangle with halved diagonal (the Cholesky tangent-map projection)."""
    out = np.tril(x)
    idx = np.arange(x.shape[-1])
    out[..., idx, idx] *= 0.5
    return out


def _chol_update(low: np.ndarray, dlow: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Step ``s`` along ``dlow`` in the (log-diagonal) Cholesky parameterisation."""
    idx = np.arange(low.shape[-1])
    d = np.diagonal(low, axis1=1, axis2=2)
    dd = np.diagonal(dlow, axis1=1, axis2=2)
    new = low + s[:, None, None] * np.tril(dlow, -1)
    new[:, idx, idx] = d * np.exp(np.clip(s[:, None] * dd / d, -30.0, 30.0))
    return new


def _solve(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched ``a x = rhs`` (rhs (R, n)) on the unit-diagonal scaled system; NaN where
    singular (``np.linalg.solve`` raises for the whole stack, so fall back to a loop)."""
    n = a.shape[-1]
    d2 = np.diagonal(a, axis1=-2, axis2=-1)
    okd = np.isfinite(d2).all(axis=-1) & (d2 > 0).all(axis=-1)
    okd &= np.isfinite(a).all(axis=(1, 2)) & np.isfinite(rhs).all(axis=-1)
    d = np.sqrt(np.where(okd[:, None], d2, 1.0))
    scaled = np.where(okd[:, None, None], a / (d[:, :, None] * d[:, None, :]), np.eye(n))
    rhs_s = np.where(okd[:, None], rhs / d, 0.0)[:, :, None]
    try:
        x = np.linalg.solve(scaled, rhs_s)[:, :, 0]
    except np.linalg.LinAlgError:
        x = np.full(rhs.shape, np.nan)
        for i in range(a.shape[0]):
            try:
                x[i] = np.linalg.solve(scaled[i], rhs_s[i])[:, 0]
            except np.linalg.LinAlgError:
                pass
    return np.where(okd[:, None], x / d, np.nan)


def _mmrm_fit_chunk(st, emat, cov, max_iter, tol):
    """REML by Newton / average-information scoring with step halving for a chunk of replicates."""
    n_rep, _, n_vis = st.mask.shape
    sigma0, corr0, var0, ok0 = _start_values(st, emat)
    unstructured = cov == "unstructured"
    ia, ib = np.tril_indices(n_vis)
    if unstructured:
        theta, _ = _cholesky(sigma0)
    else:
        off = ~np.eye(n_vis, dtype=bool)
        s2 = var0.mean(axis=1)
        if cov == "ar1":
            lag1 = np.diagonal(corr0, offset=1, axis1=1, axis2=2).mean(axis=1)
            eta = np.arctanh(np.clip(lag1, -0.9, 0.9))
        else:
            lo = -1.0 / (n_vis - 1)
            rho = np.clip(corr0[:, off].mean(axis=1), lo + 0.05 * (1 - lo), 0.9)
            e = (rho - lo) / (1.0 - lo)
            eta = np.log(e / (1.0 - e))
        theta = np.column_stack([np.log(s2), eta])

    def sigma_of(th):
        if unstructured:
            return th @ _mT(th), None
        return _structured_sigma(cov, th, n_vis)

    def step_to(th, step, s):
        if unstructured:
            return _chol_update(th, step, s)
        return th + s[:, None] * step

    def info(fit, dsig, newton):
        if unstructured:
            return _info_unstructured(fit, emat, ia, ib, newton)
        return _info_structured(fit, emat, dsig, newton)

    def ascent(score, mat):
        delta = _solve(mat, score)
        dec = np.einsum("ri,ri->r", score, delta)
        return delta, dec, np.isfinite(dec) & (dec >= 0)

    converged = np.zeros(n_rep, dtype=bool)
    failed = ~ok0
    n_iter = np.zeros(n_rep, dtype=np.int64)
    active = np.flatnonzero(~failed)
    if active.size:  # (a chunk may hold only degenerate replicates)
        sig, dsig = sigma_of(theta[active])
        fit = _mmrm_eval(sig, st.take(active), emat, grad=True)
    for _ in range(max_iter):
        if active.size == 0:
            break
        sub = st.take(active)
        th = theta[active]
        _, dsig = sigma_of(th)
        # Newton on the near-exact observed information; where that is not an ascent direction,
        # the average information (positive semidefinite, a Fisher-scoring-like step).
        score, mat = info(fit, dsig, newton=True)
        delta, dec, ok_step = ascent(score, mat)
        alt = np.flatnonzero(~ok_step & fit.ok)
        if alt.size:
            d_alt = None if dsig is None else tuple(d[alt] for d in dsig)
            s_alt, m_alt = info(fit.take(alt), d_alt, newton=False)
            delta[alt], dec[alt], ok_step[alt] = ascent(s_alt, m_alt)
        bad = ~(fit.ok & ok_step)
        done = ~bad & (dec < tol)
        n_iter[active] += 1
        converged[active[done]] = True
        failed[active[bad]] = True
        move = ~bad & ~done
        if unstructured:
            # Step for Sigma mapped to the Cholesky factor: dL = L Phi(L^-1 dSigma L^-T).
            dsg = np.zeros((active.size, n_vis, n_vis))
            dsg[:, ia, ib] = np.where(move[:, None], delta, 0.0)
            dsg[:, ib, ia] = dsg[:, ia, ib]
            linv = np.linalg.inv(th)
            step = th @ _phi(linv @ dsg @ _mT(linv))
        else:
            step = np.where(move[:, None], delta, 0.0)
        # Step halving on the restricted log-likelihood, all moving replicates in parallel. The
        # trial fits carry the gradient pieces, so an accepted trial is the next iterate's fit.
        s = np.ones(active.size)
        pending = move.copy()
        ll0 = fit.loglik
        for _ in range(_MAX_HALVINGS):
            idx = np.flatnonzero(pending)
            if idx.size == 0:
                break
            cand = step_to(th[idx], step[idx], s[idx])
            sig_c, _ = sigma_of(cand)
            trial = _mmrm_eval(sig_c, sub.take(idx), emat, grad=True)
            ll_c = trial.loglik
            good = trial.ok & (ll_c >= ll0[idx] - 1e-12 * (1.0 + np.abs(ll0[idx])))
            acc = idx[good]
            theta[active[acc]] = cand[good]
            fit.put(acc, trial.take(good))
            pending[acc] = False
            s[idx[~good]] *= 0.5
        # No improving step: at the optimum up to rounding if the decrement is tiny, else failed.
        stuck = np.flatnonzero(pending)
        near = dec[stuck] < max(1e3 * tol, 1e-6)
        converged[active[stuck[near]]] = True
        failed[active[stuck[~near]]] = True
        keep = move & ~pending
        active = active[keep]
        fit = fit.take(keep)

    # Final GLS at the REML covariance.
    sig, _ = sigma_of(theta)
    fit = _mmrm_eval(sig, st, emat, grad=False)
    converged &= ~failed & fit.ok
    return fit, sig, converged, n_iter


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


# ------------------------------------------------------------------------------------------------
# Crossover
# ------------------------------------------------------------------------------------------------


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
