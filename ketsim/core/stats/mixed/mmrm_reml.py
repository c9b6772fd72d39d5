"""REML fitting machinery of the MMRM: pattern sufficient statistics, likelihood, Newton steps.

Patients of a replicate sharing a missing-data pattern are reduced to cross-product sums
(:class:`_PatternStats`); :func:`_mmrm_eval` evaluates the restricted log-likelihood, the GLS fit
and the gradient pieces from them; :func:`_info_unstructured` / :func:`_info_structured` give the
score and (approximate observed or average) information; :func:`_mmrm_fit_chunk` iterates Newton
steps with step halving for a chunk of replicates. The public :func:`mmrm` (in
:mod:`ketsim.core.stats.mixed.mmrm_model`) prepares the data and collects the results.
References are listed in :mod:`ketsim.core.stats.mixed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketsim.core.stats.mixed._linalg import _cholesky, _mT, _solve, _spd_inverse
from ketsim.core.stats.mixed._replicates import _group_sum, _slots

# Step halvings tried before a Newton / scoring step is declared a failure.
_MAX_HALVINGS = 30


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
