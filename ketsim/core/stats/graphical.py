"""Multiplicity across hypotheses by the graphical approach (Bretz et al. 2009).

A graph gives each hypothesis ``H_i`` an initial weight ``w_i`` (``sum w <= 1``; it is tested at
``w_i alpha``) and a transition matrix ``G`` (``g_ij``: the share of ``H_i``'s level passed to
``H_j`` once ``H_i`` is rejected; zero diagonal, rows summing to at most 1). The sequentially
rejective algorithm (Bretz et al. 2009, Algorithms 1 and 2) rejects a hypothesis, passes its
level along the edges and updates the graph:

    w_l <- w_l + w_j g_jl,
    g_lk <- (g_lk + g_lj g_jk) / (1 - g_lj g_jl)     (l != k; 0 if the denominator is 0)

Adjusted p-values follow by always rejecting next the hypothesis with the smallest ``p_i / w_i``
and taking the running maximum; ``H_i`` is rejected at level alpha iff its adjusted p-value is at
most alpha. Holm, fixed-sequence and fallback procedures are special graphs
(:func:`holm_graph`, :func:`fixed_sequence_graph`, :func:`fallback_graph`).

Vectorised over replicates: ``p`` is ``(R, m)``.

References
----------
Bretz F, Maurer W, Brannath W, Posch M (2009). A graphical approach to sequentially rejective
multiple test procedures. Stat Med 28:586-604.
Wiens BL (2003). A fixed sequence Bonferroni procedure for testing multiple endpoints. Pharm
Stat 2:211-215.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "check_graph",
    "fallback_graph",
    "fixed_sequence_graph",
    "graphical_adjust",
    "holm_graph",
]


def check_graph(weights: Sequence[float], transitions: Sequence[Sequence[float]]) -> None:
    """Raise ValueError unless (weights, transitions) is a valid Bretz et al. (2009) graph."""
    w = np.asarray(weights, float)
    g = np.asarray(transitions, float)
    m = w.size
    if w.ndim != 1 or g.shape != (m, m):
        raise ValueError(f"graph: {m} weights need an {m} x {m} transition matrix, got {g.shape}")
    if np.any(w < 0) or w.sum() > 1 + 1e-9:
        raise ValueError(f"graph: weights must be >= 0 and sum to at most 1: {w.tolist()}")
    if np.any(g < 0) or np.any(np.diag(g) != 0) or np.any(g.sum(axis=1) > 1 + 1e-9):
        raise ValueError("graph: transitions must be >= 0, zero on the diagonal, rows sum <= 1")


def holm_graph(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Holm's procedure: equal weights, each rejection passes its level equally to the rest."""
    g = np.full((m, m), 1.0 / max(m - 1, 1))
    np.fill_diagonal(g, 0.0)
    return np.full(m, 1.0 / m), g


def fixed_sequence_graph(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed sequence: all of alpha on ``H_1``, passed on to ``H_2``, ... once rejected."""
    w = np.zeros(m)
    w[0] = 1.0
    return w, np.eye(m, k=1)


def fallback_graph(weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Fallback procedure (Wiens 2003): ``H_i`` tested at ``w_i alpha`` plus the level of
    ``H_{i-1}`` when that one is rejected."""
    w = np.asarray(weights, float)
    return w, np.eye(w.size, k=1)


def graphical_adjust(
    p: np.ndarray, weights: Sequence[float], transitions: Sequence[Sequence[float]]
) -> np.ndarray:
    """Adjusted p-values of the graphical procedure (Bretz et al. 2009, Algorithm 2).

    Parameters
    ----------
    p : (R, m) or (m,) unadjusted p-values (NaN: a failed analysis, treated as p = 1).
    weights : (m,) initial weights.
    transitions : (m, m) transition matrix.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, the shape of ``p``: reject ``H_i`` at level alpha iff ``<= alpha``.
    """
    check_graph(weights, transitions)
    p = np.asarray(p, float)
    one = p.ndim == 1
    p = np.atleast_2d(p)
    p = np.where(np.isnan(p), 1.0, p)
    R, m = p.shape
    w = np.broadcast_to(np.asarray(weights, float), (R, m)).copy()
    g = np.broadcast_to(np.asarray(transitions, float), (R, m, m)).copy()
    active = np.ones((R, m), bool)
    q = np.ones((R, m))
    prev = np.zeros(R)
    rows = np.arange(R)
    for _ in range(m):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(active & (w > 0), p / w, np.inf)
        j = np.argmin(ratio, axis=1)
        rj = ratio[rows, j]
        live = active.any(axis=1)
        # remaining hypotheses with no weight can never be rejected: adjusted p 1
        hit = live & np.isfinite(rj)
        prev = np.where(hit, np.maximum(prev, np.minimum(rj, 1.0)), prev)
        q[rows[hit], j[hit]] = prev[hit]
        # remove H_j (where one was taken) and update the weights and the graph
        wj = np.where(hit, w[rows, j], 0.0)
        gj_row = g[rows, j, :]  # g_jk
        gj_col = g[rows, :, j]  # g_lj
        w = w + wj[:, None] * gj_row
        num = g + gj_col[:, :, None] * gj_row[:, None, :]
        den = 1.0 - (gj_col * gj_row)[:, :, None]  # 1 - g_lj g_jl, by row l
        with np.errstate(divide="ignore", invalid="ignore"):
            new = np.where(den > 1e-15, num / den, 0.0)
        eye = np.eye(m, dtype=bool)[None, :, :]
        new = np.where(eye, 0.0, new)
        g = np.where(hit[:, None, None], new, g)
        active[rows[hit], j[hit]] = False
        w[rows[hit], j[hit]] = 0.0
        g[rows[hit], j[hit], :] = 0.0
        g[rows[hit], :, j[hit]] = 0.0
        if not hit.any():
            break
    return q[0] if one else q
