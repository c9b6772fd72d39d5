"""Imported dosing records as ketsim regimens: infusions snapped and merged, repeated doses
compacted, totals and exposures per patient.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ketsim.config.scenario import (
    INFUSION_ROUTES,
    RegimenSpec,
)
from ketsim.core.units import Amount, Rate

if TYPE_CHECKING:
    from ketsim.sim.trial import TrialResult
from ketsim.apps.interchange.codes import (
    InterchangeError,
)
from ketsim.apps.interchange.export import (
    _need_recording,
)
from ketsim.sim.compile import compile_dosing
from ketsim.sim.pk_study import pk_switches, simulate_concentrations


@dataclass
class _Dose:
    """One dose record on its way to a regimen (before snapping and compaction)."""

    id: int
    route: str
    start: float
    amount: float  # mg per administration
    rate: float  # mg/h; 0 for boluses
    duration: float  # h; 0 for boluses
    repeats: int
    interval: float | None
    row: int  # 0-based row of the record
    where: str  # "FILE: row R (line L)" for messages


def _snap_infusions(ds: list[_Dose]) -> None:
    """Let contiguous infusions on a route meet exactly.

    ``AMT = RATE x duration`` and back ``AMT / RATE`` can be one unit in the last place off the
    duration, which would leave a 1e-14-h gap or overlap before the next rate: harmless, but it
    adds a spurious event to the plan.
    """
    for route in dict.fromkeys(d.route for d in ds if d.rate > 0):
        inf = [d for d in ds if d.route == route and d.rate > 0 and d.repeats == 1]
        for a, b in itertools.pairwise(inf):
            end = a.start + a.duration
            if end != b.start and abs(end - b.start) <= 1e-9 * max(1.0, abs(b.start)):
                a.duration = b.start - a.start


def _compact(ds: list[_Dose]) -> list[_Dose]:
    """Merge runs of equal single doses on a route at a constant interval into ``repeats``.

    Only when ``start + k * interval`` (the arithmetic of :meth:`RegimenSpec.start_times`)
    reproduces every start time exactly, so the merged regimen is the same schedule bit for bit.
    """
    out: list[_Dose] = []
    for route in dict.fromkeys(d.route for d in ds):
        run: list[_Dose] = []
        iv: float | None = None
        for d in [x for x in ds if x.route == route]:
            if d.repeats > 1:
                out.append(d)
                continue
            if run and _same_dose(run[0], d) and len(run) < 10000:
                if iv is None:
                    iv = _interval(run[0], d)
                    if iv is not None:
                        run.append(d)
                        continue
                elif run[0].start + len(run) * iv == d.start:
                    run.append(d)
                    continue
            if run:
                out.append(_merged(run, iv))
            run, iv = [d], None
        if run:
            out.append(_merged(run, iv))
    out.sort(key=lambda d: (d.start, d.route))
    return out


def _same_dose(a: _Dose, d: _Dose) -> bool:
    return (d.amount, d.rate, d.duration) == (a.amount, a.rate, a.duration)


def _interval(a: _Dose, d: _Dose) -> float | None:
    """The interval from ``a`` to ``d`` that ``a.start + interval`` reproduces exactly.

    The difference of two start times is often a unit in the last place off the interval the
    schedule was written with (38.4 - 30 = 8.399999999999999): the value rounded to 12 digits
    is tried too, so such a schedule still merges (and reads as 8.4 h).
    """
    diff = d.start - a.start
    for iv in (float(f"{diff:.12g}"), diff):
        if iv > 0 and iv >= a.duration and a.start + iv == d.start:
            return iv
    return None


def _merged(run: list[_Dose], iv: float | None) -> _Dose:
    if len(run) == 1:
        return run[0]
    a = run[0]
    return _Dose(a.id, a.route, a.start, a.amount, a.rate, a.duration, len(run), iv, a.row, a.where)


#: the dataset column behind each regimen field, for messages
_FIELD_COLUMN = {
    "amount": "AMT",
    "rate": "RATE",
    "start": "TIME",
    "duration": "RATE",
    "repeats": "ADDL",
    "interval": "II",
}


def _regimen(d: _Dose) -> RegimenSpec:
    kw: dict[str, Any] = {"route": d.route, "start": float(d.start)}
    if d.rate > 0:
        kw.update(rate=Rate(float(d.rate)), duration=float(d.duration))
    else:
        kw["amount"] = Amount(float(d.amount))
    if d.repeats > 1:
        kw.update(repeats=d.repeats, interval=float(d.interval))
    try:
        return RegimenSpec(**kw)
    except ValidationError as err:
        e = err.errors()[0]
        msg = e["msg"].removeprefix("Value error, ")
        field_ = next((str(x) for x in e["loc"] if isinstance(x, str)), "")
        if not field_:  # a check across fields: name the one its message is about
            field_ = next((f for f in ("interval", "repeats", "duration") if f in msg), "")
        col = _FIELD_COLUMN.get(field_, "AMT")
        raise InterchangeError(
            f"{d.where}, column {col}: not a valid ketsim regimen: {msg}"
        ) from None


def _q(value: float, unit: str) -> str:
    # repr: the shortest text that reads back as the same float (ketsim's unit parser accepts it)
    return f"{float(value)!r} {unit}"


def regimen_dicts(regimens: Sequence[RegimenSpec]) -> list[dict[str, Any]]:
    """Regimens as a scenario's ``regimens:`` entries, with units (``"20.0 mg/h"``, ``"100.0 h"``).

    Numbers are written at full precision, so the entries parse back to the same regimens.
    Only mg, mg/h and h regimens (as :func:`read_dosing` makes them) are supported.
    """
    out = []
    for r in regimens:
        d: dict[str, Any] = {"route": r.route}
        if r.max is not None or r.min is not None or r.escalation is not None:
            raise ValueError(
                "capped, floored or escalating regimens are not written by regimen_dicts"
            )
        if not isinstance(r.rate or r.amount, Rate | Amount):
            raise ValueError("doses varying between patients are not written by regimen_dicts")
        if r.rate is not None:
            if r.rate.per_kg:
                raise ValueError("per-kg rates are not written by regimen_dicts")
            d["rate"] = _q(r.rate.value, "mg/h")
        if r.amount is not None:
            if r.amount.per_kg:
                raise ValueError("per-kg amounts are not written by regimen_dicts")
            d["amount"] = _q(r.amount.value, "mg")
        d["start"] = _q(r.start, "h")
        if r.duration is not None:
            d["duration"] = _q(r.duration, "h")
        if r.repeats > 1:
            d["repeats"] = r.repeats
            d["interval"] = _q(r.interval, "h")
        out.append(d)
    return out


def total_mg(regimens: Sequence[RegimenSpec]) -> float:
    """Total mg of mg-denominated regimens (every administration)."""
    tot = 0.0
    for r in regimens:
        per = (
            float(r.rate_mg_per_h(0.0)) * r.duration
            if r.route in INFUSION_ROUTES
            else float(r.amount.mg(0.0))
        )
        tot += per * r.repeats
    return tot


# -- exposures ------------------------------------------------------------------------------------
def exposures(
    result: TrialResult,
    regimens: Mapping[int, Sequence[RegimenSpec]],
    times: np.ndarray | Mapping[int, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Plasma concentrations of a simulated trial's patients under the given regimens.

    Each patient keeps the covariates, genotypes, co-medication and PK etas it had in the trial
    (``result.population``), the scenario's parameter set, switches and drug; only the dosing
    comes from ``regimens``. Use it to check an export -> import round trip, or to replay a
    dosing history recorded elsewhere for ketsim's virtual patients.

    Parameters
    ----------
    result : a trial simulated with ``record_doses=True``.
    regimens : ``ID`` (as in :func:`to_nonmem`: 1 + row of ``result.patients``) -> regimens
        (mg, mg/h; e.g. from :func:`read_dosing`). A patient not listed gets no drug.
    times : output times (h): one array for everyone, a mapping ID -> array, or None for the
        patient's model times (``result.concentrations``).

    Returns
    -------
    pandas.DataFrame
        ``ID, REP, PAT, TIME, s_ketamine_ng_ml, s_norketamine_ng_ml`` (and ``r_*`` for the
        racemate); concentrations right-continuous (a bolus at ``TIME`` is included).
    """

    _need_recording(result)
    sc = result.scenario
    pats = result.patients
    pop = result.population
    cov_all = pop.pk_covariates(sc.switches.cyp3a_cyp2c9_effect)
    racemic = sc.drug == "racemic"
    sw = pk_switches(sc)
    by_patient = None
    if times is None:
        c = result.concentrations
        by_patient = {
            k: g["time_h"].to_numpy() for k, g in c.groupby(["replicate", "patient"], sort=False)
        }
    frames = []
    for i, (rep, pat) in enumerate(zip(pats["replicate"], pats["patient"], strict=True)):
        id_ = i + 1
        if times is None:
            t = by_patient[(rep, pat)]
        elif isinstance(times, Mapping):
            t = times.get(id_)
            if t is None:
                continue
        else:
            t = times
        t = np.asarray(t, dtype=float)
        regs = list(regimens.get(id_, []))
        cols: dict[str, np.ndarray] = {}
        if regs:
            conc = simulate_concentrations(
                cov_all.take([i]),
                pop.eta_pk[i : i + 1],
                compile_dosing(regs),
                t,
                parameter_set=sc.parameter_set,
                switches=sw,
                racemic=racemic,
            )
            for e in conc:
                cols[f"{e.lower()}_ketamine_ng_ml"] = conc[e][0, :, 0]
                cols[f"{e.lower()}_norketamine_ng_ml"] = conc[e][0, :, 1]
        else:
            for e in ("S", "R") if racemic else ("S",):
                cols[f"{e.lower()}_ketamine_ng_ml"] = np.zeros(t.size)
                cols[f"{e.lower()}_norketamine_ng_ml"] = np.zeros(t.size)
        frames.append(pd.DataFrame({"ID": id_, "REP": rep, "PAT": pat, "TIME": t, **cols}))
    if not frames:
        return pd.DataFrame(columns=["ID", "REP", "PAT", "TIME"])
    return pd.concat(frames, ignore_index=True)
