"""Memory estimates refuse work the machine cannot hold, with the estimate and how to lift it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ketsim.config.scenario import load_scenario
from ketsim.core.resources import ENV_LIMIT, ResourceLimitError, check_memory, memory_limit_bytes
from ketsim.sim.trial import simulate_trial

ROOT = Path(__file__).resolve().parents[2]


def test_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv(ENV_LIMIT, "2")
    assert memory_limit_bytes() == (2e9, f"{ENV_LIMIT}=2")
    check_memory(1.9e9, "small work")
    with pytest.raises(ResourceLimitError, match=r"needs about 2\.5 GB, more than the limit of 2"):
        check_memory(2.5e9, "big work", "make it smaller")
    monkeypatch.setenv(ENV_LIMIT, "lots")
    with pytest.raises(ResourceLimitError, match="not a number of gigabytes"):
        memory_limit_bytes()


def test_default_limit_is_a_share_of_available_memory(monkeypatch):
    monkeypatch.delenv(ENV_LIMIT, raising=False)
    limit, source = memory_limit_bytes()
    assert limit > 0 and ("available" in source or limit == float("inf"))


def test_trial_model_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv(ENV_LIMIT, "0.0001")  # 100 kB
    sc = load_scenario(ROOT / "scenarios" / "published" / "sigtermans2009.yaml")
    with pytest.raises(ResourceLimitError, match="a trial batch of 60 patients x 91 diary days"):
        simulate_trial(sc, seed=1)


def test_pk_of_ten_million_patients_is_refused_by_the_cli(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_text(
        "name: big\npopulation: {n: 10000000}\n"
        "regimens:\n  - {route: iv_infusion, rate: 20 mg/h, duration: 100 h}\n"
        "output: {step: 1 h, end: 12 weeks}\n"
    )
    r = subprocess.run(
        [sys.executable, "-m", "ketsim", "pk", str(f), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, ENV_LIMIT: "1"},
    )
    assert r.returncode == 2
    # streamed, the estimate is the population's covariates plus one chunk (~4 GB), not 1.6 TB
    assert (
        "population PK of 10,000,000 patients x 2,017 output times, streamed in chunks of "
        "881 patients needs about 4.0 GB, more than the limit of 1.0 GB" in r.stderr
    )
    assert ENV_LIMIT in r.stderr and "Traceback" not in r.stderr
