"""Parameter sweeps declared in a scenario file.

A scenario may carry a top-level ``sweep:`` that varies any of its values::

    sweep:
      grid:                       # cartesian product, last key varies fastest
        arms[0].regimens[0].rate: [10 mg/h, 20 mg/h, 30 mg/h]
        arms[*].regimens[0].duration: [4 h, 24 h, 100 h]
      zip:                        # varied together, crossed with the grid
        arms[*].n: [20, 30, 40]

Paths use the syntax of scenario error messages (dotted keys, ``[i]`` list indices) plus ``[*]``
for every element of a list. A missing mapping key is created, so a default can be overridden
(``pd.slow_gamma``, ``switches.iiv``); list indices must exist. Each cell is the scenario with
its ``sweep`` removed and the cell's values set, validated like any scenario. Every cell keeps the
scenario's ``seed``, so cells are compared with common random numbers.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml

from ketsim.config.scenario import Scenario, ScenarioError, parse_scenario, read_yaml
from ketsim.core.units import parse_amount, parse_duration_h, parse_rate

__all__ = [
    "MAX_CELLS",
    "SweepCell",
    "SweepPathError",
    "axis_value",
    "cell_frame",
    "expand_sweep",
    "format_value",
    "load_sweep",
    "parse_path",
    "set_path",
    "sweep_axes",
]

MAX_CELLS = 10_000
"""Largest number of cells a sweep may have."""

FORBIDDEN = {
    "seed": "cannot be swept: every cell shares the scenario's seed, so cells are compared with "
    "common random numbers (change 'seed' itself to replicate the whole sweep)",
    "name": "cannot be swept: every cell carries the scenario's name and is identified by its "
    "cell index and values",
    "sweep": "cannot be swept: a sweep cannot vary itself",
    "schema_version": "cannot be swept: the schema version is fixed by the file format",
}

PathPart = str | int | Literal["*"]

_KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_SEGMENT = re.compile(rf"^({_KEY})((?:\[(?:\d+|\*)\])*)$")
_INDEX = re.compile(r"\[(\d+|\*)\]")
_PATH_HELP = (
    "use dotted keys with optional [index] or [*], e.g. arms[0].regimens[0].rate, arms[*].n, "
    "pd.slow_gamma"
)


class SweepPathError(ValueError):
    """A sweep path that is malformed or does not fit the scenario (message without the path)."""


@dataclass(frozen=True)
class SweepCell:
    """One cell of a sweep: the values it sets and the resulting validated scenario.

    Attributes
    ----------
    index : int
        Position of the cell, counting from 0 (grid order, then zip rows).
    values : dict[str, Any]
        Path -> value as written in the YAML, in sweep key order (grid keys, then zip keys).
        Empty for a scenario without a sweep.
    scenario : Scenario
        The validated scenario of the cell (without a ``sweep``).
    """

    index: int
    values: dict[str, Any]
    scenario: Scenario

    @property
    def label(self) -> str:
        """``path=value`` pairs, e.g. ``"arms[0].regimens[0].rate=10 mg/h, arms[*].n=20"``."""
        return _label(self.values)


def _label(values: dict[str, Any]) -> str:
    return ", ".join(f"{p}={format_value(v)}" for p, v in values.items())


# -- paths -----------------------------------------------------------------------------------------
def parse_path(path: str) -> list[PathPart]:
    """Split a sweep path into mapping keys, list indices and ``"*"`` wildcards.

    Parameters
    ----------
    path : str
        E.g. ``"arms[0].regimens[0].rate"`` or ``"arms[*].n"``.

    Returns
    -------
    list of str, int or "*"
        ``["arms", 0, "regimens", 0, "rate"]``; ``["arms", "*", "n"]``.

    Raises
    ------
    SweepPathError
        ``bad path ...`` naming the part that cannot be read.
    """
    if not isinstance(path, str) or not path:
        raise SweepPathError(f"bad path {path!r}: {_PATH_HELP}")
    parts: list[PathPart] = []
    for segment in path.split("."):
        m = _SEGMENT.match(segment)
        if not m:
            raise SweepPathError(f"bad path: cannot read {segment!r}; {_PATH_HELP}")
        parts.append(m.group(1))
        for idx in _INDEX.findall(m.group(2)):
            parts.append("*" if idx == "*" else int(idx))
    return parts


def _fmt_parts(parts: Sequence[PathPart]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int) or part == "*":
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def set_path(data: dict, path: str | Sequence[PathPart], value: Any) -> None:
    """Set ``value`` at ``path`` in a scenario mapping, in place.

    A missing (or null) mapping key on the way is created as an empty mapping, so defaults can be
    overridden; ``[*]`` sets every element of a list; list indices must exist. Each location gets
    its own deep copy of ``value``. Nodes that ``data`` shares (YAML aliases) are changed for every
    holder: copy ``data`` first with fresh containers if that is not wanted (as
    :func:`expand_sweep` does).

    Parameters
    ----------
    data : dict
        A scenario mapping as read from YAML.
    path : str or sequence
        A path string or the output of :func:`parse_path`.
    value : Any
        The value to set (as it would be written in YAML).

    Raises
    ------
    SweepPathError
        If the path is malformed or does not fit ``data`` (e.g. ``no arms[5] in this scenario
        (2 arms)``).
    """
    parts = parse_path(path) if isinstance(path, str) else list(path)
    if not parts or not isinstance(parts[0], str) or parts[0] == "*":
        raise SweepPathError(f"bad path: it must start with a key; {_PATH_HELP}")
    if not isinstance(data, dict):
        raise SweepPathError("the scenario is not a mapping")
    _set(data, parts, 0, value)


def _set(node: Any, parts: list[PathPart], i: int, value: Any) -> None:
    part, last = parts[i], i == len(parts) - 1
    here = _fmt_parts(parts[: i + 1])
    above = _fmt_parts(parts[:i])
    if isinstance(part, str) and part != "*":
        if not isinstance(node, dict):
            raise SweepPathError(
                f"{above} is a {_kind(node)}, not a mapping: cannot set key {part!r}"
                + (f"; give an index, e.g. {above}[0] or {above}[*]" if _is_list(node) else "")
            )
        if last:
            node[part] = _tree_copy(value)
            return
        if node.get(part) is None:
            if not isinstance(parts[i + 1], str) or parts[i + 1] == "*":
                raise SweepPathError(
                    f"no {_fmt_parts(parts[: i + 2])} in this scenario (no {here})"
                )
            node[part] = {}  # a missing mapping: created, so defaults can be overridden
        _set(node[part], parts, i + 1, value)
        return
    # a list index or wildcard
    name = next((p for p in reversed(parts[:i]) if isinstance(p, str) and p != "*"), above)
    if not _is_list(node):
        raise SweepPathError(f"{above} is a {_kind(node)}, not a list: cannot index it with {here}")
    if part == "*":
        if not node:
            raise SweepPathError(f"{here} matches nothing: {above} is empty")
        targets = range(len(node))
    else:
        if part >= len(node):
            raise SweepPathError(f"no {here} in this scenario ({len(node)} {name})")
        targets = [part]
    for k in targets:
        if last:
            node[k] = _tree_copy(value)
        else:
            _set(node[k], parts, i + 1, value)


def _tree_copy(x: Any) -> Any:
    """A deep copy of YAML data that also un-shares aliased nodes (``&anchor`` / ``*alias``).

    :func:`copy.deepcopy` keeps two references to one mapping as two references to one copy, so
    setting ``arms[0].regimens[0].rate`` would also change an arm whose regimen is an alias.
    """
    if isinstance(x, dict):
        return {k: _tree_copy(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_tree_copy(v) for v in x]
    return copy.deepcopy(x)


def _is_list(x: Any) -> bool:
    return isinstance(x, list)


def _kind(x: Any) -> str:
    if isinstance(x, dict):
        return "mapping"
    if isinstance(x, list):
        return "list"
    return (
        f"{type(x).__name__} ({x!r})"
        if isinstance(x, str)
        else f"{type(x).__name__} ({format_value(x)})"
    )


def _overlap(a: list[PathPart], b: list[PathPart]) -> bool:
    """Whether two paths can set the same location (one is a prefix of the other, ``*`` = any)."""
    for x, y in zip(a, b, strict=False):
        if x == y or (x == "*" and isinstance(y, int)) or (y == "*" and isinstance(x, int)):
            continue
        return False
    return True


# -- values ----------------------------------------------------------------------------------------
def format_value(v: Any) -> str:
    """A value as written in YAML: ``10 mg/h``, ``20``, ``true``, ``[1, 4, 12]``."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int | float):
        return repr(v)
    return yaml.safe_dump(v, default_flow_style=True, allow_unicode=True, width=10**9).strip()


def axis_value(v: Any) -> float | str:
    """A swept value as a number for sorting and plotting, else as a string.

    Numbers are returned as floats; quantities with units are converted to ketsim's internal
    units (rates to mg/h or mg/kg/h, amounts to mg or mg/kg, times to hours), so ``"20 mg/h"``
    gives 20.0, ``"100 h"`` 100.0 and ``"2 days"`` 48.0. Anything else (booleans, names, lists)
    is returned as written in YAML.

    Parameters
    ----------
    v : Any
        A value as read from YAML.

    Returns
    -------
    float or str
    """
    if isinstance(v, bool) or v is None:
        return format_value(v)
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str | dict):
        for parse in (parse_rate, parse_amount, parse_duration_h):
            try:
                out = parse(v)
            except (ValueError, TypeError):
                continue
            return float(out if isinstance(out, float) else out.value)
    return format_value(v)


# -- expansion -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Axis:
    section: str  # "grid" or "zip"
    path: str
    parts: list[PathPart]
    values: list[Any]

    @property
    def where(self) -> str:
        return f"sweep.{self.section}.{self.path}"


def _axes(data: dict, source: str) -> tuple[list[_Axis], list[_Axis]]:
    """Check the structure of ``data['sweep']``; return its grid and zip axes."""
    sweep = data.get("sweep")
    if sweep is None:
        return [], []
    if not isinstance(sweep, dict):
        raise ScenarioError(
            [f"sweep: must be a mapping with 'grid' and/or 'zip' (got {_kind(sweep)})"],
            source,
        )
    problems: list[str] = []
    for key in sweep:
        if key not in ("grid", "zip"):
            problems.append(f"sweep.{key}: unknown key; allowed: grid, zip")
    sections: dict[str, list[_Axis]] = {"grid": [], "zip": []}
    for section in ("grid", "zip"):
        block = sweep.get(section)
        if block is None:
            continue
        if not isinstance(block, dict):
            problems.append(
                f"sweep.{section}: must be a mapping of path: [values] (got {type(block).__name__})"
            )
            continue
        for path, values in block.items():
            where = f"sweep.{section}.{path}"
            try:
                parts = parse_path(path)
            except SweepPathError as err:
                problems.append(f"{where}: {err}")
                continue
            if parts[0] in FORBIDDEN:
                problems.append(f"{where}: {FORBIDDEN[parts[0]]}")
                continue
            if not isinstance(values, list):
                problems.append(
                    f"{where}: must be a list of values, e.g. [10 mg/h, 20 mg/h] "
                    f"(got {_kind(values)}; "
                    f"a single value is written [{format_value(values)}])"
                )
                continue
            if not values:
                problems.append(f"{where}: empty list; give at least one value")
                continue
            sections[section].append(_Axis(section, path, parts, values))
    grid, zipped = sections["grid"], sections["zip"]
    if not problems and not grid and not zipped:
        problems.append("sweep: declares no values; give 'grid' and/or 'zip' (path: [values])")
    lengths = {a.path: len(a.values) for a in zipped}
    if len(set(lengths.values())) > 1:
        got = ", ".join(f"{p}: {n}" for p, n in lengths.items())
        problems.append(f"sweep.zip: lists are varied together and need equal lengths (got {got})")
    every = grid + zipped
    for j, b in enumerate(every):
        for a in every[:j]:
            if _overlap(a.parts, b.parts):
                problems.append(
                    f"{b.where}: overlaps {a.where}: both would set the same value; "
                    "give each location once"
                )
                break
    if not problems:
        n_cells = _n_cells(grid, zipped)
        if n_cells > MAX_CELLS:
            sizes = " × ".join(
                [str(len(a.values)) for a in grid]
                + ([f"{len(zipped[0].values)} zip rows"] if zipped else [])
            )
            problems.append(
                f"sweep: {n_cells} cells ({sizes}); at most {MAX_CELLS} are allowed: "
                "use fewer values or move axes from 'grid' to 'zip'"
            )
    if problems:
        raise ScenarioError(problems, source)
    return grid, zipped


def _n_cells(grid: list[_Axis], zipped: list[_Axis]) -> int:
    n = 1
    for a in grid:
        n *= len(a.values)
    return n * (len(zipped[0].values) if zipped else 1)


def expand_sweep(data: dict, source: str = "<scenario>") -> list[SweepCell]:
    """Expand the ``sweep`` of a scenario mapping into validated cells.

    Parameters
    ----------
    data : dict
        A scenario mapping as read from YAML (not modified).
    source : str
        Where the mapping came from, for error messages.

    Returns
    -------
    list of SweepCell
        The product of the ``grid`` values (last key varies fastest), crossed with the ``zip``
        rows (varying fastest). Without a ``sweep``: one cell with empty values and the scenario
        itself.

    Raises
    ------
    ScenarioError
        If the sweep is malformed (``sweep.grid.<path>: ...``, ``sweep.zip: ...``) or cells fail
        validation (``sweep cell 4 (<values>): <path>: <message>``; a problem found in several
        cells is reported once, for the first of them).
    """
    if not isinstance(data, dict):
        parse_scenario(data, source)  # raises the usual top-level problem
    grid, zipped = _axes(data, source)
    base = {k: v for k, v in data.items() if k != "sweep"}
    if not grid and not zipped:
        return [SweepCell(0, {}, parse_scenario(_tree_copy(base), source))]

    rows = (
        [tuple(a.values[r] for a in zipped) for r in range(len(zipped[0].values))]
        if zipped
        else [()]
    )
    axes = grid + zipped
    path_problems: list[str] = []
    failed: dict[str, list[int]] = {}  # problem -> cells in which it occurs
    labels: dict[int, str] = {}
    cells: list[SweepCell] = []
    combos = itertools.product(*(a.values for a in grid), rows)
    for index, combo in enumerate(combos):
        values = (*combo[:-1], *combo[-1])
        cell_data = _tree_copy(base)
        ok = True
        for axis, value in zip(axes, values, strict=True):
            try:
                set_path(cell_data, axis.parts, value)
            except SweepPathError as err:
                line = f"{axis.where}: {err}"
                if line not in path_problems:
                    path_problems.append(line)
                ok = False
        if not ok or path_problems:
            continue
        cell_values = {a.path: v for a, v in zip(axes, values, strict=True)}
        try:
            scenario = parse_scenario(cell_data, source)
        except ScenarioError as err:
            for problem in err.problems:
                failed.setdefault(problem, []).append(index)
            labels[index] = _label(cell_values)
            continue
        cells.append(SweepCell(index, cell_values, scenario))
    if path_problems:
        raise ScenarioError(path_problems, source)
    if failed:
        lines = []
        for problem, where in failed.items():
            n = len(where) - 1
            more = f" (and {n} more cell{'s' if n > 1 else ''})" if n else ""
            lines.append(f"sweep cell {where[0]} ({labels[where[0]]}){more}: {problem}")
        raise ScenarioError(lines, source)
    return cells


def load_sweep(path: str | Path) -> tuple[Scenario, list[SweepCell]]:
    """Read a scenario file and expand its sweep.

    Parameters
    ----------
    path : str or Path
        A scenario YAML file, with or without a ``sweep``.

    Returns
    -------
    base : Scenario
        The scenario as written (its ``sweep`` recorded, not applied).
    cells : list of SweepCell
        See :func:`expand_sweep`.

    Raises
    ------
    ScenarioError
        On I/O or YAML errors (as :func:`ketsim.config.scenario.load_scenario`), a malformed
        sweep, an
        invalid base scenario or invalid cells.
    """
    source = str(Path(path))
    data = read_yaml(path)
    if isinstance(data, dict):
        _axes(data, source)  # sweep problems first, in the sweep's own words
    base = parse_scenario(data, source)
    return base, expand_sweep(data, source)


# -- tables ----------------------------------------------------------------------------------------
def sweep_axes(cells: Sequence[SweepCell]) -> list[str]:
    """The swept paths, in sweep key order (grid keys, then zip keys); empty without a sweep."""
    return list(cells[0].values) if cells else []


def cell_frame(cells: Sequence[SweepCell]) -> pd.DataFrame:
    """One row per cell: column ``cell`` (the index) and one column per swept path.

    A path whose values are all numbers gives a numeric column; otherwise the values are written
    as in YAML (strings). Use :func:`axis_value` to sort or plot quantities with units.
    """
    frame = pd.DataFrame({"cell": [c.index for c in cells]})
    for path in sweep_axes(cells):
        vals = [c.values[path] for c in cells]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)
        frame[path] = vals if numeric else [format_value(v) for v in vals]
    return frame
