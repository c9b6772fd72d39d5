"""Result tables of a trial batch: per-patient arrays (:class:`TrialArrays`) and tidy tables.

:func:`trial_arrays` reads a finished :class:`~ketsim.sim.trial_model.TrialModel` into arrays
(observed diaries with noise and missing days, segments, adverse events, strata);
:func:`build_tables` turns them into the tidy :class:`TrialResult` tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ketsim.config.scenario import Scenario
from ketsim.sim.assessments import assessment_table
from ketsim.sim.design import dosing_end_h
from ketsim.sim.enrolment import patient_strata
from ketsim.sim.population import Population

if TYPE_CHECKING:
    from ketsim.sim.trial_model import TrialModel

__all__ = [
    "AE_EVENTS",
    "TREATMENTS",
    "TrialArrays",
    "TrialResult",
    "build_tables",
    "trial_arrays",
]

#: treatments of a segment, in the order of their codes (0 ketamine, 1 placebo, 2 active placebo,
#: 3 lidocaine)
TREATMENTS = ("ketamine", "placebo", "active_placebo", "lidocaine")
#: adverse events recorded per patient and segment (:attr:`TrialArrays.ae`)
AE_EVENTS = ("psychotomimetic", "intolerable", "nausea", "vomiting", "liver_injury", "discontinued")


@dataclass
class TrialArrays:
    """Per-patient arrays of a finished batch, as endpoints and analyses read them.

    Days count as in the diary: baseline days ``-baseline_days+1 .. 0``, then ``1, 2, ...`` from
    t = 0 (the first day of the first treatment segment).
    """

    type: str
    replicate: np.ndarray
    patient: np.ndarray
    group: np.ndarray
    arm: np.ndarray  # randomised arm; -1 = not randomised (EERW) or crossover
    arm_names: list[str]
    arm_treatments: list[str]
    group_names: list[str]
    segment_arm: np.ndarray  # (P, S) arm index of each segment (-1 run-in/extension/none)
    segment_start_day: np.ndarray  # (P, S) day number before the segment's first day (NaN none)
    randomised_segment: int  # segment holding the randomised treatment (crossover: all periods)
    days: np.ndarray  # (D,) day numbers
    baseline_days: int
    nrs: np.ndarray  # (P, D) observed integer NRS, NaN = not recorded
    expected_nrs: np.ndarray  # (P, D) model's expected pain
    baseline: np.ndarray  # (P,) mean observed NRS over the baseline days
    discontinued_day: np.ndarray  # (P,) day (fractional) treatment stopped; NaN = never
    dropout_day: np.ndarray  # (P,) day (fractional) of leaving the study; NaN = never
    dropout_reason: np.ndarray  # (P,) object
    ae: dict[str, np.ndarray]  # name -> (P, S) event during segment
    in_study: np.ndarray  # (P, D) the patient had not left the study by that diary day
    period_weeks: int = 0
    # (P, S) diary day before the first diary entry after each segment's scheduled dosing ends
    segment_end_day: np.ndarray | None = None
    # patient strata for subgroup analyses: name -> (P,) bool (see STRATA)
    strata: dict[str, np.ndarray] = field(default_factory=dict)
    # session assessments: name -> (P, R) per reading (SessionAssessments.arrays; empty: none)
    assess: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.replicate.size

    def take(self, rows: np.ndarray) -> TrialArrays:
        """The patients selected by ``rows`` (a boolean mask or indices), as TrialArrays."""
        out = {}
        for f in self.__dataclass_fields__:
            v = getattr(self, f)
            if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == self.n:
                v = v[rows]
            elif isinstance(v, dict):
                v = {k: x[rows] for k, x in v.items()}
            out[f] = v
        # days (D,) is per diary day, not per patient, even when D happens to equal P
        out["days"] = self.days
        return TrialArrays(**out)


@dataclass
class TrialResult:
    """Tables of one simulated trial batch (tidy, one row per observation).

    ``doses``, ``concentrations`` and ``population`` are filled only when the trial was simulated
    with ``record_doses=True`` (:class:`~ketsim.sim.dose_recorder.DoseRecorder`); otherwise they
    are None.

    Attributes
    ----------
    doses : one row per administration as given: ``replicate, patient, route`` (scenario route
        name), ``kind`` (``infusion``/``bolus``), ``start_h``, ``end_h`` (infusions; NaN for
        boluses), ``rate_mg_h`` (infusions; NaN for boluses) and ``amount_mg`` (infusions: rate x
        duration), in whole-drug mg (a racemate's two enantiomers together). An infusion row is
        one interval of constant rate; titration steps start new rows.
    concentrations : one row per patient and model time (every event and diary time the model
        stepped through): ``replicate, patient, time_h, treatment`` (of the segment in force),
        ``s_ketamine_ng_ml``, ``s_norketamine_ng_ml`` (and ``r_ketamine_ng_ml``,
        ``r_norketamine_ng_ml`` for the racemate): plasma concentrations just after the doses due
        at ``time_h`` (right-continuous, as :meth:`ketsim.core.pk.propagate.Propagator.run`).
    population : the batch's patients (covariates and PK etas), rows as in ``patients``.
    assessments : one row per session assessment reading
        (:func:`~ketsim.sim.assessments.assessment_table`); None without ``assessments:``.
    """

    scenario: Scenario
    entropy: int
    replicates: tuple[int, ...]
    patients: pd.DataFrame
    diary: pd.DataFrame
    events: pd.DataFrame
    timings_s: dict = field(default_factory=dict)
    arrays: TrialArrays | None = None
    doses: pd.DataFrame | None = None
    concentrations: pd.DataFrame | None = None
    population: Population | None = None
    assessments: pd.DataFrame | None = None

    def weekly(self) -> pd.DataFrame:
        """Mean NRS per replicate, arm and week (week 0 = baseline; missing days skipped)."""
        d = self.diary.dropna(subset=["nrs"])
        g = d.groupby(["replicate", "arm", "week"], observed=True)["nrs"]
        return g.mean().rename("mean_nrs").reset_index()

    def summary(self) -> pd.DataFrame:
        """Per arm: weekly mean NRS, AE incidences, dropouts and end rates (mean over batch)."""
        p = self.patients
        rows = []
        wk = (
            self.diary.dropna(subset=["nrs"])
            .groupby(["arm", "replicate", "patient", "week"], observed=True)["nrs"]
            .mean()
            .groupby(["arm", "week"], observed=True)
            .mean()
        )
        for arm, g in p.groupby("arm", sort=False, observed=True):
            row = {"arm": arm, "n": len(g)}
            for w in sorted(set(self.diary["week"].unique())):
                key = (arm, w)
                row[f"week{w}"] = float(wk.get(key, np.nan))
            row["psychotomimetic_pct"] = 100 * g["ae_psychotomimetic"].mean()
            row["nausea_pct"] = 100 * g["ae_nausea"].mean()
            row["liver_injury_pct"] = 100 * g["ae_liver_injury"].mean()
            row["discontinued_pct"] = 100 * g["discontinued"].mean()
            row["dropout_pct"] = 100 * g["dropped_out"].mean()
            row["end_rate_mg_h_70kg"] = g["end_rate_mg_h_70kg"].mean()
            rows.append(row)
        return pd.DataFrame(rows)


def trial_arrays(m: TrialModel) -> TrialArrays:
    """Per-patient arrays of a finished model (observed diaries with noise and missing days)."""
    sc, tl = m.scenario, m.timeline
    nb, nd = sc.trial.baseline_days, m.mu_diary.shape[1]
    days = np.concatenate([np.arange(-nb + 1, 1), np.arange(1, nd + 1)])
    cols = np.arange(days.size)
    mu = m._expected()
    nrs = m._observed(cols, mu)
    # after dropout nothing is recorded
    t_day = np.concatenate([np.full(nb, -np.inf), m.diary_times])
    in_study = ~(t_day[None, :] > np.nan_to_num(m.dropout_h, nan=np.inf)[:, None])
    nrs[~in_study] = np.nan
    if sc.design.diary_weeks is not None:
        week = np.where(days <= 0, 0, (days - 1) // 7 + 1)
        keep = (week == 0) | np.isin(week, sc.design.diary_weeks)
        nrs[:, ~keep] = np.nan
    baseline = np.nanmean(nrs[:, :nb], axis=1) if nb else np.full(m.n, np.nan)
    S = m.n_seg
    seg_arm = np.full((m.n, S), -1)
    seg_day = np.full((m.n, S), np.nan)
    seg_end = np.full((m.n, S), np.nan)
    first_diary = m.diary_times[0] if m.diary_times.size else 0.0
    for g, grp in enumerate(tl.groups):
        idx = m.group == g
        for j, sg in enumerate(grp.segments):
            seg_arm[idx, j] = sg.arm
            seg_day[idx, j] = sg.start_h / 24.0
            # diary entry k (0-based, day k + 1) is at first_diary + 24 k: the first one at or
            # after the end of dosing is day k + 1, so the anchor ("day 0") is k
            end_h = max(dosing_end_h(sg.regimens), sg.start_h)
            seg_end[idx, j] = max(0.0, np.ceil((end_h - first_diary) / 24.0))
    # EERW patients who were not randomised have no randomised segment
    if tl.type == "enrichment":
        seg_arm[m.arm < 0, 1:] = -1

    def to_day(h: np.ndarray) -> np.ndarray:
        # fractional diary day: day d's entry is at first_diary + 24 (d - 1)
        return (h - first_diary) / 24.0 + 1.0

    return TrialArrays(
        type=tl.type,
        replicate=m.replicate,
        patient=m.patient,
        group=m.group,
        arm=m.arm,
        arm_names=m.arm_names,
        arm_treatments=[a.treatment for a in sc.arms],
        group_names=m.group_names,
        segment_arm=seg_arm,
        segment_start_day=seg_day,
        randomised_segment=1 if tl.type == "enrichment" else 0,
        days=days,
        baseline_days=nb,
        nrs=nrs,
        expected_nrs=mu,
        baseline=baseline,
        discontinued_day=to_day(m.discontinued_h),
        dropout_day=to_day(m.dropout_h),
        dropout_reason=m.dropout_reason,
        ae=m.ae_seg,
        in_study=in_study,
        period_weeks=tl.period_weeks,
        segment_end_day=seg_end,
        strata=patient_strata(m.pop, sc),
        assess={} if m.assess is None else m.assess.arrays(m.group, to_day),
    )


def build_tables(m: TrialModel) -> TrialResult:
    sc, tl = m.scenario, m.timeline
    ta = trial_arrays(m)
    days = ta.days
    # the arm column: the randomised arm (parallel, EERW) or the sequence (crossover)
    if tl.type == "crossover":
        labels, codes = m.group_names, m.group
    else:
        labels = list(m.arm_names) + (["not_randomised"] if tl.type == "enrichment" else [])
        codes = np.where(m.arm >= 0, m.arm, len(m.arm_names))
    label_arr = np.asarray(labels, dtype=object)
    rows_p, rows_d = np.nonzero(ta.in_study)
    week = np.where(days <= 0, 0, (days - 1) // 7 + 1)
    diary_df = pd.DataFrame(
        {
            "replicate": m.replicate[rows_p],
            "patient": m.patient[rows_p],
            "arm": pd.Categorical(label_arr[codes[rows_p]], categories=labels),
            "day": days[rows_d],
            "week": week[rows_d],
            "nrs": ta.nrs[rows_p, rows_d],  # integer NRS; NaN = missing day
            "expected_nrs": ta.expected_nrs[rows_p, rows_d],
        }
    )
    pop = m.pop.to_frame().drop(columns=["patient"])
    per70 = m.end_rate * 70.0 / m.weight
    frac = 0.5 if m.racemic else 1.0
    arms = sc.arms
    treatment = np.asarray([arms[a].treatment if a >= 0 else "" for a in m.arm], dtype=object)
    patients = pd.DataFrame(
        {
            "replicate": m.replicate,
            "patient": m.patient,
            "arm": pd.Categorical(label_arr[codes], categories=labels),
            "treatment": treatment,
            "enrolment_day": m.enrolment_day,
            "screening_nrs": m.screening_score,
            "baseline_nrs": ta.baseline,
            "ketamine_responder": m.responder,
            "placebo_responder": m.placebo_responder,
            "slow_c50_ng_ml": m.slow_c50,
            "psy_threshold": m.psy_threshold,
            "belief_end": m.belief,
            "ae_psychotomimetic": m.ae_seg["psychotomimetic"].any(axis=1),
            "ae_intolerable": m.intolerable_ever,
            "ae_nausea": m.ae_seg["nausea"].any(axis=1),
            "ae_vomiting": m.ae_seg["vomiting"].any(axis=1),
            "ae_liver_injury": m.liver,
            "max_cardiac_output_pct": m.cv_max["cardiac_output_pct"],
            "max_heart_rate_pct": m.cv_max["heart_rate_pct"],
            "max_map_pct": m.cv_max["map_pct"],
            # nominal (drug or saline) rate at the end of the titrated infusion, whole drug
            "end_rate_mg_h": m.end_rate / frac,
            "end_rate_mg_h_70kg": per70 / frac,
            "discontinued": ~np.isnan(m.discontinued_h),
            "discontinued_h": m.discontinued_h,
            "dropped_out": ~np.isnan(m.dropout_h),
            "dropout_h": m.dropout_h,
            "dropout_reason": m.dropout_reason,
        }
    )
    if tl.type == "crossover":
        patients.insert(3, "sequence", np.asarray(m.group_names, dtype=object)[m.group])
    patients = pd.concat([patients, pop.reset_index(drop=True)], axis=1)
    if m.events_log:
        idx = np.concatenate([e[0] for e in m.events_log])
        ev = pd.DataFrame(
            {
                "replicate": m.replicate[idx],
                "patient": m.patient[idx],
                "arm": pd.Categorical(label_arr[codes[idx]], categories=labels),
                "time_h": np.concatenate([e[1] for e in m.events_log]),
                "event": np.concatenate(
                    [np.full(e[0].size, e[2], dtype=object) for e in m.events_log]
                ),
                "value": np.concatenate([e[3] for e in m.events_log]),
            }
        )
        ev = ev.sort_values(["replicate", "patient", "time_h"], kind="stable").reset_index(
            drop=True
        )
    else:
        ev = pd.DataFrame(columns=["replicate", "patient", "arm", "time_h", "event", "value"])
    res = TrialResult(sc, m.entropy, m.replicates, patients, diary_df, ev)
    res.arrays = ta
    if m.assess is not None:
        arm = pd.Categorical(label_arr[codes], categories=labels)
        res.assessments = assessment_table(ta.assess, m.assess.specs, m.replicate, m.patient, arm)
    if m.recorder is not None:
        res.doses = m.recorder.doses()
        res.concentrations = m.recorder.concentrations()
        res.population = m.pop
    return res
