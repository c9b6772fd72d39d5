"""Benchmarks (`ketsim bench ...`): performance targets live here, never in timed tests."""

from __future__ import annotations

import time

import numpy as np

from ketsim.pk.simulate import simulate_concentrations
from ketsim.population import sample_population
from ketsim.scenario import PopulationSpec, RegimenSpec

__all__ = ["bench_pk"]


def bench_pk(patients: int = 10_000, repeats: int = 3, seed: int = 1) -> dict:
    """Workload: 100-h S-ketamine infusion at 20 mg/h, 12 weeks, hourly output, IIV.

    Times population PK of ``patients`` virtual patients (covariates from the default CRPS
    population, log-normal IIV) on one process; returns the best of ``repeats`` runs.
    """
    regimen = [RegimenSpec(route="iv_infusion", rate="20 mg/h", duration="100 h")]
    times = np.arange(0.0, 12 * 168.0 + 0.5, 1.0)
    pop = sample_population(PopulationSpec(n=patients), seed)
    cov = pop.pk_covariates()
    simulate_concentrations(cov.take(slice(0, 64)), pop.eta_pk[:64], regimen, times)  # warm-up
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        conc = simulate_concentrations(cov, pop.eta_pk, regimen, times)
        best = min(best, time.perf_counter() - t)
    c = conc["S"]
    return {
        "benchmark": "pk",
        "workload": "100-h 20 mg/h S-ketamine IV infusion, 12 weeks, hourly output, IIV",
        "patients": patients,
        "output_times": int(times.size),
        "outputs_per_time": int(c.shape[2]),
        "seconds": best,
        "subjects_per_s": patients / best,
        "check_median_ketamine_100h_ng_ml": float(np.median(c[:, 100, 0])),
    }
