"""Group-sequential boundaries: Lan–DeMets alpha spending and exact crossing probabilities.

The Z statistics of K looks at information fractions ``t_1 < ... < t_K = 1`` follow the canonical
joint distribution (Jennison & Turnbull 2000, ch. 3): ``Z_k sqrt(I_k)`` is a Brownian motion with
drift ``theta`` observed at information ``I_k``, so ``Z_k | Z_{k-1} = z`` is normal with mean
``(z sqrt(t_{k-1}) + delta (t_k - t_{k-1})) / sqrt(t_k)`` and variance ``(t_k - t_{k-1}) / t_k``,
where ``delta = theta sqrt(I_K)`` is the drift of the final Z. Crossing probabilities follow by
recursive numerical integration of the sub-density of ``Z_k`` on the continuation region
(Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19), here with composite
Simpson's rule on a fine grid. Efficacy boundaries are found look by look so that the cumulative
crossing probability under H0 equals the spending function at ``t_k`` (Lan & DeMets 1983).

Spending functions (one-sided level ``alpha``)
---------------------------------------------
obrien_fleming
    ``alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t))`` (Lan & DeMets 1983).
pocock
    ``alpha(t) = alpha ln(1 + (e - 1) t)`` (Lan & DeMets 1983).

Two-sided designs are symmetric and spend ``alpha/2`` per side with the one-sided function (the
gsDesign ``test.type = 2`` / rpact ``sided = 2`` convention): the cumulative probability of
crossing either boundary under H0 is ``2 alpha_1(t_k)`` with ``alpha_1`` the one-sided spending
at level ``alpha/2``.

Futility boundaries are non-binding: efficacy boundaries are computed as if the trial never
stopped for futility, so type-I error is controlled whether or not futility stops are obeyed.

References
----------
Armitage P, McPherson CK, Rowe BC (1969). Repeated significance tests on accumulating data.
J R Stat Soc A 132:235-244.
Lan KKG, DeMets DL (1983). Discrete sequential boundaries for clinical trials. Biometrika
70:659-663.
O'Brien PC, Fleming TR (1979). A multiple testing procedure for clinical trials. Biometrics
35:549-556.
Jennison C, Turnbull BW (2000). Group Sequential Methods with Applications to Clinical Trials.
Chapman & Hall/CRC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import ndtr, ndtri

__all__ = [
    "SPENDING",
    "GroupSequentialDesign",
    "beta_spending_futility",
    "classical_boundaries",
    "crossing_probabilities",
    "design",
    "spending_boundaries",
    "spent_alpha",
]

#: spending functions by name (:func:`spent_alpha`)
SPENDING = ("obrien_fleming", "pocock")

#: half-width of the integration range around the drift of each look, in SDs: the normal mass
#: beyond 12 SDs (< 1e-32) is far below the 1e-10 accuracy aimed at
_RANGE = 12.0
#: Simpson intervals per unit of z: 40 gives crossing probabilities accurate to ~1e-12 (checked
#: against 80 per unit and against the bivariate normal CDF for K = 2)
_PER_UNIT = 40


def spent_alpha(t: np.ndarray | float, alpha: float, spending: str) -> np.ndarray:
    """Cumulative one-sided type-I error spent by information fraction ``t`` (Lan & DeMets 1983).

    Parameters
    ----------
    t : information fractions in [0, 1].
    alpha : one-sided level (spent in full at ``t = 1``).
    spending : ``obrien_fleming`` or ``pocock`` (:data:`SPENDING`).
    """
    t = np.clip(np.asarray(t, float), 0.0, 1.0)
    if spending == "obrien_fleming":
        with np.errstate(divide="ignore"):
            return np.where(t > 0, 2.0 - 2.0 * ndtr(ndtri(1.0 - alpha / 2.0) / np.sqrt(t)), 0.0)
    if spending == "pocock":
        return alpha * np.log1p((np.e - 1.0) * t)
    raise ValueError(f"spending: unknown {spending!r} (one of {SPENDING})")


def _fractions(t: Sequence[float]) -> np.ndarray:
    t = np.asarray(t, float)
    if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) <= 0) or t[0] <= 0 or t[-1] > 1 + 1e-12:
        raise ValueError(f"information fractions must increase in (0, 1]: {t.tolist()}")
    return t


def _grid(lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Simpson nodes and weights on [lo, hi] (an even number of intervals)."""
    m = max(2, 2 * int(np.ceil((hi - lo) * _PER_UNIT / 2.0)))
    z = np.linspace(lo, hi, m + 1)
    w = np.ones(m + 1)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return z, w * (hi - lo) / (3.0 * m)


class _Recursion:
    """Sub-density of ``Z_k`` on the continuation region, look by look (drift ``delta``)."""

    def __init__(self, t: np.ndarray, delta: float):
        self.t, self.delta = t, delta
        self.k = -1
        self.z = self.g = None  # nodes x (density x weight) of the last look's continuation

    def _moments(self, k: int) -> tuple[np.ndarray, float]:
        """Conditional mean (per node of look k-1) and SD of Z_k given Z_{k-1}."""
        t, d = self.t, self.delta
        if k == 0:
            return np.array([d * np.sqrt(t[0])]), 1.0
        dt = t[k] - t[k - 1]
        mean = (self.z * np.sqrt(t[k - 1]) + d * dt) / np.sqrt(t[k])
        return mean, float(np.sqrt(dt / t[k]))

    def exits(self, k: int, upper: float, lower: float) -> tuple[float, float]:
        """P(continue to look k, then Z_k >= upper) and P(continue, then Z_k <= lower)."""
        mean, sd = self._moments(k)
        g = np.ones(1) if k == 0 else self.g
        up = float(np.sum(g * ndtr((mean - upper) / sd))) if np.isfinite(upper) else 0.0
        lo = float(np.sum(g * ndtr((lower - mean) / sd))) if np.isfinite(lower) else 0.0
        return up, lo

    def advance(self, k: int, upper: float, lower: float) -> None:
        """Move the sub-density to look k, truncated to ``lower < Z_k < upper``."""
        mean, sd = self._moments(k)
        centre = self.delta * np.sqrt(self.t[k])
        lo = max(lower, centre - _RANGE) if k == 0 else max(lower, float(mean.min()) - _RANGE * sd)
        hi = min(upper, centre + _RANGE) if k == 0 else min(upper, float(mean.max()) + _RANGE * sd)
        if hi <= lo:  # nothing continues
            self.z, self.g = np.zeros(1), np.zeros(1)
            return
        z, w = _grid(lo, hi)
        if k == 0:
            dens = np.exp(-0.5 * (z - mean[0]) ** 2) / np.sqrt(2 * np.pi)
        else:
            u = (z[:, None] - mean[None, :]) / sd
            kern = np.exp(-0.5 * u**2) / (sd * np.sqrt(2 * np.pi))
            dens = kern @ self.g
        self.z, self.g, self.k = z, dens * w, k


def _solve(f, target: float) -> float:
    """The boundary b with f(b) = target (f decreasing from ~1 at b = -20 to ~0 at b = 20)."""
    if target <= 0:
        return np.inf
    return float(optimize.brentq(lambda b: f(b) - target, -20.0, 20.0, xtol=1e-12, rtol=1e-14))


def spending_boundaries(
    t: Sequence[float], alpha: float, spending: str, sides: int = 1
) -> np.ndarray:
    """Efficacy boundaries (z scale) of a Lan–DeMets alpha-spending design.

    Parameters
    ----------
    t : information fractions of the looks, increasing, the last normally 1.
    alpha : overall type-I error: one-sided level (``sides=1``) or two-sided (``sides=2``, spent
        ``alpha/2`` per side).
    spending : ``obrien_fleming`` or ``pocock``.
    sides : 1: reject at look k if ``Z_k >= b_k``; 2: if ``|Z_k| >= b_k``.

    Returns
    -------
    numpy.ndarray
        ``b_k`` such that the cumulative crossing probability under H0 by look k equals
        ``sides * spent_alpha(t_k, alpha / sides)``.
    """
    t = _fractions(t)
    a1 = alpha / sides
    cum = spent_alpha(t, a1, spending)
    inc = np.diff(np.concatenate([[0.0], cum]))
    rec = _Recursion(t, 0.0)
    out = np.empty(t.size)
    for k in range(t.size):

        def f(b, k=k):
            up, lo = rec.exits(k, b, -b if sides == 2 else -np.inf)
            return (up + lo) / sides

        out[k] = _solve(f, inc[k])
        rec.advance(k, out[k], -out[k] if sides == 2 else -np.inf)
    return out


def crossing_probabilities(
    t: Sequence[float],
    upper: Sequence[float],
    lower: Sequence[float] | None = None,
    drift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of stopping at each look by crossing the upper or the lower boundary.

    Parameters
    ----------
    t : information fractions of the looks.
    upper : upper boundaries (``inf``: no upper stop at that look).
    lower : lower boundaries (``-inf`` or None: none); for a two-sided design pass ``-upper``.
    drift : expected value of the final look's Z statistic (``theta sqrt(I_K)``); 0 under H0.

    Returns
    -------
    (upper_exit, lower_exit) : per-look probabilities of stopping there by that boundary.
    """
    t = _fractions(t)
    upper = np.asarray(upper, float)
    lower = np.full(t.size, -np.inf) if lower is None else np.asarray(lower, float)
    rec = _Recursion(t, float(drift))
    up, lo = np.zeros(t.size), np.zeros(t.size)
    for k in range(t.size):
        up[k], lo[k] = rec.exits(k, upper[k], lower[k])
        if k + 1 < t.size:
            rec.advance(k, upper[k], lower[k])
    return up, lo


def classical_boundaries(k: int, alpha: float, kind: str, sides: int = 2) -> np.ndarray:
    """Classical (non-spending) boundaries for ``k`` equally spaced looks.

    ``obrien_fleming``: ``b_j = C sqrt(k / j)`` (O'Brien & Fleming 1979); ``pocock``: ``b_j = C``
    (Pocock 1977). ``C`` gives overall crossing probability ``alpha`` under H0 (two-sided with
    ``sides=2``).
    """
    t = np.arange(1, k + 1) / k
    shape = np.sqrt(k / np.arange(1, k + 1)) if kind == "obrien_fleming" else np.ones(k)
    if kind not in SPENDING:
        raise ValueError(f"kind: unknown {kind!r} (one of {SPENDING})")

    def total(c: float) -> float:
        up, lo = crossing_probabilities(t, c * shape, -c * shape if sides == 2 else None)
        return float(up.sum() + lo.sum())

    c = optimize.brentq(lambda c: total(c) - alpha, 0.5, 10.0, xtol=1e-12, rtol=1e-14)
    return c * shape


@dataclass(frozen=True)
class GroupSequentialDesign:
    """Boundaries of a group-sequential design on the z scale (benefit = positive z).

    ``efficacy[k]``: stop for efficacy at look k if ``Z_k >= efficacy[k]`` (``|Z_k|`` if
    ``sides == 2``); ``futility[k]``: stop for futility if ``Z_k < futility[k]`` (non-binding;
    ``-inf`` = none; none at the last look). ``nominal_p[k]``: the p-value (of the analysis' own
    sidedness) equivalent to ``efficacy[k]``.
    """

    t: np.ndarray
    alpha: float
    sides: int
    spending: str
    efficacy: np.ndarray
    futility: np.ndarray

    @property
    def nominal_p(self) -> np.ndarray:
        return self.sides * ndtr(-self.efficacy)

    def exit_probabilities(self, drift: float = 0.0) -> dict[str, np.ndarray]:
        """Per-look probabilities of stopping for efficacy (each side) and for futility.

        With a futility boundary the trial is assumed to obey it (as a simulation does); the
        efficacy probabilities are then those of the design with futility stopping. Returns
        ``efficacy`` (upper side), ``efficacy_lower`` (two-sided: the harmful side; else 0) and
        ``futility``.
        """
        t = self.t
        up = self.efficacy
        lo_eff = -self.efficacy if self.sides == 2 else np.full(t.size, -np.inf)
        rec = _Recursion(t, float(drift))
        eff, eff_lo, fut = np.zeros(t.size), np.zeros(t.size), np.zeros(t.size)
        for k in range(t.size):
            eff[k], eff_lo[k] = rec.exits(k, up[k], lo_eff[k])
            f = self.futility[k]
            if np.isfinite(f) and f > lo_eff[k]:
                _, b = rec.exits(k, np.inf, f)
                fut[k] = b - eff_lo[k]  # futility region lies between the two efficacy regions
                lower = f
            else:
                lower = lo_eff[k]
            if k + 1 < t.size:
                # continuation: futility < Z < efficacy (the harmful region below the futility
                # bound stops too; it is counted as futility, or efficacy_lower if two-sided)
                rec.advance(k, up[k], lower)
        return {"efficacy": eff, "efficacy_lower": eff_lo, "futility": fut}


def _futility_at(t: np.ndarray, eff: np.ndarray, inc: np.ndarray, sides: int, drift: float):
    """Futility bounds spending ``inc`` of type-II error per look under ``drift``; the last one
    is the z where the final look's spending would be met (compared with ``eff[-1]``)."""
    rec = _Recursion(t, drift)
    fut = np.empty(t.size)
    for k in range(t.size):
        floor = -eff[k] if sides == 2 else -np.inf

        def f(a, k=k, floor=floor):
            _, below = rec.exits(k, np.inf, a)
            _, harm = rec.exits(k, np.inf, floor)
            return below - harm

        # the bound is at most the efficacy boundary (they meet at the final look)
        if k < t.size - 1 and f(eff[k]) <= inc[k]:
            fut[k] = eff[k]
        elif f(20.0) <= inc[k]:  # final look: too little left to spend (drift too large)
            fut[k] = 20.0
        else:
            fut[k] = float(
                optimize.brentq(lambda a, k=k: f(a) - inc[k], -20.0, 20.0, xtol=1e-12, rtol=1e-14)
            )
        if k + 1 < t.size:
            rec.advance(k, eff[k], max(fut[k], floor))
    return fut


def beta_spending_futility(
    t: Sequence[float], efficacy: Sequence[float], beta: float, spending: str, sides: int = 1
) -> tuple[np.ndarray, float]:
    """Non-binding futility bounds from beta spending (gsDesign ``test.type = 4`` convention).

    The type-II error ``beta`` is spent over the looks with ``spent_alpha(t, beta, spending)``
    under the drift ``delta`` at which the futility and efficacy boundaries meet at the final
    look; the design then has power ``1 - beta`` at ``delta`` (obeying futility). The efficacy
    boundaries are those computed under H0 without futility (non-binding).

    Returns
    -------
    (futility, delta) : bounds per look (``-inf`` at the final look) and the drift.
    """
    t = _fractions(t)
    eff = np.asarray(efficacy, float)
    cum = spent_alpha(t, beta, spending)
    inc = np.diff(np.concatenate([[0.0], cum]))

    def gap(delta: float) -> float:
        return float(_futility_at(t, eff, inc, sides, delta)[-1] - eff[-1])

    delta = float(optimize.brentq(gap, 0.0, 15.0, xtol=1e-10))
    fut = _futility_at(t, eff, inc, sides, delta)
    fut[-1] = -np.inf
    return fut, delta


def design(
    t: Sequence[float],
    alpha: float,
    spending: str,
    sides: int = 1,
    futility: Sequence[float] | None = None,
    beta: float | None = None,
    beta_spending: str | None = None,
) -> GroupSequentialDesign:
    """A Lan–DeMets design with optional non-binding futility bounds at the interim looks.

    Parameters
    ----------
    t : information fractions of the looks (the last one the final analysis).
    alpha, spending, sides : as :func:`spending_boundaries`.
    futility : one z bound per interim look (``len(t) - 1``): stop for futility if the
        benefit-direction ``Z_k`` is below it. Non-binding: the efficacy boundaries ignore it.
    beta, beta_spending : instead of ``futility``: bounds from spending the type-II error
        ``beta`` (:func:`beta_spending_futility`; ``beta_spending`` default ``spending``).
    """
    t = _fractions(t)
    eff = spending_boundaries(t, alpha, spending, sides)
    fut = np.full(t.size, -np.inf)
    if beta is not None:
        if futility is not None:
            raise ValueError("futility: give z bounds or beta spending, not both")
        if t.size > 1:
            fut, _ = beta_spending_futility(t, eff, beta, beta_spending or spending, sides)
    elif futility is not None:
        futility = np.asarray(futility, float)
        if futility.size != t.size - 1:
            raise ValueError(
                f"futility: one bound per interim look ({t.size - 1}), got {futility.size}"
            )
        fut[:-1] = futility
    return GroupSequentialDesign(t, float(alpha), int(sides), spending, eff, fut)
