"""Input checks and per-replicate batched arithmetic shared by the replicate-trial tests.

Validation of the flat per-patient inputs (``rep``, group codes, outcomes, design matrices, the
``alternative`` and ``conf_level`` arguments), grouped sums over replicates by
:func:`numpy.bincount` (``X'WX``, ``X'v``), the batched equilibrated inverse of symmetric
cross-product matrices with its singularity test, and the numerical thresholds the tests share.
Private to :mod:`ketsim.core.stats`.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from ketsim.core.stats.estimates import ALTERNATIVES

# Upper bound on the number of float64 elements of a temporary array (pairwise differences,
# hypergeometric support, Dunnett quadrature grid). Work is chunked over replicates so memory
# stays bounded (~16 MB per temporary) however many replicates are analysed at once.
_CHUNK_ELEMENTS = 2_000_000

# A replicate's design (or Hessian) is treated as singular when the smallest eigenvalue of the
# equilibrated (unit-diagonal) cross-product matrix is below this fraction of the largest, i.e.
# the columns are collinear to ~1e-5 in correlation terms: estimates would be numerically
# meaningless, so the replicate is reported as not converged instead.
_RCOND = 1e-10

# Residual sums of squares below this fraction of sum(y^2) are rounding noise of a perfect fit
# (e.g. constant y): the variance is then treated as zero and the test as undefined, instead of
# dividing by ~1e-17 and reporting an absurd t statistic.
_ZERO_SS = 1e-24


def _check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")


def _check_conf_level(conf_level: float) -> None:
    if not 0.0 < conf_level < 1.0:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level!r}")


def _as_int_array(a: np.ndarray | Sequence, name: str) -> np.ndarray:
    """Integer codes as ``intp``; integral floats are accepted, anything else raises."""
    a = np.asarray(a)
    if a.dtype == bool:
        return a.astype(np.intp)
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.intp, copy=False)
    if np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
        return a.astype(np.intp)
    raise ValueError(f"{name} must contain integer codes")


def _rep_index(rep: np.ndarray | Sequence, n_rep: int, size: int) -> np.ndarray:
    n_rep = operator.index(n_rep)
    if n_rep < 0:
        raise ValueError(f"n_rep must be >= 0, got {n_rep}")
    r = _as_int_array(rep, "rep")
    if r.shape != (size,):
        raise ValueError(f"rep must have shape ({size},), got {r.shape}")
    if size and (r.min() < 0 or r.max() >= n_rep):
        raise ValueError(f"rep values must lie in [0, n_rep={n_rep})")
    return r


def _group_codes(group: np.ndarray | Sequence, size: int, n_groups: int = 2) -> np.ndarray:
    g = _as_int_array(group, "group")
    if g.shape != (size,):
        raise ValueError(f"group must have shape ({size},), got {g.shape}")
    if size and (g.min() < 0 or g.max() >= n_groups):
        raise ValueError(f"group codes must lie in [0, {n_groups})")
    return g


def _as_1d_float(a: np.ndarray | Sequence, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    return a


def _as_design(X: np.ndarray | Sequence, size: int) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] != size:
        raise ValueError(f"X must have shape ({size}, k), got {X.shape}")
    if X.shape[1] == 0:
        raise ValueError("X must have at least one column")
    return X


def _coef_index(coef: int | Sequence[int], k: int) -> tuple[np.ndarray, bool]:
    """Requested coefficient indices and whether a scalar (-> (R,) results) was asked for."""
    scalar = np.ndim(coef) == 0
    idx = np.atleast_1d(np.asarray(coef))
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError("coef must be an int or a non-empty list of ints")
    if np.any((idx < -k) | (idx >= k)):
        raise ValueError(f"coef {coef!r} out of range for a design with {k} columns")
    return np.mod(idx, k).astype(np.intp), scalar


def _sym_inverse(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of a batch of symmetric PSD matrices ``(R, k, k)`` with singularity flags.

    The matrices are equilibrated to unit diagonal first (``D A D``): this removes the effect
    of column scaling on the conditioning and gives a scale-free singularity test. Returns the
    inverse (NaN where singular) and a boolean ``(R,)`` "non-singular" mask.
    """
    k = A.shape[1]
    d = np.diagonal(A, axis1=1, axis2=2)
    good = np.all(np.isfinite(A), axis=(1, 2)) & np.all(d > 0, axis=1)
    with np.errstate(all="ignore"):
        s = np.where(good[:, None], 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 1.0)
    B = A * s[:, :, None] * s[:, None, :]
    eye = np.eye(k)
    B[~good] = eye
    ev = np.linalg.eigvalsh(B)
    good &= ev[:, 0] > _RCOND * ev[:, -1]
    B[~good] = eye
    inv = np.linalg.inv(B) * s[:, :, None] * s[:, None, :]
    inv[~good] = np.nan
    return inv, good


def _grouped_crossprod(
    X: np.ndarray, r: np.ndarray, n_rep: int, w: np.ndarray | None = None
) -> np.ndarray:
    """Per-replicate ``X' W X`` as ``(R, k, k)`` by one bincount per coefficient pair."""
    k = X.shape[1]
    out = np.empty((n_rep, k, k))
    Xw = X if w is None else X * w[:, None]
    for i in range(k):
        for j in range(i, k):
            out[:, i, j] = out[:, j, i] = np.bincount(r, Xw[:, i] * X[:, j], minlength=n_rep)
    return out


def _grouped_xty(X: np.ndarray, v: np.ndarray, r: np.ndarray, n_rep: int) -> np.ndarray:
    """Per-replicate ``X' v`` as ``(R, k)``."""
    return np.stack(
        [np.bincount(r, X[:, i] * v, minlength=n_rep) for i in range(X.shape[1])], axis=1
    )


def _rep_starts(counts: np.ndarray) -> np.ndarray:
    """Index of each replicate's first element in data sorted by replicate."""
    starts = np.zeros(counts.size, dtype=np.intp)
    np.cumsum(counts[:-1], out=starts[1:])
    return starts
