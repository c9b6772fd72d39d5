"""Interactive trial explorer: one simulated trial of a scenario in mesa's SolaraViz.

``ketsim explore FILE`` (see :mod:`ketsim.apps.explore_cli`) serves a page that steps ONE simulated
trial of the scenario day by day, with controls for its key parameters, live plots and a patient
inspector. This module holds two layers:

* model-side logic, importable and testable without solara or a browser:
  :func:`scenario_controls` / :func:`model_params` (the controls a scenario offers),
  :func:`build_scenario` (control values → a scenario validated by ketsim's schema),
  :class:`TrialExplorer` (a :class:`mesa.Model` that steps the real
  :class:`~ketsim.sim.trial.TrialModel` one diary day per step and keeps what the plots read),
  :func:`patient_detail` and the ``figure_*`` functions (matplotlib figures, no pyplot);
* the SolaraViz page, built lazily on first access to ``ketsim.apps.explorer.Page`` (``solara run
  ketsim.apps.explorer``), so that neither ``import ketsim`` nor this module needs solara.

The explorer shows the model itself, not a re-implementation: every number comes from the arrays of
the wrapped :class:`~ketsim.sim.trial.TrialModel` (diary noise is drawn up front, so a day's
observed
NRS is final when that day has been simulated and equals :func:`~ketsim.sim.trial.simulate_trial`'s
diary for the same scenario and seed).
"""

from __future__ import annotations

from typing import Any

from ketsim.apps.explore_cli import SCENARIO_ENV
from ketsim.apps.explorer.controls import (
    AE_SHOWN,
    Control,
    ControlError,
    build_scenario,
    default_values,
    model_params,
    scenario_controls,
)
from ketsim.apps.explorer.figures import (
    arm_color,
    figure_ae,
    figure_nrs,
    figure_patient_diary,
    figure_patients,
    figure_titration,
    settings_lines,
)
from ketsim.apps.explorer.model import (
    PatientDetail,
    TrialExplorer,
    patient_detail,
)

__all__ = [
    "AE_SHOWN",
    "SCENARIO_ENV",
    "Control",
    "ControlError",
    "PatientDetail",
    "TrialExplorer",
    "arm_color",
    "build_scenario",
    "default_values",
    "figure_ae",
    "figure_nrs",
    "figure_patient_diary",
    "figure_patients",
    "figure_titration",
    "main",
    "model_params",
    "patient_detail",
    "scenario_controls",
    "settings_lines",
]


def __getattr__(name: str) -> Any:
    # ``solara run ketsim.apps.explorer`` looks up ``routes`` and ``Page``; building them imports
    # solara, so only on demand
    if name in ("Page", "routes"):
        from ketsim.apps.explorer.page import _page_component

        if name == "Page":
            return _page_component()
        # a package would be served as a multi-page app (solara imports every submodule as a
        # page); one route to the one page keeps it a single-page app
        import solara  # heavy optional dependency: only when the page is served

        return [solara.Route(path="/", component=_page_component())]
    raise AttributeError(f"module 'ketsim.apps.explorer' has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    """``python -m ketsim.apps.explorer FILE [--host H] [--port P] [--no-browser]``: as ``ketsim
    explore``."""
    from ketsim.apps.explore_cli import main as explore_main

    return explore_main(argv)
