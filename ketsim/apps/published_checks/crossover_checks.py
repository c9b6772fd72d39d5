"""Published-trial checks of crossover trials: every patient receives several arms, one per
period, so a unit is a (patient, period) pair and a difference between arms is the
within-patient difference between the patient's periods on ``arm`` and on ``control``.

Days count from day 1 of each period (as the crossover endpoints of
:mod:`ketsim.analysis.endpoints`); ``change_from_baseline`` is from the baseline days before the
first period. p-values are paired tests on the within-patient differences: ``t_test`` the paired
t test, ``wilcoxon`` the signed-rank test (zero differences dropped, normal approximation with
tie and continuity corrections, as R's ``wilcox.test(paired = TRUE, exact = FALSE)``).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import special
from scipy import stats as sps

from ketsim.analysis.endpoints import gather_days, weekly_matrix
from ketsim.apps.published_checks.summaries import (
    _MIN_DAYS_PER_WEEK,
    _rep_mean,
    _rep_median,
    _z_of_p,
    searched_weeks,
)
from ketsim.config.scenario import ANY_AE_DEFAULT, ExpectedSpec
from ketsim.core.stats.estimates import p_from_t

if TYPE_CHECKING:
    from ketsim.sim.trial import TrialArrays, TrialModel


def period_values(ta: TrialArrays, e: ExpectedSpec, week: int | None) -> np.ndarray:
    """(P, J) NRS of the selected week (or day) of every period, on the expectation's scale."""
    J = ta.segment_start_day.shape[1]
    out = np.empty((ta.n, J))
    for j in range(J):
        start = ta.segment_start_day[:, j]
        if e.measure == "weekly_mean":
            out[:, j] = weekly_matrix(ta, [week], start, None, _MIN_DAYS_PER_WEEK)[:, 0]
        else:
            day = 7 * week if e.measure == "end_of_week" else e.day
            out[:, j] = gather_days(ta, ta.nrs, start, np.array([day]))[:, 0]
    if e.scale == "change_from_baseline":
        out = out - ta.baseline[:, None]
    return out


def _unit_mean(v: np.ndarray, codes: np.ndarray, k: int, pos: np.ndarray, n_rep: int) -> np.ndarray:
    """(R,) mean of (P, J) unit values over the units on arm ``k`` of each replicate."""
    J = v.shape[1]
    return _rep_mean(v.ravel(), (codes == k).ravel(), np.repeat(pos, J), n_rep)


def within_difference(v: np.ndarray, codes: np.ndarray, k: int, c: int) -> np.ndarray:
    """(P,) per patient: mean of its periods on arm ``k`` minus mean of its periods on ``c``
    (NaN if it has no evaluable period on either)."""

    def mean_on(arm: int) -> np.ndarray:
        ok = (codes == arm) & ~np.isnan(v)
        n = ok.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, np.where(ok, v, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)

    return mean_on(k) - mean_on(c)


def _unit_events(m: TrialModel | Any, ta: TrialArrays, e: ExpectedSpec) -> np.ndarray:
    """(P, J) 1.0 if the event happened in the period (NaN: not evaluable)."""
    events = e.events
    if events is None and e.quantity == "any_ae":
        events = ANY_AE_DEFAULT
    if events is not None:
        return np.any([ta.ae[ev] for ev in events], axis=0).astype(float)
    if e.event == "nrs_responder":
        wm = period_values(
            ta, e.model_copy(update={"measure": "weekly_mean", "scale": "nrs"}), e.week
        )
        base = ta.baseline[:, None]
        with np.errstate(invalid="ignore"):
            r = (base - wm) >= base * e.threshold_pct / 100.0 - 1e-12
        return np.where(np.isnan(wm) | np.isnan(base), np.nan, r.astype(float))
    # per-patient events (dropout, latent responder classes) are refused by the schema
    return ta.ae[e.event].astype(float)


def _rep_groups(d: np.ndarray, pos: np.ndarray, n_rep: int) -> list[np.ndarray]:
    """The non-NaN values of ``d`` of each replicate."""
    ok = ~np.isnan(d)
    order = np.argsort(pos[ok], kind="stable")
    x, r = d[ok][order], pos[ok][order]
    cuts = np.searchsorted(r, np.arange(n_rep + 1))
    return [x[a:b] for a, b in itertools.pairwise(cuts)]


def paired_t(d: np.ndarray, pos: np.ndarray, n_rep: int, sides: int) -> tuple[np.ndarray, ...]:
    """Paired t test of the within-patient differences ``d`` (arm - control) per replicate:
    (p, mean difference)."""
    ok = ~np.isnan(d)
    n = np.bincount(pos[ok], minlength=n_rep).astype(float)
    s = np.bincount(pos[ok], d[ok], minlength=n_rep)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        ss = np.bincount(pos[ok], (d[ok] - mean[pos[ok]]) ** 2, minlength=n_rep)
        se = np.sqrt(ss / (n - 1) / n)
        t = mean / se
    t = np.where((n >= 2) & (se > 0), t, np.nan)
    p = p_from_t(t, n - 1, "two-sided" if sides == 2 else "less")
    return p, mean


def signed_rank(x: np.ndarray, sides: int) -> tuple[float, float]:
    """Wilcoxon signed-rank test of one replicate's differences (arm - control): (p, T+ - E).

    Zeros dropped; normal approximation with the tie correction of the variance and a
    continuity correction of 1/2 (Hollander, Wolfe & Chicken 2014, Nonparametric Statistical
    Methods, 3rd ed., §3.1)."""
    x = x[x != 0]
    n = x.size
    if n == 0:
        return math.nan, math.nan
    ranks = sps.rankdata(np.abs(x))
    t_plus = float(ranks[x > 0].sum())
    e = n * (n + 1) / 4.0
    _, counts = np.unique(np.abs(x), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - float((counts**3 - counts).sum()) / 48.0
    if var <= 0:
        return math.nan, math.nan
    dev = t_plus - e
    if sides == 2:
        z = (abs(dev) - 0.5) / math.sqrt(var)
        p = min(1.0, 2.0 * float(special.ndtr(-z)))
    else:  # benefit of the arm: T+ small (differences arm - control negative)
        z = (dev + 0.5) / math.sqrt(var)
        p = float(special.ndtr(z))
    return p, dev


def paired_p_values(
    ta: TrialArrays,
    e: ExpectedSpec,
    weeks: list[int | None],
    arm_i: int,
    ctrl_i: int,
    pos: np.ndarray,
    n_rep: int,
) -> np.ndarray:
    """(R, W, 2): p-value and signed z (positive: the arm has less pain) per replicate and week."""
    out = np.full((n_rep, len(weeks), 2), np.nan)
    for j, w in enumerate(weeks):
        d = within_difference(period_values(ta, e, w), ta.segment_arm, arm_i, ctrl_i)
        if e.test == "wilcoxon":
            res = np.array([signed_rank(g, e.sides) for g in _rep_groups(d, pos, n_rep)])
            p, direction = res[:, 0], res[:, 1]
        else:
            p, direction = paired_t(d, pos, n_rep, e.sides)
        z = _z_of_p(p, e.sides)
        if e.sides == 2:
            z = np.where(direction < 0, z, -z)
        out[:, j, 0] = p
        out[:, j, 1] = np.where(np.isnan(p), np.nan, z)
    return out


def crossover_quantity(
    m: TrialModel | Any,
    ta: TrialArrays,
    e: ExpectedSpec,
    pos: np.ndarray,
    n_rep: int,
) -> np.ndarray:
    """Per-replicate values of one expectation on a crossover trial (first axis: replicate)."""
    names = list(ta.arm_names)
    arm_i = names.index(e.arm)
    ctrl_i = names.index(e.control) if e.control is not None else -1
    codes = ta.segment_arm
    q = e.quantity
    if q in ("arm_mean", "median_nrs"):
        v = period_values(ta, e, e.week)
        if q == "arm_mean":
            return _unit_mean(v, codes, arm_i, pos, n_rep)
        J = v.shape[1]
        return _rep_median(v.ravel(), (codes == arm_i).ravel(), np.repeat(pos, J), n_rep)
    if q == "arm_difference":
        d = within_difference(period_values(ta, e, e.week), codes, arm_i, ctrl_i)
        return _rep_mean(d, np.ones(ta.n, bool), pos, n_rep)
    if q == "week_of_largest_difference":
        cols = [
            -_rep_mean(
                within_difference(period_values(ta, e, w), codes, arm_i, ctrl_i),
                np.ones(ta.n, bool),
                pos,
                n_rep,
            )
            for w in searched_weeks(e, m.scenario)
        ]
        return np.column_stack(cols)
    if q == "p_value":
        weeks = list(range(e.weeks[0], e.weeks[1] + 1)) if e.weeks else [e.week]
        return paired_p_values(ta, e, weeks, arm_i, ctrl_i, pos, n_rep)
    if q in ("proportion", "any_ae"):
        return _unit_mean(_unit_events(m, ta, e), codes, arm_i, pos, n_rep)
    if q in ("proportion_difference", "proportion_ratio"):
        v = _unit_events(m, ta, e)
        return np.column_stack(
            [_unit_mean(v, codes, arm_i, pos, n_rep), _unit_mean(v, codes, ctrl_i, pos, n_rep)]
        )
    raise ValueError(f"{q} is not defined for crossover designs")  # refused by the schema
