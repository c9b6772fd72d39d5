"""The shared base of the scenario schema: the strict frozen model and the unit-carrying field
types.

Quantities with units (``"20 mg/h"``, ``"0.2 mg/kg"``, ``"100 h"``) are read by the
before-validators of :data:`AmountField`, :data:`RateField` and :data:`HoursField` (converted to
ketsim's internal units once) and written back as strings.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from ketsim.core.units import Amount, Rate, parse_amount, parse_duration_h, parse_rate

__all__ = [
    "AmountField",
    "HoursField",
    "RateField",
    "StrictModel",
]


def _amount(v: Any) -> Amount:
    return v if isinstance(v, Amount) else parse_amount(v)


def _rate(v: Any) -> Rate:
    return v if isinstance(v, Rate) else parse_rate(v)


def _hours(v: Any) -> float:
    return float(v) if isinstance(v, float) else parse_duration_h(v)


AmountField = Annotated[Amount, BeforeValidator(_amount), PlainSerializer(str, return_type=str)]
RateField = Annotated[Rate, BeforeValidator(_rate), PlainSerializer(str, return_type=str)]
HoursField = Annotated[
    float, BeforeValidator(_hours), PlainSerializer(lambda h: f"{h:.15g} h", return_type=str)
]


class StrictModel(BaseModel):
    """Base of every scenario model: frozen, unknown keys rejected, defaults validated too."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)
