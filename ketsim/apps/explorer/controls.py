"""Explorer controls: what a scenario offers as sliders and switches, and control values
turned back into a scenario validated by ketsim's schema (:func:`build_scenario`).
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any

from ketsim.config.scenario import (
    Scenario,
    ScenarioError,
    SwitchesSpec,
    apply_overrides,
)
from ketsim.core.units import Amount, Rate

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
        n = min(n) if isinstance(n, list) else n  # the control sets one size for every sequence
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
            # a dose varying between patients has no one value to slide
            if isinstance(reg.rate, Rate):
                v, unit = _rate_display(reg.rate)
                dose(f"{key}_rate", f"{who}: rate ({unit})", v, f"{path}.rate")
            if isinstance(reg.amount, Amount):
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
        label = f"switch: {SWITCH_LABELS.get(name, name.replace('_', ' '))}"
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


#: words for each model switch on the page (the scenario key is in the README's switch table)
SWITCH_LABELS = {
    "sex_effect_on_clearance": "women clear ketamine 20% faster",
    "cyp2b6_effect": "CYP2B6 genotype effect on clearance",
    "r_inhibits_s": "R-ketamine slows S-ketamine clearance",
    "iiv": "between-patient PK variability",
    "intranasal": "intranasal absorption model",
    "cyp3a_cyp2c9_effect": "CYP3A4/5 and CYP2C9 genotype effect",
    "norketamine_analgesia": "norketamine effect on analgesia",
    "r_ketamine_analgesia": "R-ketamine analgesia",
    "functional_unblinding": "felt drug effects unblind patients",
    "lasting_effect": "mechanism of the lasting effect",
    "cancer_disease_modification": "cancer pain: disease modification",
}


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
