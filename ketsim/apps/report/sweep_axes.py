"""Human names and units for the axes of a sweep: ``arms[0].regimens[0].rate`` becomes
"infusion rate, ketamine arm (mg/kg/h)" with ticks 0.1, 0.2, 0.3.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ketsim.config.sweep import SweepPathError, axis_value, format_value, parse_path

#: words for the last key of a swept path (anything else: the key with spaces)
_FIELD_WORDS = {
    "n": "patients",
    "ratio": "allocation ratio",
    "dose": "dose",
    "rate": "rate",
    "duration": "duration",
    "interval": "dosing interval",
    "times": "doses",
    "weeks": "trial length",
    "baseline_days": "baseline days",
    "female_fraction": "share of women",
}
_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*)?$")


@dataclass(frozen=True)
class AxisInfo:
    """How one swept path is shown: its label, its unit and its tick texts by raw value."""

    path: str
    label: str
    unit: str
    ticks: dict[str, str]

    @property
    def title(self) -> str:
        """``label (unit)``, or the label alone for a unitless axis."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


def _split_unit(v: Any) -> tuple[str, str] | None:
    """``"0.2 mg/kg/h"`` -> ``("0.2", "mg/kg/h")``; a bare number -> ``(text, "")``."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return format_value(v), ""
    if isinstance(v, str):
        m = _NUMBER_UNIT.match(v)
        if m:
            return m.group(1), (m.group(2) or "").strip()
    return None


def _where(parts: list, sc) -> tuple[str, str]:
    """(what the path sets, whose it is): e.g. ("infusion rate", "ketamine arm")."""
    arms = list(getattr(sc, "arms", None) or [])
    key = str(parts[-1])
    words = _FIELD_WORDS.get(key, key.replace("_", " "))
    if parts[0] == "arms" and len(parts) > 1:
        idx = parts[1]
        who = (
            "all arms"
            if idx == "*"
            else (
                f"{arms[idx].name} arm"
                if isinstance(idx, int) and idx < len(arms)
                else f"arm {idx}"
            )
        )
        if "regimens" in parts and key in ("rate", "duration", "dose"):
            # the route names the kind of rate: an infusion rate, not a generic "rate"
            i = parts.index("regimens")
            ridx = parts[i + 1] if i + 1 < len(parts) else 0
            arm = arms[idx] if isinstance(idx, int) and idx < len(arms) else (arms or [None])[0]
            regs = list(getattr(arm, "regimens", None) or [])
            reg = regs[ridx] if isinstance(ridx, int) and ridx < len(regs) else None
            route = str(getattr(reg, "route", "") or "")
            if "infusion" in route and key in ("rate", "duration"):
                words = f"infusion {words}"
            elif route:
                words = f"{route.replace('_', ' ')} {words}"
        elif key == "n":
            words = "patients per arm" if idx == "*" else "patients"
        return words, who
    if len(parts) > 1:
        return words, str(parts[0]).replace("_", " ")
    return words, ""


def describe_axis(path: str, sc, values: Sequence[Any]) -> AxisInfo:
    """The label, unit and tick texts of one swept path.

    Parameters
    ----------
    path : str
        The sweep path as written, e.g. ``"arms[*].regimens[0].duration"``.
    sc
        The base scenario (names the arms and routes the path points into).
    values : sequence
        The values the sweep gives the path, as read from YAML.

    Returns
    -------
    AxisInfo
        Values sharing one unit are shown as bare numbers with the unit in the title; mixed units
        are shown as written, with no unit in the title.
    """
    try:
        parts = parse_path(path)
    except SweepPathError:
        parts = [path]
    what, who = _where(parts, sc)
    label = f"{what}, {who}" if who else what
    split = [_split_unit(v) for v in values]
    units = {s[1] for s in split if s is not None}
    if split and all(s is not None for s in split) and len(units) == 1:
        unit = units.pop()
        ticks = {format_value(v): s[0] for v, s in zip(values, split, strict=True)}
        if not unit and parts[-1] == "n":
            unit = "patients" if "patients" not in label else ""
        return AxisInfo(path, label, unit, ticks)
    return AxisInfo(path, label, "", {format_value(v): format_value(v) for v in values})


def sorted_values(values: Sequence[Any]) -> list[Any]:
    """Distinct swept values in increasing order (numbers by value, with units converted)."""
    uniq = list(dict.fromkeys(values))

    def key(v):
        a = axis_value(v)
        return (0, a, "") if isinstance(a, float) else (1, 0.0, str(a))

    return sorted(uniq, key=key)
