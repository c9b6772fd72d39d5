"""Benchmarks (`ketsim bench ...`): performance targets live here, never in timed tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ketsim.config.scenario import PopulationSpec, RegimenSpec, parse_scenario
from ketsim.core.pk.model import OUTPUTS
from ketsim.engine.chunks import simulate_chunk
from ketsim.engine.executors import Task, chunk_ranges, default_chunk_size, run_chunks
from ketsim.sim.compile import compile_dosing
from ketsim.sim.pk_study import simulate_concentrations
from ketsim.sim.population import sample_population

__all__ = ["bench_pk", "bench_trial"]


def bench_pk(patients: int = 10_000, repeats: int = 3, seed: int = 1) -> dict:
    """Workload: 100-h S-ketamine infusion at 20 mg/h, 12 weeks, hourly output, IIV.

    Times population PK of ``patients`` virtual patients (covariates from the default CRPS
    population, log-normal IIV) on one process; returns the best of ``repeats`` runs. The output
    array is allocated and written once before timing and reused by every run, as `ketsim pk`
    reuses its chunk buffer: what is timed is the PK, not the kernel faulting in fresh pages.
    """
    regimen = compile_dosing([RegimenSpec(route="iv_infusion", rate="20 mg/h", duration="100 h")])
    times = np.arange(0.0, 12 * 168.0 + 0.5, 1.0)
    pop = sample_population(PopulationSpec(n=patients), seed)
    cov = pop.pk_covariates()
    simulate_concentrations(cov.take(slice(0, 64)), pop.eta_pk[:64], regimen, times)  # warm-up
    buf = {"S": np.empty((patients, times.size, len(OUTPUTS)))}
    buf["S"].fill(0.0)  # pre-fault
    best = np.inf
    for _ in range(repeats):
        t = time.perf_counter()
        conc = simulate_concentrations(cov, pop.eta_pk, regimen, times, out=buf)
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


def bench_trial(
    replicates: int = 1000,
    jobs: int = 2,
    chunk_size: int | None = None,
    scenario: str | None = None,
) -> dict:
    """Workload: the Sigtermans 2009 trial with a weekly ANCOVA, as Monte Carlo replicates.

    ``scenarios/published/sigtermans2009.yaml`` (60 patients, titrated 100-h S-ketamine or
    placebo infusion, 12 weeks of daily diaries) with its analyses replaced by an ANCOVA of the
    change from baseline in every week 1-12 (baseline as covariate). Times ``replicates`` trials
    through the Monte Carlo engine on ``jobs`` loky workers (after a warm-up that starts the
    pool), simulation and analysis included, run store excluded; also times one 200-replicate
    chunk in this process.
    """

    path = Path(scenario) if scenario else _published("sigtermans2009.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data.pop("sweep", None)
    weeks = int(data.get("trial", {}).get("weeks", 12))
    data["endpoints"] = [
        {"name": f"change_week{w}", "type": "change_from_baseline", "week": w}
        for w in range(1, weeks + 1)
    ]
    data["analyses"] = [
        {"endpoint": f"change_week{w}", "method": "ancova"} for w in range(1, weeks + 1)
    ]
    sc = parse_scenario(data, str(path))
    entropy = 12345
    patients = int(sum(a.n for a in sc.arms))
    size = chunk_size or default_chunk_size(replicates, jobs, patients)
    rows: list = []

    def keep(cell, lo, hi, tables, seconds):
        rows.append(tables["analyses"])

    # warm-up: start the worker pool and import ketsim in every worker
    warm = [Task("w", sc, entropy, 10**6 + j, 10**6 + j + 1) for j in range(2 * jobs)]
    run_chunks(warm, lambda *a: None, jobs=jobs)
    tasks = [Task("b", sc, entropy, lo, hi) for lo, hi in chunk_ranges(range(replicates), size)]
    t0 = time.perf_counter()
    run_chunks(tasks, keep, jobs=jobs)
    wall = time.perf_counter() - t0
    # one chunk in this process

    simulate_chunk(sc, entropy, range(10**6, 10**6 + 20))  # warm-up (first-touch memory)
    t1 = time.perf_counter()
    simulate_chunk(sc, entropy, range(200))
    single = time.perf_counter() - t1

    an = pd.concat(rows, ignore_index=True)
    week1 = an[an["endpoint"] == "change_week1"]
    return {
        "benchmark": "trial",
        "workload": (
            "sigtermans2009: 60 patients, titrated 100-h S-ketamine vs placebo infusion, "
            f"{weeks} weeks of daily diaries, ANCOVA of the change from baseline in every week"
        ),
        "replicates": replicates,
        "jobs": jobs,
        "cpu_count": os.cpu_count(),
        "chunk_size": size,
        "seconds": wall,
        "trials_per_s": replicates / wall,
        "single_process_trials_per_s": 200 / single,
        "analyses_per_trial": int(len(an) / replicates),
        "check_week1_power": float(week1["reject"].mean()),
        "check_week1_mean_estimate": float(week1["estimate"].mean()),
    }


def _published(name: str):

    # a source checkout: <repo>/ketsim/apps/bench.py -> <repo>/scenarios/published
    here = Path(__file__).resolve().parents[2] / "scenarios" / "published" / name
    if here.is_file():
        return here
    return Path.cwd() / "scenarios" / "published" / name
