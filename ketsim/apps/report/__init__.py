"""Self-contained HTML report of a power or sweep run (``ketsim report RUN_DIR``).

The report reads only the run directory (:mod:`ketsim.storage.store` layout) and writes one HTML
file
with every figure embedded as a PNG data URI: no network, no external files, so it can be handed
to a statistician or an ethics committee as it is. Every string that comes from a scenario is
HTML-escaped.

Panels (those whose data the run has):

1. the question and the design in words;
2. assumptions: the switches with their sources, PD overrides, the parameter set;
3. the power table with Monte Carlo SEs, Wilson intervals, estimates and bias;
4. power against n per arm with the target line and the chosen n;
5. mean weekly NRS per arm with the 95% band of trial-level means;
6. responder rates and other binary endpoints per arm;
7. adverse events and dropouts per arm;
8. power by patient stratum (CYP2B6 carriers, sensitization, sex);
9. sensitivity of power to the uncertain switches;
10. (sweeps) dose x duration heatmaps of power and response;
11. provenance: versions, seed, command, timings.
"""

from __future__ import annotations

from ketsim.apps.report.render import (
    PANELS,
    figures,
    render_report,
    write_report,
)
from ketsim.storage.reader import (
    RunTables,
    load_run,
)

__all__ = ["PANELS", "RunTables", "figures", "load_run", "render_report", "write_report"]
