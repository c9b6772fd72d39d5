"""The ``ketsim`` command line, one module per noun.

:mod:`~ketsim.apps.cli.parser` builds the parser (:func:`build_parser`) and runs a command
(:func:`main`, the console script ``ketsim``); the commands live in
:mod:`~ketsim.apps.cli.scenario_commands` (``scenario validate|show``, ``pk``, ``simulate``),
:mod:`~ketsim.apps.cli.engine_commands` (``power``, ``sweep``, ``samplesize``, ``report`` and
their shared execution arguments) and :mod:`~ketsim.apps.cli.bench_command` (``bench``) and
:mod:`~ketsim.apps.cli.compare_command` (``compare``); the
text tables they print in :mod:`~ketsim.apps.cli.formatting`. ``validate`` (published trials),
``export`` / ``import-doses`` and ``explore`` add their own parsers from
:mod:`ketsim.apps.published_checks`, :mod:`ketsim.apps.interchange` and
:mod:`ketsim.apps.explore_cli`.
"""

from __future__ import annotations

from ketsim.apps.cli.formatting import (
    format_analyses,
    format_endpoints,
    format_power,
    format_sweep,
    format_trial_summary,
)
from ketsim.apps.cli.parser import build_parser, main

__all__ = [
    "build_parser",
    "format_analyses",
    "format_endpoints",
    "format_power",
    "format_sweep",
    "format_trial_summary",
    "main",
]
