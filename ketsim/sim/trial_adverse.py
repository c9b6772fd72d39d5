"""Exposure behind the trial's adverse events: background (nocebo) exposure and liver courses.

Background reports (psychotomimetic, nausea) scale with exposure in reference units
(:func:`ketsim.core.pd.adverse.background_exposure`): sessions started and hours with an infusion
running, as the staff set them (saline in placebo arms counts). A session starts when a patient's
nominal infusion rate leaves 0, or at an instant dose given while nothing infuses
(:func:`session_starts`); :class:`BackgroundExposure` keeps the counts.

Liver injury is evaluated per course (:class:`LiverCourses`): drug infusions (sessions) less than
``liver_course_gap_days`` apart (end to next start) form one course, whose AUC is the sum of its
sessions' (each from its start to its end, as a one-session course before). A course's end is only
known once the gap has elapsed, so the course is closed at the first event at least the gap after
its last session ends, or at the trial's last event, whichever comes first (a new session starting
exactly then opens a new course after the close). Its inputs do not depend on when it is closed
(AUC, priming at its start, priming decayed to its last session's end), and the injury is logged at
that end, against that session's segment.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.pd import adverse
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.trial_dosing import (
    decayed_priming,
    liver_injury_at_course_end,
    primed_mass_after_course,
)

__all__ = ["BackgroundExposure", "LiverCourses", "session_starts"]


def session_starts(
    rates: np.ndarray, prev_rates: np.ndarray, boluses: np.ndarray | None = None
) -> np.ndarray:
    """Sessions starting now: the total rate leaves 0, or an instant dose while nothing infuses.

    Parameters
    ----------
    rates, prev_rates : ``(P, routes)`` rates from now on and before now.
    boluses : ``(P, routes)`` instant doses now (None: none). A dose at the start, during or at
        the end of an infusion belongs to that infusion's session.

    Returns
    -------
    np.ndarray
        Boolean mask of the patients starting a session.
    """
    on_now = rates.sum(axis=1) > 0
    on_before = prev_rates.sum(axis=1) > 0
    starts = on_now & ~on_before
    if boluses is not None:
        starts |= (boluses.sum(axis=1) > 0) & ~on_now & ~on_before
    return starts


class BackgroundExposure:
    """Sessions and infusion hours of every patient, and their background exposure.

    Parameters
    ----------
    n : number of patients.
    params : PD parameters (the session share and reference hours of the exposure).
    """

    def __init__(self, n: int, params: PDParameters) -> None:
        self.params = params
        self.sessions = np.zeros(n)
        self.hours = np.zeros(n)
        self.at_check = np.zeros(n)  # exposure at each patient's last check
        self.at_segment = np.zeros(n)  # exposure when each patient entered its segment

    def exposure(self, ids: np.ndarray | slice = slice(None)) -> np.ndarray:
        """Cumulative exposure (reference units) of patients ``ids``."""
        return adverse.background_exposure(self.sessions[ids], self.hours[ids], self.params)

    def accrue(self, dt: float, nominal_rates: np.ndarray) -> None:
        """Add ``dt`` hours for the patients infusing (nominal rates) over the interval."""
        self.hours += dt * (nominal_rates.sum(axis=1) > 0)

    def start(self, mask: np.ndarray) -> None:
        """Count the sessions starting now (:func:`session_starts`)."""
        self.sessions += mask

    def enter_segment(self, ids: np.ndarray) -> None:
        """Patients ``ids`` enter a segment: its background exposure restarts from 0."""
        self.at_segment[ids] = self.exposure(ids)

    def check(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """At a check of patients ``ids``: exposure of their segment so far and since their
        last check (which this check becomes)."""
        x = self.exposure(ids)
        seg, since = x - self.at_segment[ids], x - self.at_check[ids]
        self.at_check[ids] = x
        return seg, since


class LiverCourses:
    """Liver courses of every patient: sessions joined by gaps under ``liver_course_gap_days``.

    Parameters
    ----------
    n : number of patients.
    params : PD parameters.
    u_liver : ``(n, MAX_COURSES)`` per-course liver uniforms.

    Attributes
    ----------
    injured : liver injury recorded (updated in place).
    n_courses : courses closed so far.
    course_auc : S-ketamine AUC of each patient's open (or last) course (ng·h/mL).
    """

    def __init__(self, n: int, params: PDParameters, u_liver: np.ndarray) -> None:
        self.params = params
        self.u_liver = u_liver
        self.gap_h = 24.0 * params.liver_course_gap_days
        self.half_life_h = 24.0 * params.liver_priming_half_life_days
        self.injured = np.zeros(n, bool)
        self.n_courses = np.zeros(n, int)
        self.course_auc = np.zeros(n)
        self.session_auc0 = np.zeros(n)  # AUC at the start of the running session
        self.open = np.zeros(n, bool)  # a course has begun and is not closed
        self.infusing = np.zeros(n, bool)
        self.last_end = np.full(n, -np.inf)  # end of the open course's last session
        self.last_seg = np.zeros(n, int)  # segment of that session
        self.priming_at_start = np.zeros(n)
        self.prime_mass = np.zeros(n)  # decaying sum of earlier courses' AUC / reference AUC
        self.prime_t = np.zeros(n)  # time of the accumulator's last update

    def update(
        self,
        t: float,
        start: np.ndarray,
        end: np.ndarray,
        auc: np.ndarray,
        seg: np.ndarray,
        final: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sessions starting and ending at ``t``; closes the courses known to have ended.

        Parameters
        ----------
        t : the event time (h).
        start, end : sessions of drug infusion starting and ending now
            (:func:`~ketsim.sim.trial_dosing.course_changes`).
        auc : cumulative S-ketamine AUC of every patient now (ng·h/mL).
        seg : every patient's current segment.
        final : the trial's last event (every course not infusing closes).

        Returns
        -------
        ids, times, segs : new liver injuries (ascending patients), the ends of their courses and
            the segments of those ends.
        """
        due = self.open & ~self.infusing & (t - self.last_end >= self.gap_h)
        out = [self._close(np.flatnonzero(due))]
        if np.any(end):
            ids = np.flatnonzero(end)
            self.course_auc[ids] += auc[ids] - self.session_auc0[ids]
            self.last_end[ids] = t
            self.last_seg[ids] = seg[ids]
            self.infusing[ids] = False
        if final:
            out.append(self._close(np.flatnonzero(self.open & ~self.infusing)))
        if np.any(start):
            ids = np.flatnonzero(start)
            new = ids[~self.open[ids]]
            self.priming_at_start[new] = decayed_priming(
                self.prime_mass[new], self.prime_t[new], t, self.half_life_h
            )
            self.course_auc[new] = 0.0
            self.open[new] = True
            self.session_auc0[ids] = auc[ids]
            self.infusing[ids] = True
        ids = np.sort(np.concatenate(out))
        return ids, self.last_end[ids], self.last_seg[ids]

    def _close(self, ids: np.ndarray) -> np.ndarray:
        """Close the courses of ``ids``: liver injury, priming; returns the new injuries."""
        if ids.size == 0:
            return ids
        auc, t_end = self.course_auc[ids], self.last_end[ids]
        hit = liver_injury_at_course_end(
            auc,
            self.priming_at_start[ids],
            self.n_courses[ids],
            self.u_liver[ids],
            self.injured[ids],
            self.params,
        )
        self.injured[ids[hit]] = True
        self.prime_mass[ids] = primed_mass_after_course(
            self.prime_mass[ids], self.prime_t[ids], t_end, auc, self.half_life_h
        )
        self.prime_t[ids] = t_end
        self.n_courses[ids] += 1
        self.open[ids] = False
        return ids[hit]
