"""Interchange with pharmacometric tools (NONMEM, mrgsolve, rxode2, Monolix, Pumas).

Export
    :func:`to_nonmem` turns a trial simulated with ``record_doses=True`` into a NONMEM-style
    event dataset (one ``ID`` per patient; doses as administered; S-ketamine and S-norketamine
    plasma concentrations and the daily pain diary as observations; numeric covariates);
    :func:`write_nonmem` writes it as CSV with a JSON sidecar describing every column and code.
Import
    :func:`read_dosing` (a CSV file) and :func:`dosing_from_frame` (a DataFrame) read the dose
    records of such a dataset (``EVID`` 1/4, ``AMT``, ``RATE``, ``CMT``, ``TIME``, ``ID``, and
    ``ADDL``/``II`` when present) into ketsim regimens per ``ID``; :func:`regimen_dicts` gives
    them as a scenario's ``regimens:`` entries. Anything ketsim cannot represent is refused with
    the file, row and column named (:class:`InterchangeError`).
Check
    :func:`exposures` simulates the PK of (imported) regimens for the patients of a simulated
    trial, with their own covariates and etas: export -> import -> :func:`exposures` reproduces
    the exported concentrations (``tests/apps/test_interchange.py``).
CLI
    ``ketsim export`` and ``ketsim import-doses`` (:func:`add_interchange_parsers`).

Conventions (see :data:`CMT_CODES`, :data:`ROUTE_CODES`, :data:`DVID_CODES`, :data:`COLUMNS`):
units mg, mg/h, h and ng/mL; ``TIME`` is hours on the trial clock (t = 0 is the start of the
first treatment segment, per patient); missing values are ``.`` in the CSV (NaN in the DataFrame),
which NONMEM reads as 0 (dose records have ``MDV=1`` so their ``DV`` is never used).
"""

from __future__ import annotations

from ketsim.apps.interchange.codes import (
    CMT_CODES,
    COLUMNS,
    DVID_CODES,
    ROUTE_CMT,
    ROUTE_CODES,
    TRT_CODES,
    InterchangeError,
)
from ketsim.apps.interchange.commands import (
    add_interchange_parsers,
    cmd_export,
    cmd_import_doses,
)
from ketsim.apps.interchange.dosing_import import (
    DosingImport,
    dosing_from_frame,
    read_dosing,
)
from ketsim.apps.interchange.export import (
    to_nonmem,
    write_nonmem,
)
from ketsim.apps.interchange.regimens import (
    exposures,
    regimen_dicts,
    total_mg,
)

__all__ = [
    "CMT_CODES",
    "COLUMNS",
    "DVID_CODES",
    "ROUTE_CMT",
    "ROUTE_CODES",
    "TRT_CODES",
    "DosingImport",
    "InterchangeError",
    "add_interchange_parsers",
    "cmd_export",
    "cmd_import_doses",
    "dosing_from_frame",
    "exposures",
    "read_dosing",
    "regimen_dicts",
    "to_nonmem",
    "total_mg",
    "write_nonmem",
]
