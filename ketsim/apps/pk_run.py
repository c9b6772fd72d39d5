"""A population PK run streamed to its run directory (`ketsim pk`).

Patients are simulated in chunks (:func:`ketsim.sim.pk_study.pk_chunks`) and each chunk is
appended to ``concentrations.parquet``, ``summary.parquet`` and ``patients.parquet`` as one row
group, so the peak memory is one chunk plus the population's covariates whatever the number of
patients. The curves of a random subsample of patients (:data:`~ketsim.sim.pk_study.BAND_SAMPLE`,
all of them when fewer) are kept to give the 5/50/95% bands of ``bands.parquet``, which the PK
page (:mod:`ketsim.apps.report.pk_page`) draws.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ketsim.core.pk.model import OUTPUTS
from ketsim.core.resources import check_disk
from ketsim.sim.pk_study import (
    BAND_SAMPLE,
    CHUNK_BUDGET_BYTES,
    PKPlan,
    check_pk_memory,
    pk_chunks,
    pk_output_bytes,
    plan_pk,
)
from ketsim.storage.files import (
    ParquetStream,
    versions,
    write_json_atomic,
    write_parquet_atomic,
    write_text_atomic,
)

__all__ = ["BAND_QUANTILES", "FILES", "band_table", "run_pk"]

#: quantiles of the bands (5/50/95%)
BAND_QUANTILES = (0.05, 0.5, 0.95)
FILES = (
    "concentrations.parquet",
    "summary.parquet",
    "patients.parquet",
    "bands.parquet",
    "scenario.resolved.yaml",
)


def band_table(times: np.ndarray, curves: dict[str, np.ndarray], n_total: int) -> pd.DataFrame:
    """Long table of the 5/50/95% bands: one row per enantiomer system, output and time.

    Parameters
    ----------
    times : ``(T,)`` output times (h).
    curves : enantiomer -> ``(n, T, len(OUTPUTS))`` concentrations of the band patients.
    n_total : patients in the run (recorded beside the subsample size).
    """
    rows = []
    for e, arr in curves.items():
        q = np.quantile(arr, BAND_QUANTILES, axis=0)  # (3, T, n_out)
        for k, name in enumerate(OUTPUTS):
            rows.append(
                pd.DataFrame(
                    {
                        "enantiomer": e,
                        "output": name,
                        "time_h": times,
                        "p05_ng_ml": q[0, :, k],
                        "p50_ng_ml": q[1, :, k],
                        "p95_ng_ml": q[2, :, k],
                        "band_patients": arr.shape[0],
                        "run_patients": n_total,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def run_pk(
    scenario,
    out: Path,
    seed: int | None = None,
    budget_bytes: float = CHUNK_BUDGET_BYTES,
    scenario_text: str = "",
    argv: list[str] | None = None,
    band_sample: int = BAND_SAMPLE,
) -> tuple[PKPlan, pd.DataFrame, dict]:
    """Simulate and write a population PK run; returns the plan, the first chunk's summary
    (for display) and the manifest.

    Raises :class:`~ketsim.core.resources.ResourceLimitError` (a ``ValueError``) before any file
    is written when the estimate exceeds the memory limit, and ``OSError`` when the directory
    cannot be written.
    """
    t0 = time.perf_counter()
    out = Path(out)
    n, o = scenario.population.n, scenario.output
    n_times = int(np.arange(0.0, o.end + 0.5 * o.step, o.step).size)
    check_pk_memory(scenario, budget_bytes, band_sample)  # memory first, then disk
    check_disk(
        pk_output_bytes(n, n_times, 2 if scenario.drug == "racemic" else 1),
        out,
        f"concentrations.parquet of {n:,} patients x {n_times:,} output times",
        "use fewer patients, a coarser output.step or an earlier output.end",
    )
    plan = plan_pk(scenario, seed, budget_bytes, band_sample)
    out.mkdir(parents=True, exist_ok=True)
    t, band = plan.times, plan.band_patients
    curves = {e: np.empty((band.size, t.size, len(OUTPUTS)), np.float32) for e in plan.systems}
    head = None
    t_sim = 0.0
    with (
        ParquetStream(out / "concentrations.parquet") as conc_w,
        ParquetStream(out / "summary.parquet") as sum_w,
        ParquetStream(out / "patients.parquet") as pat_w,
    ):
        ts = time.perf_counter()
        for res in pk_chunks(plan):
            t_sim += time.perf_counter() - ts
            lo, hi = res.first_patient, res.first_patient + res.population.n
            sel = slice(*np.searchsorted(band, (lo, hi)))
            for e, arr in res.conc.items():
                curves[e][sel] = arr[band[sel] - lo, :, : len(OUTPUTS)]
            summary = res.summary()
            if head is None:
                head = summary
            conc_w.write(res.to_frame())
            sum_w.write(summary)
            pats = res.population.to_frame()
            pats["patient"] += lo
            pat_w.write(pats)
            ts = time.perf_counter()
    bands = band_table(t, curves, plan.population.n)
    del curves
    write_parquet_atomic(out / "bands.parquet", bands)
    write_text_atomic(out / "scenario.resolved.yaml", scenario_text)
    manifest = {
        "command": "pk",
        "kind": "pk",
        "argv": sys.argv if argv is None else argv,
        "scenario": scenario.name,
        "seed_entropy": plan.entropy,
        "patients": plan.population.n,
        "output_times": int(t.size),
        "chunk_patients": plan.chunk,
        "band_patients": int(band.size),
        "memory_estimate_bytes": plan.estimate_bytes,
        # ru_maxrss is in kB on Linux: the process's peak, the figure the README quotes
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "versions": versions(),
        "timings_s": {"simulate": t_sim, "total": time.perf_counter() - t0},
        "files": list(FILES),
    }
    write_json_atomic(out / "manifest.json", manifest)
    return plan, head, manifest
