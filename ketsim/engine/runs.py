"""Store orchestration: scenario keys, run options, opening the run store, running the cells'
chunks into it, the manifest.

Seeds
-----
A run has one root entropy (recorded in the manifest even when drawn fresh). Replicate ``r`` of
every sweep cell uses ``SeedSequence(entropy, spawn_key=(r, purpose, ...))`` with fixed purposes
(population, randomisation, behaviour, measurement; :mod:`ketsim.core.seeds`). Cells of a sweep
and the
arms of a trial therefore share common random numbers, and a replicate's results depend on nothing
but the entropy and its index: they are the same for any ``jobs``, chunk size and backend, and
``--replicate r`` re-runs one replicate alone.

Execution
---------
Replicates are simulated in vectorised chunks (:class:`~ketsim.sim.trial.TrialModel` batches all
of a
chunk's patients into one set of arrays). Chunks run in-process (``jobs=1``), on joblib's loky
process pool (``backend="loky"``; ``import mesa`` forces spawn, so no fork), or on a dask
cluster (``backend="dask"``: ``scheduler`` address, else a ``LocalCluster``). The main process
writes each finished chunk to the run store; the summary tables are always assembled from the
stored chunks, in replicate order, so an interrupted and resumed run ends with the same bytes.

Power summary
-------------
For each analysis and comparison: the rejection rate (power; the type-I error when the scenario is
run on the null) with its Monte Carlo SE ``sqrt(p (1 - p) / R)``, Wilson and Clopper-Pearson
intervals, the mean and SD of the estimates, the mean model SE, and bias, RMSE and CI coverage
against the scenario's true effect. The true effect of an analysis is its estimate in one very
large trial of the same scenario (a separate seed stream); on the null it is 0 by construction.

References
----------
.. [Wilson1927] Wilson EB. Probable inference, the law of succession, and statistical inference.
   J Am Stat Assoc 1927;22:209-12.
.. [Clopper1934] Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in
   the case of the binomial. Biometrika 1934;26:404-13.
.. [Morris2019] Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical
   methods. Stat Med 2019;38:2074-102 (performance measures and their Monte Carlo SEs).
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ketsim import __version__
from ketsim.config.scenario import Scenario, dump_scenario
from ketsim.core.seeds import given_entropy, root_entropy
from ketsim.engine.chunks import (
    NormalReference,
)
from ketsim.engine.executors import (
    Task,
    chunk_ranges,
    default_chunk_size,
    run_chunks,
)
from ketsim.engine.extra_work import TruthPlan
from ketsim.engine.progress import Progress
from ketsim.engine.summaries import combine_truth_pieces, total_patients
from ketsim.storage.files import versions, write_parquet_atomic
from ketsim.storage.store import RunStore


def scenario_key(sc: Scenario) -> str:
    """SHA-256 of the resolved scenario: what the run store compares to resume a run."""

    return hashlib.sha256(dump_scenario(sc).encode("utf-8")).hexdigest()


# -- orchestration: a run in the store ------------------------------------------------------------
@dataclass
class RunOptions:
    """How to execute a run (none of it changes the results)."""

    jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    chunk_size: int | None = None
    progress: bool | None = None  # None: a bar when stderr is a terminal
    argv: list[str] | None = None


def _open_store(
    kind: str,
    sc: Scenario,
    key: dict[str, Any],
    seed: int | None,
    out: str | None,
    base: str,
):
    """The run store (new, or the unfinished run of the same command) and its entropy."""

    key = {**key, "ketsim": __version__}
    # a resumed run keeps the seed it recorded; a new one follows the one rule (root_entropy)
    given = given_entropy(seed, sc.seed)
    if out is not None:
        store = RunStore.resume_at(out, kind, key, given)
        if store is None:
            ent = root_entropy(seed, sc.seed)
            return RunStore.create(kind, sc.name, key, ent, path=out), False, ent
        return store, True, store.entropy
    store = RunStore.find_unfinished(base, kind, sc.name, key, given)
    if store is not None:
        return store, True, store.entropy
    ent = root_entropy(seed, sc.seed)
    return RunStore.create(kind, sc.name, key, ent, base=base), False, ent


def run_cells(
    store,
    entropy: int,
    cells: Sequence[tuple[str, Scenario]],
    replicates: int | Mapping[str, int],
    opts: RunOptions,
    truth: Mapping[str, TruthPlan] | None = None,
    progress_label: str = "replicates",
    reference: NormalReference | None = None,
    phases: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Simulate replicates ``0 .. replicates-1`` of every cell not yet in the store.

    All cells' chunks and every true-effect trial piece run in one pass of one pool, the truth
    pieces first (the largest tasks), so no worker idles between phases.

    Parameters
    ----------
    store : the run store.
    entropy : the run's root entropy (the one the store recorded), passed as a value.
    cells : ``(cell id, scenario)`` pairs.
    replicates : replicates of every cell, or per cell id.
    opts : execution options.
    truth : per cell id, its true-effect trial (:class:`~ketsim.engine.extra_work.TruthPlan`);
        the pieces are stored as ``cells/<cell>/truth-<k>.parquet`` and combined into
        ``cells/<cell>/truth.parquet`` (:func:`combine_truth_pieces`).
    progress_label, reference : progress-bar label; engine check (:class:`NormalReference`).
    phases : per cell id, the name of its phase in the progress output (e.g. "main trial",
        "power curve"); cells not named count as ``progress_label``. True-effect trial pieces
        are always their own phase, "true-effect trial" (counted in pieces).

    Returns
    -------
    dict
        ``wall_s`` (this call), ``worker_s`` (summed task times), ``truth_worker_s`` (of it, the
        truth pieces), ``cell_worker_s`` (per cell), ``replicates_simulated`` and
        ``replicates_reused`` (from an interrupted run) and ``chunks`` (tasks run).
    """

    t0 = time.perf_counter()
    reps = replicates if isinstance(replicates, Mapping) else {c: replicates for c, _ in cells}
    truth = dict(truth or {})
    tasks: list[Task] = []
    reused = 0
    for cell, sc in cells:
        plan = truth.get(cell)
        if plan is None or not plan.patients or (store.cell_dir(cell) / "truth.parquet").is_file():
            continue
        for k in range(plan.pieces):
            if not _truth_piece_file(store, cell, k).is_file():
                tasks.append(Task(cell, sc, entropy, k, k + 1, plan.piece_patients))
    n_all = sum(reps[c] for c, _ in cells)
    for cell, sc in cells:
        store.clean_partial(cell)
        done = store.done_replicates(cell)
        reused += len(done & set(range(reps[cell])))
        todo = [r for r in range(reps[cell]) if r not in done]
        per = total_patients(sc)
        size = opts.chunk_size or default_chunk_size(n_all, opts.jobs, per)
        tasks += [
            Task(cell, sc, entropy, lo, hi, reference=reference)
            for lo, hi in chunk_ranges(todo, size)
        ]
    n_new = sum(t.hi - t.lo for t in tasks if not t.truth_patients)
    bar = Progress(n_new, progress_label, enabled=opts.progress)
    phase_of = {c: (phases or {}).get(c, progress_label) for c, _ in cells}
    n_truth = sum(1 for t in tasks if t.truth_patients)
    if n_truth:
        bar.phases["true-effect trial"] = [0, n_truth]
    for t in tasks:
        if not t.truth_patients:
            bar.phases.setdefault(phase_of[t.cell], [0, 0])[1] += t.hi - t.lo
    worker = {"all": 0.0, "truth": 0.0}
    per_cell: dict[str, float] = {c: 0.0 for c, _ in cells}

    def on_result(cell: str, lo: int, hi: int, tables: dict, seconds: float) -> None:
        worker["all"] += seconds
        per_cell[cell] += seconds
        if "truth" in tables:
            write_parquet_atomic(_truth_piece_file(store, cell, lo), tables["truth"])
            worker["truth"] += seconds
            bar.update(1, "true-effect trial", count=False)
            return
        store.write_chunk(cell, lo, hi, tables)
        bar.update(hi - lo, phase_of[cell])

    try:
        run_chunks(tasks, on_result, opts.jobs, opts.backend, opts.scheduler)
    finally:
        bar.close()
    for cell, _ in cells:
        plan = truth.get(cell)
        if plan is not None and plan.patients:
            _combine_truth(store, cell, plan.pieces)
    return {
        "wall_s": time.perf_counter() - t0,
        "worker_s": worker["all"],
        "truth_worker_s": worker["truth"],
        "cell_worker_s": per_cell,
        "replicates_simulated": n_new,
        "replicates_reused": reused,
        "chunks": len(tasks),
    }


def _truth_piece_file(store, cell: str, piece: int) -> Path:
    return store.cell_dir(cell) / f"truth-{piece:04d}.parquet"


def _combine_truth(store, cell: str, pieces: int) -> None:
    """Write ``truth.parquet`` from the pieces (once; the pieces stay for provenance)."""

    final = store.cell_dir(cell) / "truth.parquet"
    if final.is_file():
        return
    parts = [pd.read_parquet(_truth_piece_file(store, cell, k)) for k in range(pieces)]
    write_parquet_atomic(final, combine_truth_pieces(parts))


def _start_manifest(store, sc: Scenario, kind: str, replicates: int, opts: RunOptions) -> None:

    store.write_text("scenario.resolved.yaml", dump_scenario(sc))
    runs = store.manifest.get("invocations", [])
    runs.append(
        {
            "argv": opts.argv if opts.argv is not None else sys.argv,
            "jobs": opts.jobs,
            "backend": opts.backend,
            "scheduler": opts.scheduler,
            "chunk_size": opts.chunk_size,
        }
    )
    store.update(
        command=kind,
        replicates=replicates,
        versions=versions(),
        invocations=runs,
        status="running",
    )
