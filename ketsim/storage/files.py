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

__all__ = [
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
