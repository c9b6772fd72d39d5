"""Doses as protocols write them: per-patient dose distributions, caps and floors, step schedules.

A protocol dose is a :class:`~ketsim.core.units.Rate` or :class:`~ketsim.core.units.Amount`
(possibly per kg), or a :class:`DoseDistribution` over a cohort, drawn once per patient from one
uniform by its inverse CDF (so the seed tree hands out one uniform per patient and distribution,
whatever the batching). :func:`dose_mg` turns any of them into mg (or mg/h) per patient, within
an optional cap and floor ("0.35 mg/kg/h, at most 25 mg/h").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ketsim.core.units import Amount, Rate

__all__ = ["DISTRIBUTIONS", "DoseDistribution", "bounded_mg", "dose_mg"]

DISTRIBUTIONS = ("uniform", "lognormal", "choice")


@dataclass(frozen=True)
class DoseDistribution:
    """A dose that varies between patients: one value per patient, drawn once.

    Values are in mg (amounts) or mg/h (rates), per kg when ``per_kg``.

    Attributes
    ----------
    kind : ``"uniform"`` (between ``low`` and ``high``), ``"lognormal"`` (``median``, ``sd_log``,
        truncated to [``low``, ``high``] when they are finite) or ``"choice"`` (one of ``values``
        with probabilities proportional to ``weights``).
    rate : a rate (mg/h) rather than an amount (mg).
    per_kg : values are per kg of body weight.
    """

    kind: str
    rate: bool
    per_kg: bool
    low: float = 0.0
    high: float = math.inf
    median: float = 0.0  # not NaN: equal distributions must compare (and hash) equal
    sd_log: float = 0.0
    values: tuple[float, ...] = ()
    weights: tuple[float, ...] = ()

    def value(self, u: np.ndarray) -> np.ndarray:
        """Per-patient dose values (mg or mg/h, per kg when ``per_kg``) from uniforms in [0, 1).

        Parameters
        ----------
        u : one uniform per patient.

        Returns
        -------
        np.ndarray
            The values, by the inverse CDF of the distribution at ``u``.
        """
        u = np.asarray(u, dtype=float)
        if self.kind == "uniform":
            return self.low + u * (self.high - self.low)
        if self.kind == "lognormal":
            mu = math.log(self.median)
            if self.sd_log == 0:
                return np.full(u.shape, self.median)
            # truncation by rescaling u onto [F(low), F(high)]: still one uniform per patient
            lo = special.ndtr((math.log(self.low) - mu) / self.sd_log) if self.low > 0 else 0.0
            hi = special.ndtr((math.log(self.high) - mu) / self.sd_log)
            p = np.clip(lo + u * (hi - lo), 1e-15, 1 - 1e-15)
            return np.clip(np.exp(mu + self.sd_log * special.ndtri(p)), self.low, self.high)
        if self.kind == "choice":
            w = np.asarray(self.weights or (1.0,) * len(self.values), dtype=float)
            cum = np.cumsum(w) / w.sum()
            idx = np.minimum(np.searchsorted(cum, u, side="right"), len(self.values) - 1)
            return np.asarray(self.values, dtype=float)[idx]
        raise ValueError(f"unknown dose distribution {self.kind!r}; allowed: {DISTRIBUTIONS}")

    def mean(self) -> float:
        """The cohort mean of the values (before weight and bounds), for checks and displays."""
        if self.kind == "uniform":
            return 0.5 * (self.low + self.high)
        if self.kind == "choice":
            w = np.asarray(self.weights or (1.0,) * len(self.values), dtype=float)
            return float(np.dot(w, self.values) / w.sum())
        u = (np.arange(20000) + 0.5) / 20000  # midpoint rule on the quantile function
        return float(self.value(u).mean())

    def __str__(self) -> str:
        unit = ("mg/kg" if self.per_kg else "mg") + ("/h" if self.rate else "")
        if self.kind == "uniform":
            return f"{self.low:g}-{self.high:g} {unit}"
        if self.kind == "lognormal":
            return f"lognormal(median {self.median:g} {unit}, sd_log {self.sd_log:g})"
        return f"one of {', '.join(f'{v:g}' for v in self.values)} {unit}"


Dose = Rate | Amount | DoseDistribution


def _mg(q: Rate | Amount, weight_kg: np.ndarray) -> np.ndarray:
    return q.value * weight_kg if q.per_kg else q.value + 0.0 * weight_kg


def bounded_mg(
    x_mg: np.ndarray,
    weight_kg: np.ndarray,
    floor: Rate | Amount | None = None,
    cap: Rate | Amount | None = None,
) -> np.ndarray:
    """Per-patient doses (mg or mg/h) within a floor and a cap, each possibly per kg.

    Parameters
    ----------
    x_mg : the doses.
    weight_kg : the patients' weights (per-kg bounds).
    floor, cap : the least and most dose (None: no bound).

    Returns
    -------
    np.ndarray
        ``min(max(x, floor), cap)``: the cap wins where a light patient's floor exceeds it.
    """
    x = np.asarray(x_mg, dtype=float)
    if floor is not None:
        x = np.maximum(x, _mg(floor, weight_kg))
    if cap is not None:
        x = np.minimum(x, _mg(cap, weight_kg))
    return x


def dose_mg(dose: Dose, weight_kg: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
    """Per-patient dose in mg (amounts) or mg/h (rates).

    Parameters
    ----------
    dose : a fixed rate or amount, or a distribution.
    weight_kg : the patients' weights.
    u : one uniform per patient, needed by a distribution.

    Returns
    -------
    np.ndarray
        The doses, one per patient.
    """
    weight_kg = np.asarray(weight_kg, dtype=float)
    if isinstance(dose, DoseDistribution):
        if u is None:
            raise ValueError(f"the dose distribution {dose} needs one uniform per patient")
        v = dose.value(np.broadcast_to(np.asarray(u, dtype=float), weight_kg.shape))
        return v * weight_kg if dose.per_kg else v + 0.0 * weight_kg
    return _mg(dose, weight_kg)
