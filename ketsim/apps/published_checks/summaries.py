"""Published-trial checks: result columns, Monte Carlo summaries over replicates (mean, SE,
bootstrap), result rows and variant keys.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from ketsim.analysis.endpoints import end_days, start_days
from ketsim.config.scenario import (
    TRIAL_QUANTITIES,
    EndpointSpec,
    ExpectedSpec,
    Scenario,
)
from ketsim.core.seeds import auxiliary_stream

if TYPE_CHECKING:
    from ketsim.sim.trial import TrialArrays

DEFAULT_REPLICATES = 500
#: bootstrap resamples for the MC SE of medians and crossing times
N_BOOTSTRAP = 400
#: columns of the validation table (``validation.csv``)
COLUMNS = [
    "scenario",
    "file",
    "check",
    "quantity",
    "week",
    "selector",
    "unit",
    "published",
    "published_se",
    "published_text",
    "simulated",
    "mc_se",
    "lower",
    "upper",
    "tolerance",
    "passed",
    "decisive",
    "replicates",
    "seed",
    "source",
    "note",
]
# diary days a weekly mean needs: the endpoints' default
_MIN_DAYS_PER_WEEK = EndpointSpec.model_fields["min_days_per_week"].default


# -- small helpers --------------------------------------------------------------------------------
def _z_of_p(p: np.ndarray, sides: int) -> np.ndarray:
    """|z| of a p-value: Φ⁻¹(1 - p/2) two-sided, Φ⁻¹(1 - p) one-sided."""
    p = np.clip(np.asarray(p, float), 1e-300, 1.0)
    return special.ndtri(1.0 - p / 2.0) if sides == 2 else special.ndtri(1.0 - p)


def _p_of_z(z: float, sides: int) -> float:
    """Inverse of :func:`_z_of_p` for z >= 0 (the p-value of a statistic in favour of the arm)."""
    return float(2.0 * special.ndtr(-z)) if sides == 2 else float(special.ndtr(-z))


def _rep_mean(values: np.ndarray, mask: np.ndarray, pos: np.ndarray, n_rep: int) -> np.ndarray:
    """(R,) mean of ``values`` over the patients in ``mask`` of each replicate (NaN skipped)."""
    ok = mask & ~np.isnan(values)
    s = np.bincount(pos[ok], values[ok], minlength=n_rep)
    n = np.bincount(pos[ok], minlength=n_rep)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def _rep_median(values: np.ndarray, mask: np.ndarray, pos: np.ndarray, n_rep: int) -> np.ndarray:
    """(R,) median of ``values`` over the patients in ``mask`` of each replicate (NaN skipped)."""
    ok = mask & ~np.isnan(values)
    order = np.argsort(pos[ok], kind="stable")
    x, r = values[ok][order], pos[ok][order]
    cuts = np.searchsorted(r, np.arange(n_rep + 1))
    return np.array([np.median(x[a:b]) if b > a else np.nan for a, b in itertools.pairwise(cuts)])


def _mean_se(x: np.ndarray) -> tuple[float, float]:
    """Mean over replicates and its Monte Carlo SE (SD / sqrt(R)), NaN replicates left out."""
    x = np.asarray(x, float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.nan
    return float(x.mean()), se


def _bootstrap_rng(entropy: int) -> np.random.Generator:
    return auxiliary_stream(entropy, "validation_bootstrap")


def _summary(x: np.ndarray, statistic: str) -> np.ndarray:
    """Per-row summary of (R, n) patient values: mean, median, geometric_mean or sd."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN
        if statistic == "mean":
            return np.nanmean(x, axis=1)
        if statistic == "median":
            return np.nanmedian(x, axis=1)
        if statistic == "geometric_mean":
            return np.exp(np.nanmean(np.log(np.where(x > 0, x, np.nan)), axis=1))
        if statistic == "sd":
            return np.nanstd(x, axis=1, ddof=1)
    raise ValueError(f"unknown statistic {statistic!r}")  # pragma: no cover


# -- expanded rows --------------------------------------------------------------------------------
@dataclass
class _Row:
    """One line of the validation table: an expectation (and a week of a p-value profile)."""

    index: int  # position in scenario.expected
    spec: ExpectedSpec
    week: int | None = None
    value: float = math.nan
    mc_se: float = math.nan
    z: float = math.nan  # p_value median: median signed z
    z_se: float = math.nan
    censored: bool = False
    note: str = ""


def _rows(sc: Scenario) -> list[_Row]:
    rows = []
    for i, e in enumerate(sc.expected):
        if (
            e.quantity == "p_value"
            and e.weeks is not None
            and (e.statistic or "median") != "fraction_all_significant"
        ):
            rows += [_Row(i, e, w) for w in range(e.weeks[0], e.weeks[1] + 1)]
        else:
            rows.append(_Row(i, e, e.week))
    return rows


def _variant_key(e: ExpectedSpec) -> str:
    return json.dumps(e.overrides or {}, sort_keys=True, default=str)


_BASE = _variant_key(ExpectedSpec.model_construct(overrides=None))  # the scenario as written


# -- trial quantities -----------------------------------------------------------------------------
def _is_trial(e: ExpectedSpec) -> bool:
    return e.quantity in TRIAL_QUANTITIES or e.definition == "difference_below"


def searched_weeks(e: ExpectedSpec, sc: Scenario) -> list[int]:
    """Weeks of a ``p_value`` profile or searched by ``week_of_largest_difference``: ``weeks``
    (inclusive), else ``[week]``, else (week_of_largest_difference) every week of the trial (of
    a period for crossovers)."""
    if e.weeks is not None:
        return list(range(e.weeks[0], e.weeks[1] + 1))
    if e.quantity == "week_of_largest_difference":
        crossover = sc.design.type == "crossover"
        last = sc.design.crossover.period_weeks if crossover else sc.trial.weeks
        return list(range(1, last + 1))
    return [e.week]


def _anchor(ta: TrialArrays, e: ExpectedSpec) -> np.ndarray:

    return (end_days(ta) if e.anchor == "treatment_end" else start_days(ta))[:, 0]
