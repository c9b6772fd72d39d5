"""Interactive trial explorer: one simulated trial of a scenario in mesa's SolaraViz.

``ketsim explore FILE`` (see :mod:`ketsim.apps.explore_cli`) serves a page that steps ONE simulated
trial of the scenario day by day, with controls for its key parameters, live plots and a patient
inspector. This module holds two layers:

* model-side logic, importable and testable without solara or a browser:
  :func:`scenario_controls` / :func:`model_params` (the controls a scenario offers),
  :func:`build_scenario` (control values → a scenario validated by ketsim's schema),
  :class:`TrialExplorer` (a :class:`mesa.Model` that steps the real
  :class:`~ketsim.sim.trial.TrialModel` one diary day per step and keeps what the plots read),
  :func:`patient_detail` and the ``figure_*`` functions (matplotlib figures, no pyplot);
* the SolaraViz page, built lazily on first access to ``ketsim.apps.explorer.Page`` (``solara run
  ketsim.apps.explorer``), so that neither ``import ketsim`` nor this module needs solara.

The explorer shows the model itself, not a re-implementation: every number comes from the arrays of
the wrapped :class:`~ketsim.sim.trial.TrialModel` (diary noise is drawn up front, so a day's
observed
NRS is final when that day has been simulated and equals :func:`~ketsim.sim.trial.simulate_trial`'s
diary for the same scenario and seed).
"""

from __future__ import annotations

import functools
import html
import math
import os
import sys
import threading
import traceback
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd

from ketsim.apps.explore_cli import SCENARIO_ENV
from ketsim.config.scenario import (
    Scenario,
    ScenarioError,
    SwitchesSpec,
    apply_overrides,
    load_scenario,
)
from ketsim.core.units import Amount, Rate

__all__ = [
    "AE_SHOWN",
    "SCENARIO_ENV",
    "Control",
    "ControlError",
    "PatientDetail",
    "TrialExplorer",
    "arm_color",
    "build_scenario",
    "default_values",
    "figure_ae",
    "figure_nrs",
    "figure_patient_diary",
    "figure_patients",
    "figure_titration",
    "main",
    "model_params",
    "patient_detail",
    "scenario_controls",
    "settings_lines",
]


#: µg/kg/min per mg/kg/h: per-kg infusion rates are shown in µg/kg/min, the unit of the
#: low-dose ketamine literature (Sigtermans 2009: 1.2 µg/kg/min steps)
_UG_KG_MIN = 0.06

#: adverse events (and treatment stops) counted in the AE plot, with their labels
AE_SHOWN = {
    "psychotomimetic": "psychotomimetic",
    "nausea": "nausea",
    "vomiting": "vomiting",
    "intolerable": "intolerable",
    "discontinued": "treatment stopped",
}


# -- controls ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Control:
    """One SolaraViz input for a scenario parameter.

    Attributes
    ----------
    key : keyword of :class:`TrialExplorer` (and of ``model_params``).
    label : text shown next to the input.
    kind : the mesa ``UserInputs`` type: ``SliderFloat``, ``SliderInt``, ``Checkbox``, ``Select``
        or ``InputText``.
    value : initial value (the scenario's own, in the displayed unit).
    path : YAML path of the scenario field it sets (used to name it in error messages).
    """

    key: str
    label: str
    kind: str
    value: Any
    path: str
    min: float | None = None
    max: float | None = None
    step: float | None = None
    values: tuple[Any, ...] | None = None

    def param(self) -> dict[str, Any]:
        """The control as a mesa SolaraViz ``model_params`` entry."""
        out: dict[str, Any] = {"type": self.kind, "value": self.value, "label": self.label}
        if self.kind in ("SliderFloat", "SliderInt"):
            out.update(min=self.min, max=self.max, step=self.step)
        if self.kind == "Select":
            out["values"] = list(self.values or ())
        return out


def _nice_step(v: float) -> float:
    """A slider step about a tenth of the value's order of magnitude (1.2 → 0.1, 20 → 1)."""
    if not v > 0:
        return 0.1
    return 10.0 ** (math.floor(math.log10(v)) - 1)


def _slider_max(v: float, step: float) -> float:
    """Five times the value, rounded up to the step (room to explore higher doses)."""
    return float(step * math.ceil(5.0 * max(v, step) / step))


def _rate_display(rate: Rate) -> tuple[float, str]:
    """A rate as (value, unit) in the displayed unit: µg/kg/min per kg, else mg/h."""
    if rate.per_kg:
        return rate.value / _UG_KG_MIN, "µg/kg/min"
    return rate.value, "mg/h"


def _rate_from_display(v: float, per_kg: bool) -> Rate:
    return Rate(float(v) * _UG_KG_MIN, True) if per_kg else Rate(float(v), False)


def _amount_display(amount: Amount) -> tuple[float, str]:
    return amount.value, ("mg/kg" if amount.per_kg else "mg")


def _patients_control(sc: Scenario) -> list[Control]:
    """Patients per arm (parallel), per sequence (crossover) or enrolled (enrichment)."""
    d = sc.design
    if d.type == "crossover" and d.crossover is not None:
        n = d.crossover.n_per_sequence
        label, path = "patients per sequence", "design.crossover.n_per_sequence"
    elif d.type == "enrichment" and d.enrichment is not None:
        n = d.enrichment.n
        label, path = "patients enrolled (run-in)", "design.enrichment.n"
    else:
        return []
    return [Control("patients", label, "SliderInt", int(n), path, 2, max(100, 2 * n), 1)]


def scenario_controls(sc: Scenario, seed: int | None = None) -> list[Control]:
    """The controls a trial scenario offers, with its own values as the initial ones.

    Per arm: patients (parallel designs), and per regimen its dose rate (infusions given as a
    rate) or amount, infusion hours, the titration ceiling of titrated infusions and the number of
    administrations of repeated regimens; then patients per sequence (crossover) or enrolled
    (enrichment), the seed, and every switch of :class:`~ketsim.config.scenario.SwitchesSpec`.

    Parameters
    ----------
    sc : a scenario with ``arms``.
    seed : initial seed (default: the scenario's; a scenario without one needs it given).
    """
    if not sc.arms:
        raise ValueError(f"scenario '{sc.name}' has no 'arms': the explorer runs a trial")
    out: list[Control] = []

    def dose(key: str, label: str, v: float, path: str) -> None:
        # from 0 (rejected by the schema, with a message) to five times the scenario's dose
        st = _nice_step(v)
        out.append(Control(key, label, "SliderFloat", v, path, 0.0, _slider_max(v, st), st))

    parallel = sc.design.type == "parallel"
    for i, arm in enumerate(sc.arms):
        if parallel and arm.n is not None:
            hi = max(100, 2 * arm.n)
            label = f"{arm.name}: patients"
            out.append(Control(f"arm{i}_n", label, "SliderInt", arm.n, f"arms[{i}].n", 1, hi, 1))
        for j, reg in enumerate(arm.regimens):
            who = arm.name if len(arm.regimens) == 1 else f"{arm.name} #{j + 1}"
            path, key = f"arms[{i}].regimens[{j}]", f"arm{i}_reg{j}"
            if reg.rate is not None:
                v, unit = _rate_display(reg.rate)
                dose(f"{key}_rate", f"{who}: rate ({unit})", v, f"{path}.rate")
            if reg.amount is not None:
                v, unit = _amount_display(reg.amount)
                dose(f"{key}_amount", f"{who}: amount ({unit})", v, f"{path}.amount")
            if reg.duration is not None:
                dur = float(reg.duration)
                hi, st = float(max(168.0, math.ceil(2 * dur))), 0.5 if dur < 24 else 1.0
                label = f"{who}: infusion hours"
                out.append(
                    Control(
                        f"{key}_hours", label, "SliderFloat", dur, f"{path}.duration", 0.0, hi, st
                    )
                )
            if reg.titration is not None:
                v, unit = _rate_display(reg.titration.max_rate)
                label = f"{who}: titration ceiling ({unit})"
                dose(f"{key}_max_rate", label, v, f"{path}.titration.max_rate")
            if reg.repeats > 1:
                hi, label = max(20, 2 * reg.repeats), f"{who}: sessions (repeats)"
                out.append(
                    Control(
                        f"{key}_repeats",
                        label,
                        "SliderInt",
                        reg.repeats,
                        f"{path}.repeats",
                        1,
                        hi,
                        1,
                    )
                )
    out += _patients_control(sc)
    s = sc.seed if seed is None else seed
    if s is None:
        raise ValueError("scenario has no seed: pass one (a fresh one is drawn by the page)")
    out.append(Control("seed", "seed", "InputText", str(int(s)), "seed"))
    for name, f in SwitchesSpec.model_fields.items():
        v = getattr(sc.switches, name)
        label = f"switch: {name.replace('_', ' ')}"
        if f.annotation is bool:
            out.append(Control(f"switch_{name}", label, "Checkbox", bool(v), f"switches.{name}"))
        else:
            choices = typing.get_args(f.annotation)
            out.append(
                Control(
                    f"switch_{name}",
                    label,
                    "Select",
                    v,
                    f"switches.{name}",
                    values=tuple(choices),
                )
            )
    return out


def default_values(sc: Scenario, seed: int | None = None) -> dict[str, Any]:
    """``{key: initial value}`` of every control of :func:`scenario_controls`."""
    return {c.key: c.value for c in scenario_controls(sc, seed)}


def model_params(sc: Scenario, seed: int | None = None) -> dict[str, Any]:
    """SolaraViz ``model_params``: the fixed base scenario and one input per control.

    mesa rebuilds the model as ``TrialExplorer(**params)`` when Reset is pressed, so the base
    scenario travels as a fixed parameter (anything that is not an input mapping).
    """
    params: dict[str, Any] = {"base": sc}
    params.update({c.key: c.param() for c in scenario_controls(sc, seed)})
    return params


class ControlError(ValueError):
    """Control values that do not make a valid scenario; ``problems`` has one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def _label_problems(problems: list[str], controls: list[Control]) -> list[str]:
    """Name the control behind each ``path: message`` line of the schema, where there is one."""
    labels = {c.path: c.label for c in controls}
    for c in controls:  # regimen-level problems (e.g. interval shorter than duration)
        head, _, last = c.path.rpartition(".")
        if last in ("rate", "amount", "duration", "repeats") and head.endswith("]"):
            labels.setdefault(head, c.label.split(":")[0] + " regimen")
    out = []
    for line in problems:
        path, sep, msg = line.partition(": ")
        best = max(
            (p for p in labels if path == p or path.startswith(p + ".")), key=len, default=""
        )
        out.append(f"{labels[best]}: {msg} ({path})" if best and sep else line)
    return out


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def build_scenario(base: Scenario, values: dict[str, Any]) -> Scenario:
    """The base scenario with the control values applied, validated by ketsim's schema.

    Unchanged values keep the base scenario's own quantities (no unit round trip), so the
    default values give back the base scenario (without ``expected`` and ``sweep``, which the
    explorer does not use).

    Parameters
    ----------
    base : a trial scenario.
    values : ``{control key: value}``; missing keys keep the base value.

    Raises
    ------
    ControlError
        With one readable line per problem, naming the control and the YAML path.
    """
    controls = scenario_controls(base, seed=base.seed if base.seed is not None else 0)
    by_key = {c.key: c for c in controls}
    unknown = sorted(set(values) - set(by_key))
    if unknown:
        raise ControlError([f"unknown control(s): {', '.join(unknown)}"])
    problems: list[str] = []

    def number(key: str, integer: bool = False) -> float | int | None:
        v = values.get(key, by_key[key].value)
        try:
            if isinstance(v, bool) or v is None:
                raise TypeError
            x = float(v)
            if not math.isfinite(x):
                raise ValueError
        except (TypeError, ValueError):
            problems.append(f"{by_key[key].label}: not a number (got {v!r})")
            return None
        if integer:
            if x != int(x):
                problems.append(f"{by_key[key].label}: must be a whole number (got {v!r})")
                return None
            return int(x)
        return x

    def changed(key: str) -> bool:
        v = values.get(key)
        return key in values and not (
            isinstance(v, int | float) and _same(float(v), float(by_key[key].value))
        )

    arms = []
    for i, arm in enumerate(base.arms or []):
        a = {k: getattr(arm, k) for k in arm.model_fields_set}
        if f"arm{i}_n" in by_key and changed(f"arm{i}_n"):
            a["n"] = number(f"arm{i}_n", integer=True)
        regs = []
        for j, reg in enumerate(arm.regimens):
            r = {k: getattr(reg, k) for k in reg.model_fields_set}
            key = f"arm{i}_reg{j}"
            if f"{key}_rate" in by_key and changed(f"{key}_rate"):
                v = number(f"{key}_rate")
                if v is not None:
                    r["rate"] = _rate_from_display(v, reg.rate.per_kg)
            if f"{key}_amount" in by_key and changed(f"{key}_amount"):
                v = number(f"{key}_amount")
                if v is not None:
                    r["amount"] = Amount(float(v), reg.amount.per_kg)
            if f"{key}_hours" in by_key and changed(f"{key}_hours"):
                r["duration"] = number(f"{key}_hours")
            if f"{key}_repeats" in by_key and changed(f"{key}_repeats"):
                r["repeats"] = number(f"{key}_repeats", integer=True)
            if f"{key}_max_rate" in by_key and changed(f"{key}_max_rate"):
                v = number(f"{key}_max_rate")
                if v is not None:
                    t = {k: getattr(reg.titration, k) for k in reg.titration.model_fields_set}
                    t["max_rate"] = _rate_from_display(v, reg.titration.max_rate.per_kg)
                    r["titration"] = t
            regs.append(r)
        a["regimens"] = regs
        arms.append(a)
    overrides: dict[str, Any] = {"arms": arms}
    if "patients" in by_key and changed("patients"):
        n = number("patients", integer=True)
        if base.design.type == "crossover":
            overrides["design"] = {"crossover": {"n_per_sequence": n}}
        else:
            overrides["design"] = {"enrichment": {"n": n}}
    if "seed" in values or base.seed is not None:
        seed_text = str(values.get("seed", base.seed)).strip()
        if not seed_text.isdigit():
            problems.append(f"seed: must be a whole number >= 0 (got {seed_text!r})")
        else:
            overrides["seed"] = int(seed_text)
    switches = {}
    for name in SwitchesSpec.model_fields:
        key = f"switch_{name}"
        if key in values:
            switches[name] = values[key]
    if switches:
        overrides["switches"] = switches
    if problems:
        raise ControlError(problems)
    try:
        return apply_overrides(base, overrides)
    except ScenarioError as err:
        raise ControlError(_label_problems(err.problems, controls)) from None


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
        from ketsim.sim.trial import AE_EVENTS, TrialModel

        sc = self.scenario
        if sc.seed is None:  # as simulate_trial: a fresh root seed, recorded in the scenario
            from ketsim.core.seeds import new_entropy

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


# -- figures (matplotlib without pyplot: safe in the server's threads) ---------------------------
_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def arm_color(g: int) -> str:
    """Colour of arm (or sequence) ``g`` in every plot."""
    return _COLORS[g % len(_COLORS)]


def _figure(rows: int = 1, height: float = 3.3, left: float = 0.13):
    from matplotlib.figure import Figure

    # fixed margins: matplotlib's layout engines double the drawing time of a step
    fig = Figure(figsize=(6.4, height), dpi=80)
    bottom = 0.45 / height
    fig.subplots_adjust(left=left, right=0.98, top=1 - 0.3 / height, bottom=bottom, hspace=0.3)
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    return fig, axes


def _empty(fig, ax, text: str):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_axis_off()
    return fig


def figure_nrs(explorer: TrialExplorer):
    """Mean daily NRS per arm (solid: observed diary; dashed: the model's expected pain)."""
    fig, (ax,) = _figure()
    if explorer.trial is None:
        return _empty(fig, ax, "no trial: see the message above")
    df = explorer.arm_daily_nrs()
    names, _ = explorer.arm_labels()
    for g, name in enumerate(names):
        d = df[df["arm"] == name]
        if d.empty:
            continue
        c = arm_color(g)
        ax.plot(d["day"], d["mean_nrs"], "-o", ms=2.5, lw=1.4, color=c, label=name)
        ax.plot(d["day"], d["mean_expected"], "--", lw=1, color=c, alpha=0.7)
    ax.axvline(0.5, color="0.5", lw=0.8, ls=":")
    ax.set_xlim(-explorer.baseline_days + 0.5, explorer.n_days + 0.5)
    ax.set_ylim(0, 10)
    ax.set_xlabel("diary day (≤ 0: baseline)")
    ax.set_ylabel("mean NRS")
    ax.set_title(f"mean daily pain by arm, day {explorer.day} of {explorer.n_days}", fontsize=10)
    ax.legend(loc="lower left", fontsize=8, ncol=3, frameon=False)
    return fig


def _x_window(explorer: TrialExplorer) -> tuple[float, float]:
    # the axis grows with the simulated days (at least a week, to see an infusion's course)
    return 0.0, max(float(explorer.day), 7.0) + 0.5


def _dosing_window(explorer: TrialExplorer) -> tuple[float, float]:
    """Days shown for concentrations and rates: growing with the simulated days, but no further
    than a week after the last scheduled dose (a 4-day infusion would be a sliver of 12 weeks)."""
    from ketsim.sim.design import dosing_end_h

    end_h = max(
        (dosing_end_h(sg.regimens) for g in explorer.trial.timeline.groups for sg in g.segments),
        default=0.0,
    )
    last = float(explorer.to_day(end_h)) + 7.0
    return 0.0, max(min(float(explorer.day), last), 7.0) + 0.5


def _patient_lines(explorer: TrialExplorer, ax, values: np.ndarray, selected: int | None, step):
    """One thin line per patient in its arm's colour (one LineCollection: 60 separate lines
    take most of a step's drawing time), the selected patient in black on top."""
    from matplotlib.collections import LineCollection

    names, codes = explorer.arm_labels()
    e = explorer.n_events
    x = np.asarray(explorer.to_day(explorer.event_h[:e]), dtype=float)
    y = values[:e]
    if step and e > 1:  # post-steps: hold each value until the next event
        x = np.repeat(x, 2)[1:]
        y = np.repeat(y, 2, axis=0)[:-1]
    others = [i for i in range(explorer.n_patients) if i != selected]
    segs = [np.column_stack([x, y[:, i]]) for i in others]
    colors = [arm_color(int(codes[i])) for i in others]
    ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.6, alpha=0.35))
    if selected is not None and 0 <= selected < explorer.n_patients:
        ax.plot(x, y[:, selected], color="black", lw=2.0, label=f"P{selected:03d}", zorder=5)
    for g, name in enumerate(names):  # legend entries for the arms
        ax.plot([], [], color=arm_color(g), label=name)
    ax.autoscale_view()
    ax.legend(loc="upper right", fontsize=7, frameon=False, ncol=3)


def figure_patients(explorer: TrialExplorer, selected: int | None = None):
    """Each patient's plasma S-ketamine and sensitization state at every event so far (the
    selected patient in black)."""
    fig, (ax1, ax2) = _figure(2, 4.2)
    if explorer.trial is None:
        _empty(fig, ax2, "")
        return _empty(fig, ax1, "no trial: see the message above")
    with explorer.lock:
        _patient_lines(explorer, ax1, explorer.cp, selected, step=False)
        _patient_lines(explorer, ax2, explorer.sens, selected, step=False)
    ax1.set_ylabel("plasma S-ketamine\n(ng/mL)")
    ax1.set_xlim(*_dosing_window(explorer))
    ax1.set_ylim(bottom=0)
    ax1.set_title("individual patients (the selected one in black)", fontsize=10)
    ax2.set_ylabel("sensitization")
    ax2.set_ylim(0, 1)
    ax2.set_xlim(*_x_window(explorer))
    ax2.set_xlabel("day")
    return fig


def _rate_unit(explorer: TrialExplorer) -> tuple[str, np.ndarray]:
    """Display unit of nominal rates and the factor from mg/h for each patient: µg/kg/min when
    the trial's infusions are dosed per kg (titration steps then read 1.2, 2.4, ...), else
    mg/h."""
    tm = explorer.trial
    per_kg = any(r.rate is not None and r.rate.per_kg for a in tm.scenario.arms for r in a.regimens)
    if per_kg:
        return "µg/kg/min", 1.0 / (tm.pop.weight_kg * _UG_KG_MIN)
    return "mg/h", np.ones(tm.n)


def figure_titration(explorer: TrialExplorer, selected: int | None = None):
    """Nominal infusion rate of each patient (thin steps; the selected one in black) and each
    arm's mean over its infused patients (thick)."""
    fig, (ax,) = _figure()
    if explorer.trial is None:
        return _empty(fig, ax, "no trial: see the message above")
    with explorer.lock:
        unit, factor = _rate_unit(explorer)
        e = explorer.n_events
        shown = explorer.rate[:e] * factor[None, :]
        _patient_lines(explorer, ax, shown, selected, step=True)
        names, codes = explorer.arm_labels()
        x = explorer.to_day(explorer.event_h[:e])
        for g, _ in enumerate(names):
            r = shown[:, codes == g]
            if r.size == 0:
                continue
            on = r > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(on.any(axis=1), np.where(on, r, 0).sum(axis=1) / on.sum(axis=1), 0)
            ax.step(x, mean, where="post", color=arm_color(g), lw=2.2, alpha=0.9)
    ax.set_xlim(*_dosing_window(explorer))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("day")
    ax.set_ylabel(f"nominal rate ({unit})")
    ax.set_title("titration: infusion rate per patient and arm mean (thick)", fontsize=10)
    return fig


def figure_ae(explorer: TrialExplorer):
    """Patients per arm with each adverse event so far, treatment stops and dropouts."""
    fig, (ax,) = _figure(left=0.24)
    if explorer.trial is None:
        return _empty(fig, ax, "no trial: see the message above")
    df = explorer.ae_counts()
    kinds = [*AE_SHOWN, "dropout"]
    labels = [*AE_SHOWN.values(), "dropout"]
    names, _ = explorer.arm_labels()
    width = 0.8 / max(1, len(df))
    y = np.arange(len(kinds))
    for k, (_, row) in enumerate(df.iterrows()):
        g = names.index(row["arm"])
        vals = [row[c] for c in kinds]
        ax.barh(y + k * width, vals, height=width, color=arm_color(g), label=row["arm"])
        for yy, v in zip(y + k * width, vals, strict=True):
            ax.text(v, yy, f" {v}/{row['n']}", va="center", fontsize=7)
    ax.set_yticks(y + width * (len(df) - 1) / 2, labels)
    ax.invert_yaxis()
    nmax = int(df["n"].max()) if len(df) else 1
    ax.set_xlim(0, nmax * 1.15)
    ax.set_xlabel("patients so far")
    ax.set_title(f"adverse events and dropouts, day {explorer.day}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig


def figure_patient_diary(explorer: TrialExplorer, index: int):
    """One patient's diary: observed NRS (dots), expected pain (line), their arm's mean."""
    fig, (ax,) = _figure(1, 2.4)
    try:
        det = patient_detail(explorer, index)
    except ValueError as err:
        return _empty(fig, ax, str(err))
    names, codes = explorer.arm_labels()
    g = int(codes[index])
    arm = explorer.arm_daily_nrs()
    arm = arm[arm["arm"] == names[g]]
    ax.plot(arm["day"], arm["mean_nrs"], color=arm_color(g), lw=1, alpha=0.5, label="arm mean")
    ax.plot(det.diary["day"], det.diary["expected_nrs"], color="black", lw=1, label="expected")
    ax.plot(det.diary["day"], det.diary["nrs"], "o", ms=3, color="black", label="diary NRS")
    ax.set_xlim(-explorer.baseline_days + 0.5, explorer.n_days + 0.5)
    ax.set_ylim(-0.3, 10.3)
    ax.set_xlabel("diary day")
    ax.set_ylabel("NRS")
    ax.set_title(f"diary of {det.label}", fontsize=9)
    ax.legend(loc="lower left", fontsize=7, frameon=False, ncol=3)
    return fig


def settings_lines(sc: Scenario) -> list[str]:
    """The trial's settings in words, one line per arm and one for the switches that differ
    from their defaults (the sliders do not show their values: this does)."""
    lines = []
    for arm in sc.arms or []:
        parts = [f"n {arm.n}"] if arm.n is not None else []
        for reg in arm.regimens:
            p = reg.route.replace("_", " ")
            if reg.rate is not None:
                v, unit = _rate_display(reg.rate)
                p += f" {v:.4g} {unit}"
            if reg.amount is not None:
                v, unit = _amount_display(reg.amount)
                p += f" {v:.4g} {unit}"
            if reg.duration is not None:
                p += f" over {reg.duration:.4g} h"
            if reg.titration is not None:
                v, unit = _rate_display(reg.titration.max_rate)
                p += f", titrated up to {v:.4g} {unit}"
            if reg.repeats > 1:
                p += f", {reg.repeats} times every {reg.interval:.4g} h"
            if reg.start:
                p += f" from {reg.start:.4g} h"
            parts.append(p)
        lines.append(f"{arm.name} ({arm.treatment}): " + "; ".join(parts))
    d = sc.design
    if d.type == "crossover" and d.crossover is not None:
        lines.append(f"crossover: {d.crossover.n_per_sequence} patients per sequence")
    if d.type == "enrichment" and d.enrichment is not None:
        lines.append(f"enrichment: {d.enrichment.n} patients enter the open-label run-in")
    default = SwitchesSpec()
    changed = [
        f"{k} = {getattr(sc.switches, k)}"
        for k in SwitchesSpec.model_fields
        if getattr(sc.switches, k) != getattr(default, k)
    ]
    lines.append("switches: " + (", ".join(changed) if changed else "all at their defaults"))
    return lines


# -- the SolaraViz page (built lazily: solara is an optional dependency) ------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        return "–" if v != v else f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _html_table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """A small HTML table (values escaped)."""
    style = "border-collapse:collapse;font-size:12px;margin:2px 0"
    cell = "padding:1px 6px;border-bottom:1px solid #ddd;text-align:left"
    out = [f'<table style="{style}">']
    if header:
        out.append("<tr>" + "".join(f'<th style="{cell}">{html.escape(h)}</th>' for h in header))
    for r in rows:
        out.append("<tr>" + "".join(f'<td style="{cell}">{html.escape(_fmt(v))}</td>' for v in r))
    out.append("</table>")
    return "".join(out)


@functools.lru_cache(maxsize=4)
def _page_scenario(path: str) -> tuple[Scenario | None, list[str]]:
    """The scenario the served page explores, or the problems that stop it (cached)."""
    if not path:
        return None, [f"no scenario: set {SCENARIO_ENV} or start the page with 'ketsim explore'"]
    try:
        sc = load_scenario(path)
    except ScenarioError as err:
        return None, [f"{path}: {p}" for p in err.problems]
    if not sc.arms:
        return None, [f"{path}: arms: required key is missing (the explorer runs a trial)"]
    return sc, []


@functools.cache
def _page_component():
    """Build the solara ``Page`` component (imports solara and mesa's SolaraViz)."""
    import warnings

    import solara

    with warnings.catch_warnings():
        # solara's hook linter flags a use_state in mesa's own ComponentsView at import
        warnings.simplefilter("ignore", UserWarning)
        from mesa.visualization import SolaraViz
        from mesa.visualization.utils import update_counter

    # the selected patient: module-level, but solara keeps one value per browser session
    selected = solara.reactive(0)

    def guarded(render):
        """Show a one-line message instead of a traceback if a panel cannot be drawn."""

        @functools.wraps(render)
        def wrapper(model):
            update_counter.get()  # re-render after every step
            try:
                return render(model)
            except Exception as err:  # a bug must not take the page down
                traceback.print_exc(file=sys.stderr)
                return solara.Error(f"cannot draw this panel: {type(err).__name__}: {err}")

        return wrapper

    def figure(fig, name: str):
        with solara.Div(classes=[f"ketsim-{name}"]) as div:
            solara.FigureMatplotlib(fig, format="png")
        return div

    def no_trial(model) -> bool:
        if model.trial is None:
            solara.Info("no trial to show: fix the controls (see the first panel)")
            return True
        return False

    def panel(name: str):
        # every panel scrolls inside its (resizable) grid cell rather than spilling out of it
        return solara.Column(classes=[f"ketsim-{name}"], gap="6px")

    @guarded
    def Overview(model):
        with panel("overview") as col:
            if model.error:
                solara.Error(
                    "The controls do not make a valid trial: change them, then press Reset.",
                    classes=["ketsim-error"],
                )
                for line in model.error:
                    solara.Text(line, classes=["ketsim-error-line"], style={"color": "#b00020"})
                return col
            sc = model.scenario
            solara.HTML(
                tag="div",
                unsafe_innerHTML=(
                    f"<b>{html.escape(sc.name)}</b>: {sc.design.type} design, "
                    f"{model.n_patients} patients, seed {sc.seed}. Change the controls on the "
                    "left, then press <b>Reset</b> to rebuild the trial from them; <b>Step</b> "
                    "simulates one day, ▶ plays the trial."
                ),
            )
            solara.Text(
                f"day {model.day} of {model.n_days}",
                classes=["ketsim-day"],
                style={"font-size": "18px", "font-weight": "bold"},
            )
            s = model.arm_summary()
            if len(s):
                cols = {
                    "arm": "arm",
                    "n": "n",
                    "in_study": "in study",
                    "baseline_nrs": "NRS baseline",
                    "nrs_today": "NRS today",
                    "psychotomimetic": "psychotomimetic",
                    "nausea": "nausea",
                    "discontinued": "stopped",
                    "dropout": "dropout",
                    "infused_now": "infused now",
                    "rate_now_mg_h": "mean rate mg/h",
                }
                rows = [[r[c] for c in cols] for _, r in s.iterrows()]
                solara.HTML(
                    tag="div",
                    unsafe_innerHTML=_html_table(rows, list(cols.values())),
                    classes=["ketsim-summary"],
                )
            solara.Text("this trial:", style={"font-weight": "bold", "font-size": "12px"})
            for line in settings_lines(sc):
                solara.Text(line, style={"font-size": "12px"}, classes=["ketsim-setting"])
        return col

    @guarded
    def NrsPlot(model):
        return figure(figure_nrs(model), "nrs")

    @guarded
    def PatientsPlot(model):
        if no_trial(model):
            return None
        return figure(figure_patients(model, selected.value), "patients")

    @guarded
    def TitrationPlot(model):
        if no_trial(model):
            return None
        return figure(figure_titration(model, selected.value), "titration")

    @guarded
    def AePlot(model):
        if no_trial(model):
            return None
        return figure(figure_ae(model), "ae")

    def current(model) -> int:
        return min(max(int(selected.value), 0), model.n_patients - 1)

    def tables(sections: dict[str, dict[str, Any]]) -> None:
        with solara.Row(gap="12px", style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            for name, sec in sections.items():
                with solara.Column(gap="0px"):
                    solara.Text(name, style={"font-weight": "bold", "font-size": "12px"})
                    rows = [[k, v] for k, v in sec.items()]
                    solara.HTML(tag="div", unsafe_innerHTML=_html_table(rows))

    @guarded
    def PatientPicker(model):
        if no_trial(model):
            return None
        n, idx = model.n_patients, current(model)
        _, codes = model.arm_labels()
        options = [model.patient_label(i) for i in range(n)]
        with panel("patient") as col:
            solara.Select(
                "patient (or click a tile below)",
                values=options,
                value=options[idx],
                on_value=lambda v: selected.set(options.index(v)),
            )
            # one clickable tile per patient, coloured by arm (grey: left the study)
            with solara.Row(gap="2px", style={"flex-wrap": "wrap"}):
                for i in range(n):
                    bg = arm_color(int(codes[i])) if model.trial.in_study[i] else "#9e9e9e"
                    border = "2px solid black" if i == idx else "2px solid transparent"
                    solara.Button(
                        f"{i}",
                        on_click=lambda i=i: selected.set(i),
                        classes=["ketsim-tile"],
                        style={
                            "min-width": "30px",
                            "width": "30px",
                            "height": "22px",
                            "padding": "0",
                            "font-size": "10px",
                            "color": "white",
                            "background-color": bg,
                            "border": border,
                        },
                        small=True,
                        depressed=True,
                    )
            det = patient_detail(model, idx)
            keep = ("patient", "genotype", "covariates")
            tables({k: v for k, v in det.sections.items() if k in keep})
        return col

    @guarded
    def PatientRecord(model):
        if no_trial(model):
            return None
        idx = current(model)
        det = patient_detail(model, idx)
        with panel("patient-record") as col:
            figure(figure_patient_diary(model, idx), "patient-diary")
            tables({k: v for k, v in det.sections.items() if k in ("now", "latent traits")})
            ev = det.events[det.events["event"] != "rate_mg_h"].tail(8)
            solara.Text("latest events", style={"font-weight": "bold", "font-size": "12px"})
            if len(ev):
                rows = [[r["day"], r["event"], r["value"]] for _, r in ev.iterrows()]
                solara.HTML(
                    tag="div", unsafe_innerHTML=_html_table(rows, ["day", "event", "value"])
                )
            else:
                solara.Text("none yet", style={"font-size": "12px"})
        return col

    components = [
        Overview,
        NrsPlot,
        PatientsPlot,
        TitrationPlot,
        PatientPicker,
        PatientRecord,
        AePlot,
    ]
    css = """
    .vue-grid-item > div { height: 100%; overflow: auto; }
    .ketsim-nrs img, .ketsim-patients img, .ketsim-titration img, .ketsim-ae img,
    .ketsim-patient-diary img { max-width: 100%; height: auto; }
    """

    @solara.component
    def Page():
        sc, problems = _page_scenario(os.environ.get(SCENARIO_ENV, ""))

        def initial():
            if sc is None:
                return None, None
            from ketsim.core.seeds import new_entropy

            # a scenario without a seed gets a fresh one, shown (and editable) in the seed box
            seed = sc.seed if sc.seed is not None else new_entropy()
            params = model_params(sc, seed)
            values = {k: v["value"] for k, v in params.items() if isinstance(v, dict)}
            return params, TrialExplorer(base=sc, **values)

        # hooks before any early return (solara's rules of hooks)
        params, model = solara.use_memo(initial, [])
        if sc is None:
            solara.Title("ketsim explorer")
            for p in problems:
                solara.Error(p)
            return
        solara.Title(f"ketsim explorer · {sc.name}")
        solara.Style(css)
        SolaraViz(
            model,
            components=components,
            model_params=params,
            name=f"ketsim explorer · {sc.name}",
            play_interval=150,
        )

    return Page


def __getattr__(name: str) -> Any:
    # ``solara run ketsim.apps.explorer`` looks up ``Page``; building it imports solara, so only
    # on demand
    if name == "Page":
        return _page_component()
    raise AttributeError(f"module 'ketsim.apps.explorer' has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """``python -m ketsim.apps.explorer FILE [--host H] [--port P] [--no-browser]``: as ``ketsim
    explore``."""
    from ketsim.apps.explore_cli import main as explore_main

    return explore_main(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
