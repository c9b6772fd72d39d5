"""Dosing schedules -> piecewise-constant infusion rates and boluses (a :class:`DosingPlan`).

Schema v0 covers fixed schedules: infusions (IV, SC) with a rate or an amount over a duration,
instant administrations (IV bolus, oral, sublingual, intranasal, SC, IM), each repeated at an
interval. Rules that change doses during a trial (titration) act on the same plan representation.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ketsim.config.scenario import BOLUS_ROUTES, INFUSION_ROUTES, RegimenSpec, TitrationSpec
from ketsim.core.dose import DoseDistribution, bounded_mg
from ketsim.core.pk.propagate import DosingPlan
from ketsim.sim.compile import Dosing, compile_dosing

__all__ = [
    "ArmSchedule",
    "TitrationWindow",
    "build_plan",
    "check_times",
    "compile_arm",
    "routes_used",
]


def routes_used(
    regimens: Sequence[RegimenSpec] | Sequence[Dosing],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(infusion routes, bolus routes) of the PK model, in a fixed order (specs or compiled)."""
    inf = tuple(
        dict.fromkeys(INFUSION_ROUTES[r.route] for r in regimens if r.route in INFUSION_ROUTES)
    )
    bol = tuple(dict.fromkeys(BOLUS_ROUTES[r.route] for r in regimens if r.route in BOLUS_ROUTES))
    return inf, bol


def build_plan(
    dosing: Sequence[Dosing],
    weight_kg: np.ndarray,
    fraction: float = 1.0,
    routes: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    dose_u: Mapping[DoseDistribution, np.ndarray] | None = None,
) -> tuple[DosingPlan, tuple[str, ...], tuple[str, ...]]:
    """Expand compiled regimens (:func:`ketsim.sim.compile.compile_dosing`) for patients of the
    given weights.

    ``fraction`` scales every dose (0.5 for one enantiomer of a racemate); ``routes`` fixes the
    (infusion, bolus) columns (default: the routes the regimens use, in order of appearance);
    ``dose_u`` gives each patient's uniform of every dose distribution the regimens use
    (:func:`ketsim.sim.compile.dose_distributions`). Caps, floors and escalation steps are
    applied per patient. Returns the plan and the (infusion, bolus) route tuples its columns
    refer to.
    """
    weight_kg = np.asarray(weight_kg, dtype=float)
    p = weight_kg.size
    inf_routes, bol_routes = routes if routes is not None else routes_used(dosing)

    def u_of(r) -> np.ndarray | None:
        d = r.distribution
        if d is None:
            return None
        if dose_u is None or d not in dose_u:
            raise ValueError(f"the dose {d} varies between patients: no uniforms were given")
        return dose_u[d]

    # every time at which some input changes (escalation steps inside an infusion too)
    pts: set[float] = set()
    for r in dosing:
        for s in r.starts_h:
            pts.add(s)
            if r.infusion:
                pts.add(s + r.duration_h)
                pts.update(t for t in r.level_starts_h()[1:] if s < t < s + r.duration_h)
    times = np.array(sorted(pts))
    rates = np.zeros((times.size, p, len(inf_routes)))
    boluses = np.zeros((times.size, p, len(bol_routes)))
    for r in dosing:
        u = u_of(r)
        levels = (*r.level_starts_h(), np.inf)
        if r.infusion:
            col = inf_routes.index(INFUSION_ROUTES[r.route])
            for k in range(len(levels) - 1):
                rate = fraction * np.asarray(r.rate_mg_per_h(weight_kg, u, k), dtype=float)
                in_level = (times >= levels[k]) & (times < levels[k + 1])
                for s in r.starts_h:
                    on = (times >= s) & (times < s + r.duration_h) & in_level
                    rates[on, :, col] += rate
        else:
            col = bol_routes.index(BOLUS_ROUTES[r.route])
            doses = [
                fraction * np.asarray(r.amount_mg(weight_kg, u, k), dtype=float)
                for k in range(len(levels) - 1)
            ]
            for s in r.starts_h:
                k = int(np.searchsorted(levels, s, side="right")) - 1
                boluses[np.searchsorted(times, s), :, col] += doses[k]
    return DosingPlan(times, rates, boluses), inf_routes, bol_routes


# -- trial schedules ------------------------------------------------------------------------------
@dataclass
class TitrationWindow:
    """One titrated infusion: its time window, rule, route column and per-patient rates (mg/h)."""

    start_h: float
    end_h: float
    rule: TitrationSpec
    route: int
    start_mg_h: np.ndarray
    step_mg_h: np.ndarray
    min_mg_h: np.ndarray
    max_mg_h: np.ndarray
    resets: bool  # the first window of its regimen: the level restarts at the start rate


@dataclass
class ArmSchedule:
    """The dosing of one group of patients, split into a fixed part and titrated infusions.

    Attributes
    ----------
    plan : fixed doses (every regimen without titration), columns on the trial's global routes.
    windows : the titrated infusions (non-overlapping), in time order.
    infusion_windows : (start, end) of every infusion, titrated or not (checks happen during these).
    bolus_times : times of every instant administration.
    """

    plan: DosingPlan
    windows: list[TitrationWindow]
    infusion_windows: list[tuple[float, float]]
    bolus_times: list[float]

    @property
    def titration(self) -> TitrationSpec | None:
        """The rule of the first titrated infusion (None without titration)."""
        return self.windows[0].rule if self.windows else None

    @property
    def titrated_windows(self) -> list[tuple[float, float]]:
        return [(w.start_h, w.end_h) for w in self.windows]

    def window_at(self, t: float) -> int:
        """Index of the titrated window with ``t`` in (start, end], or -1 (a check inside it)."""
        for i, w in enumerate(self.windows):
            if w.start_h < t <= w.end_h:
                return i
        return -1

    def infusing_window(self, t: float) -> int:
        """Index of the titrated window with ``t`` in [start, end) (the rate applies), or -1."""
        for i, w in enumerate(self.windows):
            if w.start_h <= t < w.end_h:
                return i
        return -1


def compile_arm(
    regimens: Sequence,
    weight_kg: np.ndarray,
    routes: tuple[tuple[str, ...], tuple[str, ...]],
    fraction: float = 1.0,
    dose_u: Mapping[DoseDistribution, np.ndarray] | None = None,
) -> ArmSchedule:
    """Compile a group's regimens (``TitratedRegimenSpec``) for patients of the given weights.

    ``dose_u``: the patients' uniforms of the dose distributions (:func:`build_plan`). Titrated
    infusions may not overlap one another (one nurse-set rate at a time); a regimen's ``max`` and
    ``min`` bound its titration's start rate, ceiling and floor per patient.
    """
    weight_kg = np.asarray(weight_kg, dtype=float)
    titrated = [r for r in regimens if getattr(r, "titration", None) is not None]
    fixed = [r for r in regimens if getattr(r, "titration", None) is None]
    if fixed:
        plan, _, _ = build_plan(compile_dosing(fixed), weight_kg, fraction, routes, dose_u)
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
    windows: list[TitrationWindow] = []
    for r in titrated:
        tr = r.titration
        start, mn, mx = (
            fraction * bounded_mg(x.mg_per_h(weight_kg), weight_kg, r.min, r.max)
            for x in (r.rate, tr.min_rate, tr.max_rate)
        )
        rates = [start, fraction * np.asarray(tr.step.mg_per_h(weight_kg), dtype=float), mn, mx]
        for i, s in enumerate(r.start_times()):
            windows.append(
                TitrationWindow(
                    s, s + r.duration, tr, routes[0].index(INFUSION_ROUTES[r.route]), *rates, i == 0
                )
            )
    windows.sort(key=lambda w: w.start_h)
    for a, b in itertools.pairwise(windows):
        if b.start_h < a.end_h - 1e-9:
            raise ValueError(
                f"titrated infusions overlap ({a.start_h:g}-{a.end_h:g} h and "
                f"{b.start_h:g}-{b.end_h:g} h): one titrated rate at a time"
            )
    return ArmSchedule(plan, windows, inf_windows, bolus_times)


def check_times(
    schedule: ArmSchedule, start_hour: float, default: TitrationSpec | None = None
) -> list[float]:
    """Times at which staff assess effects and side effects.

    During an infusion: every ``day_interval`` by day and ``night_interval`` by night (clock hour
    from ``start_hour`` at t = 0), or at the rule's assessment times ``checks`` from the
    infusion's start, and at the end of the infusion. After an instant dose: 30 min
    later (near the peak of the fast effect site for mucosal routes; L).
    """
    base = schedule.titration or default or TitrationSpec()
    out: list[float] = []
    for s, e in schedule.infusion_windows:
        # a titrated infusion follows its own rule's intervals
        rule = next(
            (
                w.rule
                for w in schedule.windows
                if abs(w.start_h - s) < 1e-9 and abs(w.end_h - e) < 1e-9
            ),
            base,
        )
        if rule.checks is not None:
            out.extend(s + c for c in rule.checks if s + c < e - 1e-9)
            out.append(e)
            continue
        t = s
        while True:
            clock = (start_hour + t) % 24.0
            day = (
                rule.day_start_hour <= clock < rule.night_start_hour
                if rule.day_start_hour < rule.night_start_hour
                else not (rule.night_start_hour <= clock < rule.day_start_hour)
            )
            step = rule.day_interval if day else rule.night_interval
            if not step > 0:  # the schema refuses this; a rule built in code must not loop forever
                raise ValueError(f"titration check interval must be > 0 h (got {step!r})")
            t = t + step
            if t >= e - 1e-9:
                break
            out.append(t)
        out.append(e)
    out.extend(b + 0.5 for b in schedule.bolus_times)
    return sorted(set(out))
