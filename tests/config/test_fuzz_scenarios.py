"""Fuzzing scenarios (issue 20, deliverable 5): Hypothesis mutates a valid scenario at a random
path with a hostile value. Each mutant is either refused with ``ScenarioError`` whose every line
names a YAML path, or accepted, and then a tiny trial of it simulates without error. Never a
traceback of another kind. A bounded number of examples here; ``-m slow`` runs many more.
"""

from __future__ import annotations

import contextlib
import copy
import math
import resource
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketsim.config.scenario import ScenarioError, parse_scenario
from ketsim.core.resources import ResourceLimitError
from ketsim.sim.trial import simulate_trial

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "scenarios" / "published" / "sigtermans2009.yaml").read_text())
BASE.pop("expected", None)
BASE.pop("sweep", None)
for _arm in BASE["arms"]:
    _arm["n"] = 2  # tiny trials: an accepted mutant must also simulate, quickly
BASE["trial"]["weeks"] = 1
BASE["endpoints"] = [{"name": "w1", "type": "change_from_baseline", "week": 1}]
BASE["analyses"] = [{"endpoint": "w1", "method": "t_test"}]


@contextlib.contextmanager
def _memory_ceiling():
    """Bound the address space while one mutant runs: a mutant that slips past validation and
    allocates without end then fails this test instead of the whole run being OOM-killed (which
    once happened in CI, from a zero titration check interval)."""
    vm_kb = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmSize:")
    )
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    ceiling = vm_kb * 1024 + 4 * 2**30
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _paths(node, prefix=()):
    """Every path to a scalar, list or mapping inside the scenario."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


PATHS = [p for p in _paths(BASE) if p]

hostile = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["20 mg/h", "1e400 mg", "-3 h", "0.2 mg/kg", "1 s", "7 d", "*1/*6", "nan"]),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["n", "rate", "mean", "x"]), st.integers(-2, 2), max_size=2),
)


def _mutate(data, path, value):
    node = data
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def _check(mutant) -> None:
    exhausted = False
    try:
        with _memory_ceiling():
            _parse_and_simulate(mutant)
    except MemoryError:
        exhausted = True  # leave the except block first: its frames hold the runaway memory
    assert not exhausted, "an accepted mutant allocated without bound"


def _parse_and_simulate(mutant) -> None:
    try:
        sc = parse_scenario(mutant, "fuzz")
    except ScenarioError as err:
        assert err.problems, "a refusal must say why"
        for line in err.problems:
            assert ": " in line and "\n" not in line, line
        return
    if sc.arms and sum(a.n for a in sc.arms) <= 200 and sc.trial.weeks <= 4:
        try:
            simulate_trial(sc, seed=1)
        except ResourceLimitError:
            pass  # refused with its estimate: allowed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), hostile)
def test_mutated_scenarios_are_refused_cleanly_or_simulate(path, value):
    mutant = copy.deepcopy(BASE)
    _mutate(mutant, path, value)
    _check(mutant)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), hostile), min_size=1, max_size=3))
def test_many_mutations_slow(changes):
    mutant = copy.deepcopy(BASE)
    for path, value in changes:
        try:
            _mutate(mutant, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the path
    _check(mutant)


def test_the_base_itself_simulates():
    assert not math.isnan(simulate_trial(parse_scenario(copy.deepcopy(BASE)), seed=1).entropy)
