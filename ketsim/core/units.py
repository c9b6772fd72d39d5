"""Units at the scenario boundary.

Internally ketsim uses hours, mg, L and ng/mL (= µg/L); weight in kg. Scenario files may state
quantities with units, as a string (``"20 mg/h"``, ``"1.2 ug/kg/min"``, ``"4 h"``) or as a mapping
``{value: 20, unit: mg/h}``. This module converts them once, at validation time, into
:class:`Dose` / :class:`Rate` values (possibly per kg of body weight) and hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AMOUNT_UNITS",
    "DURATION_UNITS",
    "RATE_UNITS",
    "Amount",
    "Rate",
    "infusion_rate_mg_per_h",
    "parse_amount",
    "parse_duration_h",
    "parse_rate",
]

# Each unit maps to (factor to the internal unit, per_kg flag).
AMOUNT_UNITS: dict[str, tuple[float, bool]] = {
    "mg": (1.0, False),
    "g": (1000.0, False),
    "ug": (1e-3, False),
    "µg": (1e-3, False),
    "mcg": (1e-3, False),
    "mg/kg": (1.0, True),
    "ug/kg": (1e-3, True),
    "µg/kg": (1e-3, True),
    "mcg/kg": (1e-3, True),
}
RATE_UNITS: dict[str, tuple[float, bool]] = {
    "mg/h": (1.0, False),
    "mg/min": (60.0, False),
    "mg/day": (1.0 / 24.0, False),
    "mg/d": (1.0 / 24.0, False),
    "mg/24h": (1.0 / 24.0, False),  # "mg/24 h" as palliative-care syringe drivers are written
    "mg/kg/day": (1.0 / 24.0, True),
    "mg/kg/d": (1.0 / 24.0, True),
    "mg/kg/h": (1.0, True),
    "mg/kg/min": (60.0, True),
    "ug/kg/min": (60e-3, True),
    "µg/kg/min": (60e-3, True),
    "mcg/kg/min": (60e-3, True),
    "ug/kg/h": (1e-3, True),
    "µg/kg/h": (1e-3, True),
    "mcg/kg/h": (1e-3, True),
}
DURATION_UNITS: dict[str, float] = {
    "h": 1.0,
    "hr": 1.0,
    "hour": 1.0,
    "hours": 1.0,
    "min": 1.0 / 60.0,
    "minute": 1.0 / 60.0,
    "minutes": 1.0 / 60.0,
    "s": 1.0 / 3600.0,
    "d": 24.0,
    "day": 24.0,
    "days": 24.0,
    "w": 168.0,
    "wk": 168.0,
    "week": 168.0,
    "weeks": 168.0,
}

_NUM_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s].*?)?\s*$")


def _short(x: float) -> str:
    """Six significant digits where they read back exactly, else every digit: "100 mg/24h" is
    4.1666... mg/h, and a dump must load back to the same dose."""
    s = f"{x:g}"
    return s if float(s) == x else repr(float(x))


@dataclass(frozen=True)
class Amount:
    """A dose amount in mg, or in mg per kg of body weight when ``per_kg``."""

    value: float
    per_kg: bool = False

    def mg(self, weight_kg):
        """Amount in mg for a patient (or an array of patients) of the given weight."""
        return self.value * weight_kg if self.per_kg else self.value + 0.0 * weight_kg

    def __str__(self) -> str:
        return f"{_short(self.value)} {'mg/kg' if self.per_kg else 'mg'}"


@dataclass(frozen=True)
class Rate:
    """An infusion rate in mg/h, or in mg/kg/h when ``per_kg``."""

    value: float
    per_kg: bool = False

    def mg_per_h(self, weight_kg):
        """Rate in mg/h for a patient (or an array of patients) of the given weight."""
        return self.value * weight_kg if self.per_kg else self.value + 0.0 * weight_kg

    def __str__(self) -> str:
        return f"{_short(self.value)} {'mg/kg/h' if self.per_kg else 'mg/h'}"


def infusion_rate_mg_per_h(rate: Rate | None, amount: Amount | None, duration_h: float, weight_kg):
    """Rate (mg/h) of an infusion given as a rate, or as an amount infused over ``duration_h``.

    The one definition that the scenario's regimens and the compiled dosing both use.
    """
    if rate is not None:
        return rate.mg_per_h(weight_kg)
    return amount.mg(weight_kg) / duration_h


def _split(text: object, default_unit: str | None) -> tuple[float, str]:
    if isinstance(text, bool):
        raise ValueError("expected a number with a unit, got a boolean")
    if isinstance(text, int | float):
        if default_unit is None:
            raise ValueError("a unit is required, e.g. '20 mg/h'")
        return float(text), default_unit
    if isinstance(text, dict):
        if set(text) != {"value", "unit"}:
            raise ValueError("a quantity mapping needs exactly the keys 'value' and 'unit'")
        value, unit = text["value"], text["unit"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("'value' must be a number")
        return float(value), str(unit).strip()
    if not isinstance(text, str):
        raise ValueError(f"expected a quantity such as '20 mg/h', got {type(text).__name__}")
    m = _NUM_UNIT.match(text)
    if not m:
        raise ValueError(f"cannot read {text!r} as a number with a unit")
    unit = m.group(2) or default_unit
    if unit is None:
        raise ValueError(f"{text!r} has no unit")
    return float(m.group(1)), unit.replace(" ", "")


def _lookup(unit: str, table: dict, what: str):
    key = unit.replace("μ", "µ")  # Greek mu and micro sign are both accepted
    if key in table:
        return table[key]
    low = key.lower()
    for k, v in table.items():
        if k.lower() == low:
            return v
    allowed = ", ".join(dict.fromkeys(table))
    raise ValueError(f"unknown {what} unit {unit!r}; allowed: {allowed}")


def parse_amount(text: object) -> Amount:
    """Read a dose amount (``"0.2 mg/kg"``, ``"25 mg"``, ``{value: 25, unit: mg}``)."""
    value, unit = _split(text, None)
    factor, per_kg = _lookup(unit, AMOUNT_UNITS, "amount")
    return Amount(value * factor, per_kg)


def parse_rate(text: object) -> Rate:
    """Read an infusion rate (``"20 mg/h"``, ``"0.35 mg/kg/h"``, ``"1.2 µg/kg/min"``)."""
    value, unit = _split(text, None)
    factor, per_kg = _lookup(unit, RATE_UNITS, "rate")
    return Rate(value * factor, per_kg)


def parse_duration_h(text: object) -> float:
    """Read a time span or time point in hours; a bare number is taken as hours."""
    value, unit = _split(text, "h")
    return value * _lookup(unit, DURATION_UNITS, "time")
