"""What every command shares: exit codes and loading a scenario with path-named errors.

Kept apart from :mod:`ketsim.apps.cli` so that the commands defined in other modules
(explore, export, import-doses, validate) can use it without importing the CLI that registers them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ketsim.config.scenario import ScenarioError, load_scenario

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "load_trial_scenario"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _fail(problems: list[str], source: str) -> int:
    for line in problems:
        print(f"{source}: {line}", file=sys.stderr)
    return EXIT_USAGE


def _load(path: str):
    """The validated scenario, or None after printing one line per problem to stderr."""
    try:
        return load_scenario(path)
    except ScenarioError as err:
        _fail(err.problems, path)
        return None


def load_trial_scenario(path: str | Path, command: str):
    """The validated scenario of a command that simulates a trial, or None after printing one
    ``path: problem`` line per problem (including missing ``arms``) to stderr."""
    sc = _load(str(path))
    if sc is not None and not sc.arms:
        _fail([f"arms: required key is missing ('ketsim {command}' runs a trial)"], str(path))
        return None
    return sc
