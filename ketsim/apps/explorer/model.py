"""The explorer's model: :class:`TrialExplorer` steps the real trial model one diary day at a
time and keeps what the plots read; :func:`patient_detail` is the patient inspector.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from ketsim.apps.explorer.controls import (
    AE_SHOWN,
    ControlError,
    build_scenario,
)
from ketsim.config.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
)
from ketsim.core.seeds import new_entropy
from ketsim.sim.trial import AE_EVENTS, TrialModel


# -- the day-stepping wrapper --------------------------------------------------------------------
class TrialExplorer(mesa.Model):
    """ONE simulated trial of a scenario, stepped one diary day per mesa step.

    Wraps a :class:`~ketsim.sim.trial.TrialModel` (with its :class:`~ketsim.sim.agents.PatientAgent`
    views) and, after every event it steps, keeps what the page plots: each patient's plasma
    S-ketamine, sensitization state and nominal infusion rate at every event time, the observed
    and expected diary of every day simulated so far, and the day each adverse event was first
    seen. Invalid control values never raise: they leave :attr:`error` set and nothing to step,
    so the page can show the message.

    Parameters
    ----------
    base : the scenario (or a path to its YAML file) the controls start from.
    **kwargs : control values (:func:`scenario_controls` keys); missing ones keep the base value.

    Attributes
    ----------
    scenario : the scenario simulated (None when the controls are invalid).
    trial : the wrapped :class:`~ketsim.sim.trial.TrialModel` (None when the controls are invalid).
    error : None, or the problems with the controls, one line each.
    day : diary days simulated so far (0 = only the baseline week).
    n_days : diary days of the trial after the start of treatment.
    """

    def __init__(self, base: Scenario | str | Path | None = None, **kwargs: Any) -> None:
        # mesa's own generators are unused: every draw comes from ketsim's seed tree
        super().__init__(seed=0)
        self.lock = threading.RLock()  # SolaraViz may step in a thread while the page renders
        self.scenario: Scenario | None = None
        self.trial = None
        self.error: list[str] | None = None
        self.day = 0
        self.n_days = 0
        self.base = base
        try:
            if base is None:
                raise ControlError(["no scenario to explore"])
            if not isinstance(base, Scenario):
                base = load_scenario(base)
                self.base = base
            self.scenario = build_scenario(base, kwargs)
            self._start()
        except ScenarioError as err:
            self._fail(err.problems)
        except ControlError as err:
            self._fail(err.problems)
        except ValueError as err:  # e.g. a screening threshold too strict for the population
            self._fail([str(err)])

    def _fail(self, problems: list[str]) -> None:
        self.error = list(problems) or ["invalid controls"]
        self.scenario = None
        self.trial = None
        self.running = False

    def _start(self) -> None:

        sc = self.scenario
        if sc.seed is None:  # as simulate_trial: a fresh root seed, recorded in the scenario
            sc = self.scenario = sc.model_copy(update={"seed": new_entropy()})
        tm = TrialModel(sc, int(sc.seed), (0,), with_agents=True)
        self.trial = tm
        n = tm.n
        self.n_days = int(tm.diary_times.size)
        self.baseline_days = nb = sc.trial.baseline_days
        self.first_diary_h = float(tm.diary_times[0]) if self.n_days else 0.0
        # racemic schedules are compiled per enantiomer: show the whole drug (as the summary does)
        self.dose_fraction = 0.5 if tm.racemic else 1.0
        self.diary_day = np.concatenate([np.arange(-nb + 1, 1), np.arange(1, self.n_days + 1)])
        cols = nb + self.n_days
        self.nrs = np.full((n, cols), np.nan)  # observed NRS, NaN = missing or not in study
        self.expected = np.full((n, cols), np.nan)
        self.in_diary = np.zeros((n, cols), bool)  # in the study on that diary day
        # baseline week: expected pain is the baseline; the noise was drawn at setup. Observed
        # scores come from the trial's own rule (TrialModel.observed_nrs), not a copy of it
        self.nrs[:, :nb] = tm.observed_nrs(np.arange(nb))
        self.expected[:, :nb] = tm.pop.baseline_pain[:, None]
        self.in_diary[:, :nb] = True
        # one row per event stepped (row 0: the state before the first event)
        size = tm.times.size + 1
        self.event_h = np.full(size, np.nan)
        self.cp = np.full((size, n), np.nan)
        self.sens = np.full((size, n), np.nan)
        self.rate = np.full((size, n), np.nan)  # nominal (blinded staff's) rate, mg/h
        self.n_events = 0
        self._record_event()
        self.ae_first_day = {k: np.full(n, np.nan) for k in AE_EVENTS}
        self._agents = sorted(tm.agents, key=lambda a: a.index)
        self.running = self.n_days > 0

    # -- stepping ----------------------------------------------------------------------------
    def _record_event(self) -> None:
        tm, e = self.trial, self.n_events
        self.event_h[e] = tm.time_h
        self.cp[e] = tm.y["cp"]
        self.sens[e] = tm.sens_state
        self.rate[e] = tm.prev_nominal.sum(axis=1) / self.dose_fraction
        self.n_events = e + 1

    def _record_day(self, d: int) -> None:
        """Diary day ``d + 1`` (0-based ``d``) just simulated: the same rules as the trial's
        tables (:func:`ketsim.sim.trial.trial_arrays`): nothing after dropout, unscheduled weeks
        blank."""
        tm, sc = self.trial, self.scenario
        col = self.baseline_days + d
        t_day = float(tm.diary_times[d])
        keep = ~(t_day > np.nan_to_num(tm.dropout_h, nan=np.inf))
        week = d // 7 + 1
        if sc.design.diary_weeks is not None and week not in sc.design.diary_weeks:
            obs = np.full(tm.n, np.nan)
        else:
            obs = tm.observed_nrs(np.array([col]))[:, 0]
        self.nrs[:, col] = np.where(keep, obs, np.nan)
        self.expected[:, col] = np.where(keep, tm.mu_diary[:, d], np.nan)
        self.in_diary[:, col] = keep
        for k, first in self.ae_first_day.items():
            new = tm.ae_seg[k].any(axis=1) & np.isnan(first)
            first[new] = d + 1

    def step(self) -> None:
        """Simulate the next diary day: every event of the trial up to that day's diary time."""
        with self.lock:
            if not self.running or self.trial is None:
                return
            tm = self.trial
            d = self.day
            t_target = float(tm.diary_times[d])
            while tm.running and tm.times[tm.k] <= t_target:
                tm.step()
                self._record_event()
            self._record_day(d)
            self.day = d + 1
            self.running = self.day < self.n_days and tm.running

    def run_to_end(self) -> None:
        """Step until the last diary day."""
        while self.running:
            self.step()

    # -- what the page reads -----------------------------------------------------------------
    @property
    def n_patients(self) -> int:
        return 0 if self.trial is None else self.trial.n

    def to_day(self, hours: np.ndarray | float) -> np.ndarray | float:
        """Hours since t = 0 on the diary-day scale (day d's entry is at d; t = 0 at ~0.5)."""
        return (np.asarray(hours) - self.first_diary_h) / 24.0 + 1.0

    def arm_labels(self) -> tuple[list[str], np.ndarray]:
        """Group names and each patient's code: the randomised arm (parallel; EERW after the
        run-in, ``not_randomised`` for the others), the sequence (crossover), or ``run-in``
        before an EERW randomisation. Matches the ``arm`` column of the trial's tables."""
        tm = self.trial
        tl = tm.timeline
        if tl.type == "crossover":
            return list(tm.group_names), np.asarray(tm.group)
        if tl.type == "enrichment" and tm.time_h < tl.randomised_start_h:
            return ["run-in"], np.zeros(tm.n, dtype=int)
        names = list(tm.arm_names)
        if tl.type == "enrichment":
            names.append("not_randomised")
        return names, np.where(tm.arm >= 0, tm.arm, len(tm.arm_names))

    def arm_daily_nrs(self) -> pd.DataFrame:
        """Mean observed and expected NRS per arm and diary day simulated so far.

        Columns ``arm``, ``day``, ``mean_nrs`` (over the patients with an entry), ``n``
        (entries), ``mean_expected`` (model's expected pain over the patients in the study).
        """
        with self.lock:
            if self.trial is None:
                return pd.DataFrame(columns=["arm", "day", "mean_nrs", "n", "mean_expected"])
            names, codes = self.arm_labels()
            ncol = self.baseline_days + self.day
            rows = []
            for g, name in enumerate(names):
                sel = codes == g
                if not sel.any():
                    continue
                obs, exp = self.nrs[sel, :ncol], self.expected[sel, :ncol]
                cnt = np.sum(~np.isnan(obs), axis=0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = np.where(cnt > 0, np.nansum(obs, axis=0) / cnt, np.nan)
                    n_exp = np.sum(~np.isnan(exp), axis=0)
                    mexp = np.where(n_exp > 0, np.nansum(exp, axis=0) / n_exp, np.nan)
                rows.append(
                    pd.DataFrame(
                        {
                            "arm": name,
                            "day": self.diary_day[:ncol],
                            "mean_nrs": mean,
                            "n": cnt,
                            "mean_expected": mexp,
                        }
                    )
                )
            return pd.concat(rows, ignore_index=True)

    def ae_counts(self) -> pd.DataFrame:
        """Patients per arm with each adverse event so far, treatment stops and dropouts.

        Columns ``arm``, ``n`` and one per :data:`AE_SHOWN` entry plus ``dropout``.
        """
        with self.lock:
            if self.trial is None:
                return pd.DataFrame()
            tm = self.trial
            names, codes = self.arm_labels()
            rows = []
            for g, name in enumerate(names):
                sel = codes == g
                if not sel.any():
                    continue
                row: dict[str, Any] = {"arm": name, "n": int(sel.sum())}
                for k in AE_SHOWN:
                    row[k] = int(np.sum(~np.isnan(self.ae_first_day[k][sel])))
                row["dropout"] = int(np.sum(~np.isnan(tm.dropout_h[sel])))
                rows.append(row)
            return pd.DataFrame(rows)

    def arm_summary(self) -> pd.DataFrame:
        """Per arm now: patients, in study, mean NRS of the latest day and at baseline, AE
        counts, dropouts and the mean nominal infusion rate (mg/h) of patients infused now."""
        with self.lock:
            if self.trial is None:
                return pd.DataFrame()
            names, codes = self.arm_labels()
            ae = self.ae_counts().set_index("arm")
            nb, col = self.baseline_days, self.baseline_days + self.day - 1
            rate_now = self.rate[self.n_events - 1]
            rows = []
            for g, name in enumerate(names):
                sel = codes == g
                if not sel.any():
                    continue
                on = sel & (rate_now > 0)
                rows.append(
                    {
                        "arm": name,
                        "n": int(sel.sum()),
                        "in_study": int(np.sum(self.trial.in_study[sel])),
                        "baseline_nrs": _nanmean(self.nrs[sel, :nb]),
                        "nrs_today": _nanmean(self.nrs[sel, col]) if self.day else np.nan,
                        **{k: int(ae.loc[name, k]) for k in (*AE_SHOWN, "dropout")},
                        "infused_now": int(on.sum()),
                        "rate_now_mg_h": float(rate_now[on].mean()) if on.any() else np.nan,
                    }
                )
            return pd.DataFrame(rows)

    def patient_label(self, i: int) -> str:
        """``P007 · ketamine``: the patient's number and arm (or sequence)."""
        names, codes = self.arm_labels()
        return f"P{i:03d} · {names[int(codes[i])]}"


def _nanmean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    return float(x[ok].mean()) if ok.any() else float("nan")


# -- patient details -----------------------------------------------------------------------------
@dataclass
class PatientDetail:
    """What the page shows of one patient.

    Attributes
    ----------
    index : row of the patient in the model's arrays (the patient number).
    label : ``P007 · ketamine``.
    sections : ordered ``{section: {field: value}}``: patient, genotype, covariates, latent
        traits (the model's hidden classes) and the state now.
    diary : ``day``, ``nrs`` (observed; NaN = missing), ``expected_nrs`` of the days so far.
    events : ``day``, ``time_h``, ``event``, ``value`` of the patient's logged events
        (rate changes, AEs, stops, dropouts) so far.
    """

    index: int
    label: str
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    diary: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)


def patient_detail(explorer: TrialExplorer, index: int) -> PatientDetail:
    """Genotype, covariates, latent traits, current state, diary and events of one patient.

    Read through the patient's :class:`~ketsim.sim.agents.PatientAgent` (a view on the model's
    arrays) and the explorer's recorded diary.

    Raises
    ------
    ValueError
        If the explorer has no trial or ``index`` is not a patient.
    """
    with explorer.lock:
        tm = explorer.trial
        if tm is None:
            raise ValueError("no trial: the controls are invalid")
        if not 0 <= index < tm.n:
            raise ValueError(f"patient {index} does not exist (patients 0-{tm.n - 1})")
        agent = explorer._agents[index]
        cov = agent.covariates
        genotype = {k: cov.pop(k) for k in ("cyp2b6", "cyp3a4", "cyp3a5", "cyp2c9") if k in cov}
        genotype["ancestry"] = cov.pop("ancestry", "")
        comed = [k[len("comed_") :] for k in list(cov) if k.startswith("comed_") and cov.pop(k)]
        covariates = {
            "sex": "female" if cov.get("female") else "male",
            "age (years)": cov.get("age_years"),
            "weight (kg)": cov.get("weight_kg"),
            "indication": cov.get("indication"),
            "disease duration (years)": cov.get("disease_duration_years"),
            "baseline pain (true NRS)": cov.get("baseline_pain"),
            "sensitization index": cov.get("sensitization"),
            "depression": bool(cov.get("depression")),
            "expectancy": cov.get("expectancy"),
            "co-medication": ", ".join(comed) or "none",
        }
        names, codes = explorer.arm_labels()
        arms, tl = tm.scenario.arms, tm.timeline
        if tm.arm[index] >= 0:
            treatment = arms[int(tm.arm[index])].treatment
        elif tl.type == "crossover":
            treatment = "by period (see the sequence)"
        elif tm.time_h < tl.randomised_start_h:
            treatment = "open-label run-in"
        else:
            treatment = "not randomised"
        reason = tm.dropout_reason[index]
        patient = {
            "patient": f"P{index:03d}",
            "arm / sequence": names[int(codes[index])],
            "treatment": treatment,
            "enrolment day": float(tm.enrolment_day[index]),
            "screening NRS": float(tm.screening_score[index]),
            "in study": agent.in_study,
            "on treatment": agent.on_treatment,
            "dropout": reason or "no",
        }
        latent = {
            "ketamine responder": bool(tm.responder[index]),
            "placebo responder": bool(tm.placebo_responder[index]),
            "psychotomimetic threshold": float(tm.psy_threshold[index]),
            "slow-compartment C50 (ng/mL)": float(tm.slow_c50[index]),
        }
        conc = agent.concentrations
        now = {
            "day": float(explorer.to_day(tm.time_h)),
            "nominal rate (mg/h)": float(explorer.rate[explorer.n_events - 1, index]),
            "plasma S-ketamine (ng/mL)": conc["cp"],
            "S-norketamine (ng/mL)": conc["nk"],
            "sensitization state": agent.sensitization,
            "expected pain now (NRS)": agent.pain,
            "belief on drug": agent.belief_on_drug,
        }
        ncol = explorer.baseline_days + explorer.day
        seen = explorer.in_diary[index, :ncol]
        diary = pd.DataFrame(
            {
                "day": explorer.diary_day[:ncol][seen],
                "nrs": explorer.nrs[index, :ncol][seen],
                "expected_nrs": explorer.expected[index, :ncol][seen],
            }
        )
        ev = []
        for ids, times, name, vals in tm.events_log:
            hit = np.flatnonzero(ids == index)
            for h in hit:
                ev.append((float(times[h]), name, float(vals[h])))
        events = pd.DataFrame(ev, columns=["time_h", "event", "value"])
        events.insert(0, "day", explorer.to_day(events["time_h"].to_numpy(dtype=float)))
        events = events.sort_values("time_h", kind="stable").reset_index(drop=True)
        return PatientDetail(
            index=index,
            label=explorer.patient_label(index),
            sections={
                "patient": patient,
                "genotype": genotype,
                "covariates": covariates,
                "latent traits": latent,
                "now": now,
            },
            diary=diary,
            events=events,
        )
