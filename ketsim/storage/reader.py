"""Reading a run directory written by ``ketsim power`` or ``ketsim sweep``: its manifest, tables
and resolved scenario (:func:`load_run`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ketsim.config.scenario import load_scenario


class RunTables:
    """The tables of a run directory, read lazily (missing tables are None)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        f = self.path / "manifest.json"
        if not f.is_file():
            raise FileNotFoundError(f"{self.path} is not a ketsim run directory (no manifest.json)")
        self.manifest: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
        self._cache: dict[str, pd.DataFrame | None] = {}

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    def table(self, name: str) -> pd.DataFrame | None:
        """``<name>.parquet`` of the run (None if the run has no such table)."""
        if name not in self._cache:
            f = self.path / f"{name}.parquet"
            self._cache[name] = pd.read_parquet(f) if f.is_file() else None
        return self._cache[name]

    def scenario(self):
        """The run's resolved scenario."""
        return load_scenario(self.path / "scenario.resolved.yaml")


def load_run(path: str | Path) -> RunTables:
    """Open a run directory written by ``ketsim power`` or ``ketsim sweep``."""
    return RunTables(path)
