"""ketsim: agent-based virtual-trial simulator for low-dose ketamine in chronic pain.

``import ketsim`` stays light: heavy parts are imported where they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "estimate_power",
    "estimate_sweep",
    "load_scenario",
    "load_sweep",
    "parse_scenario",
    "search_sample_size",
    "simulate_pk",
    "simulate_trial",
]


def __getattr__(name: str):
    # lazy public API: keeps `import ketsim` fast and headless
    if name in ("load_scenario", "parse_scenario"):
        from ketsim import scenario

        return getattr(scenario, name)
    if name == "simulate_pk":
        from ketsim.pk.simulate import simulate_pk

        return simulate_pk
    if name in ("estimate_power", "estimate_sweep", "search_sample_size"):
        from ketsim import montecarlo

        return getattr(montecarlo, name)
    if name == "load_sweep":
        from ketsim.sweep import load_sweep

        return load_sweep
    if name == "simulate_trial":
        from ketsim.trial import simulate_trial

        return simulate_trial
    raise AttributeError(f"module 'ketsim' has no attribute {name!r}")
