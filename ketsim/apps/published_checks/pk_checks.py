"""Published-trial checks of pharmacokinetic quantities computed from simulated population-PK
studies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ketsim.config.scenario import (
    ExpectedSpec,
    Scenario,
)

if TYPE_CHECKING:
    pass
from ketsim.apps.published_checks.summaries import (
    _BASE,
    _mean_se,
    _Row,
    _summary,
    _variant_key,
)
from ketsim.core.pd.parameters import resolve_pd
from ketsim.core.pd.sensitization import desensitizing_drive
from ketsim.core.pk.model import AUC_OUTPUTS, OUTPUTS, Covariates
from ketsim.sim.compile import compile_dosing
from ketsim.sim.design import dosing_end_h
from ketsim.sim.pk_study import pk_switches, simulate_concentrations
from ketsim.sim.population import sample_populations

# -- PK quantities --------------------------------------------------------------------------------
_UNIT_H = {"h": 1.0, "min": 1 / 60.0, "d": 24.0}


def _pk_times(sc: Scenario, specs: Iterable[ExpectedSpec]) -> np.ndarray:

    out = sc.output
    t = np.arange(0.0, out.end + 0.5 * out.step, out.step)
    extra = [dosing_end_h(sc.regimens)]
    for e in specs:
        extra += [x for x in (e.time, *(e.window or ())) if x is not None]
    extra = [x for x in extra if 0 <= x <= t[-1] + 1e-9]
    return np.unique(np.round(np.concatenate([t, np.asarray(extra, float)]), 12))


def _pk_conc(
    sc: Scenario, entropy: int, reps: list[int], typical: bool, times: np.ndarray
) -> dict[str, np.ndarray]:
    """Concentrations per enantiomer, (P, T, n_out) with AUC outputs; P = len(reps) x n, or 1."""

    if typical:
        cov, eta = Covariates.typical(1), None
    else:
        pop = sample_populations(sc.population, entropy, reps)
        cov = pop.pk_covariates(sc.switches.cyp3a_cyp2c9_effect)
        eta = pop.eta_pk
    return simulate_concentrations(
        cov,
        eta,
        compile_dosing(sc.regimens),
        times,
        parameter_set=sc.parameter_set,
        switches=pk_switches(sc),
        racemic=sc.drug == "racemic",
        with_auc=True,
    )


def _analyte(conc: dict, name: str, enantiomer: str, auc: bool = False) -> np.ndarray:

    names = OUTPUTS + AUC_OUTPUTS
    k = names.index(f"auc_{name}" if auc else name)
    if enantiomer == "sum":
        return sum(c[:, :, k] for c in conc.values())
    return conc[enantiomer][:, :, k]


def _window_mask(times: np.ndarray, e: ExpectedSpec) -> np.ndarray:
    if e.window is None:
        return np.ones(times.size, bool)
    return (times >= e.window[0] - 1e-9) & (times <= e.window[1] + 1e-9)


def _pk_metric(
    conc: dict, times: np.ndarray, e: ExpectedSpec, what: str, analyte: str, sc: Scenario
) -> np.ndarray:
    """(P,) per-patient metric ``what`` (cmax, tmax, auc, conc, half_life, lasting)."""
    if what == "lasting":
        return _lasting_pk(conc, times, e, sc)
    c = _analyte(conc, analyte, e.enantiomer)
    w = _window_mask(times, e)
    if what == "cmax":
        return c[:, w].max(axis=1)
    if what == "tmax":
        cw, tw = c[:, w], times[w]
        cmax = cw.max(axis=1)
        near = cw >= cmax[:, None] * (1.0 - 1e-9)
        last = cw.shape[1] - 1 - np.argmax(near[:, ::-1], axis=1)
        return tw[last] / _UNIT_H[e.unit]
    if what == "auc":
        i0, i1 = np.flatnonzero(w)[[0, -1]]
        if analyte in ("ketamine", "norketamine"):
            a = _analyte(conc, analyte, e.enantiomer, auc=True)
            return a[:, i1] - a[:, i0]
        return np.trapezoid(c[:, i0 : i1 + 1], times[i0 : i1 + 1], axis=1)
    if what == "conc":
        return c[:, int(np.argmin(np.abs(times - e.time)))]
    if what == "half_life":
        tw, cw = times[w], c[:, w]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(np.where(cw > 0, cw, np.nan))
        tc = tw - tw.mean()
        ok = ~np.isnan(y)
        ym = np.nanmean(y, axis=1, keepdims=True)
        slope = np.nansum(tc * (y - ym), axis=1) / np.sum(np.where(ok, tc**2, 0.0), axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(slope < 0, -math.log(2) / slope, np.nan) / _UNIT_H[e.unit]
    raise ValueError(f"unknown PK metric {what!r}")  # pragma: no cover


def _first_below(t: np.ndarray, y: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """(P,) first time rows of ``y`` fall below ``thr`` (linear interpolation); NaN if never."""
    below = y < thr[:, None]
    has = below.any(axis=1)
    j = np.argmax(below, axis=1)
    jm = np.maximum(j - 1, 0)
    rows = np.arange(y.shape[0])
    y0, y1 = y[rows, jm], y[rows, j]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(j > 0, (y0 - thr) / (y0 - y1), 0.0)
    tt = t[jm] + f * (t[j] - t[jm])
    return np.where(has, tt, np.nan)


def _lasting_pk(conc: dict, times: np.ndarray, e: ExpectedSpec, sc: Scenario) -> np.ndarray:
    """Days from the end of dosing until ce_slow (or Dahan's drive) falls below its threshold."""

    prm = resolve_pd(
        sc.pd,
        sc.switches.lasting_effect,
        sc.population.indication,
        sc.switches.cancer_disease_modification,
    )
    end = dosing_end_h(sc.regimens)
    i_end = int(np.argmin(np.abs(times - end)))
    t = times[i_end:]
    ce = _analyte(conc, "ce_slow", e.enantiomer)[:, i_end:]
    if e.definition == "slow_below_c50":
        thr = e.threshold if e.threshold is not None else prm.slow_c50_ng_ml
        y, th = ce, np.full(ce.shape[0], thr)
    else:
        y = desensitizing_drive(ce, prm.slow_c50_ng_ml, prm)
        th = e.fraction * y[:, 0]
    return (_first_below(t, y, th) - end) / 24.0


def _pk_what(e: ExpectedSpec) -> str:
    return {
        "pk_cmax": "cmax",
        "pk_tmax": "tmax",
        "pk_auc": "auc",
        "pk_concentration": "conc",
        "pk_half_life": "half_life",
        "lasting_effect_days": "lasting",
    }[e.quantity]


def _pk_patient_values(e: ExpectedSpec, get: Any) -> np.ndarray:
    """(P,) per-patient values of a PK expectation; ``get(key)`` -> (scenario, conc, times)."""
    key = _variant_key(e)
    sc, conc, times = get(key)
    if e.quantity == "pk_ratio":
        num = _pk_metric(conc, times, e, e.ratio_of, e.analyte, sc)
        bsc, bconc, btimes = get(_BASE)
        den = _pk_metric(bconc, btimes, e, e.ratio_of, e.ratio_analyte or e.analyte, bsc)
        if num.shape != den.shape:
            raise ValueError(
                f"expected '{e.name}': pk_ratio pairs patients, so its overrides must keep "
                "population.n"
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            return num / den
    return _pk_metric(conc, times, e, _pk_what(e), e.analyte, sc)


def _run_pk(
    rows: list[_Row],
    variants: dict[str, Scenario],
    entropy: int,
    n_rep: int,
) -> None:
    """Fill the PK rows (population statistics over replicates, or the typical patient)."""
    need: dict[str, list[ExpectedSpec]] = {}
    for r in rows:
        need.setdefault(_variant_key(r.spec), []).append(r.spec)
        if r.spec.quantity == "pk_ratio":
            need.setdefault(_BASE, []).append(r.spec)
    grids = {k: _pk_times(variants[k], v) for k, v in need.items()}

    def getter(typical: bool, reps: list[int], cache: dict):
        def get(key: str):
            if key not in cache:
                vsc = variants[key]
                cache[key] = (vsc, _pk_conc(vsc, entropy, reps, typical, grids[key]), grids[key])
            return cache[key]

        return get

    typical_rows = [r for r in rows if (r.spec.statistic or "mean") == "typical"]
    pop_rows = [r for r in rows if (r.spec.statistic or "mean") != "typical"]
    if typical_rows:
        get = getter(True, [0], {})
        for r in typical_rows:
            v = _pk_patient_values(r.spec, get)
            r.value, r.mc_se = float(v[0]), 0.0
            if np.isnan(r.value):
                r.note = "not reached within the output grid"
    if not pop_rows:
        return
    n = max(variants[k].population.n for k in need)
    size = max(1, min(n_rep, 20_000 // max(n, 1)))
    per_rep: dict[int, list[np.ndarray]] = {id(r): [] for r in pop_rows}
    never: dict[int, int] = {id(r): 0 for r in pop_rows}
    for lo in range(0, n_rep, size):
        reps = list(range(lo, min(n_rep, lo + size)))
        get = getter(False, reps, {})
        for r in pop_rows:
            v = _pk_patient_values(r.spec, get)
            never[id(r)] += int(np.isnan(v).sum())
            per_rep[id(r)].append(_summary(v.reshape(len(reps), -1), r.spec.statistic or "mean"))
    for r in pop_rows:
        r.value, r.mc_se = _mean_se(np.concatenate(per_rep[id(r)]))
        if never[id(r)]:
            r.note = f"{never[id(r)]} patient values undefined (not reached) and left out"
