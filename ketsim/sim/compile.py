"""The compile boundary: scenario specs → plain frozen values the numeric code runs on.

A population-PK study compiles to a :class:`PKStudy` (dosing in hours and mg, output times,
parameter set, PK switches); each regimen compiles to a :class:`Dosing`. Below this module the PK
path (:func:`ketsim.sim.regimen.build_plan`, :func:`ketsim.sim.pk_study.simulate_concentrations`,
``ketsim.core.pk``) reads no pydantic spec. The trial model does not go through a compiled plan
yet: it still reads its :class:`~ketsim.config.scenario.Scenario` (titration rules, design).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ketsim.config.scenario import INFUSION_ROUTES, RegimenSpec, Scenario
from ketsim.core.pk.model import PKSwitches
from ketsim.core.units import Amount, Rate, infusion_rate_mg_per_h

__all__ = ["Dosing", "PKStudy", "compile_dosing", "compile_pk_study", "pk_switches"]


@dataclass(frozen=True)
class Dosing:
    """One regimen as the PK needs it: route, administration times (h) and dose.

    Attributes
    ----------
    route : the scenario's route name (``iv_infusion``, ``oral``, ...).
    infusion : a constant-rate infusion (else an instant administration).
    starts_h : start time of every administration.
    duration_h : length of each infusion (0 for instant administrations).
    rate : the infusion rate when the regimen gives one.
    amount : the amount of an instant administration, or infused over ``duration_h``.
    """

    route: str
    infusion: bool
    starts_h: tuple[float, ...]
    duration_h: float
    rate: Rate | None
    amount: Amount | None

    def rate_mg_per_h(self, weight_kg):
        """Infusion rate (mg/h) for patients of the given weight(s)."""
        return infusion_rate_mg_per_h(self.rate, self.amount, self.duration_h, weight_kg)

    def amount_mg(self, weight_kg):
        """Amount (mg) of one instant administration for patients of the given weight(s)."""
        return self.amount.mg(weight_kg)


def compile_dosing(regimens: Sequence[RegimenSpec]) -> tuple[Dosing, ...]:
    """Regimen specs → :class:`Dosing` values (the same times and doses, to the bit)."""
    out = []
    for r in regimens:
        infusion = r.route in INFUSION_ROUTES
        out.append(
            Dosing(
                route=r.route,
                infusion=infusion,
                starts_h=tuple(r.start_times()),
                duration_h=float(r.duration) if infusion else 0.0,
                rate=r.rate,
                amount=r.amount,
            )
        )
    return tuple(out)


def pk_switches(scenario: Scenario) -> PKSwitches:
    """The PK model's switches of a scenario."""
    sw = scenario.switches
    return PKSwitches(
        sex_effect=sw.sex_effect_on_clearance,
        cyp2b6_effect=sw.cyp2b6_effect,
        r_inhibits_s=sw.r_inhibits_s,
        iiv=sw.iiv,
        intranasal=sw.intranasal,
    )


@dataclass(frozen=True)
class PKStudy:
    """A compiled population-PK study: everything :func:`simulate_pk` needs but the patients."""

    dosing: tuple[Dosing, ...]
    times_h: np.ndarray
    parameter_set: str
    switches: PKSwitches
    racemic: bool


def compile_pk_study(scenario: Scenario) -> PKStudy:
    """Compile a scenario's population-PK run (its ``regimens`` and ``output`` grid)."""
    out = scenario.output
    return PKStudy(
        dosing=compile_dosing(scenario.pk_regimens()),
        times_h=np.arange(0.0, out.end + 0.5 * out.step, out.step),
        parameter_set=scenario.parameter_set,
        switches=pk_switches(scenario),
        racemic=scenario.drug == "racemic",
    )
