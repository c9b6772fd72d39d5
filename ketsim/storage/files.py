"""Atomic file writing and run provenance."""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "ParquetStream",
    "versions",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
    "write_text_atomic",
]

_PACKAGES = (
    "ketsim",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "pydantic",
    "pyyaml",
    "mesa",
    "joblib",
    "dask",
    "distributed",
)


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


#: the user's umask, read once: mkstemp creates files 0600, but run directories and reports are
#: meant to be shared, so every written file gets the mode a plain ``open`` would give it
_FILE_MODE = 0o666 & ~_current_umask()


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, _FILE_MODE)
        write(tmp)
        os.replace(tmp, path)  # atomic on POSIX: readers see the old or the new file, never half
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    _atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet_atomic(path: Path, df: pd.DataFrame) -> None:
    _atomic(path, lambda tmp: df.to_parquet(tmp, index=False))


class ParquetStream:
    """A parquet file written one table chunk (row group) at a time, atomically.

    Rows go to a temporary file beside ``path``; :meth:`close` moves it into place, so a reader
    never sees half a file, and an interrupted run leaves none (use it as a context manager).
    The schema is the first chunk's; every chunk must match it. The file reads back as the
    ``pd.concat`` of the chunks (the same as :func:`write_parquet_atomic` of that frame).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        os.chmod(self._tmp, _FILE_MODE)
        self._writer = None
        self._schema = None

    def write(self, df: pd.DataFrame) -> None:
        """Append the rows of ``df`` (same columns and dtypes as the first chunk)."""
        table = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._tmp, self._schema)
        self._writer.write_table(table)

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._writer is None:
            raise ValueError(f"{self.path.name}: no rows were written")
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        if self._writer is not None:
            self._writer.close()
        Path(self._tmp).unlink(missing_ok=True)

    def __enter__(self) -> ParquetStream:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def versions() -> dict:
    """Versions of ketsim, its dependencies, Python and the platform."""
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["python"] = sys.version.split()[0]
    out["platform"] = platform.platform()
    return out
