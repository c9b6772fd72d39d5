"""Published-trial checks of trial quantities: arm means, differences, p-values, responder and
lasting-effect curves computed from simulated replicate trials.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from ketsim.config.scenario import (
    ANY_AE_DEFAULT,
    ExpectedSpec,
    Scenario,
)

if TYPE_CHECKING:
    from ketsim.sim.trial import TrialArrays, TrialModel
from joblib import Parallel, delayed

from ketsim.analysis.endpoints import end_days, gather_days, phase_days, weekly_matrix
from ketsim.apps.published_checks.crossover_checks import crossover_quantity
from ketsim.apps.published_checks.summaries import (
    _MIN_DAYS_PER_WEEK,
    N_BOOTSTRAP,
    _anchor,
    _mean_se,
    _rep_mean,
    _rep_median,
    _Row,
    _z_of_p,
    searched_weeks,
)
from ketsim.core import stats
from ketsim.engine.executors import chunk_ranges, default_chunk_size
from ketsim.engine.summaries import total_patients
from ketsim.sim.design import dosing_end_h
from ketsim.sim.trial import TrialModel, trial_arrays


def _week_values(ta: TrialArrays, e: ExpectedSpec, week: int | None) -> np.ndarray:
    """(P,) NRS of the selected week (or day) per patient, on the expectation's scale."""

    start = _anchor(ta, e)
    if e.measure == "weekly_mean":
        v = weekly_matrix(ta, [week], start, None, _MIN_DAYS_PER_WEEK)[:, 0]
    else:
        day = 7 * week if e.measure == "end_of_week" else e.day
        v = gather_days(ta, ta.nrs, start, np.array([day]))[:, 0]
    if e.scale == "change_from_baseline":
        v = v - ta.baseline
    return v


def _event_values(m: TrialModel | Any, ta: TrialArrays, e: ExpectedSpec) -> np.ndarray:
    """(P,) 1.0 if the patient had the expectation's event (any of ``events``), else 0.0; NaN
    where it cannot be told (an ``nrs_responder`` without an evaluable week or baseline)."""
    events = e.events
    if events is None and e.quantity == "any_ae":
        events = ANY_AE_DEFAULT
    if events is not None:
        seg = ta.randomised_segment
        return np.any([ta.ae[ev][:, seg] for ev in events], axis=0).astype(float)
    ev = e.event
    if ev == "dropout":
        return (~np.isnan(ta.dropout_day)).astype(float)
    if ev == "ketamine_responder":
        return np.asarray(m.responder, float)
    if ev == "placebo_responder":
        return np.asarray(m.placebo_responder, float)
    if ev == "nrs_responder":
        wm = weekly_matrix(ta, [e.week], _anchor(ta, e), None, _MIN_DAYS_PER_WEEK)[:, 0]
        with np.errstate(invalid="ignore"):
            r = (ta.baseline - wm) >= ta.baseline * e.threshold_pct / 100.0 - 1e-12
        return np.where(np.isnan(wm) | np.isnan(ta.baseline), np.nan, r.astype(float))
    return ta.ae[ev][:, ta.randomised_segment].astype(float)


def _p_values(
    ta: TrialArrays,
    e: ExpectedSpec,
    weeks: list[int],
    arm_i: int,
    ctrl_i: int,
    pos: np.ndarray,
    n_rep: int,
) -> np.ndarray:
    """(R, W, 2): p-value and signed z (positive: the arm has less pain) per replicate and week."""

    sel = (ta.arm == arm_i) | (ta.arm == ctrl_i)
    g = (ta.arm[sel] == arm_i).astype(np.int64)
    r = pos[sel]
    alt = "two-sided" if e.sides == 2 else "less"
    out = np.full((n_rep, len(weeks), 2), np.nan)
    for j, w in enumerate(weeks):
        y = _week_values(ta, e, w)[sel]
        if e.test == "wilcoxon":
            est = stats.mann_whitney(y, g, r, n_rep, alternative=alt)
        else:
            est = stats.two_sample_t(y, g, r, n_rep, welch=e.test == "welch", alternative=alt)
        p = np.asarray(est.p_value, float)
        z = _z_of_p(p, e.sides)
        if e.sides == 2:
            z = np.where(np.asarray(est.estimate, float) < 0, z, -z)
        out[:, j, 0] = p
        out[:, j, 1] = np.where(np.isnan(p), np.nan, z)
    return out


def _lasting_curves(
    m: TrialModel,
    ta: TrialArrays,
    e: ExpectedSpec,
    arm_i: int,
    ctrl_i: int,
    pos: np.ndarray,
    n_rep: int,
) -> np.ndarray:
    """(R, 1 + L): column 0 the days from the end of dosing to diary day 1 after it (the arm's
    schedule); then the daily NRS difference control - arm for days 1..L after the end."""

    anchor = end_days(ta)[:, 0]
    L = int(phase_days(m.scenario) - np.nanmax(anchor))
    if L < 8:
        raise ValueError(
            f"lasting_effect_days: only {L} diary days follow the end of dosing (need >= 8)"
        )
    rel = np.arange(1, L + 1)
    vals = gather_days(ta, ta.nrs, anchor, rel)
    means = []
    for k in (ctrl_i, arm_i):
        rows = np.flatnonzero(ta.arm == k)
        x = vals[rows]
        ok = ~np.isnan(x)
        s = np.zeros((n_rep, L))
        c = np.zeros((n_rep, L))
        np.add.at(s, pos[rows], np.where(ok, x, 0.0))
        np.add.at(c, pos[rows], ok.astype(float))
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(np.where(c > 0, s / np.maximum(c, 1), np.nan))
    p0 = int(np.flatnonzero(ta.arm == arm_i)[0])
    seg = m.timeline.groups[int(ta.group[p0])].segments[ta.randomised_segment]
    end_h = max(dosing_end_h(seg.regimens), seg.start_h)
    a = round(float(anchor[p0]))
    offset = (float(m.diary_times[a]) - end_h) / 24.0
    return np.column_stack([np.full(n_rep, offset), means[0] - means[1]])


def _trial_quantity(
    m: TrialModel | Any, ta: TrialArrays, e: ExpectedSpec, pos: np.ndarray, n_rep: int
) -> np.ndarray:
    """Per-replicate values of one trial expectation (first axis: replicate)."""
    if ta.type == "crossover":
        return crossover_quantity(m, ta, e, pos, n_rep)
    names = list(ta.arm_names)
    arm_i = names.index(e.arm) if e.arm is not None else -1
    ctrl_i = names.index(e.control) if e.control is not None else -1
    in_arm = ta.arm == arm_i
    q = e.quantity
    if q == "arm_mean":
        return _rep_mean(_week_values(ta, e, e.week), in_arm, pos, n_rep)
    if q == "arm_difference":
        v = _week_values(ta, e, e.week)
        return _rep_mean(v, in_arm, pos, n_rep) - _rep_mean(v, ta.arm == ctrl_i, pos, n_rep)
    if q == "p_value":
        weeks = list(range(e.weeks[0], e.weeks[1] + 1)) if e.weeks else [e.week]  # day: [None]
        return _p_values(ta, e, weeks, arm_i, ctrl_i, pos, n_rep)
    if q in ("proportion", "any_ae"):
        return _rep_mean(_event_values(m, ta, e), in_arm, pos, n_rep)
    if q in ("proportion_difference", "proportion_ratio"):
        # (R, 2): the arm's and the control's proportion; the ratio is taken of the means
        v = _event_values(m, ta, e)
        pa = _rep_mean(v, in_arm, pos, n_rep)
        pc = _rep_mean(v, ta.arm == ctrl_i, pos, n_rep)
        return np.column_stack([pa, pc])
    if q == "median_nrs":
        return _rep_median(_week_values(ta, e, e.week), in_arm, pos, n_rep)
    if q == "week_of_largest_difference":
        # (R, W): control - arm mean NRS of each searched week (positive: the arm has less pain)
        cols = []
        for w in searched_weeks(e, m.scenario):
            v = _week_values(ta, e, w)
            cols.append(
                _rep_mean(v, ta.arm == ctrl_i, pos, n_rep) - _rep_mean(v, in_arm, pos, n_rep)
            )
        return np.column_stack(cols)
    if q == "end_rate":
        frac = 0.5 if m.racemic else 1.0
        v = np.asarray(m.end_rate, float) * 70.0 / np.asarray(m.weight, float) / frac
        return _rep_mean(v, in_arm, pos, n_rep)
    if q == "lasting_effect_days":
        return _lasting_curves(m, ta, e, arm_i, ctrl_i, pos, n_rep)
    raise ValueError(f"not a trial quantity: {q}")  # pragma: no cover


def _trial_chunk(
    sc: Scenario, specs: list[tuple[int, ExpectedSpec]], entropy: int, lo: int, hi: int
) -> tuple[int, dict[int, np.ndarray]]:
    """Simulate replicates ``lo .. hi-1`` in one batch; per-replicate arrays of each spec."""

    reps = list(range(lo, hi))
    with warnings.catch_warnings():
        # patients with no baseline diary entry (all missing) get a NaN baseline: expected
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        m = TrialModel(sc, entropy, reps, with_agents=False)
        m.run_model()
        ta = trial_arrays(m)
    pos = np.asarray(ta.replicate, dtype=np.int64) - lo
    n_rep = hi - lo
    return lo, {i: _trial_quantity(m, ta, e, pos, n_rep) for i, e in specs}


def _run_trials(
    sc: Scenario, specs: list[tuple[int, ExpectedSpec]], entropy: int, n_rep: int, jobs: int
) -> dict[int, np.ndarray]:
    """Per-replicate arrays (replicate order) of each trial spec over ``n_rep`` replicates."""

    size = default_chunk_size(n_rep, jobs, total_patients(sc))
    ranges = chunk_ranges(range(n_rep), size)
    if jobs > 1 and len(ranges) > 1:
        parts = Parallel(n_jobs=jobs, backend="loky")(
            delayed(_trial_chunk)(sc, specs, entropy, lo, hi) for lo, hi in ranges
        )
    else:
        parts = [_trial_chunk(sc, specs, entropy, lo, hi) for lo, hi in ranges]
    parts = sorted(parts, key=lambda x: x[0])
    return {i: np.concatenate([p[1][i] for p in parts], axis=0) for i, _ in specs}


def _crossing(curve: np.ndarray, offset: float, e: ExpectedSpec) -> tuple[float, bool]:
    """Days after the end of dosing at which the centred 7-day mean of ``curve`` first falls
    below the threshold; (value, censored)."""
    k = np.arange(curve.size)
    ok = ~np.isnan(curve)
    c = np.interp(k, k[ok], curve[ok]) if ok.any() and not ok.all() else curve
    m = np.convolve(c, np.ones(7) / 7.0, mode="valid")  # m[j] is centred on day j + 4
    thr = e.threshold if e.threshold is not None else e.fraction * m[0]
    below = np.flatnonzero(m < thr)
    centre_day = np.arange(m.size) + 4.0
    if below.size == 0:
        return float(centre_day[-1] - 1 + offset), True
    j = int(below[0])
    if j == 0:
        return float(centre_day[0] - 1 + offset), False
    d = centre_day[j - 1] + (m[j - 1] - thr) / (m[j - 1] - m[j])
    return float(d - 1 + offset), False


def _finish_trial_row(
    row: _Row, x: np.ndarray, weeks: list[int] | None, rng: np.random.Generator
) -> None:
    """Fill a row's simulated value and MC SE from its per-replicate array."""
    e = row.spec
    R = x.shape[0]
    if e.quantity == "p_value":
        stat = e.statistic or "median"
        alpha = e.alpha
        p = x[:, :, 0]
        sig = np.where(np.isnan(p), False, p < alpha)
        if stat == "fraction_all_significant":
            f = float(sig.all(axis=1).mean())
            row.value, row.mc_se = f, math.sqrt(f * (1 - f) / R)
            return
        j = weeks.index(row.week)
        if stat == "fraction_significant":
            f = float(sig[:, j].mean())
            row.value, row.mc_se = f, math.sqrt(f * (1 - f) / R)
            return
        pj, zj = p[:, j], x[:, j, 1]
        row.value, row.z = float(np.nanmedian(pj)), float(np.nanmedian(zj))
        idx = rng.integers(0, R, size=(N_BOOTSTRAP, R))
        row.mc_se = float(np.nanmedian(pj[idx], axis=1).std(ddof=1))
        row.z_se = float(np.nanmedian(zj[idx], axis=1).std(ddof=1))
        return
    if e.quantity == "lasting_effect_days":
        offset = float(x[0, 0])
        curves = x[:, 1:]
        row.value, row.censored = _crossing(np.nanmean(curves, axis=0), offset, e)
        idx = rng.integers(0, R, size=(N_BOOTSTRAP, R))
        boot = [_crossing(np.nanmean(curves[b], axis=0), offset, e) for b in idx]
        vals = np.array([v for v, cens in boot if not cens])
        row.mc_se = float(vals.std(ddof=1)) if vals.size > 1 else math.nan
        if row.censored:
            row.note = (
                f"the difference stays above the threshold to the last evaluable day; "
                f"{row.value:.1f} d is a lower bound"
            )
        elif vals.size < len(boot):
            row.note = f"{len(boot) - vals.size} of {len(boot)} bootstrap samples censored"
        return
    if e.quantity == "proportion_difference":
        row.value, row.mc_se = _mean_se(x[:, 0] - x[:, 1])
        return
    if e.quantity == "proportion_ratio":
        row.value, row.mc_se = _ratio_of_means(x[:, 0], x[:, 1])
        return
    if e.quantity == "week_of_largest_difference":
        row.value, row.mc_se = _largest_week(x, weeks, rng)
        return
    row.value, row.mc_se = _mean_se(x)


def _ratio_of_means(a: np.ndarray, c: np.ndarray) -> tuple[float, float]:
    """mean(a) / mean(c) over replicates and its delta-method MC SE.

    The ratio of the expected proportions, not the mean of per-replicate ratios: a small trial's
    control arm can have no event (an infinite ratio), and the mean of ratios is biased.
    """
    ok = ~(np.isnan(a) | np.isnan(c))
    a, c = a[ok], c[ok]
    if a.size == 0 or c.mean() == 0:
        return math.nan, math.nan
    ma, mc = float(a.mean()), float(c.mean())
    ratio = ma / mc
    if a.size < 2 or ma == 0:
        return ratio, math.nan
    cov = np.cov(a, c, ddof=1) / a.size
    rel_var = cov[0, 0] / ma**2 + cov[1, 1] / mc**2 - 2 * cov[0, 1] / (ma * mc)
    return ratio, ratio * math.sqrt(max(float(rel_var), 0.0))


def _largest_week(x: np.ndarray, weeks: list[int], rng: np.random.Generator) -> tuple[float, float]:
    """The searched week with the largest mean difference (over replicates) and its bootstrap
    MC SE over replicates."""

    def arg(curves: np.ndarray) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN week
            m = np.nanmean(curves, axis=0)
        return float(weeks[int(np.nanargmax(m))]) if not np.isnan(m).all() else math.nan

    value = arg(x)
    R = x.shape[0]
    if R < 2 or math.isnan(value):
        return value, math.nan
    idx = rng.integers(0, R, size=(N_BOOTSTRAP, R))
    boot = np.array([arg(x[b]) for b in idx])
    return value, float(np.nanstd(boot, ddof=1))
