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

import argparse
import csv
import itertools
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from ketsim.config.scenario import (
    INFUSION_ROUTES,
    RegimenSpec,
    Scenario,
    ScenarioError,
    load_scenario,
)
from ketsim.core.units import Amount, Rate

if TYPE_CHECKING:
    from ketsim.sim.trial import TrialResult

__all__ = [
    "CMT_CODES",
    "COLUMNS",
    "DVID_CODES",
    "ROUTE_CODES",
    "TRT_CODES",
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

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

#: compartment numbers: where a dose enters (1-6) or what an observation reads (1, 7, 8)
CMT_CODES: dict[int, str] = {
    1: "central (IV bolus and IV infusion; S-ketamine plasma observations)",
    2: "gut (oral)",
    3: "sublingual depot",
    4: "intranasal depot",
    5: "subcutaneous depot (SC bolus and SC infusion)",
    6: "intramuscular depot",
    7: "S-norketamine central (observations only)",
    8: "pain NRS (PD observations only; not a PK compartment)",
}
#: dose compartment of each ketsim route (an infusion and a bolus share the depot of their site)
ROUTE_CMT: dict[str, int] = {
    "iv_infusion": 1,
    "iv_bolus": 1,
    "oral": 2,
    "sublingual": 3,
    "intranasal": 4,
    "subcutaneous": 5,
    "subcutaneous_infusion": 5,
    "intramuscular": 6,
}
#: ROUTE column: ketsim route of a dose record (0 on observation records)
ROUTE_CODES: dict[int, str] = {
    1: "iv_infusion",
    2: "iv_bolus",
    3: "oral",
    4: "sublingual",
    5: "intranasal",
    6: "subcutaneous",
    7: "subcutaneous_infusion",
    8: "intramuscular",
}
_ROUTE_CODE = {v: k for k, v in ROUTE_CODES.items()}
#: DVID column: what DV holds (0 on dose records)
DVID_CODES: dict[int, str] = {
    1: "S-ketamine plasma concentration, ng/mL (CMT 1)",
    2: "S-norketamine plasma concentration, ng/mL (CMT 7)",
    3: "daily pain diary NRS 0-10, integer (CMT 8)",
}
_DVID_CMT = {1: 1, 2: 7, 3: 8}
#: TRT column: treatment of the segment in force at the record's time
TRT_CODES: dict[int, str] = {0: "placebo", 1: "ketamine", 2: "active placebo (midazolam)"}
_TRT_OF = {"ketamine": 1, "placebo": 0, "active_placebo": 2}

#: every column to_nonmem writes: name -> (description, unit)
COLUMNS: dict[str, tuple[str, str]] = {
    "ID": ("patient, unique across replicates (1 + row of TrialResult.patients)", ""),
    "TIME": ("time on the trial clock (t = 0: start of the patient's first treatment)", "h"),
    "EVID": ("event: 1 dose, 0 observation", ""),
    "AMT": ("dose: bolus amount, or infusion amount = RATE x duration (0 on observations)", "mg"),
    "RATE": ("infusion rate (0: bolus, and on observations)", "mg/h"),
    "CMT": ("compartment (CMT codes)", ""),
    "DV": ("observation (DVID says what); missing ('.') on dose records", "ng/mL or NRS"),
    "MDV": ("1: DV missing (dose records), 0: observation", ""),
    "DVID": ("what DV is (DVID codes); 0 on dose records", ""),
    "ROUTE": ("ketsim route of a dose (ROUTE codes); 0 on observations", ""),
    "TRT": ("treatment in force at TIME (TRT codes)", ""),
    "ARM": ("randomised arm, 1-based in scenario order; 0: crossover or not randomised", ""),
    "SEQ": ("timeline group, 1-based: the arm (parallel, EERW) or the crossover sequence", ""),
    "REP": ("replicate trial", ""),
    "PAT": ("patient within the replicate (0-based, as in ketsim's tables)", ""),
    "WT": ("body weight", "kg"),
    "AGE": ("age", "years"),
    "SEX": ("1 female, 0 male", ""),
    "ANC": ("ancestry: 1 european, 2 east_asian, 3 african", ""),
    "CYP2B6": ("CYP2B6 enzyme activity of the diplotype (in vitro; *1/*1 = 1)", ""),
    "CYPD": ("CYP2B6 diplotype: 1 *1/*1, 2 *1/*6, 3 *6/*6, 4 *1/*18, 5 *6/*18, 6 *18/*18", ""),
    "BNRS": ("mean observed NRS over the baseline days ('.' if none recorded)", "NRS"),
    "RAC": ("1: racemic ketamine given (AMT/RATE are the racemate), 0: S-ketamine", ""),
}
_INT_COLUMNS = ("ID", "EVID", "CMT", "MDV", "DVID", "ROUTE", "TRT", "ARM", "SEQ", "REP", "PAT")
_INT_COLUMNS += ("SEX", "ANC", "CYPD", "RAC")


class InterchangeError(ValueError):
    """Input that cannot be exported or imported; the message names the file, row and column."""


# -- export ---------------------------------------------------------------------------------------
def _need_recording(result: TrialResult) -> None:
    if result.doses is None or result.concentrations is None or result.population is None:
        raise InterchangeError(
            "the trial was simulated without the dose recorder: "
            "use simulate_trial(..., record_doses=True)"
        )


def to_nonmem(
    result: TrialResult,
    *,
    norketamine: bool = True,
    nrs: bool = True,
    after_dropout: bool = False,
) -> pd.DataFrame:
    """A NONMEM-style event dataset of a trial simulated with ``record_doses=True``.

    Parameters
    ----------
    result : the simulated trial (any number of replicates; ``ID`` is unique across them).
    norketamine : add S-norketamine observations (``DVID`` 2).
    nrs : add the daily pain diary of the treatment days (``DVID`` 3; baseline days are
        summarised in ``BNRS`` since they precede t = 0; missing days are omitted).
    after_dropout : keep concentration records after a patient left the study (default: the
        dataset ends at dropout, like the diary).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` plus ``CM_<NAME>`` (0/1) for each co-medication of the
        population, all numeric. Dose records (``EVID=1, MDV=1``, ``DV`` NaN): one per bolus
        (``RATE=0``) and one per interval of constant infusion rate (``AMT = RATE x duration``),
        whole-drug mg as administered after titration, discontinuation, dropout and blinding
        (placebo patients have none). Observation records (``EVID=0, MDV=0``): the model's
        S-ketamine (``DVID`` 1) and S-norketamine (2) plasma concentrations at every event and
        diary time the model stepped through (just after the doses due then), and the diary NRS
        (3). Sorted by ``ID``, ``TIME``, then dose records before observations (NONMEM processes
        records in order, so an observation at a dose time sees the dose), then ``CMT``.
        ``df.attrs["ketsim"]`` holds provenance for :func:`write_nonmem`.
    """
    from ketsim.core.pk.parameters import CYP2B6_DIPLOTYPE_ACTIVITY
    from ketsim.sim.population import ANCESTRIES

    _need_recording(result)
    sc = result.scenario
    pats = result.patients
    ta = result.arrays
    pop = result.population
    n = len(pats)
    rep = pats["replicate"].to_numpy()
    pat = pats["patient"].to_numpy()
    ids = np.arange(1, n + 1)
    dipl = list(CYP2B6_DIPLOTYPE_ACTIVITY)
    cov = {
        "ID": ids,
        "ARM": np.where(ta.arm >= 0, ta.arm + 1, 0),
        "SEQ": ta.group + 1,
        "REP": rep,
        "PAT": pat,
        "WT": pop.weight_kg,
        "AGE": pop.age_years,
        "SEX": np.asarray(pop.female, dtype=int),
        "ANC": np.asarray(pop.ancestry, dtype=int) + 1,
        "CYP2B6": np.asarray([CYP2B6_DIPLOTYPE_ACTIVITY[d] for d in pop.cyp2b6], dtype=float),
        "CYPD": np.asarray([dipl.index(d) + 1 for d in pop.cyp2b6], dtype=int),
        "BNRS": pats["baseline_nrs"].to_numpy(dtype=float),
        "RAC": np.full(n, int(sc.drug == "racemic")),
    }
    for name, on in pop.comedication.items():
        cov[f"CM_{name.upper()}"] = np.asarray(on, dtype=int)
    cov_df = pd.DataFrame(cov)
    key = pd.DataFrame({"replicate": rep, "patient": pat, "ID": ids})

    conc = result.concentrations.merge(key, on=["replicate", "patient"], how="left")
    if not after_dropout:
        drop = pats["dropout_h"].to_numpy(dtype=float)
        limit = np.where(np.isnan(drop), np.inf, drop)[conc["ID"].to_numpy() - 1]
        conc = conc[conc["time_h"].to_numpy() <= limit]
    # treatment in force at every model time: dose and diary times are model times
    all_trt = result.concentrations.merge(key, on=["replicate", "patient"])
    all_trt = all_trt[["ID", "time_h"]].assign(
        TRT=all_trt["treatment"].map(_TRT_OF).astype(int).to_numpy()
    )

    parts = []
    d = result.doses.merge(key, on=["replicate", "patient"], how="left")
    if len(d):
        inf = (d["kind"] == "infusion").to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "ID": d["ID"].to_numpy(),
                    "TIME": d["start_h"].to_numpy(dtype=float),
                    "EVID": 1,
                    "AMT": d["amount_mg"].to_numpy(dtype=float),
                    "RATE": np.where(inf, d["rate_mg_h"].to_numpy(dtype=float), 0.0),
                    "CMT": d["route"].map(ROUTE_CMT).to_numpy(),
                    "DV": np.nan,
                    "MDV": 1,
                    "DVID": 0,
                    "ROUTE": d["route"].map(_ROUTE_CODE).to_numpy(),
                }
            )
        )
    analytes = [(1, "s_ketamine_ng_ml")] + ([(2, "s_norketamine_ng_ml")] if norketamine else [])
    for dvid, col in analytes:
        parts.append(
            pd.DataFrame(
                {
                    "ID": conc["ID"].to_numpy(),
                    "TIME": conc["time_h"].to_numpy(dtype=float),
                    "EVID": 0,
                    "AMT": 0.0,
                    "RATE": 0.0,
                    "CMT": _DVID_CMT[dvid],
                    "DV": conc[col].to_numpy(dtype=float),
                    "MDV": 0,
                    "DVID": dvid,
                    "ROUTE": 0,
                }
            )
        )
    if nrs:
        tr = sc.trial
        first_diary = (tr.diary_hour - tr.start_hour) % 24.0
        dia = result.diary
        dia = dia[(dia["day"] >= 1) & dia["nrs"].notna()].merge(
            key, on=["replicate", "patient"], how="left"
        )
        # the model's diary times, same arithmetic (TrialModel: first_diary + 24 * index)
        t = first_diary + 24.0 * (dia["day"].to_numpy() - 1).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "ID": dia["ID"].to_numpy(),
                    "TIME": t,
                    "EVID": 0,
                    "AMT": 0.0,
                    "RATE": 0.0,
                    "CMT": _DVID_CMT[3],
                    "DV": dia["nrs"].to_numpy(dtype=float),
                    "MDV": 0,
                    "DVID": 3,
                    "ROUTE": 0,
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    df = df.merge(
        all_trt.rename(columns={"time_h": "TIME"}), on=["ID", "TIME"], how="left", validate="m:1"
    )
    # a record off the model's time grid cannot happen; keep the column numeric regardless
    df["TRT"] = df["TRT"].fillna(0).astype(int)
    df = df.merge(cov_df, on="ID", how="left")
    df["_dose_first"] = 1 - df["EVID"]
    df = df.sort_values(["ID", "TIME", "_dose_first", "CMT"], kind="stable")
    df = df.drop(columns="_dose_first").reset_index(drop=True)
    for c in _INT_COLUMNS:
        df[c] = df[c].astype(np.int64)
    for c in df.columns:
        if c.startswith("CM_"):
            df[c] = df[c].astype(np.int64)
    cols = list(COLUMNS) + [c for c in df.columns if c.startswith("CM_")]
    df = df[cols]
    from ketsim import __version__

    df.attrs["ketsim"] = {
        "ketsim_version": __version__,
        "scenario": sc.name,
        "drug": sc.drug,
        "parameter_set": sc.parameter_set,
        "seed_entropy": int(result.entropy),
        "replicates": [int(r) for r in result.replicates],
        "design": sc.design.type,
        "arms": [a.name for a in sc.arms or []],
        "sequences": list(ta.group_names),
        "comedications": sorted(pop.comedication),
        "ancestries": list(ANCESTRIES),
        "options": {"norketamine": norketamine, "nrs": nrs, "after_dropout": after_dropout},
    }
    return df


def _sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json") if path.suffix.lower() != ".json" else Path(f"{path}.json")


def write_nonmem(
    df: pd.DataFrame, path: str | Path, meta: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write a :func:`to_nonmem` dataset as CSV and a JSON sidecar next to it.

    The CSV has a plain header line (read it in NONMEM with ``$DATA file.csv IGNORE=@``), full
    float precision (shortest round-trip repr) and ``.`` for missing values (NONMEM reads ``.`` as
    0; only ``DV`` of dose records and ``BNRS`` without baseline entries are missing). The sidecar
    (same name, ``.json``) lists every column with its meaning and unit, the ``CMT``, ``ROUTE``,
    ``DVID`` and ``TRT`` codes, the ketsim version, seed and scenario, and a ``$INPUT`` line.

    Parameters
    ----------
    df : the dataset (its ``attrs["ketsim"]`` provenance is written to the sidecar).
    path : the CSV file; parent directories are created.
    meta : extra provenance for the sidecar (e.g. the run directory it was re-simulated from).

    Returns
    -------
    (csv path, sidecar path)
    """
    from ketsim.storage.files import write_json_atomic, write_text_atomic

    path = Path(path)
    side = _sidecar_path(path)
    cols = {}
    for c in df.columns:
        desc, unit = COLUMNS.get(c, (None, ""))
        if desc is None and c.startswith("CM_"):
            desc = f"co-medication {c[3:].lower()}: 1 taking it, 0 not"
        cols[c] = {"description": desc or "", "unit": unit}
    info = {
        "format": "ketsim NONMEM-style event dataset",
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **dict(df.attrs.get("ketsim", {})),
        **dict(meta or {}),
        "file": path.name,
        "rows": len(df),
        "ids": int(df["ID"].nunique()) if "ID" in df else 0,
        "column_order": list(df.columns),
        "columns": cols,
        "cmt_codes": {str(k): v for k, v in CMT_CODES.items()},
        "route_codes": {str(k): v for k, v in ROUTE_CODES.items()},
        "route_cmt": ROUTE_CMT,
        "dvid_codes": {str(k): v for k, v in DVID_CODES.items()},
        "trt_codes": {str(k): v for k, v in TRT_CODES.items()},
        "conventions": {
            "time": "hours on the trial clock; t = 0 is the start of each patient's first "
            "treatment segment",
            "units": "AMT mg (whole drug, racemate when RAC = 1), RATE mg/h, DV ng/mL (DVID 1, 2) "
            "or NRS (DVID 3)",
            "missing": "'.' in the CSV (NaN in pandas); dose records have MDV = 1",
            "sort": "ID, TIME, dose records before observations at equal times, then CMT",
            "infusions": "one record per interval of constant rate; AMT = RATE x duration",
            "observations": "model values without residual error, just after the doses due at "
            "TIME; concentrations end at dropout unless exported with after_dropout",
            "placebo": "placebo and active-placebo patients have no dose records",
            "nrs": "treatment-period diary days only; missing days omitted; baseline days in BNRS",
            "read_with_pandas": "pandas.read_csv(path, na_values='.')",
        },
        "nonmem": {
            "data": f"$DATA {path.name} IGNORE=@",
            "input": "$INPUT " + " ".join(df.columns),
        },
    }
    text = df.to_csv(index=False, na_rep=".", lineterminator="\n")
    write_text_atomic(path, text)
    write_json_atomic(side, info)
    return path, side


# -- import ---------------------------------------------------------------------------------------
_DOSE_CMT_ROUTES = {
    # cmt -> (bolus route, infusion route or None)
    1: ("iv_bolus", "iv_infusion"),
    2: ("oral", None),
    3: ("sublingual", None),
    4: ("intranasal", None),
    5: ("subcutaneous", "subcutaneous_infusion"),
    6: ("intramuscular", None),
}
_DATE_COLUMNS = ("DATE", "DAT1", "DAT2", "DAT3")


@dataclass
class _Dose:
    """One dose record on its way to a regimen (before snapping and compaction)."""

    id: int
    route: str
    start: float
    amount: float  # mg per administration
    rate: float  # mg/h; 0 for boluses
    duration: float  # h; 0 for boluses
    repeats: int
    interval: float | None
    row: int  # 0-based row of the record
    where: str  # "FILE: row R (line L)" for messages


@dataclass
class DosingImport:
    """What :func:`read_dosing` found: regimens per ID and counts for the summary."""

    source: str
    regimens: dict[int, list[RegimenSpec]]
    dose_records: int = 0
    zero_dose_records: int = 0
    other_records: int = 0
    rows: int = 0
    notes: list[str] = field(default_factory=list)


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip() in ("", ".")


class _Rows:
    """Access to one row's values by (case-insensitive) column with located error messages."""

    def __init__(self, columns: list[str], source: str, lines: list[int] | None) -> None:
        self.cols = {c.strip().upper(): i for i, c in reversed(list(enumerate(columns)))}
        self.source = source
        self.lines = lines

    def has(self, col: str) -> bool:
        return col in self.cols

    def where(self, i: int, col: str | None = None) -> str:
        loc = f"row {i + 1}" if self.lines is None else f"row {i + 1} (line {self.lines[i]})"
        return f"{self.source}: {loc}" + (f", column {col}" if col else "")

    def raw(self, row: Sequence[Any], col: str) -> Any:
        j = self.cols.get(col)
        return None if j is None or j >= len(row) else row[j]

    def num(self, row: Sequence[Any], i: int, col: str, what: str = "a number") -> float | None:
        """The column's value as a float, None when absent or missing ('.', empty, NaN)."""
        v = self.raw(row, col)
        if _is_missing(v):
            return None
        try:
            x = float(v.strip()) if isinstance(v, str) else float(v)
        except (TypeError, ValueError):
            raise InterchangeError(f"{self.where(i, col)}: expected {what}, got {v!r}") from None
        if not math.isfinite(x):
            raise InterchangeError(f"{self.where(i, col)}: expected {what}, got {v!r}")
        return x

    def integer(self, row: Sequence[Any], i: int, col: str) -> int | None:
        x = self.num(row, i, col, "an integer")
        if x is None:
            return None
        if x != int(x):
            raise InterchangeError(f"{self.where(i, col)}: expected an integer, got {x:g}")
        return int(x)


def _read_table(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and their line numbers of a CSV (or whitespace-separated) NONMEM file.

    Lines whose first field starts with ``#`` are comments (NONMEM ``IGNORE=#``); a header that
    starts with ``#`` (``#ID,TIME,...``) is still the header.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise InterchangeError(f"{path}: cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise InterchangeError(f"{path}: not a text (UTF-8) file") from None
    lines = text.splitlines()
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    comma = None
    for k, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if comma is None:
            comma = "," in line
        fields = next(csv.reader([line], skipinitialspace=True)) if comma else line.split()
        fields = [f.strip() for f in fields]
        if header is None:
            header = [fields[0].lstrip("#").strip(), *fields[1:]]
            continue
        if fields and fields[0].startswith("#"):
            continue
        rows.append(fields)
        numbers.append(k)
    if header is None:
        raise InterchangeError(f"{path}: empty file (no header line)")
    return header, rows, numbers


def read_dosing(path: str | Path) -> dict[int, list[RegimenSpec]]:
    """Ketsim regimens per ``ID`` from the dose records of a NONMEM-style CSV file.

    Reads ``ID``, ``TIME`` (h, >= 0), ``EVID`` (1 and 4 are doses; 0, 2 and a leading 3 are
    skipped; without an ``EVID`` column a non-zero ``AMT`` makes a dose), ``AMT`` (mg), ``RATE``
    (mg/h; 0 or missing: bolus), ``CMT`` (:data:`ROUTE_CMT`; or a ketsim ``ROUTE`` column), and
    ``ADDL``/``II`` (repeats) and ``SS`` (must be 0) when present. Column names are
    case-insensitive, other columns are ignored, ``.`` and empty cells are missing. Infusions
    become ``rate`` + ``duration = AMT / RATE`` regimens; contiguous ones on a route are made to
    meet exactly, and equal doses at a constant interval are merged into ``repeats``.

    Returns
    -------
    dict
        ID -> regimens in time order (an ID with records but no doses maps to ``[]``).

    Raises
    ------
    InterchangeError
        Naming the file, row, line and column of anything ketsim cannot represent: modelled
        rates (``RATE=-1/-2``), an infusion on a route that has none in ketsim, a negative or
        missing ``AMT``, a ``CMT`` outside the mapping, negative ``TIME``, steady state, a reset
        after doses, non-numeric values.
    """
    return _import_file(Path(path)).regimens


def dosing_from_frame(df: pd.DataFrame, source: str = "<data>") -> dict[int, list[RegimenSpec]]:
    """:func:`read_dosing` on a DataFrame (rows are numbered from 1 in messages)."""
    rows = [list(r) for r in df.astype(object).itertuples(index=False, name=None)]
    return _import_rows([str(c) for c in df.columns], rows, None, source).regimens


def _import_file(path: Path) -> DosingImport:
    header, rows, lines = _read_table(path)
    return _import_rows(header, rows, lines, str(path))


def _import_rows(
    columns: list[str], rows: list[list[Any]], lines: list[int] | None, source: str
) -> DosingImport:
    t = _Rows(columns, source, lines)
    if not t.has("ID"):
        raise InterchangeError(f"{source}: column ID is missing (columns: {', '.join(columns)})")
    for col in ("TIME", "AMT"):
        if not t.has(col):
            raise InterchangeError(f"{source}: column {col} is missing (dose records need it)")
    if not (t.has("CMT") or t.has("ROUTE")):
        raise InterchangeError(
            f"{source}: column CMT is missing (or give ketsim ROUTE codes): the dose "
            "compartment names the route"
        )
    out = DosingImport(source, {}, rows=len(rows))
    doses: list[_Dose] = []
    resets: list[tuple[int, float, int]] = []  # (id, time, row) of EVID 3/4 records
    for i, row in enumerate(rows):
        if t.has("C") and str(t.raw(row, "C") or "").strip().upper() == "C":
            out.other_records += 1  # NONMEM IGNORE=C comment record
            continue
        if t.has("EVID"):
            evid = t.integer(row, i, "EVID") or 0
            if evid not in (0, 1, 2, 3, 4):
                raise InterchangeError(f"{t.where(i, 'EVID')}: EVID {evid} is not 0-4")
            is_dose = evid in (1, 4)
        else:
            evid = None
            amt = t.num(row, i, "AMT")
            is_dose = amt is not None and amt != 0
        id_ = t.integer(row, i, "ID")
        if id_ is None:
            if is_dose or evid in (3, 4):
                raise InterchangeError(f"{t.where(i, 'ID')}: ID is missing")
            out.other_records += 1
            continue
        out.regimens.setdefault(id_, [])
        if evid in (3, 4):
            time = t.num(row, i, "TIME")
            if time is None:
                raise InterchangeError(f"{t.where(i, 'TIME')}: TIME is missing")
            resets.append((id_, time, i))
        if not is_dose:
            out.other_records += 1
            continue
        d = _dose(t, row, i, id_)
        if d is None:
            out.zero_dose_records += 1
            continue
        out.dose_records += 1
        doses.append(d)
    for id_, time, i in resets:
        # a reset empties every compartment: harmless before the first dose, not representable
        # after one (ketsim regimens add up on one continuing state)
        if any(d.id == id_ and (d.start < time or (d.start == time and d.row < i)) for d in doses):
            raise InterchangeError(
                f"{t.where(i, 'EVID')}: EVID {_evid_of(t, rows[i], i)} resets the system after "
                f"earlier doses of ID {id_}; ketsim cannot represent a reset"
            )
    by_id: dict[int, list[_Dose]] = {}
    for d in doses:
        by_id.setdefault(d.id, []).append(d)
    for id_, ds in by_id.items():
        ds.sort(key=lambda d: (d.start, d.route))
        _snap_infusions(ds)
        out.regimens[id_] = [_regimen(d) for d in _compact(ds)]
    out.regimens = dict(sorted(out.regimens.items()))
    return out


def _evid_of(t: _Rows, row: Sequence[Any], i: int) -> int:
    return t.integer(row, i, "EVID") or 0


def _dose(t: _Rows, row: Sequence[Any], i: int, id_: int) -> _Dose | None:
    """The dose of a dose record, None for a zero dose; raises on anything unrepresentable."""
    for col in _DATE_COLUMNS:
        if t.has(col) and not _is_missing(t.raw(row, col)):
            raise InterchangeError(
                f"{t.where(i, col)}: clock dates are not supported: give TIME as elapsed hours "
                "and drop the date column"
            )
    time = t.num(row, i, "TIME")
    if time is None:
        raise InterchangeError(f"{t.where(i, 'TIME')}: TIME is missing on a dose record")
    if time < 0:
        raise InterchangeError(
            f"{t.where(i, 'TIME')}: TIME {time:g} h is negative; ketsim regimens start at >= 0 h"
        )
    amt = t.num(row, i, "AMT")
    if amt is None:
        raise InterchangeError(f"{t.where(i, 'AMT')}: AMT is missing on a dose record")
    if amt < 0:
        raise InterchangeError(f"{t.where(i, 'AMT')}: AMT {amt:g} mg is negative")
    rate = (t.num(row, i, "RATE") if t.has("RATE") else None) or 0.0
    if rate in (-1.0, -2.0):
        what = "rate" if rate == -1 else "duration"
        raise InterchangeError(
            f"{t.where(i, 'RATE')}: RATE={rate:g} (infusion {what} modelled in $PK) cannot be "
            "represented: give the infusion RATE in mg/h"
        )
    if rate < 0:
        raise InterchangeError(f"{t.where(i, 'RATE')}: RATE {rate:g} mg/h is negative")
    if t.has("SS"):
        ss = t.num(row, i, "SS")
        if ss:
            raise InterchangeError(
                f"{t.where(i, 'SS')}: steady-state dosing (SS={ss:g}) cannot be represented: "
                "give the doses that lead up to steady state"
            )
    route = _route(t, row, i, rate)
    addl = t.integer(row, i, "ADDL") if t.has("ADDL") else None
    ii = t.num(row, i, "II") if t.has("II") else None
    addl = addl or 0
    if addl < 0:
        raise InterchangeError(f"{t.where(i, 'ADDL')}: ADDL {addl} is negative")
    if addl > 0 and not (ii and ii > 0):
        raise InterchangeError(f"{t.where(i, 'II')}: ADDL {addl} needs an interval II > 0")
    if amt == 0:
        return None
    duration = amt / rate if rate > 0 else 0.0
    return _Dose(
        id_,
        route,
        time,
        amt,
        rate,
        duration,
        addl + 1,
        ii if addl > 0 else None,
        i,
        t.where(i),
    )


def _route(t: _Rows, row: Sequence[Any], i: int, rate: float) -> str:
    """The ketsim route of a dose record (CMT and RATE; or the ROUTE code), checked."""
    route = None
    if t.has("CMT"):
        cmt = t.integer(row, i, "CMT")
        if cmt is None:
            raise InterchangeError(f"{t.where(i, 'CMT')}: CMT is missing on a dose record")
        if cmt not in _DOSE_CMT_ROUTES:
            known = ", ".join(f"{k} {v[0]}" for k, v in _DOSE_CMT_ROUTES.items())
            raise InterchangeError(
                f"{t.where(i, 'CMT')}: CMT {cmt} is not a dose compartment of ketsim's mapping "
                f"({known}; SC and IV also take infusions)"
            )
        bolus, infusion = _DOSE_CMT_ROUTES[cmt]
        if rate > 0 and infusion is None:
            raise InterchangeError(
                f"{t.where(i, 'RATE')}: an infusion (RATE {rate:g} mg/h) into CMT {cmt} "
                f"({bolus}) has no ketsim route: ketsim infuses IV (CMT 1) and SC (CMT 5) only"
            )
        route = infusion if rate > 0 else bolus
    code = t.integer(row, i, "ROUTE") if t.has("ROUTE") else None
    if code is not None and code != 0:
        if code not in ROUTE_CODES:
            raise InterchangeError(f"{t.where(i, 'ROUTE')}: ROUTE {code} is not a ketsim code")
        named = ROUTE_CODES[code]
        if route is not None and named != route:
            raise InterchangeError(
                f"{t.where(i, 'ROUTE')}: ROUTE {code} ({named}) disagrees with CMT and RATE "
                f"({route})"
            )
        if route is None:
            if (named in INFUSION_ROUTES) != (rate > 0):
                need = "RATE > 0" if named in INFUSION_ROUTES else "RATE 0"
                raise InterchangeError(f"{t.where(i, 'RATE')}: ROUTE {code} ({named}) needs {need}")
            route = named
    if route is None:
        raise InterchangeError(f"{t.where(i, 'CMT')}: no CMT (or ROUTE) on a dose record")
    return route


def _snap_infusions(ds: list[_Dose]) -> None:
    """Let contiguous infusions on a route meet exactly.

    ``AMT = RATE x duration`` and back ``AMT / RATE`` can be one unit in the last place off the
    duration, which would leave a 1e-14-h gap or overlap before the next rate: harmless, but it
    adds a spurious event to the plan.
    """
    for route in dict.fromkeys(d.route for d in ds if d.rate > 0):
        inf = [d for d in ds if d.route == route and d.rate > 0 and d.repeats == 1]
        for a, b in itertools.pairwise(inf):
            end = a.start + a.duration
            if end != b.start and abs(end - b.start) <= 1e-9 * max(1.0, abs(b.start)):
                a.duration = b.start - a.start


def _compact(ds: list[_Dose]) -> list[_Dose]:
    """Merge runs of equal single doses on a route at a constant interval into ``repeats``.

    Only when ``start + k * interval`` (the arithmetic of :meth:`RegimenSpec.start_times`)
    reproduces every start time exactly, so the merged regimen is the same schedule bit for bit.
    """
    out: list[_Dose] = []
    for route in dict.fromkeys(d.route for d in ds):
        run: list[_Dose] = []
        iv: float | None = None
        for d in [x for x in ds if x.route == route]:
            if d.repeats > 1:
                out.append(d)
                continue
            if run and _same_dose(run[0], d) and len(run) < 10000:
                if iv is None:
                    iv = _interval(run[0], d)
                    if iv is not None:
                        run.append(d)
                        continue
                elif run[0].start + len(run) * iv == d.start:
                    run.append(d)
                    continue
            if run:
                out.append(_merged(run, iv))
            run, iv = [d], None
        if run:
            out.append(_merged(run, iv))
    out.sort(key=lambda d: (d.start, d.route))
    return out


def _same_dose(a: _Dose, d: _Dose) -> bool:
    return (d.amount, d.rate, d.duration) == (a.amount, a.rate, a.duration)


def _interval(a: _Dose, d: _Dose) -> float | None:
    """The interval from ``a`` to ``d`` that ``a.start + interval`` reproduces exactly.

    The difference of two start times is often a unit in the last place off the interval the
    schedule was written with (38.4 - 30 = 8.399999999999999): the value rounded to 12 digits
    is tried too, so such a schedule still merges (and reads as 8.4 h).
    """
    diff = d.start - a.start
    for iv in (float(f"{diff:.12g}"), diff):
        if iv > 0 and iv >= a.duration and a.start + iv == d.start:
            return iv
    return None


def _merged(run: list[_Dose], iv: float | None) -> _Dose:
    if len(run) == 1:
        return run[0]
    a = run[0]
    return _Dose(a.id, a.route, a.start, a.amount, a.rate, a.duration, len(run), iv, a.row, a.where)


#: the dataset column behind each regimen field, for messages
_FIELD_COLUMN = {
    "amount": "AMT",
    "rate": "RATE",
    "start": "TIME",
    "duration": "RATE",
    "repeats": "ADDL",
    "interval": "II",
}


def _regimen(d: _Dose) -> RegimenSpec:
    kw: dict[str, Any] = {"route": d.route, "start": float(d.start)}
    if d.rate > 0:
        kw.update(rate=Rate(float(d.rate)), duration=float(d.duration))
    else:
        kw["amount"] = Amount(float(d.amount))
    if d.repeats > 1:
        kw.update(repeats=d.repeats, interval=float(d.interval))
    try:
        return RegimenSpec(**kw)
    except ValidationError as err:
        e = err.errors()[0]
        msg = e["msg"].removeprefix("Value error, ")
        field_ = next((str(x) for x in e["loc"] if isinstance(x, str)), "")
        if not field_:  # a check across fields: name the one its message is about
            field_ = next((f for f in ("interval", "repeats", "duration") if f in msg), "")
        col = _FIELD_COLUMN.get(field_, "AMT")
        raise InterchangeError(
            f"{d.where}, column {col}: not a valid ketsim regimen: {msg}"
        ) from None


def _q(value: float, unit: str) -> str:
    # repr: the shortest text that reads back as the same float (ketsim's unit parser accepts it)
    return f"{float(value)!r} {unit}"


def regimen_dicts(regimens: Sequence[RegimenSpec]) -> list[dict[str, Any]]:
    """Regimens as a scenario's ``regimens:`` entries, with units (``"20.0 mg/h"``, ``"100.0 h"``).

    Numbers are written at full precision, so the entries parse back to the same regimens.
    Only mg, mg/h and h regimens (as :func:`read_dosing` makes them) are supported.
    """
    out = []
    for r in regimens:
        d: dict[str, Any] = {"route": r.route}
        if r.rate is not None:
            if r.rate.per_kg:
                raise ValueError("per-kg rates are not written by regimen_dicts")
            d["rate"] = _q(r.rate.value, "mg/h")
        if r.amount is not None:
            if r.amount.per_kg:
                raise ValueError("per-kg amounts are not written by regimen_dicts")
            d["amount"] = _q(r.amount.value, "mg")
        d["start"] = _q(r.start, "h")
        if r.duration is not None:
            d["duration"] = _q(r.duration, "h")
        if r.repeats > 1:
            d["repeats"] = r.repeats
            d["interval"] = _q(r.interval, "h")
        out.append(d)
    return out


def total_mg(regimens: Sequence[RegimenSpec]) -> float:
    """Total mg of mg-denominated regimens (every administration)."""
    tot = 0.0
    for r in regimens:
        per = (
            float(r.rate_mg_per_h(0.0)) * r.duration
            if r.route in INFUSION_ROUTES
            else float(r.amount.mg(0.0))
        )
        tot += per * r.repeats
    return tot


# -- exposures ------------------------------------------------------------------------------------
def exposures(
    result: TrialResult,
    regimens: Mapping[int, Sequence[RegimenSpec]],
    times: np.ndarray | Mapping[int, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Plasma concentrations of a simulated trial's patients under the given regimens.

    Each patient keeps the covariates, genotypes, co-medication and PK etas it had in the trial
    (``result.population``), the scenario's parameter set, switches and drug; only the dosing
    comes from ``regimens``. Use it to check an export -> import round trip, or to replay a
    dosing history recorded elsewhere for ketsim's virtual patients.

    Parameters
    ----------
    result : a trial simulated with ``record_doses=True``.
    regimens : ``ID`` (as in :func:`to_nonmem`: 1 + row of ``result.patients``) -> regimens
        (mg, mg/h; e.g. from :func:`read_dosing`). A patient not listed gets no drug.
    times : output times (h): one array for everyone, a mapping ID -> array, or None for the
        patient's model times (``result.concentrations``).

    Returns
    -------
    pandas.DataFrame
        ``ID, REP, PAT, TIME, s_ketamine_ng_ml, s_norketamine_ng_ml`` (and ``r_*`` for the
        racemate); concentrations right-continuous (a bolus at ``TIME`` is included).
    """
    from ketsim.sim.compile import compile_dosing
    from ketsim.sim.pk_study import pk_switches, simulate_concentrations

    _need_recording(result)
    sc = result.scenario
    pats = result.patients
    pop = result.population
    cov_all = pop.pk_covariates(sc.switches.cyp3a_cyp2c9_effect)
    racemic = sc.drug == "racemic"
    sw = pk_switches(sc)
    by_patient = None
    if times is None:
        c = result.concentrations
        by_patient = {
            k: g["time_h"].to_numpy() for k, g in c.groupby(["replicate", "patient"], sort=False)
        }
    frames = []
    for i, (rep, pat) in enumerate(zip(pats["replicate"], pats["patient"], strict=True)):
        id_ = i + 1
        if times is None:
            t = by_patient[(rep, pat)]
        elif isinstance(times, Mapping):
            t = times.get(id_)
            if t is None:
                continue
        else:
            t = times
        t = np.asarray(t, dtype=float)
        regs = list(regimens.get(id_, []))
        cols: dict[str, np.ndarray] = {}
        if regs:
            conc = simulate_concentrations(
                cov_all.take([i]),
                pop.eta_pk[i : i + 1],
                compile_dosing(regs),
                t,
                parameter_set=sc.parameter_set,
                switches=sw,
                racemic=racemic,
            )
            for e in conc:
                cols[f"{e.lower()}_ketamine_ng_ml"] = conc[e][0, :, 0]
                cols[f"{e.lower()}_norketamine_ng_ml"] = conc[e][0, :, 1]
        else:
            for e in ("S", "R") if racemic else ("S",):
                cols[f"{e.lower()}_ketamine_ng_ml"] = np.zeros(t.size)
                cols[f"{e.lower()}_norketamine_ng_ml"] = np.zeros(t.size)
        frames.append(pd.DataFrame({"ID": id_, "REP": rep, "PAT": pat, "TIME": t, **cols}))
    if not frames:
        return pd.DataFrame(columns=["ID", "REP", "PAT", "TIME"])
    return pd.concat(frames, ignore_index=True)


# -- command line ---------------------------------------------------------------------------------
def _err(cmd: str, msg: str, code: int) -> int:
    print(f"ketsim {cmd}: {msg}", file=sys.stderr)
    return code


def add_interchange_parsers(subparsers: Any) -> None:
    """Add ``ketsim export`` and ``ketsim import-doses`` to an argparse sub-parser set."""
    ex = subparsers.add_parser(
        "export",
        help="simulate a scenario (or re-simulate a run) and export a NONMEM-style dataset",
        description=(
            "RUN_OR_SIM is a scenario YAML (one replicate is simulated) or a run directory of "
            "'ketsim simulate' or 'ketsim power' (its seed and replicate are re-simulated "
            "exactly). Writes the dataset as CSV and a .json sidecar describing its columns and "
            "codes. Exit 2 on bad input, 1 if the simulation or writing fails."
        ),
    )
    ex.add_argument("source", metavar="RUN_OR_SIM", help="scenario YAML or run directory")
    ex.add_argument(
        "--format", choices=("nonmem",), default="nonmem", help="dataset format (nonmem)"
    )
    ex.add_argument(
        "--out",
        help="CSV file (default runs/<scenario>-nonmem-r<R>.csv; for a run directory "
        "RUN_DIR/nonmem-r<R>.csv)",
    )
    ex.add_argument(
        "--replicate",
        type=int,
        help="replicate (default 0; a 'ketsim simulate' run: its own replicate)",
    )
    ex.add_argument(
        "--seed",
        type=int,
        help="root seed for a scenario file (default: the scenario's, else random)",
    )
    ex.add_argument("--no-nrs", action="store_true", help="leave out the pain diary (DVID 3)")
    ex.add_argument(
        "--after-dropout",
        action="store_true",
        help="keep concentration records after a patient left the study",
    )
    ex.add_argument("--quiet", action="store_true", help="print only the files written")
    ex.set_defaults(func=cmd_export)

    im = subparsers.add_parser(
        "import-doses",
        help="read NONMEM-style dose records into ketsim regimens (YAML)",
        description=(
            "Reads the dose records (EVID 1/4; AMT mg, RATE mg/h, TIME h, CMT) of FILE and "
            "writes them as ketsim regimens: a 'regimens:' mapping ID -> list, or with --id one "
            "'regimens:' list to paste into a scenario. Exit 2 on input ketsim cannot represent "
            "(the message names the row and column), 1 if the output cannot be written."
        ),
    )
    im.add_argument("file", metavar="FILE.csv", help="NONMEM-style dataset (CSV or whitespace)")
    im.add_argument(
        "--out",
        help="YAML file (default FILE's name with -regimens.yaml; '-': standard output)",
    )
    im.add_argument("--id", type=int, help="only this ID, written as a plain 'regimens:' list")
    im.set_defaults(func=cmd_import_doses)


@dataclass
class _Source:
    scenario: Scenario
    seed: int | None
    replicate: int
    out: Path
    meta: dict[str, Any]


def _from_run_dir(path: Path, args: argparse.Namespace) -> _Source | int:
    from ketsim import __version__

    man_path = path / "manifest.json"
    try:
        man = json.loads(man_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _err("export", f"{path}: not a ketsim run directory (no manifest.json)", EXIT_USAGE)
    except (OSError, ValueError) as err:
        return _err("export", f"{man_path}: cannot read: {err}", EXIT_USAGE)
    cmd = man.get("command") or man.get("kind")
    if cmd not in ("simulate", "power"):
        return _err(
            "export",
            f"{man_path}: a '{cmd}' run cannot be exported: use a run directory of 'ketsim "
            "simulate' or 'ketsim power', or the scenario file",
            EXIT_USAGE,
        )
    seed = man.get("seed_entropy")
    if not isinstance(seed, int):
        return _err("export", f"{man_path}: no integer seed_entropy recorded", EXIT_USAGE)
    if args.seed is not None and args.seed != seed:
        return _err(
            "export",
            f"--seed {args.seed}: {path} was run with seed {seed}; drop --seed (or export the "
            "scenario file with that seed)",
            EXIT_USAGE,
        )
    key = man.get("key") or {}
    if key.get("reference") is not None:
        return _err(
            "export", f"{man_path}: an engine-check run (reference model) has no trial", EXIT_USAGE
        )
    try:
        sc = load_scenario(path / "scenario.resolved.yaml")
    except ScenarioError as err:
        for line in err.problems:
            print(f"{err.source}: {line}", file=sys.stderr)
        return EXIT_USAGE
    rep = args.replicate
    if cmd == "simulate":
        rep = int(man.get("replicate", 0)) if rep is None else rep
    else:
        rep = 0 if rep is None else rep
        n_rep = man.get("replicates", key.get("replicates"))
        if isinstance(n_rep, int) and rep >= n_rep:
            return _err(
                "export",
                f"--replicate {rep}: the run has replicates 0-{n_rep - 1}",
                EXIT_USAGE,
            )
        if key.get("null"):
            from ketsim.engine.variants import null_scenario

            sc = null_scenario(sc)
    ran = (man.get("versions") or {}).get("ketsim")
    if ran and ran != __version__:
        print(
            f"ketsim export: warning: {path} was run with ketsim {ran}, this is {__version__}; "
            "the re-simulated trial may differ",
            file=sys.stderr,
        )
    out = Path(args.out) if args.out else path / f"nonmem-r{rep}.csv"
    meta = {"run_directory": str(path), "run_command": cmd, "null": bool(key.get("null"))}
    return _Source(sc, seed, rep, out, meta)


def cmd_export(args: argparse.Namespace) -> int:
    """Handler of ``ketsim export``: 0 written, 1 simulation or write error, 2 bad input."""
    from ketsim.sim.trial import simulate_trial

    if getattr(args, "format", "nonmem") != "nonmem":
        return _err("export", f"--format {args.format}: only nonmem is supported", EXIT_USAGE)
    for name in ("replicate", "seed"):
        v = getattr(args, name, None)
        if v is not None and v < 0:
            return _err("export", f"--{name} must be >= 0", EXIT_USAGE)
    src = Path(args.source)
    if src.is_dir():
        got = _from_run_dir(src, args)
        if isinstance(got, int):
            return got
    else:
        if not src.exists():
            return _err("export", f"{src}: no such file or run directory", EXIT_USAGE)
        from ketsim.apps.common import load_trial_scenario

        sc = load_trial_scenario(src, "export")
        if sc is None:
            return EXIT_USAGE
        rep = args.replicate or 0
        out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-nonmem-r{rep}.csv"
        got = _Source(sc, args.seed, rep, out, {"scenario_file": str(src)})
    try:
        res = simulate_trial(
            got.scenario, seed=got.seed, replicates=[got.replicate], record_doses=True
        )
    except ValueError as err:
        return _err("export", f"{src}: {err}", EXIT_ERROR)
    df = to_nonmem(res, nrs=not args.no_nrs, after_dropout=args.after_dropout)
    try:
        csv_path, side = write_nonmem(df, got.out, meta=got.meta)
    except OSError as err:
        return _err("export", f"cannot write {got.out}: {err.strerror or err}", EXIT_ERROR)
    if not args.quiet:
        n_dose = int((df["EVID"] == 1).sum())
        n_obs = int((df["EVID"] == 0).sum())
        print(
            f"scenario {got.scenario.name}: replicate {got.replicate}, seed {res.entropy}: "
            f"{df['ID'].nunique()} IDs, {n_dose} dose records, {n_obs} observation records"
        )
    print(f"wrote {csv_path} and {side}")
    return EXIT_OK


_SUMMARY_IDS = 20  # IDs listed by ketsim import-doses (the YAML has them all)


def cmd_import_doses(args: argparse.Namespace) -> int:
    """Handler of ``ketsim import-doses``: 0 written, 1 write error, 2 bad input."""
    import yaml

    path = Path(args.file)
    try:
        imp = _import_file(path)
    except InterchangeError as err:
        return _err("import-doses", str(err), EXIT_USAGE)
    regs = imp.regimens
    if args.id is not None:
        if args.id not in regs:
            return _err("import-doses", f"{path}: ID {args.id} is not in the file", EXIT_USAGE)
        if not regs[args.id]:
            return _err("import-doses", f"{path}: ID {args.id} has no doses", EXIT_USAGE)
        data: dict[str, Any] = {"regimens": regimen_dicts(regs[args.id])}
        shown = {args.id: regs[args.id]}
    else:
        data = {"regimens": {k: regimen_dicts(v) for k, v in regs.items() if v}}
        shown = regs
    head = (
        f"# regimens read by ketsim import-doses from {path.name} "
        "(AMT mg, RATE mg/h, TIME h; whole drug)\n"
    )
    text = head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    to_stdout = args.out == "-"
    out = None if to_stdout else Path(args.out or path.with_name(f"{path.stem}-regimens.yaml"))
    lines = [
        f"{path}: {imp.rows} rows, {imp.dose_records} dose records"
        + (f" ({imp.zero_dose_records} with AMT 0 skipped)" if imp.zero_dose_records else "")
        + f", {len(regs)} IDs"
    ]
    for n_shown, (id_, rs) in enumerate(shown.items()):
        if n_shown == _SUMMARY_IDS:
            lines.append(f"  ... {len(shown) - n_shown} more IDs")
            break
        if not rs:
            lines.append(f"  ID {id_}: no doses")
            continue
        routes = ", ".join(dict.fromkeys(r.route for r in rs))
        first = min(r.start for r in rs)
        lines.append(
            f"  ID {id_}: {len(rs)} regimen(s), {routes}, {total_mg(rs):.6g} mg from {first:g} h"
        )
    if to_stdout:
        print("\n".join(lines), file=sys.stderr)
        sys.stdout.write(text)
        return EXIT_OK
    try:
        from ketsim.storage.files import write_text_atomic

        write_text_atomic(out, text)
    except OSError as err:
        return _err("import-doses", f"cannot write {out}: {err.strerror or err}", EXIT_ERROR)
    print("\n".join(lines))
    print(f"wrote {out}")
    return EXIT_OK
