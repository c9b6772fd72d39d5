"""ketsim: agent-based virtual-trial simulator for low-dose ketamine in chronic pain.

The public Python API is the names in ``__all__`` (see the README, "Use from Python / Jupyter").
``import ketsim`` stays light: each name is imported from its module on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it (imported lazily, on first attribute access)
_API: dict[str, str] = {
    # scenarios
    "Scenario": "ketsim.scenario",
    "ScenarioError": "ketsim.scenario",
    "load_scenario": "ketsim.scenario",
    "parse_scenario": "ketsim.scenario",
    "dump_scenario": "ketsim.scenario",
    "apply_overrides": "ketsim.scenario",
    "resize_scenario": "ketsim.montecarlo",
    "load_sweep": "ketsim.sweep",
    # one simulation
    "simulate_pk": "ketsim.pk.simulate",
    "simulate_trial": "ketsim.trial",
    "TrialModel": "ketsim.trial",
    "sample_population": "ketsim.population",
    # Monte Carlo
    "RunOptions": "ketsim.montecarlo",
    "estimate_power": "ketsim.montecarlo",
    "estimate_sweep": "ketsim.montecarlo",
    "search_sample_size": "ketsim.montecarlo",
    # reading runs, reports, validation
    "load_run": "ketsim.report",
    "write_report": "ketsim.report",
    "validate_scenario": "ketsim.validate",
    # interchange with pharmacometric tools
    "to_nonmem": "ketsim.interchange",
    "write_nonmem": "ketsim.interchange",
    "read_dosing": "ketsim.interchange",
}

__all__ = ["__version__", *sorted(_API)]


def __getattr__(name: str) -> Any:
    # lazy public API: keeps `import ketsim` fast and headless
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'ketsim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
