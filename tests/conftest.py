"""Shared test fixtures.

Tests are laid out by the package layer they exercise (``core/``, ``config/``, ``sim/``,
``analysis/``, ``engine/``, ``apps/``), with ``architecture/`` for the layer rules, ``golden/`` for
the byte-identical fingerprints and ``validation/`` for slow statistical validations. Reference
tests (against analytic solutions, independent ODE solvers, published values and statsmodels)
carry ``reference`` in their file names, Hypothesis invariants ``properties``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _run_from_repo_root(monkeypatch):
    """Relative scenario paths in tests ("scenarios/...") resolve whatever the working directory."""
    monkeypatch.chdir(ROOT)
