"""Pain assessments timed by the dosing sessions (``assessments:``), besides the daily diary.

Each timeline group's readings are laid out once (:func:`group_readings`): for every segment,
session (one administration, or several that overlap or touch; :func:`sessions_of`) and
assessment, a pre-session reading at the session's start and one reading per offset. Their times
join the model's event grid, so the expected pain recorded at a reading is the model's
``_pain(t)`` at exactly that time from the exact PK (:class:`SessionAssessments`, ``record``).
Measurement noise is drawn up front from each replicate's own measurement stream (results do not
depend on batching); :meth:`SessionAssessments.arrays` turns the expected pain into readings on
each assessment's scale (:mod:`ketsim.config.schema.assessments` states the mappings) and
:func:`assessment_table` into the ``assessments`` result table.

Measurement noise: PARAMETERS.md has no SD of a single in-clinic assessment, so by default each
reading gets an independent normal error with the diary's daily noise SD (the SD that gives the
single-day NRS ICC of 0.65, Heapy 2014; using it for in-clinic readings is L); ``noise_sd``
overrides it per assessment. The diary's slow fluctuation (flares) is not added to the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ketsim.config.design_rules import assessment_offsets
from ketsim.config.schema.assessments import AssessmentSpec
from ketsim.core.pd import diary
from ketsim.core.resources import check_memory
from ketsim.sim.design import Timeline
from ketsim.sim.enrolment import draw_rows

if TYPE_CHECKING:
    from ketsim.sim.trial_model import TrialModel

__all__ = [
    "M_ASSESS",
    "GroupReadings",
    "SessionAssessments",
    "assessment_table",
    "group_readings",
    "session_assessments",
    "sessions_of",
]

#: measurement-stream sub-key of the assessment noise (the diary's use 0-4)
M_ASSESS = 5
#: reading times this close (h) to an event of the grid are read at that event
SNAP_H = 1e-9


def sessions_of(regimens, regimen: int | None = None) -> list[tuple[float, float]]:
    """Sessions ``(start_h, end_h)`` of a segment's regimens, in time order.

    Administrations that overlap or touch join into one session (a bolus with an infusion, a
    loading infusion and its maintenance); instant doses last 0 h. ``regimen`` keeps only that
    regimen's administrations (None: all).
    """
    adm = sorted(
        (float(t), float(t) + float(r.duration or 0.0))
        for i, r in enumerate(regimens)
        if regimen is None or i == regimen
        for t in r.start_times()
    )
    out: list[list[float]] = []
    for a, b in adm:
        if out and a <= out[-1][1] + SNAP_H:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


@dataclass(frozen=True)
class GroupReadings:
    """Every reading of one timeline group, one entry per column.

    Attributes
    ----------
    time_h : when it is read.
    segment : segment index in the group's timeline.
    session : session number within the segment (1 = the first).
    assessment : index into the scenario's ``assessments``.
    offset_h : offset from the session's start or end (``relative_to``); 0 for the pre reading.
    pre : the pre-session reading (at the session's start, before its doses).
    session_start_h : start of the reading's session.
    pre_col : column of the pre-session reading of the same session and assessment.
    """

    time_h: np.ndarray
    segment: np.ndarray
    session: np.ndarray
    assessment: np.ndarray
    offset_h: np.ndarray
    pre: np.ndarray
    session_start_h: np.ndarray
    pre_col: np.ndarray


def group_readings(specs: list[AssessmentSpec], segments) -> GroupReadings:
    """Lay out the readings of one group's ``segments`` (columns in segment, session,
    assessment order; the pre reading first)."""
    rows: list[tuple] = []
    for j, sg in enumerate(segments):
        for ai, a in enumerate(specs):
            for s, (t0, t1) in enumerate(sessions_of(sg.regimens, a.regimen), start=1):
                pre = len(rows)
                rows.append((t0, j, s, ai, 0.0, True, t0, pre))
                anchor = t0 if a.relative_to == "start" else t1
                for off in assessment_offsets(a, t1 - t0):
                    rows.append((anchor + off, j, s, ai, off, False, t0, pre))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 8
    kinds = (float, int, int, int, float, bool, float, int)
    return GroupReadings(*(np.asarray(c, dtype=k) for c, k in zip(cols, kinds, strict=True)))


class SessionAssessments:
    """The readings of a batch: layout per group, recorded expected pain, up-front noise.

    Parameters
    ----------
    specs : the scenario's assessments.
    tl : the compiled timeline.
    """

    def __init__(self, specs: list[AssessmentSpec], tl: Timeline) -> None:
        self.specs = list(specs)
        self.layout = [group_readings(self.specs, g.segments) for g in tl.groups]
        self.n_cols = max((lay.time_h.size for lay in self.layout), default=0)

    @property
    def times(self) -> np.ndarray:
        """Every reading time of every group (to add to the event grid)."""
        return np.unique(np.concatenate([lay.time_h for lay in self.layout]))

    def setup(self, m: TrialModel, baseline_sd: float) -> None:
        """Snap the reading times to the model's event grid, allocate the state, draw the noise.

        ``baseline_sd`` is the population's SD of baseline pain (it sets the diary's daily
        noise SD, the default of ``noise_sd``).
        """
        grid, group = m.times, m.group
        n = group.size
        # ~16 (P, R) float arrays at the peak (state, noise, readings on their scales, layout)
        check_memory(
            16 * 8.0 * n * self.n_cols,
            f"session assessments of {n:,} patients x {self.n_cols:,} readings",
            "read less often ('every') or simulate fewer patients per batch",
        )
        # reading time -> [(group, its columns there)]; a reading within SNAP_H of an event of
        # the grid (an infusion's end, a diary time) is read at that event
        self.index: dict[float, list[tuple[int, np.ndarray]]] = {}
        for g, lay in enumerate(self.layout):
            pos = np.clip(np.searchsorted(grid, lay.time_h), 1, grid.size - 1)
            near = np.where(
                np.abs(grid[pos - 1] - lay.time_h) <= np.abs(grid[pos] - lay.time_h),
                pos - 1,
                pos,
            )
            hit = np.abs(grid[near] - lay.time_h) <= SNAP_H
            for t in np.unique(grid[near[hit]]):
                cols = np.flatnonzero(hit & (grid[near] == t))
                self.index.setdefault(float(t), []).append((g, cols))
        self.mu = np.full((n, self.n_cols), np.nan)
        gens = m._streams.take("measurement", M_ASSESS)
        self.z = draw_rows(gens, m.n_per, (self.n_cols,), "standard_normal")
        daily_sd = diary.daily_noise_sd(baseline_sd, m.params)
        self.sd = np.array([daily_sd if a.noise_sd is None else a.noise_sd for a in self.specs])

    def record(self, t: float, m: TrialModel) -> None:
        """Expected pain of the group members still in the study at reading time ``t``.

        Sessions that start after a patient's treatment was discontinued are not assessed.
        """
        for g, cols in self.index.get(t, ()):
            idx = m.members[g]
            lay = self.layout[g]
            stopped = np.nan_to_num(m.discontinued_h[idx], nan=np.inf)
            ok = m.in_study[idx][:, None] & (lay.session_start_h[cols][None, :] <= stopped[:, None])
            rows, cc = np.nonzero(ok)
            self.mu[idx[rows], cols[cc]] = m.pain[idx[rows]]

    def arrays(self, group: np.ndarray, to_day) -> dict[str, np.ndarray]:
        """Per-patient ``(P, R)`` arrays of every reading (columns of the patient's group).

        Keys: ``expected`` (NRS), ``value`` (on the assessment's scale; NaN = not read),
        ``relief`` (% relief from the pre-session reading on that scale), ``pre_value``, and the
        layout (``time_h``, ``day`` (diary day, fractional), ``segment``, ``session``,
        ``assessment``, ``offset_h``, ``pre``).
        """
        n, R = group.size, self.n_cols
        meta = {
            k: np.zeros((n, R), dtype=getattr(self.layout[0], k).dtype if self.layout else float)
            for k in ("time_h", "segment", "session", "assessment", "offset_h", "pre", "pre_col")
        }
        meta["segment"][:] = -1
        for g, lay in enumerate(self.layout):
            rows = np.flatnonzero(group == g)
            k = lay.time_h.size
            for name in meta:
                meta[name][rows[:, None], np.arange(k)[None, :]] = getattr(lay, name)[None, :]
            meta["segment"][rows[:, None], np.arange(k, R)[None, :]] = -1
        mu = self.mu
        err = self.sd[meta["assessment"]] * self.z if R else np.zeros((n, 0))
        r = np.clip(mu + err, 0.0, 10.0)  # the reading on the NRS scale; NaN = not read
        scale = np.array([a.scale for a in self.specs] or ["nrs"], dtype=object)
        kind = scale[meta["assessment"]]
        with np.errstate(invalid="ignore"):
            nrs = diary.observe_nrs(np.nan_to_num(mu), 0.0, err).astype(float)
        nrs[np.isnan(mu)] = np.nan
        r_pre = np.take_along_axis(r, meta["pre_col"], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(r_pre > 0, 100.0 * (1.0 - r / r_pre), np.nan)
        value = np.where(kind == "nrs", nrs, np.where(kind == "vas", 10.0 * r, pct))
        value[np.isnan(mu)] = np.nan
        pre_value = np.take_along_axis(value, meta["pre_col"], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            from_scale = np.where(pre_value > 0, 100.0 * (1.0 - value / pre_value), np.nan)
        relief = np.where(kind == "percent_relief", value, from_scale)
        out = dict(meta)
        out.pop("pre_col")
        out.update(expected=mu, value=value, relief=relief, pre_value=pre_value)
        out["day"] = to_day(meta["time_h"])
        return out


def session_assessments(specs: list[AssessmentSpec], tl: Timeline) -> SessionAssessments | None:
    """The batch's :class:`SessionAssessments`, or None for a scenario without assessments
    (its model then runs exactly as before: no grid points, no draws)."""
    return SessionAssessments(specs, tl) if specs else None


def assessment_table(
    arrays: dict[str, np.ndarray],
    specs: list[AssessmentSpec],
    replicate: np.ndarray,
    patient: np.ndarray,
    arm: pd.Categorical,
) -> pd.DataFrame:
    """The ``assessments`` result table: one row per reading taken.

    Columns: ``replicate, patient, arm, segment, session, name, scale, pre`` (the pre-session
    reading), ``offset_min`` (from the session's start or end), ``time_h``, ``expected_nrs``,
    ``value`` (on the scale) and ``relief_pct`` (from the pre-session reading).
    """
    # taken: the expected pain was recorded (a % relief may still be NaN: pre reading 0)
    rows, cols = np.nonzero(~np.isnan(arrays["expected"]))
    a = arrays["assessment"][rows, cols]
    names = np.array([s.name for s in specs] or [""], dtype=object)
    scales = np.array([s.scale for s in specs] or [""], dtype=object)
    return pd.DataFrame(
        {
            "replicate": replicate[rows],
            "patient": patient[rows],
            "arm": arm[rows],
            "segment": arrays["segment"][rows, cols],
            "session": arrays["session"][rows, cols],
            "name": names[a],
            "scale": scales[a],
            "pre": arrays["pre"][rows, cols],
            "offset_min": 60.0 * arrays["offset_h"][rows, cols],
            "time_h": arrays["time_h"][rows, cols],
            "expected_nrs": arrays["expected"][rows, cols],
            "value": arrays["value"][rows, cols],
            "relief_pct": arrays["relief"][rows, cols],
        }
    )
