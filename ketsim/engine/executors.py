"""Executors: run chunk tasks in-process, on joblib's loky pool or on dask; chunk ranges and
default chunk size.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pandas as pd
from joblib import Parallel, delayed
from joblib.externals.loky import process_executor as _loky_worker

from ketsim.config.scenario import Scenario
from ketsim.engine.chunks import (
    NormalReference,
    simulate_chunk,
    simulate_normal_chunk,
)
from ketsim.engine.summaries import (
    true_effects,
)

BACKENDS = ("loky", "dask")


def chunk_ranges(todo: Sequence[int], chunk_size: int) -> list[tuple[int, int]]:
    """Split sorted replicate indices into ``[first, end)`` ranges of consecutive indices.

    Ranges never straddle a gap (replicates already done), so every chunk file of the store names
    exactly the replicates inside it.
    """
    out: list[tuple[int, int]] = []
    todo = sorted(todo)
    i = 0
    while i < len(todo):
        lo = todo[i]
        j = i
        while j + 1 < len(todo) and todo[j + 1] == todo[j] + 1 and j + 1 - i < chunk_size:
            j += 1
        out.append((lo, todo[j] + 1))
        i = j + 1
    return out


def default_chunk_size(n_replicates: int, jobs: int, patients: int) -> int:
    """Replicates per chunk: big enough to vectorise, small enough to balance and checkpoint.

    About 8000 patients per chunk (measured on ``ketsim bench trial``: 50 Sigtermans replicates
    per chunk give 270 trials/s on 2 workers, 125 give 400), and at least 4 chunks per worker
    so that the last chunks do not leave workers idle.
    """
    by_size = max(1, 8000 // max(patients, 1))
    by_balance = max(1, -(-n_replicates // (4 * max(jobs, 1))))
    return int(max(1, min(by_size, by_balance, 500)))


# -- running chunks ------------------------------------------------------------------------------
@dataclass
class Task:
    """One chunk of one sweep cell, or (``truth_patients > 0``) piece ``lo`` of a cell's
    true-effect trial."""

    cell: str
    scenario: Scenario
    entropy: int
    lo: int
    hi: int
    truth_patients: int = 0  # patients of this truth-trial piece (its index is ``lo``)
    reference: NormalReference | None = None


def _run_task(task: Task) -> tuple[str, int, int, dict[str, pd.DataFrame], float]:
    t0 = time.perf_counter()
    _relax_loky_leak_guard()
    if task.reference is not None:
        reps = range(task.lo, task.hi)
        tables = simulate_normal_chunk(task.scenario, task.entropy, reps, task.reference)
    elif task.truth_patients:
        tables = {
            "truth": true_effects(task.scenario, task.entropy, task.truth_patients, piece=task.lo)
        }
    else:
        tables = simulate_chunk(task.scenario, task.entropy, range(task.lo, task.hi))
    _return_freed_memory()
    return task.cell, task.lo, task.hi, tables, time.perf_counter() - t0


#: resident growth above a worker's first task that loky's guard tolerates here (its default,
#: 300 MB, is smaller than the legitimate spread between ketsim's tasks)
LOKY_GROWTH_LIMIT_BYTES = int(4e9)


def _relax_loky_leak_guard() -> None:
    """Let a loky worker run tasks of different sizes without being restarted as leaking.

    loky records a worker's memory after its first task and restarts a worker that has grown
    by 300 MB since, with "A worker stopped while some jobs were given to the executor" on the
    user's terminal and a fresh ~1-s import. ketsim's tasks legitimately differ that much (a
    125-trial chunk, a truth-trial piece, a power-curve cell at twice the size), and its own
    resource check (:mod:`ketsim.core.resources`) bounds memory before a run starts. The guard
    is a module global of loky's worker loop, read at each check, so raising it here (in the
    worker) takes effect for the rest of the worker's life.
    """
    pe = _loky_worker
    if getattr(pe, "_MAX_MEMORY_LEAK_SIZE", LOKY_GROWTH_LIMIT_BYTES) < LOKY_GROWTH_LIMIT_BYTES:
        pe._MAX_MEMORY_LEAK_SIZE = LOKY_GROWTH_LIMIT_BYTES


def _load_libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return None


_LIBC = _load_libc()


def _return_freed_memory() -> None:
    """Hand the chunk's freed arrays back to the OS (glibc keeps them in its arenas otherwise).

    loky measures each worker's resident memory after its first task and restarts a worker
    that has grown by 300 MB since (its memory-leak guard), with a warning on the user's
    terminal and a fresh import; a truth-trial piece or a larger cell after a small first chunk
    leaves exactly that much freed-but-retained memory behind. ``malloc_trim`` returns it; on
    other C libraries this is a no-op.
    """
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _serial(tasks: list[Task]) -> Iterator:
    for t in tasks:
        yield _run_task(t)


def _loky(tasks: list[Task], jobs: int) -> Iterator:

    # unordered: chunks are stored as they finish; the order of the final tables does not
    # depend on it (they are assembled from the store in replicate order)
    yield from Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")(
        delayed(_run_task)(t) for t in tasks
    )


def _dask(tasks: list[Task], jobs: int, scheduler: str | None) -> Iterator:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "the dask backend needs the 'dask' extra: pip install 'ketsim[dask]'"
        ) from err
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        client = Client(cluster)
    try:
        futures = [client.submit(_run_task, t, pure=False) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_chunks(
    tasks: list[Task],
    on_result: Callable[[str, int, int, dict[str, pd.DataFrame], float], None],
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
) -> None:
    """Run chunk tasks and hand each result to ``on_result`` as it finishes (any order)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if not tasks:
        return
    if backend == "dask":
        it = _dask(tasks, jobs, scheduler)
    elif jobs == 1 or len(tasks) == 1:
        it = _serial(tasks)
    else:
        it = _loky(tasks, jobs)
    for res in it:
        on_result(*res)
