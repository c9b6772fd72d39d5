"""Dosing rules of the trial: infusion rates and boluses of an interval, courses, liver injury.

The patients of each timeline group follow the group's compiled
:class:`~ketsim.sim.regimen.ArmSchedule`: fixed rates and boluses from its plan plus the titrated
level inside a titration window (:func:`interval_rates`, :func:`boluses_at`). An infusion session
starts when a patient's total rate leaves 0 and ends when it returns to 0
(:func:`course_changes`); sessions join into liver courses (:mod:`ketsim.sim.trial_adverse`), and
at a course's end its exposure may cause liver injury (:func:`liver_injury_at_course_end`), primed
by the decaying exposure of earlier courses (:func:`decayed_priming`,
:func:`primed_mass_after_course`).
"""

from __future__ import annotations

import numpy as np

from ketsim.core.pd import adverse
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.regimen import ArmSchedule

__all__ = [
    "MAX_COURSES",
    "boluses_at",
    "course_changes",
    "decayed_priming",
    "group_members",
    "interval_rates",
    "liver_injury_at_course_end",
    "member_rows",
    "primed_mass_after_course",
]

#: infusion courses with their own liver-injury uniform (later courses reuse the last one)
MAX_COURSES = 64


def group_members(
    group: np.ndarray, sched_members: list[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Current patients of each group and their rows in the group's compiled schedule.

    Parameters
    ----------
    group : each patient's timeline group.
    sched_members : the patients each group's schedule was compiled for (ascending).

    Returns
    -------
    members : patient indices of each group.
    pos : rows of the members in the group's compiled arrays (None: the compiled rows as they are).
    """
    members = [np.flatnonzero(group == g) for g in range(len(sched_members))]
    pos: list[np.ndarray | None] = []
    for mem, sm in zip(members, sched_members, strict=True):
        same = mem.size == sm.size and np.array_equal(mem, sm)
        pos.append(None if same else np.searchsorted(sm, mem))
    return members, pos


def member_rows(pos: np.ndarray | None, arr: np.ndarray) -> np.ndarray:
    """Rows of a group's compiled per-patient array for its current members."""
    return arr if pos is None else arr[pos]


def interval_rates(
    schedules: list[ArmSchedule],
    members: list[np.ndarray],
    pos: list[np.ndarray | None],
    plan_rows: list[int],
    t: float,
    level: np.ndarray,
    n_inf: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Infusion rates ``(P, n_inf)`` from an event at ``t`` until the next event.

    Parameters
    ----------
    schedules, members, pos : each group's schedule, members and their compiled rows.
    plan_rows : each group's row of its fixed plan in force at ``t`` (-1: before the plan).
    t : the event time (h).
    level : each patient's titrated level (mg/h).
    n_inf : number of infusion routes.

    Returns
    -------
    rates : the scheduled rates (before treatment, study and drug gating).
    level : the levels, reset to the window's start rate where a resetting window starts at ``t``.
    """
    level = level.copy()
    rates = np.zeros((level.size, n_inf))
    for g, (sch, idx) in enumerate(zip(schedules, members, strict=True)):
        if idx.size == 0:
            continue
        row = plan_rows[g]
        if row >= 0:
            rates[idx] = member_rows(pos[g], sch.plan.rates[row])
        w = sch.infusing_window(t)
        if w >= 0:
            win = sch.windows[w]
            if win.resets and t == win.start_h:
                level[idx] = member_rows(pos[g], win.start_mg_h)
            rates[idx, win.route] += level[idx]
    return rates, level


def boluses_at(
    schedules: list[ArmSchedule],
    members: list[np.ndarray],
    pos: list[np.ndarray | None],
    plan_rows: list[int],
    t: float,
    n: int,
) -> np.ndarray | None:
    """Bolus amounts ``(P, n_bolus)`` scheduled at ``t`` (None when there are none)."""
    out = None
    for g, (sch, idx) in enumerate(zip(schedules, members, strict=True)):
        row = plan_rows[g]
        if idx.size and row >= 0 and sch.plan.times[row] == t and sch.plan.boluses.shape[2]:
            b = sch.plan.boluses[row]
            if np.any(b):
                if out is None:
                    out = np.zeros((n, b.shape[1]))
                out[idx] = member_rows(pos[g], b)
    return out


def course_changes(rates: np.ndarray, prev_rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Infusion sessions starting (total rate leaves 0) and ending (returns to 0) now."""
    on_now = rates.sum(axis=1) > 0
    on_before = prev_rates.sum(axis=1) > 0
    return on_now & ~on_before, on_before & ~on_now


def decayed_priming(
    mass: np.ndarray, since: np.ndarray, t: float | np.ndarray, half_life_h: float
) -> np.ndarray:
    """The priming accumulator ``mass`` last updated at ``since``, decayed to ``t``."""
    return mass * 0.5 ** ((t - since) / half_life_h)


def primed_mass_after_course(
    mass: np.ndarray,
    since: np.ndarray,
    t: float | np.ndarray,
    auc_course: np.ndarray,
    half_life_h: float,
) -> np.ndarray:
    """The priming accumulator after courses ending at ``t`` (adds their relative exposure)."""
    decayed = decayed_priming(mass, since, t, half_life_h)
    return decayed + auc_course / adverse.REFERENCE_COURSE_AUC_NG_H_ML


def liver_injury_at_course_end(
    auc_course: np.ndarray,
    priming_at_start: np.ndarray,
    n_courses: np.ndarray,
    u_liver: np.ndarray,
    had_liver_injury: np.ndarray,
    params: PDParameters,
) -> np.ndarray:
    """New liver injuries at the end of infusion courses.

    Parameters
    ----------
    auc_course : S-ketamine AUC of each ending course (ng·h/mL, from the exact AUC state).
    priming_at_start : priming of each patient at the course's start.
    n_courses : courses each patient completed before this one.
    u_liver : the patients' per-course liver uniforms ``(k, MAX_COURSES)``.
    had_liver_injury : liver injury already recorded.
    params : PD parameters.

    Returns
    -------
    np.ndarray
        Boolean mask of the new liver injuries.
    """
    p_l = adverse.liver_injury_probability(auc_course, priming_at_start, params)
    c = np.minimum(n_courses, MAX_COURSES - 1)
    return (u_liver[np.arange(c.size), c] < p_l) & ~had_liver_injury
