"""Dosing schedules -> piecewise-constant infusion rates and boluses (a :class:`DosingPlan`).

Schema v0 covers fixed schedules: infusions (IV, SC) with a rate or an amount over a duration,
instant administrations (IV bolus, oral, sublingual, intranasal, SC, IM), each repeated at an
interval. Rules that change doses during a trial (titration) act on the same plan representation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ketsim.pk.propagate import DosingPlan
from ketsim.scenario import BOLUS_ROUTES, INFUSION_ROUTES, RegimenSpec, TitrationSpec

__all__ = ["ArmSchedule", "build_plan", "check_times", "compile_arm", "routes_used"]


def routes_used(regimens: Sequence[RegimenSpec]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(infusion routes, bolus routes) of the PK model, in a fixed order."""
    inf = tuple(
        dict.fromkeys(INFUSION_ROUTES[r.route] for r in regimens if r.route in INFUSION_ROUTES)
    )
    bol = tuple(dict.fromkeys(BOLUS_ROUTES[r.route] for r in regimens if r.route in BOLUS_ROUTES))
    return inf, bol


def build_plan(
    regimens: Sequence[RegimenSpec],
    weight_kg: np.ndarray,
    fraction: float = 1.0,
    routes: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
) -> tuple[DosingPlan, tuple[str, ...], tuple[str, ...]]:
    """Expand regimens for patients of the given weights.

    ``fraction`` scales every dose (0.5 for one enantiomer of a racemate); ``routes`` fixes the
    (infusion, bolus) columns (default: the routes the regimens use, in order of appearance).
    Returns the plan and the (infusion, bolus) route tuples its columns refer to.
    """
    weight_kg = np.asarray(weight_kg, dtype=float)
    p = weight_kg.size
    inf_routes, bol_routes = routes if routes is not None else routes_used(regimens)
    # every time at which some input changes
    pts: set[float] = set()
    for r in regimens:
        for s in r.start_times():
            pts.add(s)
            if r.route in INFUSION_ROUTES:
                pts.add(s + r.duration)
    times = np.array(sorted(pts))
    rates = np.zeros((times.size, p, len(inf_routes)))
    boluses = np.zeros((times.size, p, len(bol_routes)))
    for r in regimens:
        if r.route in INFUSION_ROUTES:
            col = inf_routes.index(INFUSION_ROUTES[r.route])
            rate = fraction * np.asarray(r.rate_mg_per_h(weight_kg), dtype=float)
            for s in r.start_times():
                on = (times >= s) & (times < s + r.duration)
                rates[on, :, col] += rate
        else:
            col = bol_routes.index(BOLUS_ROUTES[r.route])
            dose = fraction * np.asarray(r.amount.mg(weight_kg), dtype=float)
            for s in r.start_times():
                boluses[np.searchsorted(times, s), :, col] += dose
    return DosingPlan(times, rates, boluses), inf_routes, bol_routes


# -- trial schedules ------------------------------------------------------------------------------
@dataclass
class ArmSchedule:
    """The dosing of one arm for its patients, split into a fixed part and a titrated infusion.

    Attributes
    ----------
    plan : fixed doses (every regimen without titration), columns on the trial's global routes.
    titration : the rule of the titrated infusion, or None.
    titrated_route : infusion column of the titrated infusion.
    titrated_windows : (start, end) hours of each titrated infusion.
    start_mg_h, step_mg_h, min_mg_h, max_mg_h : per-patient titration rates (mg/h).
    infusion_windows : (start, end) of every infusion, titrated or not (checks happen during these).
    bolus_times : times of every instant administration.
    """

    plan: DosingPlan
    titration: TitrationSpec | None
    titrated_route: int
    titrated_windows: list[tuple[float, float]]
    start_mg_h: np.ndarray
    step_mg_h: np.ndarray
    min_mg_h: np.ndarray
    max_mg_h: np.ndarray
    infusion_windows: list[tuple[float, float]]
    bolus_times: list[float]

    @property
    def first_dose_h(self) -> float:
        starts = [s for s, _ in self.infusion_windows] + list(self.bolus_times)
        return min(starts) if starts else 0.0

    def titrating_at(self, t: float) -> bool:
        """True if ``t`` lies in (start, end] of a titrated window (a check inside it)."""
        return any(s < t <= e for s, e in self.titrated_windows)


def compile_arm(
    regimens: Sequence,
    weight_kg: np.ndarray,
    routes: tuple[tuple[str, ...], tuple[str, ...]],
    fraction: float = 1.0,
) -> ArmSchedule:
    """Compile an arm's regimens (``TitratedRegimenSpec``) for patients of the given weights."""
    weight_kg = np.asarray(weight_kg, dtype=float)
    titrated = [r for r in regimens if getattr(r, "titration", None) is not None]
    if len(titrated) > 1:
        raise ValueError("an arm may have at most one titrated regimen")
    fixed = [r for r in regimens if getattr(r, "titration", None) is None]
    if fixed:
        plan, _, _ = build_plan(fixed, weight_kg, fraction, routes)
    else:
        plan = DosingPlan(
            np.zeros(1),
            np.zeros((1, weight_kg.size, len(routes[0]))),
            np.zeros((1, weight_kg.size, len(routes[1]))),
        )
    inf_windows = [
        (s, s + r.duration) for r in regimens if r.route in INFUSION_ROUTES for s in r.start_times()
    ]
    bolus_times = [s for r in regimens if r.route in BOLUS_ROUTES for s in r.start_times()]
    zeros = np.zeros(weight_kg.size)
    if titrated:
        r = titrated[0]
        tr = r.titration
        return ArmSchedule(
            plan,
            tr,
            routes[0].index(INFUSION_ROUTES[r.route]),
            [(s, s + r.duration) for s in r.start_times()],
            fraction * np.asarray(r.rate.mg_per_h(weight_kg), dtype=float),
            fraction * np.asarray(tr.step.mg_per_h(weight_kg), dtype=float),
            fraction * np.asarray(tr.min_rate.mg_per_h(weight_kg), dtype=float),
            fraction * np.asarray(tr.max_rate.mg_per_h(weight_kg), dtype=float),
            inf_windows,
            bolus_times,
        )
    return ArmSchedule(plan, None, 0, [], zeros, zeros, zeros, zeros, inf_windows, bolus_times)


def check_times(
    schedule: ArmSchedule, start_hour: float, default: TitrationSpec | None = None
) -> list[float]:
    """Times at which staff assess effects and side effects.

    During an infusion: every ``day_interval`` by day and ``night_interval`` by night (clock hour
    from ``start_hour`` at t = 0), and at the end of the infusion. After an instant dose: 30 min
    later (near the peak of the fast effect site for mucosal routes; L).
    """
    rule = schedule.titration or default or TitrationSpec()
    out: list[float] = []
    for s, e in schedule.infusion_windows:
        t = s
        while True:
            clock = (start_hour + t) % 24.0
            day = (
                rule.day_start_hour <= clock < rule.night_start_hour
                if rule.day_start_hour < rule.night_start_hour
                else not (rule.night_start_hour <= clock < rule.day_start_hour)
            )
            t = t + (rule.day_interval if day else rule.night_interval)
            if t >= e - 1e-9:
                break
            out.append(t)
        out.append(e)
    out.extend(b + 0.5 for b in schedule.bolus_times)
    return sorted(set(out))
