"""Batched linear algebra for the mixed models: stacks of matrices, failures flagged per matrix.

Transposes, Cholesky factors, inverses with log-determinants of symmetric positive (semi)definite
matrices and linear solves, all over a leading replicate axis. None of them raises for the whole
stack when one matrix is degenerate: the matrix gets a placeholder and a False flag (or NaN).
"""

from __future__ import annotations

import numpy as np

# Relative pivot below which a (scaled) cross-product matrix counts as singular.
_SINGULAR_RTOL = 1e-10


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
