"""Dosing schedules -> piecewise-constant infusion rates and boluses (a :class:`DosingPlan`).

Schema v0 covers fixed schedules: infusions (IV, SC) with a rate or an amount over a duration,
instant administrations (IV bolus, oral, sublingual, intranasal, SC, IM), each repeated at an
interval. Rules that change doses during a trial (titration) act on the same plan representation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ketsim.pk.propagate import DosingPlan
from ketsim.scenario import BOLUS_ROUTES, INFUSION_ROUTES, RegimenSpec

__all__ = ["build_plan", "routes_used"]


def routes_used(regimens: Sequence[RegimenSpec]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(infusion routes, bolus routes) of the PK model, in a fixed order."""
    inf = tuple(
        dict.fromkeys(INFUSION_ROUTES[r.route] for r in regimens if r.route in INFUSION_ROUTES)
    )
    bol = tuple(dict.fromkeys(BOLUS_ROUTES[r.route] for r in regimens if r.route in BOLUS_ROUTES))
    return inf, bol


def build_plan(
    regimens: Sequence[RegimenSpec], weight_kg: np.ndarray, fraction: float = 1.0
) -> tuple[DosingPlan, tuple[str, ...], tuple[str, ...]]:
    """Expand regimens for patients of the given weights.

    ``fraction`` scales every dose (0.5 for one enantiomer of a racemate).
    Returns the plan and the (infusion, bolus) route tuples its columns refer to.
    """
    weight_kg = np.asarray(weight_kg, dtype=float)
    p = weight_kg.size
    inf_routes, bol_routes = routes_used(regimens)
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
