"""Scenario variants: resized and null scenarios, the sensitivity panel's flipped switches, power-
curve sizes.
"""

from __future__ import annotations

from typing import Any

import yaml

from ketsim.config.scenario import Scenario, dump_scenario, parse_scenario
from ketsim.sim.design import control_and_compare


# -- scenarios for the engine ------------------------------------------------------------------
def _data(sc: Scenario) -> dict:
    """The resolved scenario as a plain mapping (round-trips through :func:`parse_scenario`)."""

    return yaml.safe_load(dump_scenario(sc))


def size_of(sc: Scenario) -> tuple[str, int]:
    """The scenario's sizing unit and its value.

    Parallel designs: patients in the smallest arm (``n per arm``); crossover: patients per
    sequence; enrichment: patients enrolled in the run-in.
    """
    d = sc.design
    if d.type == "crossover":
        v = d.crossover.n_per_sequence  # unequal sequences: the smallest, like the smallest arm
        return "n_per_sequence", int(min(v) if isinstance(v, list) else v)
    if d.type == "enrichment":
        return "n_enrolled", int(d.enrichment.n)
    return "n_per_arm", int(min(a.n for a in sc.arms))


def resize_scenario(sc: Scenario, n: int | None = None, factor: float | None = None) -> Scenario:
    """The scenario with its sizing unit (:func:`size_of`) set to ``n`` or scaled by ``factor``.

    Parallel arms keep their allocation ratio: each arm is scaled by ``n / smallest arm``.
    """
    unit, n0 = size_of(sc)
    f = (n / n0) if n is not None else float(factor)
    data = _data(sc)
    data.pop("sweep", None)
    if unit == "n_per_sequence":
        v = data["design"]["crossover"]["n_per_sequence"]
        data["design"]["crossover"]["n_per_sequence"] = (
            [max(1, round(x * f)) for x in v] if isinstance(v, list) else max(1, round(n0 * f))
        )
    elif unit == "n_enrolled":
        data["design"]["enrichment"]["n"] = max(2, round(n0 * f))
    else:
        for a in data["arms"]:
            a["n"] = max(1, round(a["n"] * f))
    return parse_scenario(data, f"{sc.name} resized")


def null_scenario(sc: Scenario) -> Scenario:
    """The scenario under the null hypothesis: every arm gets the control arm's treatment.

    The control is that of the first analysis (else the first non-ketamine arm). Regimens and
    blinding stay, so the null trial is the same trial with an inert drug. An enrichment run-in
    is left as it is (open-label ketamine): the null of a randomised withdrawal is that
    continuing is no better than withdrawing.
    """

    arms = sc.arms or []
    if sc.analyses:
        ctrl, _ = control_and_compare(sc, sc.analyses[0])
    else:
        ctrl = next((i for i, a in enumerate(arms) if a.treatment != "ketamine"), None)
    if ctrl is None:
        raise ValueError(
            "analyses[0].control: the null scenario needs a control arm that is not ketamine"
        )
    treat = arms[ctrl].treatment
    data = _data(sc)
    data.pop("sweep", None)
    for a in data["arms"]:
        a["treatment"] = treat
    return parse_scenario(data, f"{sc.name} (null)")


#: the uncertain switches of the report's sensitivity panel and the value each is flipped to
#: (None: the other boolean; a pair: the first value unless the scenario already has it)
SENSITIVITY_SWITCHES: dict[str, Any] = {
    "norketamine_analgesia": ("antagonist", "none"),  # Olofsen 2012 vs Olofsen 2022
    "sex_effect_on_clearance": None,  # Sigtermans 2009 vs Perez-Ruixo 2021
    "r_inhibits_s": None,  # Ihmsen 2001 (racemic only)
    "cyp2b6_effect": ("null", "in_vitro"),  # Rao 2016 vs Li 2013
}


def sensitivity_scenarios(sc: Scenario) -> list[tuple[str, str, Any, Scenario]]:
    """The scenario with each uncertain switch flipped: ``(cell, switch, value, scenario)``."""
    out = []
    for name, alt in SENSITIVITY_SWITCHES.items():
        cur = getattr(sc.switches, name)
        value = (not cur) if alt is None else (alt[0] if cur != alt[0] else alt[1])
        flipped = sc.model_copy(update={"switches": sc.switches.model_copy(update={name: value})})
        out.append((f"sw-{name}-{value}", name, value, flipped))
    return out


def curve_sizes(sc: Scenario) -> list[int]:
    """Sizes of the power curve around the scenario's own (half to twice, 5 points)."""
    _, n0 = size_of(sc)
    sizes = {max(2, round(n0 * f)) for f in (0.5, 0.75, 1.25, 1.5, 2.0)}
    sizes.discard(n0)
    return sorted(sizes)
