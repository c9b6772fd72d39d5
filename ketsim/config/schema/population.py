"""Who the virtual patients are: truncated distributions, genotype and co-medication choices,
and :class:`PopulationSpec` with its indication defaults (:mod:`ketsim.config.indications`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ketsim.config.indications import INDICATIONS
from ketsim.config.schema.base import StrictModel
from ketsim.core.pd.background import BACKGROUND_FIELDS, BACKGROUND_MEDICATIONS
from ketsim.core.pk.parameters import COMEDICATIONS, CYP2B6_DIPLOTYPE_ACTIVITY

__all__ = [
    "Ancestry",
    "BetaSpec",
    "ComedicationName",
    "Diplotype",
    "Distribution",
    "Indication",
    "LogNormalSpec",
    "PopulationSpec",
]


class Distribution(StrictModel):
    """A normal distribution truncated to [min, max]."""

    mean: float = Field(description="mean before truncation")
    sd: float = Field(ge=0, description="SD before truncation (0: everyone at the mean)")
    min: float = Field(description="lower truncation bound")
    max: float = Field(description="upper truncation bound")

    @model_validator(mode="after")
    def _order(self) -> Distribution:
        if not self.min <= self.mean <= self.max:
            raise ValueError(f"needs min <= mean <= max (got {self.min}, {self.mean}, {self.max})")
        return self


class LogNormalSpec(StrictModel):
    """A log-normal distribution (median, SD of the log) truncated to [min, max]."""

    median: float = Field(gt=0, description="median before truncation")
    sd_log: float = Field(ge=0, description="SD of the natural log (0: everyone at the median)")
    min: float = Field(gt=0, description="lower truncation bound")
    max: float = Field(description="upper truncation bound")

    @model_validator(mode="after")
    def _order(self) -> LogNormalSpec:
        if not self.min <= self.median <= self.max:
            raise ValueError(
                f"needs min <= median <= max (got {self.min}, {self.median}, {self.max})"
            )
        return self


class BetaSpec(StrictModel):
    """A beta distribution on [0, 1] given by its mean and SD (sd = 0: everyone at the mean)."""

    mean: float = Field(gt=0, lt=1, description="mean, in (0, 1)")
    sd: float = Field(ge=0, description="SD, below sqrt(mean (1 - mean)); 0: everyone at the mean")

    @model_validator(mode="after")
    def _feasible(self) -> BetaSpec:
        if not self.sd**2 < self.mean * (1 - self.mean):
            raise ValueError(
                f"sd must be < sqrt(mean*(1-mean)) = {(self.mean * (1 - self.mean)) ** 0.5:.3g}"
                f" (got {self.sd})"
            )
        return self

    def ab(self) -> tuple[float, float]:
        """The beta shape parameters (a, b)."""
        k = self.mean * (1 - self.mean) / self.sd**2 - 1.0
        return self.mean * k, (1 - self.mean) * k


Ancestry = Literal["european", "east_asian", "african"]
Diplotype = Literal[tuple(CYP2B6_DIPLOTYPE_ACTIVITY)]  # type: ignore[valid-type]
ComedicationName = Literal[tuple(COMEDICATIONS)]  # type: ignore[valid-type]
Indication = Literal[tuple(INDICATIONS)]  # type: ignore[valid-type]
BackgroundName = Literal[BACKGROUND_MEDICATIONS]  # type: ignore[valid-type]


class PopulationSpec(StrictModel):
    """Who the virtual patients are.

    Demographics, disease and comorbidity default to the ``indication``'s table
    (:data:`ketsim.config.indications.INDICATIONS`; CRPS-1 from Sigtermans 2009: 48 of 60 women, age
    46 ± 12 y, weight 79 ± 19 kg, median disease duration 7.4 y); any of them can be overridden.
    """

    indication: Indication = Field("crps1", description="sets the defaults of the fields below")
    n: int = Field(20, ge=1, le=10_000_000, description="number of patients (PK runs)")
    weight_kg: Distribution = Field(description="body weight, kg (truncation within 2-350 kg)")
    age_years: Distribution = Field(description="age, years (truncation within 0-120 years)")
    female_fraction: float = Field(ge=0, le=1, description="fraction of women")
    ancestry: dict[Ancestry, float] = Field(
        {"european": 1.0}, description="ancestry mix; drives allele frequencies"
    )
    cyp2b6: Literal["hardy_weinberg"] | Diplotype = Field(
        "hardy_weinberg", description="'hardy_weinberg' or one fixed diplotype for everyone"
    )
    comedication: dict[ComedicationName, float] = Field(
        {},
        description="fraction of patients taking each co-medication (PK interactions; "
        "gabapentinoid and opioid: background analgesics, PD effects in background_effects)",
    )
    background_effects: dict[BackgroundName, dict[str, float]] = Field(
        {},
        description="overrides of what a background analgesic changes (ketsim.core.pd.background;"
        " defaults: acute factor 1, sedation EC50 x0.5 opioid, x0.8 gabapentinoid, L): "
        + ", ".join(BACKGROUND_FIELDS),
    )
    disease_duration_years: LogNormalSpec = Field(description="time since diagnosis, years")
    baseline_pain: Distribution = Field(description="true mean NRS (0-10) before treatment")
    sensitization: BetaSpec = Field(description="central-sensitization index in [0, 1]")
    depression_prevalence: float = Field(ge=0, le=1, description="fraction with depression")
    expectancy: BetaSpec = Field(
        BetaSpec(mean=0.5, sd=0.2),
        description="prior expectancy of relief in [0, 1] (L: Beta with mean 0.5, sd 0.2)",
    )
    typical: bool = Field(
        False, description="every patient is the typical 70-kg man with no IIV (PK checks)"
    )

    @field_validator("weight_kg", "age_years")
    @classmethod
    def _physiological(cls, v: Distribution, info) -> Distribution:
        # outside these bounds the allometric PK model has no meaning (a negative weight gave
        # NaN clearances and a "power" of 0.8)
        lo, hi = {"weight_kg": (2.0, 350.0), "age_years": (0.0, 120.0)}[info.field_name]
        if v.min < lo or v.max > hi:
            raise ValueError(f"truncation [{v.min:g}, {v.max:g}] must lie within [{lo:g}, {hi:g}]")
        return v

    @model_validator(mode="before")
    @classmethod
    def _indication_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        ind = data.get("indication", "crps1")
        defaults = INDICATIONS.get(ind) if isinstance(ind, str) else None
        if defaults is None:
            return data  # the literal check reports the bad indication
        return {**defaults, **data}

    @field_validator("ancestry")
    @classmethod
    def _mix(cls, v: dict[str, float]) -> dict[str, float]:
        if any(x < 0 for x in v.values()) or abs(sum(v.values()) - 1.0) > 1e-9:
            raise ValueError(f"fractions must be >= 0 and sum to 1 (got {dict(v)})")
        return v

    @field_validator("background_effects")
    @classmethod
    def _effects(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for name, over in v.items():
            bad = sorted(set(over) - set(BACKGROUND_FIELDS))
            if bad:
                raise ValueError(
                    f"{name}: unknown fields {bad}; allowed: {list(BACKGROUND_FIELDS)}"
                )
            if any(not x >= 0 for x in over.values()):
                raise ValueError(f"{name}: values must be >= 0")
        return v

    @field_validator("comedication")
    @classmethod
    def _fractions(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not 0 <= x <= 1}
        if bad:
            raise ValueError(f"fractions must lie in [0, 1] (got {bad})")
        return v
