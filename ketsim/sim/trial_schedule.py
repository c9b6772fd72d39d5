"""The trial's dosing schedules and event grid, compiled once per batch.

Every timeline group's regimens compile to one :class:`~ketsim.sim.regimen.ArmSchedule` (per-patient
doses on the trial's global routes); the model's clock then steps through the union of the dose
and rate changes, segment starts, staff checks and diary times (:attr:`TrialSchedule.times`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketsim.sim.compile import DiaryHours
from ketsim.sim.design import Timeline
from ketsim.sim.regimen import ArmSchedule, check_times, compile_arm, routes_used

__all__ = ["TrialSchedule", "compile_trial_schedule"]


@dataclass(frozen=True)
class TrialSchedule:
    """Schedules and event grid of a batch.

    Attributes
    ----------
    routes : (infusion routes, bolus routes) of the PK inputs (``iv`` always first).
    sched_members : the patients each group's schedule was compiled for (ascending).
    schedules : each group's compiled schedule.
    n_seg : most segments of any group.
    seg_entry : per group, segment start time (h) -> segment index.
    seg_first_dose : per group and segment, the time (h) of its first dose (its start without
        doses).
    seg_first_hold : per group and segment, the duration (h) of its first administration (the
        longest of those starting with the first dose; 0 for instant doses): the placebo response
        holds over it (:func:`ketsim.core.pd.placebo.placebo_fade`).
    diary_times : (days,) time (h) of each trial diary entry.
    checks : per group, the times (h) of its staff checks.
    times : the event grid (h), ascending, from 0 to the last diary time.
    diary_index : diary time (h) -> 0-based trial diary day.
    plan_row : per group, the row of its fixed plan in force from each event time on (-1: before
        the plan).
    """

    routes: tuple[tuple[str, ...], tuple[str, ...]]
    sched_members: list[np.ndarray]
    schedules: list[ArmSchedule]
    n_seg: int
    seg_entry: list[dict[float, int]]
    seg_first_dose: list[list[float]]
    seg_first_hold: list[list[float]]
    diary_times: np.ndarray
    checks: list[set[float]]
    times: np.ndarray
    diary_index: dict[float, int]
    plan_row: list[np.ndarray]


#: extra grid points (h) after every infusion start and stop, dose and titration check when a
#: rule reads the fast effect site between events (the sustained-blockade hypothesis): the fast
#: effect site (t½ke0 8 min) moves most in the first two hours after a change, and the rule's
#: linear interpolation between grid points is then within minutes of the true crossing times
#: (``tests/sim/test_fast_grid.py`` checks convergence against a 5-min grid)
FAST_RESOLUTION_H = (1 / 12, 1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 4 / 3, 2.0)


def _apart(extra: np.ndarray, base: np.ndarray, tol: float = 1e-9) -> list[float]:
    """The times of ``extra`` farther than ``tol`` from every time of ``base`` (ascending)."""
    pos = np.clip(np.searchsorted(base, extra), 1, base.size - 1)
    dist = np.minimum(np.abs(base[pos - 1] - extra), np.abs(base[pos] - extra))
    return extra[dist > tol].tolist()


def compile_trial_schedule(
    diary: DiaryHours,
    tl: Timeline,
    weight_kg: np.ndarray,
    group: np.ndarray,
    racemic: bool,
    fast_resolution: tuple[float, ...] = (),
    extra_times: np.ndarray | tuple[float, ...] = (),
    dose_u: dict | None = None,
) -> TrialSchedule:
    """Compile every group's schedule and the event grid of a batch.

    Parameters
    ----------
    diary : the trial's start and diary hours.
    tl : its compiled timeline.
    weight_kg : (P,) body weights (weight-based doses).
    group : (P,) timeline group of each patient (EERW: every group is compiled for everyone).
    racemic : the drug is the racemate (schedules are per enantiomer, half the dose).
    fast_resolution : offsets (h) of extra grid points after every change of dosing
        (:data:`FAST_RESOLUTION_H`; empty: none).
    extra_times : further grid points (h; session assessments); one within 1e-9 h of another
        event is that event.
    dose_u : (P,) uniforms of each dose distribution
        (:func:`ketsim.sim.patient_traits.draw_dose_uniforms`; None: the doses are fixed).

    Returns
    -------
    TrialSchedule
        The schedules and the event grid.
    """
    n = group.size
    all_regs = [r for g in tl.groups for sg in g.segments for r in sg.regimens]
    routes = routes_used(all_regs)
    if "iv" not in routes[0]:
        routes = (("iv", *routes[0]), routes[1])
    frac = 0.5 if racemic else 1.0
    # EERW patients change group at randomisation: compile every group for everyone
    compile_all = tl.type == "enrichment"
    sched_members = [
        np.arange(n) if compile_all else np.flatnonzero(group == g) for g in range(len(tl.groups))
    ]
    schedules: list[ArmSchedule] = [
        compile_arm(
            [r for sg in g.segments for r in sg.regimens],
            weight_kg[mem],
            routes,
            frac,
            None if dose_u is None else {d: u[mem] for d, u in dose_u.items()},
        )
        for g, mem in zip(tl.groups, sched_members, strict=True)
    ]
    n_seg = max(len(g.segments) for g in tl.groups)
    seg_entry = [{float(sg.start_h): j for j, sg in enumerate(g.segments)} for g in tl.groups]
    seg_first_dose, seg_first_hold = [], []
    for g in tl.groups:
        fd, hold = [], []
        for sg in g.segments:
            adm = [(t, r.duration or 0.0) for r in sg.regimens for t in r.start_times()]
            t0 = min(t for t, _ in adm) if adm else sg.start_h
            fd.append(t0)
            hold.append(max((d for t, d in adm if t == t0), default=0.0))
        seg_first_dose.append(fd)
        seg_first_hold.append(hold)
    tr = diary
    first_diary = (tr.diary_hour - tr.start_hour) % 24.0
    n_days = 7 * tl.weeks
    diary_times = first_diary + 24.0 * np.arange(n_days)
    pts: set[float] = {0.0, *diary_times.tolist()}
    for e in seg_entry:
        pts.update(e)
    pts.add(float(tl.randomised_start_h))
    checks: list[set[float]] = []
    for sch in schedules:
        pts.update(sch.plan.times.tolist())
        for a, b in sch.titrated_windows:
            pts.update((a, b))
        c = set(check_times(sch, tr.start_hour))
        checks.append(c)
        pts.update(c)
        if fast_resolution:
            changes = {*sch.plan.times.tolist(), *sch.bolus_times, *c}
            for a, b in sch.infusion_windows:
                changes.update((a, b))
            pts.update(t + d for t in changes for d in fast_resolution)
    if len(extra_times):
        pts.update(_apart(np.asarray(extra_times, float), np.array(sorted(pts))))
    t_end = float(diary_times[-1])
    times = np.array(sorted(t for t in pts if 0.0 <= t <= t_end))
    diary_index = {float(t): d for d, t in enumerate(diary_times)}
    plan_row = [np.searchsorted(sch.plan.times, times, side="right") - 1 for sch in schedules]
    return TrialSchedule(
        routes,
        sched_members,
        schedules,
        n_seg,
        seg_entry,
        seg_first_dose,
        seg_first_hold,
        diary_times,
        checks,
        times,
        diary_index,
        plan_row,
    )
