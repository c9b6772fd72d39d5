"""Endpoints per patient (or per patient and crossover period) from the diary and events.

All functions are vectorised over every patient of every replicate in a batch and read a
:class:`~ketsim.sim.trial.TrialArrays`. Days count from the first day of the *randomised* treatment
(day 1): the first treatment day of a parallel trial, the first day after randomisation in an
enrichment (EERW) design, the first day of each period in a crossover.

Definitions
-----------
- weekly mean: mean of the observed daily NRS of days ``7(w-1)+1 .. 7w``; missing when fewer than
  ``min_days_per_week`` entries exist.
- change from baseline: weekly mean minus the mean observed NRS of the baseline days.
- AUC: trapezoidal area under the daily NRS over days ``a..b`` (NRS x days), missing days linearly
  interpolated, the ends extended flat; missing when fewer than half the days were recorded
  (Pickering 2020 used the 35-day AUC of daily pain after each infusion).
- responder: weekly mean at least ``threshold_pct`` below baseline (30% and 50% are the IMMPACT
  moderate and substantial thresholds; Dworkin 2008).
- time to relapse: day on which the 7-day mean first exceeds ``baseline x (1 - threshold)``, i.e.
  the patient no longer has a ``threshold_pct`` response (from day 7 on, needing 4 entries);
  censored at the last evaluable day.
- adverse events and dropout: during the randomised phase.
- session endpoints (``assessments:``), in a session of the randomised treatment (each crossover
  period): ``session_score`` the reading at an offset on the assessment's scale;
  ``session_relief`` its % relief from the pre-session reading, ``100 (1 - x / x_pre)``;
  ``peak_session_relief`` the highest % relief over the session's readings. ``session: mean``
  averages the sessions with a value. The ANCOVA baseline of a session endpoint is the
  pre-session reading (of the first period), not the diary baseline.

References
----------
Dworkin RH, et al. Interpreting the clinical importance of treatment outcomes in chronic pain
clinical trials: IMMPACT recommendations. J Pain 2008;9:105-21.
Pickering G, et al. Ketamine and magnesium for refractory neuropathic pain: a randomized,
double-blind, crossover trial. Anesthesiology 2020;133:154-64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pandas as pd

    from ketsim.config.scenario import EndpointSpec, Scenario
    from ketsim.sim.trial import TrialArrays

__all__ = [
    "EndpointData",
    "carryover_diagnostic",
    "compute_endpoint",
    "gather_days",
    "period_baselines",
    "phase_days",
    "start_days",
    "weekly_matrix",
]


@dataclass
class EndpointData:
    """An endpoint's values for every analysis unit (patient, or patient x period).

    Attributes
    ----------
    value : (P,) or (P, J) values (NaN = missing); event day for time-to-event endpoints.
    event : (P,) 1 = event, 0 = censored (time-to-event endpoints only).
    arm : arm index per unit (-1: not in the analysis, e.g. an EERW run-in failure).
    ice_day : day (relative to day 1) of the first intercurrent event (treatment discontinuation
        or dropout), NaN if none.
    ice_ae : the intercurrent event was an adverse event (discontinuation or dropout for AEs).
    end_day : relative day at which the endpoint is assessed.
    baseline_value : the value the endpoint takes at the patient's baseline (for BOCF).
    """

    value: np.ndarray
    arm: np.ndarray
    baseline: np.ndarray
    ice_day: np.ndarray
    ice_ae: np.ndarray
    end_day: float
    baseline_value: np.ndarray
    event: np.ndarray | None = None


def start_days(ta: TrialArrays) -> np.ndarray:
    """(P, J) diary day before day 1 of each randomised segment (J = periods; else 1)."""
    if ta.type == "crossover":
        return ta.segment_start_day
    return ta.segment_start_day[:, [ta.randomised_segment]]


def end_days(ta: TrialArrays) -> np.ndarray:
    """(P, 1) diary day before the first entry after the randomised segment's dosing ends."""
    if ta.segment_end_day is None:
        raise ValueError("these trial arrays carry no treatment end days")
    return ta.segment_end_day[:, [ta.randomised_segment]]


def phase_days(sc: Scenario) -> int:
    """Days of the randomised phase (one period for a crossover)."""
    if sc.design.type == "crossover":
        return 7 * sc.design.crossover.period_weeks
    return 7 * sc.trial.weeks


def gather_days(ta: TrialArrays, nrs: np.ndarray, start: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """NRS of relative days ``rel`` (L,) after per-unit start days ``start`` (P,) -> (P, L)."""
    col = ta.baseline_days + np.round(start).astype(np.int64)[:, None] + rel[None, :] - 1
    ok = (col >= ta.baseline_days) & (col < nrs.shape[1])
    vals = np.take_along_axis(nrs, np.clip(col, 0, nrs.shape[1] - 1), axis=1)
    return np.where(ok, vals, np.nan)


def _nanmean_min(x: np.ndarray, min_n: int) -> np.ndarray:
    cnt = np.sum(~np.isnan(x), axis=-1)
    tot = np.nansum(x, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt >= min_n, tot / np.maximum(cnt, 1), np.nan)


def weekly_matrix(
    ta: TrialArrays,
    weeks: list[int] | np.ndarray,
    start: np.ndarray,
    nrs: np.ndarray | None = None,
    min_days: int = 4,
) -> np.ndarray:
    """Weekly mean NRS (P, W) at the given weeks after per-patient start days ``start`` (P,)."""
    nrs = ta.nrs if nrs is None else nrs
    out = np.empty((ta.n, len(weeks)))
    for i, w in enumerate(weeks):
        rel = np.arange(7 * (w - 1) + 1, 7 * w + 1)
        out[:, i] = _nanmean_min(gather_days(ta, nrs, start, rel), min_days)
    return out


def _auc(x: np.ndarray) -> np.ndarray:
    """Trapezoidal AUC of rows with NaN gaps interpolated (ends flat); NaN if < half observed."""
    P, L = x.shape
    obs = ~np.isnan(x)
    n_obs = obs.sum(axis=1)
    out = np.full(P, np.nan)
    enough = n_obs * 2 >= L
    if not np.any(enough):
        return out
    xs = x[enough]
    o = obs[enough]
    idx = np.arange(L)
    # forward and backward fill positions of the nearest observed day
    last = np.where(o, idx, -1)
    last = np.maximum.accumulate(last, axis=1)
    nxt = np.where(o, idx, L)
    nxt = np.minimum.accumulate(nxt[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(xs.shape[0])[:, None]
    lv = xs[rows, np.clip(last, 0, L - 1)]
    nv = xs[rows, np.clip(nxt, 0, L - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (idx[None, :] - last) / np.maximum(nxt - last, 1)
        filled = np.where(
            o,
            xs,
            np.where(last < 0, nv, np.where(nxt >= L, lv, lv + frac * (nv - lv))),
        )
    out[enough] = np.trapezoid(filled, dx=1.0, axis=1)
    return out


def _time_to_relapse(
    ta: TrialArrays, nrs: np.ndarray, start: np.ndarray, n_days: int, thr: float
) -> tuple[np.ndarray, np.ndarray]:
    rel = np.arange(1, n_days + 1)
    x = gather_days(ta, nrs, start, rel)
    obs = ~np.isnan(x)
    cs = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(np.where(obs, x, 0.0), axis=1)], 1)
    cn = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(obs, axis=1)], 1)
    w = 7
    s7 = cs[:, w:] - cs[:, :-w]
    n7 = cn[:, w:] - cn[:, :-w]
    days = rel[w - 1 :]  # the window ending on each day
    with np.errstate(invalid="ignore", divide="ignore"):
        m7 = np.where(n7 >= 4, s7 / np.maximum(n7, 1), np.nan)
        lost = m7 > ta.baseline[:, None] * (1.0 - thr / 100.0)
    evaluable = ~np.isnan(m7)
    has = np.any(lost, axis=1)
    first = np.argmax(lost, axis=1)
    last_eval = np.where(
        np.any(evaluable, axis=1),
        days[(evaluable.shape[1] - 1) - np.argmax(evaluable[:, ::-1], 1)],
        0,
    )
    t = np.where(has, days[first], last_eval).astype(float)
    return t, has.astype(float)


def compute_endpoint(
    ta: TrialArrays, ep: EndpointSpec, sc: Scenario, nrs: np.ndarray | None = None
) -> EndpointData:
    """Values of endpoint ``ep`` for every unit (``nrs`` replaces the observed diary if given)."""
    nrs = ta.nrs if nrs is None else nrs
    starts = end_days(ta) if ep.anchor == "treatment_end" else start_days(ta)  # (P, J)
    J = starts.shape[1]
    n_days = phase_days(sc)
    if ta.type == "crossover":
        arm = ta.segment_arm
    else:
        arm = np.where(ta.arm >= 0, ta.arm, -1)[:, None]
    base = ta.baseline
    values = np.full((ta.n, J), np.nan)
    base_vals = np.full((ta.n, J), np.nan)
    event = None
    if ep.type in ("weekly_mean", "change_from_baseline", "responder"):
        if ep.days is not None:
            first, last = ep.days
            rel = np.arange(first, last + 1)
            # the weekly rule scaled to the window: at least min_days_per_week of every 7 days
            need = max(1, int(np.ceil(rel.size * ep.min_days_per_week / 7.0)))
        end_day = 7.0 * ep.week if ep.days is None else float(ep.days[1])
        for j in range(J):
            if ep.days is None:
                wm = weekly_matrix(ta, [ep.week], starts[:, j], nrs, ep.min_days_per_week)[:, 0]
            else:
                wm = _nanmean_min(gather_days(ta, nrs, starts[:, j], rel), need)
            if ep.type == "weekly_mean":
                values[:, j], base_vals[:, j] = wm, base
            elif ep.type == "change_from_baseline":
                values[:, j], base_vals[:, j] = wm - base, 0.0
            else:
                with np.errstate(invalid="ignore"):
                    r = (base - wm) >= base * ep.threshold_pct / 100.0 - 1e-12
                values[:, j] = np.where(np.isnan(wm) | np.isnan(base), np.nan, r)
                base_vals[:, j] = 0.0
    elif ep.type == "auc":
        a, b = ep.days
        end_day = float(b)
        rel = np.arange(a, b + 1)
        for j in range(J):
            values[:, j] = _auc(gather_days(ta, nrs, starts[:, j], rel))
            base_vals[:, j] = base * (b - a)
    elif ep.type == "time_to_relapse":
        end_day = float(n_days)
        t, ev = _time_to_relapse(ta, nrs, starts[:, 0], n_days, ep.threshold_pct)
        values[:, 0] = t
        base_vals[:, 0] = 0.0
        event = ev
    elif ep.type in ("session_score", "session_relief", "peak_session_relief"):
        seg = np.arange(J) if ta.type == "crossover" else np.full(J, ta.randomised_segment)
        values, base_vals, pre, end_day = _session_values(ta, ep, sc, seg, starts)
        # the covariate of an ANCOVA: the pre-session reading, on the assessment's scale
        base = pre[:, 0]
    elif ep.type == "adverse_event":
        end_day = float(n_days)
        seg = np.arange(J) if ta.type == "crossover" else np.array([ta.randomised_segment])
        values = ta.ae[ep.event][:, seg].astype(float)
        base_vals[:] = 0.0
    elif ep.type == "dropout":
        end_day = float(n_days)
        rel_drop = ta.dropout_day - starts[:, 0]
        reason = ta.dropout_reason
        hit = (rel_drop > 0) & (rel_drop <= n_days + 1)
        if ep.reason != "any":
            hit &= reason == ep.reason
        values[:, 0] = hit.astype(float)
        base_vals[:, 0] = 0.0
    else:  # pragma: no cover - the schema restricts the types
        raise ValueError(f"unknown endpoint type {ep.type!r}")
    # intercurrent events relative to day 1 of each unit
    disc = ta.discontinued_day[:, None] - starts
    drop = ta.dropout_day[:, None] - starts
    ice = np.fmin(disc, drop)
    ice = np.where(ice > 0, ice, np.where(np.isnan(ice), np.nan, 0.0))
    ice_ae = (
        ~np.isnan(ta.discontinued_day[:, None]) | (ta.dropout_reason == "adverse_event")[:, None]
    )
    ice_ae = ice_ae & ~np.isnan(ice)
    return EndpointData(
        value=values,
        arm=np.broadcast_to(arm, values.shape).copy(),
        baseline=base,
        ice_day=np.broadcast_to(ice, values.shape).copy(),
        ice_ae=np.broadcast_to(ice_ae, values.shape).copy(),
        end_day=end_day,
        baseline_value=base_vals,
        event=event,
    )


def _session_values(
    ta: TrialArrays, ep: EndpointSpec, sc: Scenario, seg: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Session endpoint values ``(P, J)`` in segments ``seg`` (J,): values, BOCF values, the
    pre-session readings and the latest relative day read."""
    a_idx = [a.name for a in sc.assessments].index(ep.assessment)
    x = ta.assess
    if not x:
        raise ValueError(f"endpoint {ep.name!r}: the trial arrays carry no session assessments")
    P, J = ta.n, seg.size
    own = (x["assessment"] == a_idx) & ~np.isnan(x["expected"])
    n_sess = int(x["session"][own].max()) if np.any(own) else 0
    sessions = range(1, n_sess + 1) if ep.session == "mean" else [ep.session]
    score = ep.type == "session_score"
    src = x["value"] if score else x["relief"]
    values = np.full((P, J), np.nan)
    pre = np.full((P, J), np.nan)
    end_day = 0.0
    for j in range(J):
        in_seg = own & (x["segment"] == seg[j])
        per_s, pre_s = [], []
        for s in sessions:
            m = in_seg & (x["session"] == s)
            pre_s.append(_pick(x["value"], m & x["pre"], np.nanmax))
            post = m & ~x["pre"]
            if ep.time is not None:
                post &= np.abs(x["offset_h"] - ep.time) < 1e-6
            per_s.append(_pick(src, post, np.nanmax))
            if np.any(post):
                end_day = max(end_day, float(np.nanmax((x["day"] - starts[:, [j]])[post])))
        with np.errstate(invalid="ignore"):
            values[:, j] = _nanmean_min(np.column_stack(per_s), 1)
            pre[:, j] = _nanmean_min(np.column_stack(pre_s), 1)
    base_vals = pre if score else np.zeros((P, J))
    return values, base_vals, pre, end_day


def _pick(src: np.ndarray, mask: np.ndarray, reduce) -> np.ndarray:
    """Per row, ``reduce`` (e.g. ``np.nanmax``) of ``src`` where ``mask`` (NaN: none)."""
    vals = np.where(mask, src, np.nan)
    out = np.full(src.shape[0], np.nan)
    has = np.any(mask & ~np.isnan(src), axis=1)
    out[has] = reduce(vals[has], axis=1)
    return out


def hypothetical_diary(ta: TrialArrays) -> np.ndarray:
    """The diary with every entry after treatment discontinuation removed (ICH E9(R1))."""
    col_day = ta.days[None, :].astype(float)
    after = col_day > np.nan_to_num(ta.discontinued_day, nan=np.inf)[:, None]
    return np.where(after, np.nan, ta.nrs)


def period_baselines(ta: TrialArrays, days: int = 7, min_days: int = 4) -> np.ndarray:
    """(P, J) mean observed NRS over the ``days`` diary days before each crossover period.

    Compared between patients whose previous period differed (e.g. ketamine vs placebo), the
    period baselines give a direct, model-free test of carry-over: with no residual effect they
    agree in expectation.
    """
    if ta.type != "crossover":
        raise ValueError("period baselines need a crossover design")
    starts = ta.segment_start_day
    rel = np.arange(-days + 1, 1)
    out = np.empty(starts.shape)
    for j in range(starts.shape[1]):
        col = ta.baseline_days + np.round(starts[:, j]).astype(np.int64)[:, None] + rel - 1
        vals = np.take_along_axis(ta.nrs, np.clip(col, 0, ta.nrs.shape[1] - 1), axis=1)
        out[:, j] = _nanmean_min(np.where(col >= 0, vals, np.nan), min_days)
    return out


def carryover_diagnostic(ta: TrialArrays) -> pd.DataFrame:
    """Residual effect of earlier periods at the start of each crossover period (model truth).

    For every period after the first and every arm of the period before it: the mean expected
    (noise-free) pain on the last diary day before the period starts, as a fraction of the
    patients' true baseline pain, and the mean relief ``1 - fraction``. Ketamine's lasting
    (sensitization) effect decays with a half-life of about 11 days (Dahan 2011), so a short
    washout leaves relief that contaminates the next period; a value near 0 means the washout was
    long enough.
    """

    if ta.type != "crossover":
        raise ValueError("the carry-over diagnostic needs a crossover design")
    rows = []
    base = ta.expected_nrs[:, ta.baseline_days - 1]
    pb = period_baselines(ta)
    S = ta.segment_arm.shape[1]
    for j in range(1, S):
        col = ta.baseline_days + np.round(ta.segment_start_day[:, j]).astype(int) - 1
        mu = ta.expected_nrs[np.arange(ta.n), col]
        frac = mu / base
        prev = ta.segment_arm[:, j - 1]
        for k, nm in enumerate(ta.arm_names):
            sel = prev == k
            if np.any(sel):
                rows.append(
                    {
                        "period": j + 1,
                        "previous_arm": nm,
                        "patients": int(sel.sum()),
                        "pain_fraction_of_baseline": float(frac[sel].mean()),
                        "residual_relief": float(1.0 - frac[sel].mean()),
                        "observed_period_baseline": float(np.nanmean(pb[sel, j])),
                    }
                )
    out = pd.DataFrame(rows)
    # relief beyond what follows a placebo period (placebo responses also linger)
    plc = [nm for nm, t in zip(ta.arm_names, ta.arm_treatments, strict=True) if t != "ketamine"]
    if plc and len(out):
        ref = out[out["previous_arm"] == plc[0]].set_index("period")["residual_relief"]
        out["excess_over_placebo"] = out["residual_relief"] - out["period"].map(ref)
    return out
