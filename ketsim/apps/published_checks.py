"""Validation against published results: the ``expected:`` section of a scenario.

Every :class:`~ketsim.config.scenario.ExpectedSpec` is computed from ``replicates`` simulated
copies of
the scenario (a replicate is one whole trial of the scenario's size, or one population-PK study of
``population.n`` patients), summarised over replicates with its Monte Carlo SE, and compared with
the published value under the expectation's tolerance. ``ketsim validate`` runs it on files or
directories and writes ``validation.csv`` and a self-contained ``validation.html``.

Quantities
----------
Trial quantities use the randomised arms of parallel and enrichment designs; days count from the
first day of the randomised treatment (``anchor: start``) or from the first diary day after its
scheduled dosing ends (``anchor: treatment_end``), as in :mod:`ketsim.analysis.endpoints`.

``arm_mean``
    Mean over the arm's patients of the NRS of ``week`` (``measure``: the diary score of day 7w,
    ``end_of_week``; the mean of days 7w-6..7w with at least 4 entries, ``weekly_mean``; or the
    score of ``day``), or its change from the baseline-days mean (``scale``). Simulated value: the
    mean over replicates; MC SE = SD over replicates / sqrt(R).
``arm_difference``
    The same, ``arm`` minus ``control``, per replicate.
``p_value``
    The per-week test of ``arm`` against ``control`` (``test``: pooled t, Welch, Wilcoxon rank
    sum; ``sides``) on the week's NRS. ``statistic``: ``median`` p over replicates (MC SE by
    bootstrap over replicates); ``fraction_significant`` (p < alpha) per week;
    ``fraction_all_significant``: fraction of replicates significant in every week of ``weeks``.
``proportion``
    Fraction of the arm's randomised patients with ``event``: an adverse event during the
    randomised treatment (``psychotomimetic``, ``nausea``, ...; ``discontinued`` = treatment
    stopped), ``dropout`` (left the study), the latent classes ``ketamine_responder`` and
    ``placebo_responder`` (Dahan 2011's mixture), or ``nrs_responder`` (weekly mean of ``week`` at
    least ``threshold_pct`` below baseline).
``end_rate``
    Mean nominal infusion rate at the end of the titrated infusion, mg/h/70 kg (patients whose
    infusion ran to its end).
``lasting_effect_days``
    ``difference_below`` (trial): the daily NRS difference control - arm, averaged over patients
    and replicates, is smoothed by a centred 7-day mean; day k is the k-th diary day after the end
    of dosing (``treatment_end`` anchor). The result is the time after the end of the infusion
    (days, diary times converted exactly) at which the smoothed difference first falls below
    ``fraction`` x its value centred on day 4 (days 1-7), or below ``threshold`` NRS, linearly
    interpolated between days. MC SE by bootstrap over replicates. If it never falls below within
    the follow-up, the value is censored (a lower bound) and the check fails unless it is a lower
    bound itself (``relation: above``).
    ``slow_below_c50`` (PK on ``regimens``): days from the end of dosing until the
    slow-compartment S-ketamine concentration falls below ``threshold`` (default the PD parameter
    ``slow_c50_ng_ml``, Dahan 2011's C50). ``drive_below``: days until Dahan's desensitizing drive
    ``Ce^γ / (C50^γ + Ce^γ)`` falls below ``fraction`` x its value at the end of dosing.
PK quantities (``regimens``)
    Per patient on the output grid (``output.step``/``end``; requested times are added to it):
    ``pk_cmax``, ``pk_tmax`` (last grid time within 1e-9 of Cmax, in ``unit``), ``pk_auc`` (exact
    for ketamine and norketamine, trapezoidal for effect compartments), ``pk_concentration`` at
    ``time``, ``pk_half_life`` (log-linear least squares over ``window``), ``pk_ratio``
    (``ratio_of``: AUC or Cmax of ``analyte`` in the scenario with ``overrides``, over that of
    ``ratio_analyte`` in the scenario as written, per patient). ``window`` restricts
    Cmax/Tmax/AUC. ``statistic`` summarises the patients of one replicate study (mean, median,
    geometric_mean, sd); the replicate summaries are then averaged (the expected summary of a
    study of that size). ``typical`` is the typical 70-kg man without variability (no Monte Carlo
    error).

Pass or fail
------------
See :class:`~ketsim.config.scenario.ToleranceSpec`. A check is *decisive* when the simulated value
is more
than 2 Monte Carlo SEs from the nearest acceptance bound; otherwise more replicates could flip it.

References
----------
.. [Morris2019] Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical
   methods. Stat Med 2019;38:2074-102 (Monte Carlo SEs of means and proportions).
.. [Efron1993] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall 1993
   (bootstrap SEs of the median and of the crossing time).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import sys
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from ketsim.config.scenario import (
    PK_QUANTITIES,
    TRIAL_QUANTITIES,
    EndpointSpec,
    ExpectedSpec,
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
)
from ketsim.core.seeds import auxiliary_stream, root_entropy

if TYPE_CHECKING:
    from ketsim.sim.trial import TrialArrays, TrialModel

__all__ = [
    "COLUMNS",
    "DEFAULT_REPLICATES",
    "ValidationRun",
    "add_validate_parser",
    "cmd_validate",
    "format_table",
    "render_html",
    "validate_paths",
    "validate_scenario",
    "write_outputs",
]

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


def _anchor(ta: TrialArrays, e: ExpectedSpec) -> np.ndarray:
    from ketsim.analysis.endpoints import end_days, start_days

    return (end_days(ta) if e.anchor == "treatment_end" else start_days(ta))[:, 0]


def _week_values(ta: TrialArrays, e: ExpectedSpec, week: int | None) -> np.ndarray:
    """(P,) NRS of the selected week (or day) per patient, on the expectation's scale."""
    from ketsim.analysis.endpoints import gather_days, weekly_matrix

    start = _anchor(ta, e)
    if e.measure == "weekly_mean":
        v = weekly_matrix(ta, [week], start, None, _MIN_DAYS_PER_WEEK)[:, 0]
    else:
        day = 7 * week if e.measure == "end_of_week" else e.day
        v = gather_days(ta, ta.nrs, start, np.array([day]))[:, 0]
    if e.scale == "change_from_baseline":
        v = v - ta.baseline
    return v


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
    from ketsim.core import stats

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
    from ketsim.analysis.endpoints import end_days, gather_days, phase_days
    from ketsim.sim.design import dosing_end_h

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
        weeks = list(range(e.weeks[0], e.weeks[1] + 1)) if e.weeks else [e.week]
        return _p_values(ta, e, weeks, arm_i, ctrl_i, pos, n_rep)
    if q == "proportion":
        ev = e.event
        if ev == "dropout":
            v = (~np.isnan(ta.dropout_day)).astype(float)
        elif ev == "ketamine_responder":
            v = np.asarray(m.responder, float)
        elif ev == "placebo_responder":
            v = np.asarray(m.placebo_responder, float)
        elif ev == "nrs_responder":
            from ketsim.analysis.endpoints import weekly_matrix

            wm = weekly_matrix(ta, [e.week], _anchor(ta, e), None, _MIN_DAYS_PER_WEEK)[:, 0]
            with np.errstate(invalid="ignore"):
                r = (ta.baseline - wm) >= ta.baseline * e.threshold_pct / 100.0 - 1e-12
            v = np.where(np.isnan(wm) | np.isnan(ta.baseline), np.nan, r.astype(float))
        else:
            v = ta.ae[ev][:, ta.randomised_segment].astype(float)
        return _rep_mean(v, in_arm, pos, n_rep)
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
    from ketsim.sim.trial import TrialModel, trial_arrays

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
    from ketsim.engine.executors import chunk_ranges, default_chunk_size
    from ketsim.engine.summaries import total_patients

    size = default_chunk_size(n_rep, jobs, total_patients(sc))
    ranges = chunk_ranges(range(n_rep), size)
    if jobs > 1 and len(ranges) > 1:
        from joblib import Parallel, delayed

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
    row.value, row.mc_se = _mean_se(x)


# -- PK quantities --------------------------------------------------------------------------------
_UNIT_H = {"h": 1.0, "min": 1 / 60.0, "d": 24.0}


def _pk_times(sc: Scenario, specs: Iterable[ExpectedSpec]) -> np.ndarray:
    from ketsim.sim.design import dosing_end_h

    out = sc.output
    t = np.arange(0.0, out.end + 0.5 * out.step, out.step)
    extra = [dosing_end_h(sc.regimens)]
    for e in specs:
        extra += [x for x in (e.time, *(e.window or ())) if x is not None]
    extra = [x for x in extra if 0 <= x <= t[-1] + 1e-9]
    return np.unique(np.round(np.concatenate([t, np.asarray(extra, float)]), 12))


def _pk_conc(
    sc: Scenario, entropy: int, reps: list[int], typical: bool, times: np.ndarray
) -> dict[str, np.ndarray]:
    """Concentrations per enantiomer, (P, T, n_out) with AUC outputs; P = len(reps) x n, or 1."""
    from ketsim.core.pk.model import Covariates
    from ketsim.sim.compile import compile_dosing
    from ketsim.sim.pk_study import pk_switches, simulate_concentrations
    from ketsim.sim.population import sample_populations

    if typical:
        cov, eta = Covariates.typical(1), None
    else:
        pop = sample_populations(sc.population, entropy, reps)
        cov = pop.pk_covariates(sc.switches.cyp3a_cyp2c9_effect)
        eta = pop.eta_pk
    return simulate_concentrations(
        cov,
        eta,
        compile_dosing(sc.regimens),
        times,
        parameter_set=sc.parameter_set,
        switches=pk_switches(sc),
        racemic=sc.drug == "racemic",
        with_auc=True,
    )


def _analyte(conc: dict, name: str, enantiomer: str, auc: bool = False) -> np.ndarray:
    from ketsim.core.pk.model import AUC_OUTPUTS, OUTPUTS

    names = OUTPUTS + AUC_OUTPUTS
    k = names.index(f"auc_{name}" if auc else name)
    if enantiomer == "sum":
        return sum(c[:, :, k] for c in conc.values())
    return conc[enantiomer][:, :, k]


def _window_mask(times: np.ndarray, e: ExpectedSpec) -> np.ndarray:
    if e.window is None:
        return np.ones(times.size, bool)
    return (times >= e.window[0] - 1e-9) & (times <= e.window[1] + 1e-9)


def _pk_metric(
    conc: dict, times: np.ndarray, e: ExpectedSpec, what: str, analyte: str, sc: Scenario
) -> np.ndarray:
    """(P,) per-patient metric ``what`` (cmax, tmax, auc, conc, half_life, lasting)."""
    if what == "lasting":
        return _lasting_pk(conc, times, e, sc)
    c = _analyte(conc, analyte, e.enantiomer)
    w = _window_mask(times, e)
    if what == "cmax":
        return c[:, w].max(axis=1)
    if what == "tmax":
        cw, tw = c[:, w], times[w]
        cmax = cw.max(axis=1)
        near = cw >= cmax[:, None] * (1.0 - 1e-9)
        last = cw.shape[1] - 1 - np.argmax(near[:, ::-1], axis=1)
        return tw[last] / _UNIT_H[e.unit]
    if what == "auc":
        i0, i1 = np.flatnonzero(w)[[0, -1]]
        if analyte in ("ketamine", "norketamine"):
            a = _analyte(conc, analyte, e.enantiomer, auc=True)
            return a[:, i1] - a[:, i0]
        return np.trapezoid(c[:, i0 : i1 + 1], times[i0 : i1 + 1], axis=1)
    if what == "conc":
        return c[:, int(np.argmin(np.abs(times - e.time)))]
    if what == "half_life":
        tw, cw = times[w], c[:, w]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(np.where(cw > 0, cw, np.nan))
        tc = tw - tw.mean()
        ok = ~np.isnan(y)
        ym = np.nanmean(y, axis=1, keepdims=True)
        slope = np.nansum(tc * (y - ym), axis=1) / np.sum(np.where(ok, tc**2, 0.0), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(slope < 0, -math.log(2) / slope, np.nan) / _UNIT_H[e.unit]
    raise ValueError(f"unknown PK metric {what!r}")  # pragma: no cover


def _first_below(t: np.ndarray, y: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """(P,) first time rows of ``y`` fall below ``thr`` (linear interpolation); NaN if never."""
    below = y < thr[:, None]
    has = below.any(axis=1)
    j = np.argmax(below, axis=1)
    jm = np.maximum(j - 1, 0)
    rows = np.arange(y.shape[0])
    y0, y1 = y[rows, jm], y[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(j > 0, (y0 - thr) / (y0 - y1), 0.0)
    tt = t[jm] + f * (t[j] - t[jm])
    return np.where(has, tt, np.nan)


def _lasting_pk(conc: dict, times: np.ndarray, e: ExpectedSpec, sc: Scenario) -> np.ndarray:
    """Days from the end of dosing until ce_slow (or Dahan's drive) falls below its threshold."""
    from ketsim.core.pd.parameters import resolve_pd
    from ketsim.core.pd.sensitization import desensitizing_drive
    from ketsim.sim.design import dosing_end_h

    prm = resolve_pd(sc.pd)
    end = dosing_end_h(sc.regimens)
    i_end = int(np.argmin(np.abs(times - end)))
    t = times[i_end:]
    ce = _analyte(conc, "ce_slow", e.enantiomer)[:, i_end:]
    if e.definition == "slow_below_c50":
        thr = e.threshold if e.threshold is not None else prm.slow_c50_ng_ml
        y, th = ce, np.full(ce.shape[0], thr)
    else:
        y = desensitizing_drive(ce, prm.slow_c50_ng_ml, prm)
        th = e.fraction * y[:, 0]
    return (_first_below(t, y, th) - end) / 24.0


def _pk_what(e: ExpectedSpec) -> str:
    return {
        "pk_cmax": "cmax",
        "pk_tmax": "tmax",
        "pk_auc": "auc",
        "pk_concentration": "conc",
        "pk_half_life": "half_life",
        "lasting_effect_days": "lasting",
    }[e.quantity]


def _pk_patient_values(e: ExpectedSpec, get: Any) -> np.ndarray:
    """(P,) per-patient values of a PK expectation; ``get(key)`` -> (scenario, conc, times)."""
    key = _variant_key(e)
    sc, conc, times = get(key)
    if e.quantity == "pk_ratio":
        num = _pk_metric(conc, times, e, e.ratio_of, e.analyte, sc)
        bsc, bconc, btimes = get(_BASE)
        den = _pk_metric(bconc, btimes, e, e.ratio_of, e.ratio_analyte or e.analyte, bsc)
        if num.shape != den.shape:
            raise ValueError(
                f"expected '{e.name}': pk_ratio pairs patients, so its overrides must keep "
                "population.n"
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            return num / den
    return _pk_metric(conc, times, e, _pk_what(e), e.analyte, sc)


def _run_pk(
    rows: list[_Row],
    variants: dict[str, Scenario],
    entropy: int,
    n_rep: int,
) -> None:
    """Fill the PK rows (population statistics over replicates, or the typical patient)."""
    need: dict[str, list[ExpectedSpec]] = {}
    for r in rows:
        need.setdefault(_variant_key(r.spec), []).append(r.spec)
        if r.spec.quantity == "pk_ratio":
            need.setdefault(_BASE, []).append(r.spec)
    grids = {k: _pk_times(variants[k], v) for k, v in need.items()}

    def getter(typical: bool, reps: list[int], cache: dict):
        def get(key: str):
            if key not in cache:
                vsc = variants[key]
                cache[key] = (vsc, _pk_conc(vsc, entropy, reps, typical, grids[key]), grids[key])
            return cache[key]

        return get

    typical_rows = [r for r in rows if (r.spec.statistic or "mean") == "typical"]
    pop_rows = [r for r in rows if (r.spec.statistic or "mean") != "typical"]
    if typical_rows:
        get = getter(True, [0], {})
        for r in typical_rows:
            v = _pk_patient_values(r.spec, get)
            r.value, r.mc_se = float(v[0]), 0.0
            if np.isnan(r.value):
                r.note = "not reached within the output grid"
    if not pop_rows:
        return
    n = max(variants[k].population.n for k in need)
    size = max(1, min(n_rep, 20_000 // max(n, 1)))
    per_rep: dict[int, list[np.ndarray]] = {id(r): [] for r in pop_rows}
    never: dict[int, int] = {id(r): 0 for r in pop_rows}
    for lo in range(0, n_rep, size):
        reps = list(range(lo, min(n_rep, lo + size)))
        get = getter(False, reps, {})
        for r in pop_rows:
            v = _pk_patient_values(r.spec, get)
            never[id(r)] += int(np.isnan(v).sum())
            per_rep[id(r)].append(_summary(v.reshape(len(reps), -1), r.spec.statistic or "mean"))
    for r in pop_rows:
        r.value, r.mc_se = _mean_se(np.concatenate(per_rep[id(r)]))
        if never[id(r)]:
            r.note = f"{never[id(r)]} patient values undefined (not reached) and left out"


# -- judging --------------------------------------------------------------------------------------
def _bounds(row: _Row) -> tuple[float, float, str]:
    """Acceptance interval on the quantity's scale and its description."""
    e = row.spec
    v = e.value
    if e.relation == "below":
        return -math.inf, v, f"< {v:g}"
    if e.relation == "above":
        return v, math.inf, f"> {v:g}"
    t = e.tolerance
    kind = t.kind
    if kind == "k_se":
        tol = t.k_se * e.published_se()
        return v - tol, v + tol, f"±{tol:.3g} ({t.k_se:g} SE)"
    if kind == "abs":
        return v - t.abs, v + t.abs, f"±{t.abs:g}"
    if kind == "rel":
        tol = t.rel * abs(v)
        return v - tol, v + tol, f"±{100 * t.rel:g}% (±{tol:.3g})"
    if kind == "ci":
        lvl = f"{100 * e.ci_level:g}%"
        return e.ci[0], e.ci[1], f"in the published {lvl} CI"
    if kind == "z":
        zp = float(_z_of_p(np.array([v]), e.sides)[0])
        lo = _p_of_z(zp + t.z, e.sides)
        hi = _p_of_z(zp - t.z, e.sides) if zp - t.z > 0 else 1.0
        return lo, hi, f"|Δz| ≤ {t.z:g} (z = {zp:.2f})"
    # tail
    if v == 1.0:
        return t.tail, 1.0, f"≥ {t.tail:g} of trials"
    return 0.0, 1.0 - t.tail, f"≤ {1 - t.tail:g} of trials"


def _judge(row: _Row) -> tuple[bool, bool, float, float, str]:
    """(passed, decisive, lower, upper, tolerance text)."""
    e = row.spec
    lo, hi, text = _bounds(row)
    x, se = row.value, row.mc_se
    if math.isnan(x):
        return False, True, lo, hi, text
    if e.tolerance is not None and e.tolerance.kind == "z":
        zp = float(_z_of_p(np.array([e.value]), e.sides)[0])
        margin = e.tolerance.z - abs(row.z - zp)
        se = row.z_se
        passed = margin >= 0
    elif row.censored:
        # the simulated value is only a lower bound
        passed = math.isinf(hi) and x > lo
        margin = (x - lo) if passed else -math.inf
    else:
        if e.relation == "below":
            passed, margin = x < hi, hi - x
        elif e.relation == "above":
            passed, margin = x > lo, x - lo
        else:
            passed = lo <= x <= hi
            margin = min(x - lo, hi - x)
    # NaN MC SE (a single replicate): undecided; 0 (the typical patient): exact
    close = math.isnan(se) or (0 < se and abs(margin) <= 2 * se)
    decisive = not (math.isfinite(margin) and close)
    return bool(passed), bool(decisive), lo, hi, text


def _unit(e: ExpectedSpec) -> str:
    q = e.quantity
    if q in ("arm_mean", "arm_difference"):
        return "NRS change" if e.scale == "change_from_baseline" else "NRS"
    if q == "p_value":
        return "p" if (e.statistic or "median") == "median" else "fraction of trials"
    if q == "proportion":
        return "fraction"
    if q == "end_rate":
        return "mg/h/70 kg"
    if q == "lasting_effect_days":
        return "days"
    if q in ("pk_cmax", "pk_concentration"):
        return "ng/mL"
    if q == "pk_auc":
        return "ng·h/mL"
    if q in ("pk_tmax", "pk_half_life"):
        return e.unit
    return "ratio"


def _selector(row: _Row) -> str:
    e = row.spec
    q = e.quantity
    parts: list[str] = []
    if e.arm is not None:
        parts.append(f"{e.arm} vs {e.control}" if e.control else e.arm)
    if q in ("arm_mean", "arm_difference", "p_value"):
        if e.measure == "day":
            parts.append(f"day {e.day}")
        elif q == "p_value" and (e.statistic or "median") == "fraction_all_significant":
            parts.append(f"weeks {e.weeks[0]}-{e.weeks[1]}" if e.weeks else f"week {e.week}")
            parts.append(e.measure)
        else:
            parts.append(f"week {row.week}")
            parts.append(e.measure)
        if e.scale != "nrs":
            parts.append(e.scale)
        if e.anchor != "start":
            parts.append(f"from {e.anchor}")
    if q == "p_value":
        parts.append(f"{e.test}, {e.statistic or 'median'}")
        if (e.statistic or "median") != "median":
            parts.append(f"alpha {e.alpha:g}")
    if q == "proportion":
        parts.append(e.event + (f" week {e.week} ({e.threshold_pct:g}%)" if e.week else ""))
    if q == "lasting_effect_days":
        if e.fraction is not None:
            how = f"{e.fraction:g} x its start"
        else:
            how = f"{e.threshold:g}" if e.threshold is not None else ""
        parts.append(
            {
                "difference_below": f"difference below {how}",
                "slow_below_c50": "slow compartment below "
                + (f"{e.threshold:g} ng/mL" if e.threshold else "C50"),
                "drive_below": f"drive below {how}",
            }[e.definition]
        )
    if q in PK_QUANTITIES:
        an = e.analyte + (f"/{e.ratio_analyte}" if e.ratio_analyte else "")
        parts.append(an if e.enantiomer == "S" else f"{e.enantiomer}-{an}")
        if q == "pk_ratio":
            parts.append(e.ratio_of)
        if e.time is not None:
            parts.append(f"at {e.time:g} h")
        if e.window is not None:
            parts.append(f"{e.window[0]:g}-{e.window[1]:g} h")
    if q in PK_QUANTITIES or (q == "lasting_effect_days" and e.definition != "difference_below"):
        parts.append(e.statistic or "mean")
    if e.overrides:
        parts.append("with overrides")
    return ", ".join(parts)


def _published_text(e: ExpectedSpec) -> str:
    if e.quantity == "p_value" and (e.statistic or "median") != "median":
        return "significant" if e.value == 1 else "not significant"
    if e.quantity == "p_value":
        txt = f"P = {e.value:g}"
    else:
        txt = f"{e.value:g}"
    if e.se is not None:
        txt += f" ± {e.se:g} (SE)"
    elif e.sd is not None:
        txt += f" ± {e.sd:g} (SD)"
    if e.ci is not None:
        txt += f" ({100 * e.ci_level:g}% CI {e.ci[0]:g}-{e.ci[1]:g})"
    if e.n is not None:
        txt += f", n = {e.n}"
    if e.relation == "below":
        txt = f"< {e.value:g}" if e.quantity != "p_value" else f"P < {e.value:g}"
    elif e.relation == "above":
        txt = f"> {e.value:g}"
    return txt


# -- one scenario ---------------------------------------------------------------------------------
def validate_scenario(
    path_or_scenario: str | Path | Scenario,
    replicates: int = DEFAULT_REPLICATES,
    seed: int | None = None,
    jobs: int = 1,
) -> pd.DataFrame:
    """Compute every ``expected:`` item of a scenario from simulated replicates and judge it.

    Parameters
    ----------
    path_or_scenario : a scenario file or a validated :class:`~ketsim.config.scenario.Scenario`.
    replicates : replicate trials (or replicate PK studies of ``population.n`` patients).
    seed : root entropy; default the scenario's ``seed``, else fresh (see the ``seed`` column).
    jobs : worker processes for the trial simulations (loky); results do not depend on it.

    Returns
    -------
    pandas.DataFrame
        One row per check (a ``p_value`` profile over ``weeks`` gives one row per week) with the
        columns :data:`COLUMNS`; empty if the scenario has no ``expected:``.

    Raises
    ------
    ScenarioError
        If the file cannot be read or is not a valid scenario.
    ValueError
        If ``replicates`` or ``jobs`` is < 1, or a quantity cannot be computed.
    """
    if isinstance(path_or_scenario, Scenario):
        sc, file = path_or_scenario, ""
    else:
        sc, file = load_scenario(path_or_scenario), str(path_or_scenario)
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1 (got {replicates})")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1 (got {jobs})")
    if not sc.expected:
        return pd.DataFrame(columns=COLUMNS)
    entropy = root_entropy(seed, sc.seed)
    rows = _rows(sc)
    variants: dict[str, Scenario] = {_BASE: sc}
    for e in sc.expected:
        k = _variant_key(e)
        if k not in variants:
            variants[k] = apply_overrides(sc, e.overrides)
    rng = _bootstrap_rng(entropy)
    # trial expectations: one batch of replicates per scenario variant
    trial_specs: dict[str, list[tuple[int, ExpectedSpec]]] = {}
    for i, e in enumerate(sc.expected):
        if _is_trial(e):
            trial_specs.setdefault(_variant_key(e), []).append((i, e))
    results: dict[int, np.ndarray] = {}
    for key, specs in trial_specs.items():
        results.update(_run_trials(variants[key], specs, entropy, replicates, jobs))
    for r in rows:
        if _is_trial(r.spec):
            e = r.spec
            weeks = list(range(e.weeks[0], e.weeks[1] + 1)) if e.weeks else [e.week]
            _finish_trial_row(r, results[r.index], weeks, rng)
    pk_rows = [r for r in rows if not _is_trial(r.spec)]
    if pk_rows:
        _run_pk(pk_rows, variants, entropy, replicates)
    out = []
    for r in rows:
        e = r.spec
        passed, decisive, lo, hi, tol = _judge(r)
        note = "; ".join(x for x in (e.note.strip(), r.note) if x)
        out.append(
            {
                "scenario": sc.name,
                "file": file,
                "check": e.name,
                "quantity": e.quantity,
                "week": r.week if e.quantity == "p_value" else None,
                "selector": _selector(r),
                "unit": _unit(e),
                "published": e.value,
                "published_se": e.published_se(),
                "published_text": _published_text(e),
                "simulated": r.value,
                "mc_se": r.mc_se,
                "lower": lo,
                "upper": hi,
                "tolerance": tol,
                "passed": passed,
                "decisive": decisive,
                "replicates": 1 if (e.statistic == "typical") else replicates,
                "seed": str(entropy),
                "source": e.source,
                "note": note,
            }
        )
    df = pd.DataFrame(out, columns=COLUMNS)
    df["week"] = df["week"].astype("Int64")
    return df


# -- files and directories ------------------------------------------------------------------------
@dataclass
class ValidationRun:
    """Result of :func:`validate_paths`."""

    table: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    elapsed_s: float = 0.0
    replicates: int = DEFAULT_REPLICATES
    timings_s: dict[str, float] = field(default_factory=dict)  # file -> seconds
    #: one entry per validated scenario: name, file, description, reference, seed, seconds
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        """True if every check passed (and there was at least one)."""
        return bool(len(self.table)) and bool(self.table["passed"].all())


def scenario_files(paths: Sequence[str | Path]) -> list[Path]:
    """The YAML files named by ``paths`` (directories are searched recursively, sorted).

    Raises
    ------
    ScenarioError
        ``(file): no such file or directory`` for a missing path.
    """
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml"))
        elif p.is_file():
            files.append(p)
        else:
            raise ScenarioError(["(file): no such file or directory"], str(p))
    return list(dict.fromkeys(files))


def validate_paths(
    paths: Sequence[str | Path],
    replicates: int = DEFAULT_REPLICATES,
    seed: int | None = None,
    jobs: int = 1,
) -> ValidationRun:
    """Validate every scenario with an ``expected:`` section under ``paths``.

    Every file is loaded (and every problem collected) before anything is simulated; scenarios
    without ``expected:`` are skipped with a note.

    Parameters
    ----------
    paths : scenario files and directories (searched recursively for ``*.yaml``/``*.yml``).
    replicates, seed, jobs : as :func:`validate_scenario` (``seed`` applies to every scenario).

    Returns
    -------
    ValidationRun
        The concatenated table (:data:`COLUMNS`), skipped files with the reason, timings and
        the validated scenarios' names, references and descriptions.

    Raises
    ------
    ScenarioError
        If a path is missing or a file is not a valid scenario (all problems of all files).
    """
    t0 = time.perf_counter()
    problems: list[str] = []
    loaded: list[tuple[Path, Scenario]] = []
    for f in scenario_files(paths):
        try:
            loaded.append((f, load_scenario(f)))
        except ScenarioError as err:
            problems += [f"{f}: {line}" for line in err.problems]
    if problems:
        raise ScenarioError(problems, "validate")
    tables, skipped, timings, info = [], [], {}, []
    for f, sc in loaded:
        if not sc.expected:
            skipped.append((str(f), "no 'expected:' section"))
            continue
        t1 = time.perf_counter()
        df = validate_scenario(sc, replicates=replicates, seed=seed, jobs=jobs)
        df["file"] = str(f)
        tables.append(df)
        timings[str(f)] = time.perf_counter() - t1
        info.append(
            {
                "name": sc.name,
                "file": str(f),
                "description": sc.description.strip(),
                "reference": (sc.reference or "").strip(),
                "seed": df["seed"].iloc[0] if len(df) else "",
                "seconds": timings[str(f)],
            }
        )
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
    return ValidationRun(table, skipped, time.perf_counter() - t0, replicates, timings, info)


# -- output ---------------------------------------------------------------------------------------
def _num(x: Any, se: Any = None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    s = f"{x:.4g}"
    if se is not None and not (isinstance(se, float) and math.isnan(se)) and se > 0:
        s += f" ± {se:.2g}"
    return s


def _result(row: pd.Series) -> str:
    r = "PASS" if row["passed"] else "FAIL"
    return r if row["decisive"] else f"{r}?"


def _check_label(row: pd.Series) -> str:
    w = row["week"]
    return f"{row['check']} [week {int(w)}]" if not pd.isna(w) else str(row["check"])


def format_table(table: pd.DataFrame) -> str:
    """Plain-text table: scenario, check, published, simulated ± MC SE, acceptance, result.

    ``FAIL?``/``PASS?`` mark results within 2 Monte Carlo SEs of an acceptance bound.
    """
    if table.empty:
        return "(no checks)"
    head = ["scenario", "check", "published", "simulated ± MC SE", "acceptance", "unit", "result"]
    body = [
        [
            str(r["scenario"]),
            _check_label(r),
            str(r["published_text"]),
            _num(r["simulated"], r["mc_se"]),
            str(r["tolerance"]),
            str(r["unit"]),
            _result(r),
        ]
        for _, r in table.iterrows()
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    n_pass = int(table["passed"].sum())
    lines.append(f"{n_pass} of {len(table)} checks passed")
    return "\n".join(lines)


def render_html(run: ValidationRun, title: str = "ketsim validation") -> str:
    """A self-contained HTML page of the validation table (every text cell escaped)."""
    from ketsim import __version__

    esc = html.escape
    t = run.table
    cols = [
        ("scenario", "scenario"),
        ("check", "check"),
        ("selector", "what"),
        ("published_text", "published"),
        ("simulated", "simulated ± MC SE"),
        ("tolerance", "acceptance"),
        ("unit", "unit"),
        ("result", "result"),
        ("source", "source"),
        ("note", "note"),
    ]
    rows = []
    for _, r in t.iterrows():
        cells = []
        for key, _label in cols:
            if key == "check":
                v = _check_label(r)
            elif key == "simulated":
                v = _num(r["simulated"], r["mc_se"])
            elif key == "result":
                v = _result(r)
            else:
                v = "" if pd.isna(r[key]) else str(r[key])
            cells.append(f"<td>{esc(v)}</td>")
        cls = "pass" if r["passed"] else "fail"
        rows.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
    n_pass = int(t["passed"].sum()) if len(t) else 0
    skipped = "".join(f"<li>{esc(f)}: {esc(why)}</li>" for f, why in run.skipped)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    head = "".join(f"<th>{esc(label)}</th>" for _, label in cols)
    scen = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(x))}</td>"
            for x in (
                d["name"],
                d["file"],
                d["reference"],
                d["description"],
                d["seed"],
                f"{d['seconds']:.1f}",
            )
        )
        + "</tr>"
        for d in run.scenarios
    )
    scen_head = "".join(
        f"<th>{h}</th>" for h in ("scenario", "file", "reference", "description", "seed", "seconds")
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
tr.pass td {{ background: #e6f4e6; }}
tr.fail td {{ background: #f8dcdc; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{n_pass} of {len(t)} checks passed; {run.replicates} replicates per scenario;
{run.elapsed_s:.1f} s; ketsim {esc(__version__)}; {esc(stamp)}.</p>
<h2>Scenarios</h2>
<table><thead><tr>{scen_head}</tr></thead><tbody>{scen}</tbody></table>
<h2>Checks</h2>
<p>"PASS?"/"FAIL?": within 2 Monte Carlo SEs of an acceptance bound (more replicates could flip
it).</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
{f"<h2>Skipped</h2><ul>{skipped}</ul>" if skipped else ""}
</body></html>
"""


def default_out_dir(base: str | Path = "runs") -> Path:
    """``runs/validation-<UTC time>/``."""
    return Path(base) / f"validation-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def write_outputs(run: ValidationRun, out: str | Path) -> list[Path]:
    """Write ``validation.csv`` and ``validation.html`` into ``out``; returns the paths."""
    from ketsim.storage.files import write_text_atomic

    out = Path(out)
    csv = out / "validation.csv"
    page = out / "validation.html"
    write_text_atomic(csv, run.table.to_csv(index=False))
    write_text_atomic(page, render_html(run))
    return [csv, page]


# -- command line ---------------------------------------------------------------------------------
def add_validate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``ketsim validate [PATHS...]`` to an argparse sub-parser set (``func`` = handler)."""
    p = subparsers.add_parser(
        "validate",
        help="simulate scenarios and compare them with their published 'expected:' results",
        description="Exit 0 if every check passes, 1 if any fails, 2 on bad input.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        default=["scenarios/published"],
        help="scenario files or directories (default scenarios/published)",
    )
    p.add_argument(
        "--replicates",
        type=int,
        default=DEFAULT_REPLICATES,
        help=f"replicate trials / PK studies per scenario (default {DEFAULT_REPLICATES})",
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--seed", type=int, help="root seed for every scenario (default: each one's)")
    p.add_argument("--out", help="output directory (default runs/validation-<UTC time>)")
    p.add_argument("--quiet", action="store_true", help="no table on stdout")
    p.set_defaults(func=cmd_validate)
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    """Handler of ``ketsim validate``: 0 all pass, 1 any fail (or output error), 2 bad input."""
    for name, low in (("replicates", 1), ("jobs", 1), ("seed", 0)):
        v = getattr(args, name, None)
        if v is not None and v < low:
            print(f"ketsim validate: --{name} must be >= {low}", file=sys.stderr)
            return 2
    try:
        run = validate_paths(args.paths, replicates=args.replicates, seed=args.seed, jobs=args.jobs)
    except ScenarioError as err:
        src = "" if err.source == "validate" else f"{err.source}: "
        for line in err.problems:
            print(f"{src}{line}", file=sys.stderr)
        return 2
    except ValueError as err:  # a check that cannot be computed for this scenario
        print(f"ketsim validate: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"ketsim validate: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nketsim validate: interrupted", file=sys.stderr)
        return 130
    for f, why in run.skipped:
        print(f"skipped {f}: {why}", file=sys.stderr)
    if run.table.empty:
        print("ketsim validate: no scenario with an 'expected:' section", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out_dir()
    try:
        files = write_outputs(run, out)
    except OSError as err:
        print(f"ketsim validate: cannot write to {out}: {err.strerror or err}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(format_table(run.table))
        print(f"{run.replicates} replicates, {run.elapsed_s:.1f} s; wrote {files[0]}, {files[1]}")
    return 0 if run.all_passed else 1
