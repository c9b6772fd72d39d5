"""Dosing in the scenario schema: routes, one dosing instruction (:class:`RegimenSpec`), the
titration rule of an infusion and the regimens of trial arms (which also accept a one-line
shorthand, :mod:`ketsim.config.shorthand`).
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from ketsim.config.schema.base import (
    AmountField,
    HoursField,
    RateField,
    StrictModel,
    _amount,
    _rate,
)
from ketsim.config.shorthand import ShorthandError, parse_regimen_shorthand
from ketsim.core.dose import DoseDistribution
from ketsim.core.units import (
    RATE_UNITS,
    Amount,
    Rate,
    infusion_rate_mg_per_h,
    parse_amount,
    parse_rate,
)

__all__ = [
    "BOLUS_ROUTES",
    "INFUSION_ROUTES",
    "ArmRegimen",
    "DoseDistributionSpec",
    "EscalationStep",
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


def _quantity(v: Any) -> Rate | Amount:
    """A rate or an amount, by its unit (``"25 mg/h"`` a rate, ``"25 mg"`` an amount)."""
    if isinstance(v, Rate | Amount):
        return v
    if isinstance(v, bool):
        raise ValueError(f"must be a dose with a unit such as '25 mg/h', not a boolean ({v})")
    text = v["unit"] if isinstance(v, dict) and "unit" in v else str(v)
    unit = re.sub(r"^[\s\d.eE+-]*", "", str(text)).replace(" ", "").replace("μ", "µ").lower()
    q = parse_rate(v) if unit in {k.lower() for k in RATE_UNITS} else parse_amount(v)
    if not (q.value > 0 and q.value < float("inf")):
        raise ValueError(f"must be a finite dose > 0 (got '{q}')")
    return q


#: a rate or an amount (which one must match the dose it bounds or replaces)
DoseQuantity = Annotated[
    Rate | Amount,
    BeforeValidator(_quantity, json_schema_input_type=str),
    PlainSerializer(str, return_type=str),
]

# "0.1-0.3 mg/kg/h" or "0.1 to 0.3 mg/kg/h": a uniform range across the cohort
_RANGE = re.compile(
    r"^\s*((?:\d+\.?\d*|\.\d+))\s*(?:-|–|to)\s*((?:\d+\.?\d*|\.\d+))\s*([^\d\s].*?)\s*$"
)


class DoseDistributionSpec(StrictModel):
    """A dose that varies between patients, drawn once per patient (from the seed tree).

    ``uniform`` between ``low`` and ``high`` (also written ``"0.1-0.3 mg/kg/h"``);
    ``lognormal`` with ``median`` and ``sd_log``, optionally truncated to [``low``, ``high``];
    ``choice`` of ``values`` with optional ``weights``. Every quantity has the same unit kind.
    """

    distribution: Literal["uniform", "lognormal", "choice"] = Field(
        description="how the dose varies across the cohort"
    )
    low: DoseQuantity | None = Field(None, description="uniform: lowest; lognormal: truncation")
    high: DoseQuantity | None = Field(None, description="uniform: highest; lognormal: truncation")
    median: DoseQuantity | None = Field(None, description="lognormal: the median dose")
    sd_log: float | None = Field(None, ge=0, le=3, description="lognormal: sd of the log dose")
    values: list[DoseQuantity] | None = Field(None, description="choice: the doses")
    weights: list[float] | None = Field(None, description="choice: relative frequencies")

    @model_validator(mode="after")
    def _complete(self) -> DoseDistributionSpec:
        need = {
            "uniform": ("low", "high"),
            "lognormal": ("median", "sd_log"),
            "choice": ("values",),
        }[self.distribution]
        allowed = set(need) | ({"low", "high"} if self.distribution == "lognormal" else set())
        allowed |= {"weights"} if self.distribution == "choice" else set()
        for name in ("low", "high", "median", "sd_log", "values", "weights"):
            given = getattr(self, name) is not None
            if name in need and not given:
                raise ValueError(f"a {self.distribution} dose needs '{name}'")
            if given and name not in allowed:
                raise ValueError(f"'{name}' does not apply to a {self.distribution} dose")
        qs = self.quantities()
        if not qs:
            raise ValueError("'values' must not be empty")
        if len({(type(q), q.per_kg) for q in qs}) > 1:
            raise ValueError("every dose of a distribution must have the same kind of unit")
        if self.low is not None and self.high is not None and not self.low.value < self.high.value:
            raise ValueError(f"'low' ({self.low}) must be below 'high' ({self.high})")
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError("'weights' needs one number per value")
            if any(not w >= 0 for w in self.weights) or not sum(self.weights) > 0:
                raise ValueError("'weights' must be >= 0 and not all 0")
        return self

    def quantities(self) -> list[Rate | Amount]:
        """Every dose the spec names."""
        qs = [q for q in (self.low, self.high, self.median) if q is not None]
        return qs + list(self.values or [])

    @property
    def per_kg(self) -> bool:
        return self.quantities()[0].per_kg

    def compiled(self) -> DoseDistribution:
        """The core value the simulation draws from."""
        q = self.quantities()[0]
        return DoseDistribution(
            kind=self.distribution,
            rate=isinstance(q, Rate),
            per_kg=q.per_kg,
            low=self.low.value if self.low is not None else 0.0,
            high=self.high.value if self.high is not None else float("inf"),
            median=self.median.value if self.median is not None else 0.0,
            sd_log=self.sd_log or 0.0,
            values=tuple(v.value for v in self.values or ()),
            weights=tuple(self.weights or ()),
        )


def _varying(parse):
    """Before-validator of a dose that may vary between patients: a range string or a mapping
    with ``distribution`` becomes a :class:`DoseDistributionSpec`, anything else a fixed dose."""

    def read(v: Any) -> Any:
        if isinstance(v, DoseDistributionSpec | Rate | Amount):
            return v
        if isinstance(v, str) and (m := _RANGE.match(v)):
            lo, hi, unit = m.groups()
            v = {"distribution": "uniform", "low": f"{lo} {unit}", "high": f"{hi} {unit}"}
        if isinstance(v, dict) and "distribution" in v:
            return DoseDistributionSpec.model_validate(v)
        return parse(v)

    return read


def _dump_dose(v: Any) -> Any:
    return v.model_dump(mode="json", exclude_none=True) if isinstance(v, StrictModel) else str(v)


#: an infusion rate, fixed or varying between patients
VaryingRate = Annotated[
    Rate | DoseDistributionSpec,
    BeforeValidator(_varying(_rate), json_schema_input_type=str | DoseDistributionSpec),
    PlainSerializer(_dump_dose),
]
#: an amount, fixed or varying between patients
VaryingAmount = Annotated[
    Amount | DoseDistributionSpec,
    BeforeValidator(_varying(_amount), json_schema_input_type=str | DoseDistributionSpec),
    PlainSerializer(_dump_dose),
]


class EscalationStep(StrictModel):
    """From ``after`` the regimen's first administration on, the dose is this ``rate`` (or
    ``amount``) instead: a running infusion changes rate, later administrations get the new dose."""

    after: HoursField = Field(description="time from the regimen's start")
    rate: RateField | None = Field(None, description="the new rate (rate-given infusions)")
    amount: AmountField | None = Field(None, description="the new amount (amount-given doses)")

    @model_validator(mode="after")
    def _one(self) -> EscalationStep:
        if not self.after > 0:
            raise ValueError(f"'after' must be > 0 h (got {self.after:g} h)")
        if (self.rate is None) == (self.amount is None):
            raise ValueError("an escalation step needs exactly one of 'rate' or 'amount'")
        d = self.rate or self.amount
        if not d.value > 0:
            raise ValueError(f"an escalation dose must be > 0 (got '{d}')")
        return self

    @property
    def dose(self) -> Rate | Amount:
        return self.rate if self.rate is not None else self.amount


class RegimenSpec(StrictModel):
    """One dosing instruction, possibly repeated.

    Infusions (``iv_infusion``, ``subcutaneous_infusion``) take a ``rate`` and a ``duration``, or an
    ``amount`` given over a ``duration``. Every other route takes an ``amount`` given at once.
    ``repeats`` copies the instruction every ``interval``. The dose may vary between patients
    (a :class:`DoseDistributionSpec`), be bounded per patient (``max``, ``min``: "0.35 mg/kg/h, at
    most 25 mg/h") and change over time (``escalation``).
    """

    route: Route = Field(description="route of administration")
    amount: VaryingAmount | None = Field(
        None, description="dose per administration (mg or mg/kg; a range or distribution)"
    )
    rate: VaryingRate | None = Field(
        None, description="infusion rate (mg/h, mg/kg/h, µg/kg/min, ...; a range or distribution)"
    )
    max: DoseQuantity | None = Field(
        None, description="cap of each patient's rate or amount (e.g. 25 mg/h on 0.35 mg/kg/h)"
    )
    min: DoseQuantity | None = Field(None, description="floor of each patient's rate or amount")
    escalation: list[EscalationStep] | None = Field(
        None, description="stepwise schedule: later rates or amounts, by time from the start"
    )
    start: HoursField = Field(0.0, description="time of the first administration")
    duration: HoursField | None = Field(None, description="infusion duration")
    repeats: int = Field(1, ge=1, le=10000, description="number of administrations")
    interval: HoursField | None = Field(None, description="time between repeated administrations")

    @field_validator("amount", "rate")
    @classmethod
    def _positive_doses(cls, v: Any, info) -> Any:
        if isinstance(v, DoseDistributionSpec):
            kind = Amount if info.field_name == "amount" else Rate
            for q in v.quantities():
                if not isinstance(q, kind):
                    word = "an amount" if kind is Amount else "a rate"
                    raise ValueError(f"every dose of the distribution must be {word} (got '{q}')")
                cls._positive_dose(q)
            return v
        return cls._positive_dose(v)

    @staticmethod
    def _positive_dose(v: Amount | Rate | None) -> Amount | Rate | None:
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
        self._bounds_and_steps()
        return self

    def _bounds_and_steps(self) -> None:
        kind = Rate if self.rate is not None else Amount
        word = "a rate" if kind is Rate else "an amount"
        for name in ("max", "min"):
            b = getattr(self, name)
            if b is not None:
                if not isinstance(b, kind):
                    raise ValueError(f"'{name}' must be {word}, as the dose is (got '{b}')")
                self._positive_dose(b)
        if (
            self.max is not None
            and self.min is not None
            and self.max.per_kg == self.min.per_kg
            and self.min.value > self.max.value
        ):
            raise ValueError(f"'min' ({self.min}) must not exceed 'max' ({self.max})")
        if self.escalation is None:
            return
        if not self.escalation:
            raise ValueError("'escalation' needs at least one step (or leave it out)")
        last_end = self.start_times()[-1] + (self.duration or 0.0) - self.start
        prev = 0.0
        for i, st in enumerate(self.escalation):
            if not isinstance(st.dose, kind):
                raise ValueError(f"escalation step {i + 1} must give {word}, as the dose does")
            self._positive_dose(st.dose)
            if not st.after > prev:
                raise ValueError("escalation steps must come in increasing order of 'after'")
            prev = st.after
        if not (prev < last_end if self.duration is not None else prev <= last_end):
            raise ValueError(
                f"the last escalation step (after {prev:g} h) comes after the regimen's last "
                f"administration ({last_end:g} h from its start): it would change nothing"
            )

    def rate_mg_per_h(self, weight_kg):
        """Infusion rate in mg/h of a fixed dose for the given weight(s) (before any cap)."""
        if isinstance(self.rate or self.amount, DoseDistributionSpec):
            raise ValueError("the dose varies between patients: it is drawn in the simulation")
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
    ``night_interval`` by night, or at the assessment times ``checks``) the rate steps up by
    ``step`` (or is multiplied by ``factor``) while relief is below ``target_relief`` and effects
    are tolerable, and down by ``step`` (divided by ``factor``) on intolerable effects, within
    [``min_rate``, ``max_rate``]. "Double the rate if relief < 50% at 24 and 48 h" is
    ``factor: 2, target_relief: 0.5, checks: [24 h, 48 h]``.
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
    factor: float | None = Field(
        None,
        gt=1,
        le=10,
        description="multiply the rate by this at a step up, divide at a step down (instead "
        "of adding 'step')",
    )
    checks: list[HoursField] | None = Field(
        None,
        description="assessment times from each infusion's start at which the rule is applied "
        "(instead of the day and night intervals)",
    )

    @field_validator("checks")
    @classmethod
    def _checks(cls, v: list[float] | None) -> list[float] | None:
        if v is not None:
            if not v:
                raise ValueError("'checks' needs at least one time (or leave it out)")
            if any(not 0 < t <= MAX_TIME_H for t in v):
                raise ValueError("assessment times must be > 0 h and at most 5 years")
            if any(b <= a for a, b in itertools.pairwise(v)):
                raise ValueError("assessment times must be in increasing order")
        return v

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
        if self.factor is not None:
            if "step" in self.model_fields_set:
                raise ValueError("give 'factor' (multiply) or 'step' (add), not both")
            if self.max_rate.per_kg != self.min_rate.per_kg:
                raise ValueError("'min_rate' and 'max_rate' must both be per kg or not")
        elif len({self.step.per_kg, self.max_rate.per_kg, self.min_rate.per_kg}) > 1:
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
            if isinstance(self.rate, DoseDistributionSpec):
                raise ValueError("a titrated infusion starts at one fixed 'rate' for everyone")
            if self.escalation is not None:
                raise ValueError("'titration' and 'escalation' both set the rate: use one")
            t = self.titration
            ref, what = (t.min_rate, "'min_rate'") if t.factor else (t.step, "'step'")
            if self.rate.per_kg != ref.per_kg:
                raise ValueError(
                    f"titration {what} and the regimen 'rate' must both be per kg or not"
                )
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
