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
    "Scenario": "ketsim.config.scenario",
    "ScenarioError": "ketsim.config.scenario",
    "load_scenario": "ketsim.config.scenario",
    "parse_scenario": "ketsim.config.scenario",
    "dump_scenario": "ketsim.config.scenario",
    "apply_overrides": "ketsim.config.scenario",
    "resize_scenario": "ketsim.engine.variants",
    "load_sweep": "ketsim.config.sweep",
    # one simulation
    "simulate_pk": "ketsim.sim.pk_study",
    "simulate_trial": "ketsim.sim.trial",
    "TrialModel": "ketsim.sim.trial",
    "sample_population": "ketsim.sim.population",
    # Monte Carlo
    "RunOptions": "ketsim.engine.runs",
    "estimate_power": "ketsim.engine.power",
    "estimate_sweep": "ketsim.engine.sweep",
    "search_sample_size": "ketsim.engine.sample_size",
    # reading runs, reports, validation
    "load_run": "ketsim.storage.reader",
    "write_report": "ketsim.apps.report",
    "validate_scenario": "ketsim.apps.published_checks",
    # interchange with pharmacometric tools
    "to_nonmem": "ketsim.apps.interchange",
    "write_nonmem": "ketsim.apps.interchange",
    "read_dosing": "ketsim.apps.interchange",
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
