"""The shared base of the scenario schema: the strict frozen model and the unit-carrying field
types.

Quantities with units (``"20 mg/h"``, ``"0.2 mg/kg"``, ``"100 h"``) are read by the
before-validators of :data:`AmountField`, :data:`RateField` and :data:`HoursField` (converted to
ketsim's internal units once) and written back as strings.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, field_validator

from ketsim.core.units import Amount, Rate, parse_amount, parse_duration_h, parse_rate

__all__ = [
    "AmountField",
    "HoursField",
    "RateField",
    "StrictModel",
]


def _finite(x: float, what: str) -> None:
    if not math.isfinite(x):
        raise ValueError(f"{what} must be a finite number (got {x!r})")


def _no_bool(v: Any) -> None:
    if isinstance(v, bool):
        raise ValueError(f"must be a quantity with a unit such as '20 mg/h', not a boolean ({v})")


def _amount(v: Any) -> Amount:
    if isinstance(v, Amount):
        return v
    _no_bool(v)
    a = parse_amount(v)
    _finite(a.value, "amount")
    return a


def _rate(v: Any) -> Rate:
    if isinstance(v, Rate):
        return v
    _no_bool(v)
    r = parse_rate(v)
    _finite(r.value, "rate")
    return r


def _hours(v: Any) -> float:
    _no_bool(v)
    h = float(v) if isinstance(v, float) else parse_duration_h(v)
    _finite(h, "duration")
    return h


def _short(h: float) -> str:
    """Hours as written back: 15 significant digits, or as many as it takes to read back the
    same number ("10 min" is 0.16666666666666666 h, which 15 digits do not round-trip)."""
    text = f"{h:.15g}"
    return text if float(text) == h else repr(h)


def _numeric(annotation: Any) -> bool:
    """Whether a field's type admits int or float (and not bool): booleans must not pass as 1/0."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _numeric(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        return bool not in args and any(_numeric(a) for a in args)
    return annotation in (int, float)


# json_schema_input_type: what a YAML author writes ("20 mg/h", "100 h" or hours as a number),
# for the JSON Schema editors validate against (``ketsim scenario schema``)
AmountField = Annotated[
    Amount,
    BeforeValidator(_amount, json_schema_input_type=str),
    PlainSerializer(str, return_type=str),
]
RateField = Annotated[
    Rate, BeforeValidator(_rate, json_schema_input_type=str), PlainSerializer(str, return_type=str)
]
HoursField = Annotated[
    float,
    BeforeValidator(_hours, json_schema_input_type=str | float),
    PlainSerializer(lambda h: f"{_short(h)} h", return_type=str),
]


class StrictModel(BaseModel):
    """Base of every scenario model: frozen, unknown keys rejected, defaults validated too."""

    # allow_inf_nan=False: .inf / .nan are refused in every float field ("alpha: .nan" used to
    # be reported as "should be less than 1")
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _booleans_are_not_numbers(cls, v: Any, info: Any) -> Any:
        # YAML's true/false would otherwise become 1/0 in int and float fields (``n: true`` ran a
        # 1-patient arm)
        if isinstance(v, bool) and info.field_name is not None:
            field = cls.model_fields.get(info.field_name)
            if field is not None and _numeric(field.annotation):
                raise ValueError(f"must be a number, not a boolean ({v})")
        return v
