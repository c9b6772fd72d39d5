"""Run-store integrity (issue 20, deliverable 4): one writer per run directory, corrupt chunks
recomputed with a message, files created with the user's umask."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ketsim.config.scenario import load_scenario
from ketsim.engine.power import estimate_power
from ketsim.engine.runs import RunOptions
from ketsim.storage.store import CHUNK_TABLES, RunStore, StoreError
from tests.engine.test_montecarlo import _small

ROOT = Path(__file__).resolve().parents[2]


def _opts() -> RunOptions:
    return RunOptions(jobs=1, chunk_size=2, progress=False)


def test_second_process_on_a_locked_run_is_refused(tmp_path):
    run = tmp_path / "run"
    RunStore.create("power", "x", {"a": 1}, 7, path=run)  # this process now holds the lock
    code = (
        "import sys; from ketsim.storage.store import RunStore, StoreError\n"
        f"try:\n    RunStore.resume_at({str(run)!r}, 'power', {{'a': 1}}, None)\n"
        "except StoreError as e:\n    print(e); sys.exit(3)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 3, r.stderr
    assert "being written by another ketsim process" in r.stdout
    # the same process may reopen it (e.g. a notebook re-running a cell)
    assert RunStore.resume_at(run, "power", {"a": 1}, None) is not None


def test_corrupt_chunk_is_recomputed_with_a_message(tmp_path, capsys):
    sc = load_scenario(_small(tmp_path))
    out = tmp_path / "r"
    kw = dict(replicates=6, truth_patients=0, aux_replicates=0, out=str(out), opts=_opts())
    first = estimate_power(sc, **kw)
    ref = (out / "power.parquet").read_bytes()
    victim = sorted((out / "cells" / "c0000").glob("analyses-*.parquet"))[1]
    victim.write_bytes(b"")  # truncated by a full disk, say
    man = json.loads((out / "manifest.json").read_text())
    man["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(man))
    again = estimate_power(sc, **kw)
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "recomputing replicates 2..3" in err
    assert again.timings["replicates_simulated"] == 2
    assert (out / "power.parquet").read_bytes() == ref
    assert first.entropy == again.entropy


def test_chunk_without_checksum_counts_as_unfinished(tmp_path):
    s = RunStore.create("power", "x", {"a": 2}, 7, path=tmp_path / "run")
    df = pd.DataFrame({"replicate": [0, 1], "v": [1.0, 2.0]})
    s.write_chunk("c0000", 0, 2, dict.fromkeys(CHUNK_TABLES, df))
    assert s.finished_chunks("c0000") == [(0, 2)]
    next(s.cell_dir("c0000").glob("chunk-*.sha256.json")).unlink()  # killed before it was written
    assert s.finished_chunks("c0000") == []
    assert s.clean_partial("c0000") == len(CHUNK_TABLES)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_files_follow_the_umask(tmp_path):
    s = RunStore.create("power", "x", {"a": 3}, 7, path=tmp_path / "run")
    mode = stat.S_IMODE((s.path / "manifest.json").stat().st_mode)
    mask = os.umask(0o022)
    os.umask(mask)
    assert mode == 0o666 & ~mask


def test_foreign_locked_directory_message_is_clean(tmp_path):
    with pytest.raises(StoreError, match="not a ketsim run directory"):
        (tmp_path / "d").mkdir()
        (tmp_path / "d" / "x.txt").write_text("mine")
        RunStore.resume_at(tmp_path / "d", "power", {"a": 1}, None)


def test_workers_raise_lokys_leak_guard_above_ketsims_task_spread():
    """loky restarts a worker whose memory grows 300 MB past its first task (with a terminal
    warning); ketsim's tasks differ by more than that, so the worker raises the guard. This
    fails if loky renames the global, so a loky upgrade cannot silently bring the restarts back."""
    from joblib.externals.loky import process_executor as pe

    from ketsim.engine import executors

    assert hasattr(pe, "_MAX_MEMORY_LEAK_SIZE")
    executors._relax_loky_leak_guard()
    assert pe._MAX_MEMORY_LEAK_SIZE >= executors.LOKY_GROWTH_LIMIT_BYTES
