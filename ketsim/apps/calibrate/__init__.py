"""``ketsim calibrate``: fit uncertain parameters to published targets by ABC-SMC (pyabc).

:mod:`~ketsim.apps.calibrate.parameters` declares the parameters (prior, source, confidence);
:mod:`~ketsim.apps.calibrate.targets` turns scenarios' ``expected:`` items into simulated summary
statistics and standardised discrepancies; :mod:`~ketsim.apps.calibrate.abc_fit` sets up pyabc
with a worker-count-independent sampler; :mod:`~ketsim.apps.calibrate.run` runs it in a
resumable run directory and writes the posterior and diagnostics;
:mod:`~ketsim.apps.calibrate.page` the HTML page; :mod:`~ketsim.apps.calibrate.cli` the command.

pyabc is an optional dependency (``pip install "ketsim[calibrate]"``); this package imports it
only in ``abc_fit`` and ``run``, so the parameter table and targets work without it.
"""

from __future__ import annotations

from ketsim.apps.calibrate.parameters import UNCERTAIN, UncertainParameter, parameters_for
from ketsim.apps.calibrate.targets import Target, TargetSet

__all__ = ["UNCERTAIN", "Target", "TargetSet", "UncertainParameter", "parameters_for"]
