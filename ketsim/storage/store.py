"""The run store: one self-describing, resumable directory per Monte Carlo run.

Layout of ``runs/<scenario>-<kind>-<UTC time>-<short hash>/``::

    manifest.json            key (what was asked), seed entropy, versions, argv, timings, status
    scenario.resolved.yaml   the scenario with every default filled in
    cells/<cell>/<table>-<first>-<end>.parquet
                             finished chunks: replicates first .. end-1 of one sweep cell
    <summary tables>         power.csv / power.parquet, replicates.parquet, ... (written last)

Every file is written atomically (temporary file + ``os.replace``), so a run killed at any moment
(even ``kill -9``) leaves only whole files behind. A chunk counts as finished when all of its
tables exist and its checksum file (``chunk-<first>-<end>.sha256.json``, written after them)
does; on resume every finished chunk's tables are checked against their SHA-256 and a corrupt or
truncated one is removed and recomputed, with a message. A run directory is locked
(``.lock``, ``fcntl.flock``) while a process writes it, so a second command on the same run
refuses with a message instead of doing the work twice. A restart with the same command finds
the unfinished run by its key, removes partial chunks and stray temporary files, and simulates
only the missing replicates. Because every
replicate depends only on the seed entropy and its index, the resumed run ends with exactly the
tables an uninterrupted run writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX (Windows): run directories are not locked
    fcntl = None

from ketsim.storage.files import write_json_atomic, write_parquet_atomic, write_text_atomic

__all__ = ["CHUNK_TABLES", "RunStore", "StoreError", "key_hash"]

#: tables every chunk writes (a chunk is finished when all of them exist)
CHUNK_TABLES = ("analyses", "endpoints", "trial", "weekly", "subgroups", "interim")
_CHUNK_RE = re.compile(r"^(?P<table>[a-z_]+)-(?P<lo>\d{7})-(?P<hi>\d{7})\.parquet$")
_CHECKSUM_RE = re.compile(r"^chunk-(?P<lo>\d{7})-(?P<hi>\d{7})\.sha256\.json$")


class StoreError(Exception):
    """A run directory that cannot be used for this run (message says why and what to do)."""


#: locks this process holds, by resolved run directory (flock is per open file: a second lock
#: from the same process would conflict with the first)
_HELD_LOCKS: dict[Path, int] = {}


def _lock(path: Path) -> None:
    """Hold an exclusive lock on ``path/.lock`` for the rest of this process (or refuse)."""
    if fcntl is None:  # pragma: no cover - not POSIX: no locking
        return
    key = path.resolve()
    if key in _HELD_LOCKS:
        return
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreError(
            f"{path} is being written by another ketsim process; wait for it to finish (then "
            "the same command reuses its results) or choose another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD_LOCKS[key] = fd


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def key_hash(key: dict[str, Any]) -> str:
    """Short, stable hash of a run key (canonical JSON)."""
    blob = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:10]


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class RunStore:
    """A run directory (see the module docstring for the layout)."""

    path: Path
    manifest: dict[str, Any]

    def __post_init__(self) -> None:
        _lock(self.path)

    @property
    def entropy(self) -> int:
        """The run's root entropy, as recorded when it was created."""
        return int(self.manifest["seed_entropy"])

    # -- opening -------------------------------------------------------------------------------
    @classmethod
    def resume_at(
        cls, path: str | Path, kind: str, key: dict[str, Any], entropy: int | None
    ) -> RunStore | None:
        """The run in an explicit directory (``--out``), or None if the directory is new or empty.

        Raises
        ------
        StoreError
            The directory holds something else: another run (other scenario, settings or seed),
            or files that are not a ketsim run.
        """
        path = Path(path)
        man = cls._read_manifest(path)
        if man is None:
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise StoreError(
                    f"{path} exists and is not a ketsim run directory (no manifest.json); "
                    "choose another --out"
                )
            return None
        if man.get("kind") != kind or man.get("key") != _jsonable(key):
            raise StoreError(
                f"{path} holds a different run ({man.get('kind')} of scenario "
                f"{man.get('scenario')!r} with other settings); choose another --out or remove it"
            )
        if entropy is not None and man.get("seed_entropy") != entropy:
            raise StoreError(
                f"{path} holds a run with seed {man.get('seed_entropy')}, not {entropy}; "
                "choose another --out or remove it"
            )
        return cls(path, man)

    @classmethod
    def find_unfinished(
        cls,
        base: str | Path,
        kind: str,
        scenario_name: str,
        key: dict[str, Any],
        entropy: int | None,
    ) -> RunStore | None:
        """The newest unfinished run under ``base`` with this key (and seed, when given)."""
        base = Path(base)
        if not base.is_dir():
            return None
        want = _jsonable(key)
        best = None
        for d in sorted(base.glob(f"{scenario_name}-{kind}-*")):
            try:
                man = cls._read_manifest(d)
            except StoreError:
                continue
            if man is None or man.get("status") == "complete":
                continue
            if man.get("kind") != kind or man.get("key") != want:
                continue
            if entropy is not None and man.get("seed_entropy") != entropy:
                continue
            best = (d, man)  # sorted by UTC stamp: the newest wins
        return None if best is None else cls(*best)

    @classmethod
    def create(
        cls,
        kind: str,
        scenario_name: str,
        key: dict[str, Any],
        entropy: int,
        base: str | Path = "runs",
        path: str | Path | None = None,
    ) -> RunStore:
        """A new run directory: ``path``, or ``<base>/<scenario>-<kind>-<UTC time>-<hash>``."""
        if path is None:
            full = {**_jsonable(key), "seed_entropy": entropy}
            name = f"{scenario_name}-{kind}-{_utc_stamp()}-{key_hash(full)}"
            path = Path(base) / name
            k = 1
            while path.exists():  # two runs in the same second
                k += 1
                path = Path(base) / f"{name}.{k}"
        return cls._create(Path(path), kind, scenario_name, key, entropy)

    @classmethod
    def _create(
        cls, path: Path, kind: str, scenario_name: str, key: dict, entropy: int
    ) -> RunStore:
        path.mkdir(parents=True, exist_ok=True)
        man = {
            "kind": kind,
            "scenario": scenario_name,
            "key": _jsonable(key),
            "seed_entropy": entropy,
            "status": "running",
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        store = cls(path, man)
        store.save_manifest()
        return store

    @staticmethod
    def _read_manifest(path: Path) -> dict | None:
        f = path / "manifest.json"
        if not f.is_file():
            return None
        try:
            return json.loads(f.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise StoreError(f"{f} cannot be read ({err}); remove the directory") from None

    # -- manifest ------------------------------------------------------------------------------
    def save_manifest(self) -> None:
        write_json_atomic(self.path / "manifest.json", self.manifest)

    def update(self, **fields: Any) -> None:
        """Set manifest fields and write the manifest."""
        self.manifest.update(_jsonable(fields))
        self.save_manifest()

    # -- chunks --------------------------------------------------------------------------------
    def cell_dir(self, cell: str) -> Path:
        return self.path / "cells" / cell

    def _chunk_file(self, cell: str, table: str, lo: int, hi: int) -> Path:
        return self.cell_dir(cell) / f"{table}-{lo:07d}-{hi:07d}.parquet"

    def _checksum_file(self, cell: str, lo: int, hi: int) -> Path:
        return self.cell_dir(cell) / f"chunk-{lo:07d}-{hi:07d}.sha256.json"

    def finished_chunks(self, cell: str) -> list[tuple[int, int]]:
        """``(first, end)`` of every chunk of a cell whose tables and checksum all exist, sorted."""
        d = self.cell_dir(cell)
        if not d.is_dir():
            return []
        have: dict[tuple[int, int], set[str]] = {}
        for f in d.iterdir():
            m = _CHUNK_RE.match(f.name)
            if m:
                have.setdefault((int(m["lo"]), int(m["hi"])), set()).add(m["table"])
        return sorted(
            r
            for r, t in have.items()
            if t >= set(CHUNK_TABLES) and self._checksum_file(cell, *r).is_file()
        )

    def corrupt_chunks(self, cell: str) -> list[tuple[int, int, str]]:
        """Finished chunks whose files no longer match their checksums: ``(first, end, why)``."""
        out = []
        for lo, hi in self.finished_chunks(cell):
            try:
                want = json.loads(self._checksum_file(cell, lo, hi).read_text(encoding="utf-8"))
                bad = [
                    t
                    for t in CHUNK_TABLES
                    if _sha256(self._chunk_file(cell, t, lo, hi)) != want.get(t)
                ]
            except (OSError, ValueError, AttributeError) as err:
                out.append((lo, hi, f"unreadable checksum file ({err})"))
                continue
            if bad:
                out.append((lo, hi, f"{', '.join(bad)} changed since written"))
        return out

    def clean_partial(self, cell: str) -> int:
        """Remove temporary files, the tables of unfinished chunks and corrupt chunks (each
        reported on stderr: they are recomputed); returns files removed."""
        d = self.cell_dir(cell)
        if not d.is_dir():
            return 0
        for lo, hi, why in self.corrupt_chunks(cell):
            print(
                f"ketsim: {d / f'*-{lo:07d}-{hi:07d}.parquet'}: checksum mismatch ({why}); "
                f"recomputing replicates {lo}..{hi - 1}",
                file=sys.stderr,
            )
            self._checksum_file(cell, lo, hi).unlink(missing_ok=True)
        done = set(self.finished_chunks(cell))
        n = 0
        for f in list(d.iterdir()):
            m = _CHUNK_RE.match(f.name)
            c = _CHECKSUM_RE.match(f.name)
            stray = f.name.startswith(".") and f.name.endswith(".tmp")
            unfinished = (m or c) and (int((m or c)["lo"]), int((m or c)["hi"])) not in done
            if stray or unfinished:
                f.unlink(missing_ok=True)
                n += 1
        return n

    def done_replicates(self, cell: str) -> set[int]:
        out: set[int] = set()
        for lo, hi in self.finished_chunks(cell):
            out.update(range(lo, hi))
        return out

    def write_chunk(self, cell: str, lo: int, hi: int, tables: dict[str, pd.DataFrame]) -> None:
        """Write the tables of replicates ``lo .. hi-1`` of a cell (each file atomically)."""
        sums = {}
        for t in CHUNK_TABLES:
            f = self._chunk_file(cell, t, lo, hi)
            write_parquet_atomic(f, tables[t])
            sums[t] = _sha256(f)
        # written last: a chunk without it (killed mid-way) is unfinished and recomputed
        write_json_atomic(self._checksum_file(cell, lo, hi), sums)

    def read_cell(self, cell: str, table: str) -> pd.DataFrame:
        """One table of a cell: every finished chunk, in replicate order."""
        parts = [
            pd.read_parquet(self._chunk_file(cell, table, lo, hi))
            for lo, hi in self.finished_chunks(cell)
        ]
        parts = [p for p in parts if len(p)]
        if not parts:
            return pd.DataFrame()
        df = pd.concat(parts, ignore_index=True)
        # chunks are disjoint replicate ranges: a stable sort by replicate restores the order an
        # uninterrupted single-chunk run produces, whatever the chunking was
        return df.sort_values("replicate", kind="stable").reset_index(drop=True)

    def read_truth(self, cell: str) -> pd.DataFrame | None:
        """A cell's true-effect table, if it was computed."""
        f = self.cell_dir(cell) / "truth.parquet"
        return pd.read_parquet(f) if f.is_file() else None

    # -- outputs -------------------------------------------------------------------------------
    def write_table(self, name: str, df: pd.DataFrame, csv: bool = True) -> list[str]:
        """``<name>.parquet`` (and ``<name>.csv``) in the run directory; returns the file names."""
        files = [f"{name}.parquet"]
        write_parquet_atomic(self.path / files[0], df)
        if csv:
            files.append(f"{name}.csv")
            write_text_atomic(self.path / files[1], df.to_csv(index=False, float_format="%.10g"))
        return files

    def write_text(self, name: str, text: str) -> None:
        write_text_atomic(self.path / name, text)


def _jsonable(obj: Any) -> Any:
    """Round-trip through JSON so stored and fresh keys compare equal (tuples -> lists)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=str))
