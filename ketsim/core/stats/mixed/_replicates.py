"""Grouping rows by replicate or patient, and checking the inputs shared by the mixed models.

Private to :mod:`ketsim.core.stats.mixed`.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.stats.estimates import ALTERNATIVES


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
