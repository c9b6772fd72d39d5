"""Order statistics of all pairwise differences without forming them.

The Hodges-Lehmann shift and its Moses interval are order statistics of the ``m n`` differences
``x_i - y_j``. Sorting them costs O(m n log(m n)) time and O(m n) memory: 11 CPU-s and 1.9 GB for
the 20,000-patient true-effect trial of a power run. :func:`select_differences` finds the same
order statistics in O((m + n) log(m n) log n) time and O(m + n) memory by the selection scheme of
Johnson & Mizoguchi (1978) for ``X + Y``: each row ``i`` of the implicit matrix
``D[i, j] = x_i - y_(n-1-j)`` is sorted, so the elements below a pivot form a prefix of every row;
a weighted median of the row midpoints as pivot removes at least a quarter of the remaining
candidates per step.

Every comparison is made on the difference exactly as it would be computed (``x_i - y_j`` in
float64; floating-point subtraction is monotone in each argument), so the selected values are
bit-identical to those of sorting the materialised differences.

References
----------
Johnson DB, Mizoguchi T (1978). Selecting the Kth element in X + Y and X1 + X2 + ... + Xm.
SIAM J Comput 7:147-153.
Monahan JF (1984). Algorithm 616: fast computation of the Hodges-Lehmann location estimator.
ACM Trans Math Softw 10:265-270.
"""

from __future__ import annotations

import numpy as np

__all__ = ["select_differences"]

#: below this many remaining candidates they are gathered and partitioned directly
_GATHER = 1 << 16


def _count_below(
    x: np.ndarray, w: np.ndarray, lo: np.ndarray, hi: np.ndarray, pivot: float, strict: bool
) -> np.ndarray:
    """Per row ``i``, the first ``j`` in ``[lo_i, hi_i]`` with ``x_i + w_j`` not below ``pivot``.

    ``strict``: "below" means ``< pivot``, else ``<= pivot``. Vectorised binary search over rows.
    """
    lo = lo.copy()
    hi = hi.copy()
    last = w.size - 1
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        d = x + w[np.minimum(mid, last)]
        below = (d < pivot) if strict else (d <= pivot)
        below &= open_
        lo = np.where(below, mid + 1, lo)
        hi = np.where(open_ & ~below, mid, hi)


def _select_one(x: np.ndarray, w: np.ndarray, k: int) -> float:
    """The ``k``-th smallest (0-based) of ``x_i + w_j``; ``x`` any order, ``w`` ascending."""
    m, n = x.size, w.size
    L = np.zeros(m, dtype=np.intp)
    R = np.full(m, n, dtype=np.intp)
    below = 0  # candidates removed on the left (all smaller than the answer)
    while True:
        width = R - L
        active = int(width.sum())
        if active <= _GATHER:
            rows = np.flatnonzero(width)
            cnt = width[rows]
            starts = np.repeat(L[rows] - np.cumsum(cnt) + cnt, cnt)
            cols = np.arange(active) + starts
            vals = x[np.repeat(rows, cnt)] + w[cols]
            return float(np.partition(vals, k - below)[k - below])
        rows = np.flatnonzero(width)
        mids = x[rows] + w[(L[rows] + R[rows] - 1) // 2]
        order = np.argsort(mids, kind="stable")
        cum = np.cumsum(width[rows][order])
        pivot = float(mids[order][np.searchsorted(cum, active / 2.0)])
        lt = _count_below(x, w, L, R, pivot, strict=True)
        le = _count_below(x, w, lt, R, pivot, strict=False)
        n_lt = below + int((lt - L).sum())
        n_le = n_lt + int((le - lt).sum())
        if n_lt <= k < n_le:
            return pivot
        if k < n_lt:
            R = lt
        else:
            below = n_le
            L = le


def select_differences(x: np.ndarray, y: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Order statistics of the ``x.size * y.size`` differences ``x_i - y_j``.

    Parameters
    ----------
    x, y : 1-D float arrays without NaN.
    ranks : 0-based ranks ``k`` (each in ``[0, x.size * y.size)``).

    Returns
    -------
    numpy.ndarray
        ``out[q]`` equals ``np.sort(np.subtract.outer(x, y).ravel())[ranks[q]]`` bit for bit.
    """
    x = np.asarray(x, dtype=float)
    w = np.sort(-np.asarray(y, dtype=float))  # x_i + (-y_j) == x_i - y_j exactly
    ranks = np.asarray(ranks, dtype=np.int64)
    total = x.size * w.size
    if np.any(ranks < 0) or np.any(ranks >= total):
        raise ValueError(f"ranks must lie in [0, {total}); got {ranks.tolist()}")
    return np.array([_select_one(x, w, int(k)) for k in ranks], dtype=float)
