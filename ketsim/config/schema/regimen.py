"""Dosing in the scenario schema: routes, one dosing instruction (:class:`RegimenSpec`), the
titration rule of an infusion and the regimens of trial arms (which also accept a one-line
shorthand, :mod:`ketsim.config.shorthand`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from ketsim.config.schema.base import AmountField, HoursField, RateField, StrictModel
from ketsim.config.shorthand import ShorthandError, parse_regimen_shorthand
from ketsim.core.units import Amount, Rate, infusion_rate_mg_per_h

__all__ = [
    "BOLUS_ROUTES",
    "INFUSION_ROUTES",
    "ArmRegimen",
    "RegimenSpec",
    "Route",
    "TitratedRegimenSpec",
    "TitrationSpec",
    "expand_shorthand",
]


Route = Literal[
    "iv_infusion",
    "iv_bolus",
    "oral",
    "sublingual",
    "intranasal",
    "subcutaneous",
    "subcutaneous_infusion",
    "intramuscular",
]
INFUSION_ROUTES = {"iv_infusion": "iv", "subcutaneous_infusion": "subcutaneous"}
BOLUS_ROUTES = {
    "iv_bolus": "iv",
    "oral": "oral",
    "sublingual": "sublingual",
    "intranasal": "intranasal",
    "subcutaneous": "subcutaneous",
    "intramuscular": "intramuscular",
}


class RegimenSpec(StrictModel):
    """One dosing instruction, possibly repeated.

    Infusions (``iv_infusion``, ``subcutaneous_infusion``) take a ``rate`` and a ``duration``, or an
    ``amount`` given over a ``duration``. Every other route takes an ``amount`` given at once.
    ``repeats`` copies the instruction every ``interval``.
    """

    route: Route = Field(description="route of administration")
    amount: AmountField | None = Field(None, description="dose per administration (mg or mg/kg)")
    rate: RateField | None = Field(
        None, description="infusion rate (mg/h, mg/kg/h, µg/kg/min, ...)"
    )
    start: HoursField = Field(0.0, description="time of the first administration")
    duration: HoursField | None = Field(None, description="infusion duration")
    repeats: int = Field(1, ge=1, le=10000, description="number of administrations")
    interval: HoursField | None = Field(None, description="time between repeated administrations")

    @field_validator("amount", "rate")
    @classmethod
    def _positive_dose(cls, v: Amount | Rate | None) -> Amount | Rate | None:
        if v is not None and not v.value > 0:
            raise ValueError(f"must be > 0 (got '{v}')")
        if v is not None:
            cap = MAX_DOSE[(type(v).__name__, v.per_kg)]
            if v.value > cap:
                unit = str(type(v)(1.0, v.per_kg)).split(" ", 1)[1]
                raise ValueError(
                    f"must be at most {cap:g} {unit} (got '{v}'): about ten times the highest "
                    "anaesthetic dosing of the Ketalar label; a unit slip?"
                )
        return v

    @field_validator("start")
    @classmethod
    def _start(cls, v: float) -> float:
        if not v >= 0:
            raise ValueError(f"must be >= 0 h (got {v:g} h)")
        if v > MAX_TIME_H:
            raise ValueError(f"must be at most {MAX_TIME_H:g} h (5 years; got {v:g} h)")
        return v

    @field_validator("duration", "interval")
    @classmethod
    def _positive_time(cls, v: float | None, info) -> float | None:
        if v is not None and not v > 0:
            raise ValueError(f"must be > 0 h (got {v:g} h)")
        if v is not None and v > MAX_TIME_H:
            raise ValueError(f"must be at most {MAX_TIME_H:g} h (5 years; got {v:g} h)")
        if v is not None and info.field_name == "interval" and v < MIN_INTERVAL_H:
            raise ValueError(
                f"must be at least 1 min (got {v * 60:g} min): separate administrations "
                "closer than that are one infusion"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> RegimenSpec:
        infusion = self.route in INFUSION_ROUTES
        if infusion:
            if self.duration is None:
                raise ValueError(f"route {self.route} needs a 'duration'")
            if (self.rate is None) == (self.amount is None):
                raise ValueError(
                    f"route {self.route} needs exactly one of 'rate' or 'amount' (over 'duration')"
                )
        else:
            if self.amount is None:
                raise ValueError(f"route {self.route} needs an 'amount'")
            if self.rate is not None or self.duration is not None:
                raise ValueError(
                    f"route {self.route} is given at once: use 'amount' without 'rate'/'duration'"
                    " (infusions: iv_infusion, subcutaneous_infusion)"
                )
        if self.repeats > 1:
            if self.interval is None:
                raise ValueError("'repeats' > 1 needs an 'interval'")
            if infusion and self.interval < self.duration:
                raise ValueError(
                    f"'interval' ({self.interval:g} h) is shorter than 'duration' "
                    f"({self.duration:g} h): repeated infusions would overlap"
                )
        return self

    def rate_mg_per_h(self, weight_kg):
        """Infusion rate in mg/h for the given weight(s)."""
        return infusion_rate_mg_per_h(self.rate, self.amount, self.duration, weight_kg)

    def start_times(self) -> list[float]:
        """Start times (h) of every administration."""
        return [self.start + i * (self.interval or 0.0) for i in range(self.repeats)]


#: plausibility caps of one dose: about ten times the highest anaesthetic dosing on the Ketalar
#: label (Par Pharmaceutical 2017: IV induction 1-4.5 mg/kg, IM 6.5-13 mg/kg, maintenance
#: infusion 0.1-0.5 mg/min ~ up to 6 mg/kg/h in practice); keyed by (kind, per kg)
MAX_DOSE = {
    ("Amount", True): 50.0,  # mg/kg per administration
    ("Amount", False): 5000.0,  # mg per administration
    ("Rate", True): 20.0,  # mg/kg/h
    ("Rate", False): 2000.0,  # mg/h
}
#: longest start, duration or interval: 5 years, beyond any trial the disease model describes
MAX_TIME_H = 5 * 365 * 24.0
#: shortest interval between repeated administrations (1 min)
MIN_INTERVAL_H = 1.0 / 60.0


class TitrationSpec(StrictModel):
    """Rule-based titration of an infusion (Sigtermans 2009; MODEL.md §3.5).

    The regimen's ``rate`` is the start rate. At every check (every ``day_interval`` by day,
    ``night_interval`` by night) the rate steps up by ``step`` while relief is below
    ``target_relief`` and effects are tolerable, and down by ``step`` on intolerable effects,
    within [``min_rate``, ``max_rate``].
    """

    step: RateField = Field("1.2 µg/kg/min", description="step size (L: the start rate)")
    max_rate: RateField = Field("7.2 µg/kg/min", description="ceiling (Sigtermans 2009)")
    min_rate: RateField = Field("1.2 µg/kg/min", description="floor when stepping down")
    day_interval: HoursField = Field(2.0, description="check interval by day (Sigtermans 2009)")
    night_interval: HoursField = Field(8.0, description="check interval by night")
    day_start_hour: float = Field(6.0, ge=0, lt=24, description="clock hour day checks begin")
    night_start_hour: float = Field(22.0, ge=0, lt=24, description="clock hour night begins")
    target_relief: float | None = Field(
        None,
        ge=0,
        le=1,
        description="the protocol's target: the rate steps up while relief from baseline is "
        "below it (null: the pd parameter titration_target_relief, 0.9, L)",
    )

    @field_validator("day_interval", "night_interval")
    @classmethod
    def _check_interval(cls, v: float) -> float:
        # a zero or negative interval would schedule checks without end (found by the fuzz test)
        if not MIN_INTERVAL_H <= v <= MAX_TIME_H:
            raise ValueError(f"check interval must be between 1 min and 5 years (got {v:g} h)")
        return v

    @model_validator(mode="after")
    def _rates(self) -> TitrationSpec:
        for name in ("step", "max_rate", "min_rate"):
            if not getattr(self, name).value > 0:
                raise ValueError(f"'{name}' must be > 0")
        if len({self.step.per_kg, self.max_rate.per_kg, self.min_rate.per_kg}) > 1:
            raise ValueError("'step', 'min_rate' and 'max_rate' must all be per kg or all not")
        if self.min_rate.value > self.max_rate.value:
            raise ValueError(
                f"'min_rate' ({self.min_rate}) must not exceed 'max_rate' ({self.max_rate})"
            )
        return self


def expand_shorthand(v: Any) -> Any:
    """Before-validator of arm regimens: a one-line shorthand string read into regimen fields.

    Parameters
    ----------
    v
        The value given for one regimen; anything but a string is returned unchanged.

    Returns
    -------
    Any
        The regimen's fields (:func:`ketsim.config.shorthand.parse_regimen_shorthand`), or ``v``.

    Raises
    ------
    ValueError
        With the shorthand's message when the string cannot be read.
    """
    if isinstance(v, str):
        try:
            return parse_regimen_shorthand(v)
        except ShorthandError as err:
            raise ValueError(str(err)) from None
    return v


class TitratedRegimenSpec(RegimenSpec):
    """A regimen with an optional titration rule (infusion routes only)."""

    titration: TitrationSpec | None = Field(None, description="titrate the infusion rate")

    @model_validator(mode="after")
    def _titratable(self) -> TitratedRegimenSpec:
        if self.titration is not None:
            if self.route not in INFUSION_ROUTES or self.rate is None:
                raise ValueError("'titration' needs an infusion route with a 'rate'")
            if self.rate.per_kg != self.titration.step.per_kg:
                raise ValueError(
                    "titration 'step' and the regimen 'rate' must both be per kg or not"
                )
            t = self.titration
            if not t.min_rate.value <= self.rate.value <= t.max_rate.value:
                raise ValueError(
                    f"the start 'rate' ({self.rate}) must lie within the titration's "
                    f"[min_rate, max_rate] = [{t.min_rate}, {t.max_rate}]"
                )
        return self


# a regimen is written in full or as a one-line shorthand ("0.5 mg/kg over 2h"); the JSON Schema
# says both
ArmRegimen = Annotated[
    TitratedRegimenSpec,
    BeforeValidator(expand_shorthand, json_schema_input_type=str | TitratedRegimenSpec),
]
