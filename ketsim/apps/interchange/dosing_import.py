"""Reading dosing records (NONMEM-style CSV or a spreadsheet) into validated doses:
:func:`read_dosing`, :func:`dosing_from_frame`.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ketsim.config.scenario import (
    INFUSION_ROUTES,
    RegimenSpec,
)

if TYPE_CHECKING:
    pass
from ketsim.apps.interchange.codes import (
    ROUTE_CODES,
    InterchangeError,
)
from ketsim.apps.interchange.regimens import (
    _compact,
    _Dose,
    _regimen,
    _snap_infusions,
)

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
