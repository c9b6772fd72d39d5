"""Scenario schema (v0): validated once at the boundary, frozen, recorded with every run.

A scenario is a YAML file read with a safe loader. Unknown keys are rejected; quantities carry
units (``"20 mg/h"``, ``"0.2 mg/kg"``, ``"1.2 µg/kg/min"``, ``"100 h"``) and are converted to
ketsim's internal units here, once. Every problem is reported as one line naming its YAML path::

    regimens[0].rate: must be > 0 (got '0 mg/h')
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    field_validator,
    model_validator,
)

from ketsim.config.design_rules import METHODS, check_design
from ketsim.config.indications import INDICATIONS
from ketsim.core.pk.parameters import COMEDICATIONS, CYP2B6_DIPLOTYPE_ACTIVITY, PARAMETER_SETS
from ketsim.core.units import (
    Amount,
    Rate,
    infusion_rate_mg_per_h,
    parse_amount,
    parse_duration_h,
    parse_rate,
)

__all__ = [
    "ExpectedSpec",
    "PopulationSpec",
    "RegimenSpec",
    "Scenario",
    "ScenarioError",
    "SweepSpec",
    "SwitchesSpec",
    "ToleranceSpec",
    "apply_overrides",
    "dump_scenario",
    "load_scenario",
    "parse_scenario",
    "read_yaml",
]

SCHEMA_VERSION = 0


class ScenarioError(Exception):
    """A scenario that cannot be used; ``problems`` holds one ``path: message`` line each."""

    def __init__(self, problems: list[str], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(problems))


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


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


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


class RegimenSpec(_Frozen):
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
        return v

    @field_validator("start")
    @classmethod
    def _start(cls, v: float) -> float:
        if not v >= 0:
            raise ValueError(f"must be >= 0 h (got {v:g} h)")
        return v

    @field_validator("duration", "interval")
    @classmethod
    def _positive_time(cls, v: float | None) -> float | None:
        if v is not None and not v > 0:
            raise ValueError(f"must be > 0 h (got {v:g} h)")
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


class Distribution(_Frozen):
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


class LogNormalSpec(_Frozen):
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


class BetaSpec(_Frozen):
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


class PopulationSpec(_Frozen):
    """Who the virtual patients are.

    Demographics, disease and comorbidity default to the ``indication``'s table
    (:data:`ketsim.config.indications.INDICATIONS`; CRPS-1 from Sigtermans 2009: 48 of 60 women, age
    46 ± 12 y, weight 79 ± 19 kg, median disease duration 7.4 y); any of them can be overridden.
    """

    indication: Indication = Field("crps1", description="sets the defaults of the fields below")
    n: int = Field(20, ge=1, le=10_000_000, description="number of patients (PK runs)")
    weight_kg: Distribution = Field(description="body weight, kg")
    age_years: Distribution = Field(description="age, years")
    female_fraction: float = Field(ge=0, le=1, description="fraction of women")
    ancestry: dict[Ancestry, float] = Field(
        {"european": 1.0}, description="ancestry mix; drives allele frequencies"
    )
    cyp2b6: Literal["hardy_weinberg"] | Diplotype = Field(
        "hardy_weinberg", description="'hardy_weinberg' or one fixed diplotype for everyone"
    )
    comedication: dict[ComedicationName, float] = Field(
        {}, description="fraction of patients taking each co-medication"
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

    @field_validator("comedication")
    @classmethod
    def _fractions(cls, v: dict[str, float]) -> dict[str, float]:
        bad = {k: x for k, x in v.items() if not 0 <= x <= 1}
        if bad:
            raise ValueError(f"fractions must lie in [0, 1] (got {bad})")
        return v


class SwitchesSpec(_Frozen):
    """Uncertain assumptions, exposed as switches (MODEL.md §2)."""

    sex_effect_on_clearance: bool = Field(
        True, description="women clear S-K/S-NK x1.20 (Sigtermans 2009); off: Perez-Ruixo 2021"
    )
    cyp2b6_effect: Literal["in_vitro", "null"] = Field(
        "in_vitro", description="diplotype activities from Li 2013 in vitro, or no effect"
    )
    r_inhibits_s: bool = Field(
        False, description="R-ketamine lowers S-ketamine clearance 30% (Ihmsen 2001)"
    )
    iiv: bool = Field(
        True,
        description="between-patient variability of CL, V1, CL_NK, MTT and nasal absorption rate",
    )
    intranasal: Literal["huge2010", "perez_ruixo2021"] = Field(
        "huge2010",
        description="nasal fraction 0.247 and ka IIV 40% calibrated to Huge 2010, or "
        "Perez-Ruixo 2021 (0.54, 61.5%)",
    )
    cyp3a_cyp2c9_effect: Literal["null", "assumed"] = Field(
        "null",
        description="CYP3A4*22, CYP3A5 and CYP2C9 genotypes act on clearance (L; not established)",
    )
    norketamine_analgesia: Literal["none", "antagonist", "conventional"] = Field(
        "none",
        description="S-norketamine on acute analgesia: none (Olofsen 2022), antagonist "
        "(Olofsen 2012), conventional +1/3 potency",
    )
    r_ketamine_analgesia: Literal["none", "quarter"] = Field(
        "none", description="R-ketamine on analgesia: none (Olofsen 2022) or 1/4 of S"
    )
    functional_unblinding: bool = Field(
        True, description="perceived drug effects update the belief of being on drug (L)"
    )


class OutputSpec(_Frozen):
    """Time grid on which concentrations are reported."""

    step: HoursField = Field(1.0, description="output interval")
    end: HoursField = Field(12 * 168.0, description="last output time")

    @model_validator(mode="after")
    def _grid(self) -> OutputSpec:
        if not self.step > 0:
            raise ValueError("'step' must be > 0 h")
        if not self.end >= 0:
            raise ValueError("'end' must be >= 0 h")
        if self.end / self.step > 5e6:
            raise ValueError("the output grid has more than 5,000,000 points: raise 'step'")
        return self


class TitrationSpec(_Frozen):
    """Rule-based titration of an infusion (Sigtermans 2009; MODEL.md §3.5).

    The regimen's ``rate`` is the start rate. At every check (every ``day_interval`` by day,
    ``night_interval`` by night) the rate steps up by ``step`` while relief is insufficient and
    effects are tolerable, and down by ``step`` on intolerable effects, within [``min_rate``,
    ``max_rate``].
    """

    step: RateField = Field("1.2 µg/kg/min", description="step size (L: the start rate)")
    max_rate: RateField = Field("7.2 µg/kg/min", description="ceiling (Sigtermans 2009)")
    min_rate: RateField = Field("1.2 µg/kg/min", description="floor when stepping down")
    day_interval: HoursField = Field(2.0, description="check interval by day (Sigtermans 2009)")
    night_interval: HoursField = Field(8.0, description="check interval by night")
    day_start_hour: float = Field(6.0, ge=0, lt=24, description="clock hour day checks begin")
    night_start_hour: float = Field(22.0, ge=0, lt=24, description="clock hour night begins")

    @model_validator(mode="after")
    def _rates(self) -> TitrationSpec:
        for name in ("step", "max_rate", "min_rate"):
            if not getattr(self, name).value > 0:
                raise ValueError(f"'{name}' must be > 0")
        return self


def _shorthand(v: Any) -> Any:
    if isinstance(v, str):
        from ketsim.config.shorthand import ShorthandError, parse_regimen_shorthand

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
        return self


ArmRegimen = Annotated[TitratedRegimenSpec, BeforeValidator(_shorthand)]


class ArmSpec(_Frozen):
    """One arm of a trial: who gets what, and how it is blinded."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=40,
        description="arm label, used in tables, analyses (control, compare) and reports",
    )
    n: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="patients randomised to the arm (parallel designs; crossover designs size "
        "their sequences instead, enrichment designs randomise the run-in responders by 'ratio')",
    )
    ratio: int = Field(
        1, ge=1, le=100, description="allocation weight when sizes are random (enrichment designs)"
    )
    treatment: Literal["ketamine", "placebo", "active_placebo"] = Field(
        "ketamine",
        description="ketamine; placebo (saline on the same schedule); active placebo "
        "(midazolam: sedation without dissociation)",
    )
    regimens: list[ArmRegimen] = Field(
        min_length=1, description="dosing schedule (placebo arms: the schedule of the dummy)"
    )
    blinding: Literal["double_blind", "open_label"] = Field(
        "double_blind",
        description="double_blind: patients start at the allocation prior of being on drug; "
        "open_label: they know their treatment (placebo response follows belief)",
    )


class ScreeningSpec(_Frozen):
    """Entry by a noisy screening score: creates regression to the mean."""

    days: int = Field(1, ge=1, le=28, description="daily NRS averaged for the screening score")
    threshold: float | None = Field(
        None, ge=0, le=10, description="minimum screening score to enter (None: everyone)"
    )


class TrialSpec(_Frozen):
    """Trial calendar and diary."""

    weeks: int = Field(12, ge=1, le=520, description="follow-up after the start of treatment")
    baseline_days: int = Field(7, ge=1, le=56, description="diary days before treatment")
    start_hour: float = Field(8.0, ge=0, lt=24, description="clock hour of t = 0")
    diary_hour: float = Field(20.0, ge=0, lt=24, description="clock hour of the daily NRS")
    screening: ScreeningSpec = Field(
        ScreeningSpec(), description="entry by a noisy screening score (regression to the mean)"
    )


STRATIFIERS = ("sex", "cyp2b6", "sensitization", "depression", "baseline_pain")


class RandomisationSpec(_Frozen):
    """How patients are allocated to arms (or crossover sequences).

    ``random_allocation`` shuffles the exact planned arm sizes; ``simple`` draws each patient's
    arm independently with probabilities proportional to the planned sizes (or ratios);
    ``permuted_block`` fills, within each stratum and in order of enrolment, blocks that hold every
    arm in proportion to the allocation ratio (ICH E9 §2.3.1), with the block size drawn from
    ``block_sizes``.
    """

    method: Literal["random_allocation", "simple", "permuted_block"] = "random_allocation"
    block_sizes: list[int] = Field(
        [4], min_length=1, description="block sizes (multiples of the allocation-ratio sum)"
    )
    strata: list[Literal[STRATIFIERS]] = Field(  # type: ignore[valid-type]
        [],
        description="stratification factors: sex; cyp2b6 (*6 or *18 carrier); sensitization "
        "(above the indication's mean); depression; baseline_pain (screening score >= 7)",
    )

    @field_validator("block_sizes")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if any(b < 1 for b in v):
            raise ValueError("block sizes must be >= 1")
        return v


class RecruitmentSpec(_Frozen):
    """Enrolment over calendar time (a Poisson process); ``None`` rate = everyone at once."""

    patients_per_week: float | None = Field(
        None, gt=0, le=10_000, description="mean enrolment rate (patients per week)"
    )


class CrossoverSpec(_Frozen):
    """A crossover: every patient receives the arms' treatments in the order of a sequence."""

    sequences: list[list[str]] | Literal["latin_square", "williams", "all"] = Field(
        "williams",
        description="orders of arm names, one list per sequence, or a generator: latin_square "
        "(cyclic), williams (balanced for first-order carry-over), all (every permutation)",
    )
    n_per_sequence: int = Field(ge=1, le=100_000, description="patients per sequence")
    period_weeks: int = Field(
        ge=1, le=104, description="weeks from a period's first dose to its end"
    )
    washout_weeks: int = Field(
        0, ge=0, le=104, description="weeks without treatment between periods"
    )


class EnrichmentSpec(_Frozen):
    """Enriched-enrolment randomised withdrawal: open-label run-in, responders randomised.

    Every enrolled patient receives ``regimens`` open label for ``run_in_weeks``; those whose
    mean diary NRS over the last ``window_days`` of the run-in is at least ``threshold_pct`` below
    their baseline mean are randomised to the arms (double blind); the others leave the trial.
    """

    n: int = Field(ge=2, le=1_000_000, description="patients enrolled in the run-in")
    run_in_weeks: int = Field(ge=1, le=52, description="length of the open-label run-in")
    regimens: list[ArmRegimen] = Field(min_length=1, description="run-in treatment (ketamine)")
    threshold_pct: float = Field(30.0, gt=0, le=100, description="response for randomisation")
    window_days: int = Field(7, ge=1, le=28, description="diary days judged at the run-in end")


class ExtensionSpec(_Frozen):
    """Open-label extension after the double-blind phase (``trial.weeks``)."""

    arms: list[str] = Field(min_length=1, description="arms whose patients enter the extension")
    weeks: int = Field(ge=1, le=520, description="length of the extension")
    regimens: list[ArmRegimen] = Field(min_length=1, description="open-label ketamine regimens")


class DesignSpec(_Frozen):
    """Trial design: allocation, recruitment, diary schedule and the design type."""

    type: Literal["parallel", "crossover", "enrichment"] = Field(
        "parallel",
        description="parallel groups; crossover (``crossover:``); enriched-enrolment randomised "
        "withdrawal (``enrichment:``)",
    )
    randomisation: RandomisationSpec = Field(
        RandomisationSpec(), description="allocation method, strata and blocks"
    )
    recruitment: RecruitmentSpec = Field(
        RecruitmentSpec(), description="enrolment over calendar time"
    )
    diary_weeks: list[int] | None = Field(
        None,
        description="weeks (from the first dose) with a daily diary; None: every week. Baseline "
        "days are always kept",
    )
    crossover: CrossoverSpec | None = Field(
        None, description="sequences, periods and washout (type: crossover only)"
    )
    enrichment: EnrichmentSpec | None = Field(
        None, description="open-label run-in and randomised withdrawal (type: enrichment only)"
    )
    extension: ExtensionSpec | None = Field(
        None, description="open-label ketamine for everyone after the randomised phase (parallel)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> DesignSpec:
        if self.type == "crossover" and self.crossover is None:
            raise ValueError("design type crossover needs a 'crossover' section")
        if self.type == "enrichment" and self.enrichment is None:
            raise ValueError("design type enrichment needs an 'enrichment' section")
        if self.type != "crossover" and self.crossover is not None:
            raise ValueError(f"'crossover' is only allowed with type crossover, not {self.type}")
        if self.type != "enrichment" and self.enrichment is not None:
            raise ValueError(f"'enrichment' is only allowed with type enrichment, not {self.type}")
        if self.extension is not None and self.type != "parallel":
            raise ValueError("an open-label 'extension' is only supported for parallel designs")
        if self.diary_weeks is not None and any(w < 1 for w in self.diary_weeks):
            raise ValueError("diary_weeks must be >= 1")
        return self


ENDPOINT_TYPES = (
    "change_from_baseline",
    "weekly_mean",
    "auc",
    "responder",
    "time_to_relapse",
    "adverse_event",
    "dropout",
)
AE_NAMES = ("psychotomimetic", "intolerable", "nausea", "vomiting", "liver_injury", "discontinued")


class EndpointSpec(_Frozen):
    """One endpoint computed per patient from the diary and events.

    Days and weeks count from the first dose of the randomised treatment (for crossovers: of
    each period; for enrichment designs: the first day after randomisation is day 1), or with
    ``anchor: treatment_end`` from the end of its scheduled dosing (day 1 = the first diary
    entry after the last scheduled infusion or dose): "is relief still there 48 h / 4 weeks /
    12 weeks after the infusion?".
    """

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=60,
        description="endpoint label, referred to by analyses[].endpoint",
    )
    type: Literal[ENDPOINT_TYPES] = Field(description="what is measured")  # type: ignore[valid-type]
    week: int | None = Field(
        None,
        ge=1,
        description="week of the weekly mean (change_from_baseline, weekly_mean, responder)",
    )
    days: tuple[int, int] | None = Field(
        None,
        description="first and last day (inclusive) of an auc window, e.g. [1, 35], or instead "
        "of 'week' the diary days averaged by weekly_mean, change_from_baseline and responder",
    )
    anchor: Literal["start", "treatment_end"] = Field(
        "start",
        description="day 1 is the first day of the randomised treatment (start) or the first "
        "diary day after its scheduled dosing ends (treatment_end)",
    )
    threshold_pct: float = Field(
        30.0, gt=0, le=100, description="responder: reduction from baseline; relapse: lost below"
    )
    event: Literal[AE_NAMES] | None = Field(  # type: ignore[valid-type]
        None, description="adverse_event: which event"
    )
    reason: Literal["any", "adverse_event", "lack_of_effect", "lost_to_follow_up"] = Field(
        "any", description="dropout: which reason counts"
    )
    min_days_per_week: int = Field(
        4, ge=1, le=7, description="diary days needed for a weekly mean (else missing)"
    )

    @model_validator(mode="after")
    def _needs(self) -> EndpointSpec:
        t = self.type
        if t in ("change_from_baseline", "weekly_mean", "responder"):
            if (self.week is None) == (self.days is None):
                raise ValueError(f"endpoint type {t} needs a 'week' or 'days: [first, last]'")
            if self.days is not None and not 1 <= self.days[0] <= self.days[1]:
                raise ValueError(f"'days' must satisfy 1 <= first <= last (got {self.days})")
        if self.anchor == "treatment_end" and t in ("time_to_relapse", "adverse_event", "dropout"):
            raise ValueError(f"anchor treatment_end applies to diary windows, not to {t}")
        if t == "auc":
            if self.days is None:
                raise ValueError("endpoint type auc needs 'days: [first, last]'")
            if not 1 <= self.days[0] < self.days[1]:
                raise ValueError(f"auc 'days' must satisfy 1 <= first < last (got {self.days})")
        if t == "adverse_event" and self.event is None:
            raise ValueError(
                f"endpoint type adverse_event needs an 'event' ({', '.join(AE_NAMES)})"
            )
        return self

    @property
    def kind(self) -> str:
        """continuous, binary or time_to_event."""
        if self.type in ("responder", "adverse_event", "dropout"):
            return "binary"
        if self.type == "time_to_relapse":
            return "time_to_event"
        return "continuous"


STRATEGIES = ("treatment_policy", "hypothetical", "composite", "bocf")


class AnalysisSpec(_Frozen):
    """One analysis of an endpoint: test, intercurrent-event strategy (ICH E9(R1)), comparisons."""

    endpoint: str = Field(description="name of a declared endpoint")
    method: Literal[tuple(m for ms in METHODS.values() for m in ms)] = Field(  # type: ignore[valid-type]
        description="t_test, welch, ancova, wilcoxon, mmrm, crossover (continuous); fisher, chi2, "
        "chi2_yates, logistic (binary); logrank (time to event)"
    )
    strategy: Literal[STRATEGIES] = Field(  # type: ignore[valid-type]
        "treatment_policy",
        description="treatment_policy: data as observed; hypothetical: data after treatment "
        "discontinuation set missing (MAR, for mmrm); composite: discontinuation for adverse "
        "events or dropout = non-response (binary); bocf: baseline carried forward after "
        "discontinuation or dropout",
    )
    covariates: list[Literal["baseline"]] = Field(
        ["baseline"], description="covariates of ancova, mmrm and logistic"
    )
    control: str | None = Field(None, description="control arm (default: the first placebo arm)")
    compare: list[str] | None = Field(None, description="arms compared with control (default all)")
    multiplicity: Literal["none", "holm", "hochberg", "bonferroni", "dunnett"] = Field(
        "none", description="adjustment of the p-values across this analysis' comparisons"
    )
    covariance: Literal["unstructured", "ar1", "compound_symmetry"] = Field(
        "unstructured", description="mmrm covariance across visits"
    )
    visits: list[int] | None = Field(
        None, description="mmrm visit weeks (default: every week up to the endpoint's week)"
    )
    carryover: bool = Field(False, description="crossover: add a first-order carry-over term")
    alpha: float | None = Field(None, gt=0, lt=1, description="overrides statistics.alpha")
    sides: Literal[1, 2] | None = Field(None, description="overrides statistics.sides")


class StatisticsSpec(_Frozen):
    """Significance level and sidedness of every analysis unless overridden."""

    alpha: float = Field(0.05, gt=0, lt=1, description="type-I error rate")
    sides: Literal[1, 2] = Field(
        2, description="2: two-sided; 1: one-sided in the direction of benefit"
    )


def _pd_overrides(v: dict[str, float]) -> dict[str, float]:
    from ketsim.core.pd.parameters import PDParameters

    allowed = PDParameters.__dataclass_fields__
    bad = [k for k in v if k not in allowed]
    if bad:
        raise ValueError(f"unknown PD parameter(s) {bad}; allowed: {', '.join(allowed)}")
    from dataclasses import replace

    from ketsim.core.pd.parameters import check_pd

    problems = check_pd(replace(PDParameters(), **v))
    if problems:
        raise ValueError("; ".join(problems))
    return v


class SweepSpec(_Frozen):
    """A parameter sweep: scenario paths and the values they take (see :mod:`ketsim.config.sweep`).

    Paths use the syntax of error messages (``arms[0].regimens[0].rate``) plus ``[*]`` for every
    element of a list. Cells are the cartesian product of the ``grid`` lists (last key varies
    fastest), crossed with the rows of the ``zip`` lists (equal lengths, varied together). The
    base scenario ignores its sweep; :func:`ketsim.config.sweep.expand_sweep` checks it and builds
    the
    cells.
    """

    grid: dict[str, list[Any]] = Field({}, description="path: values, crossed with each other")
    zip: dict[str, list[Any]] = Field(
        {}, description="path: values of equal length, varied together and crossed with the grid"
    )


# -- expected results (validation against published trials; ketsim.apps.published_checks) ------
EXPECTED_QUANTITIES = (
    "arm_mean",
    "arm_difference",
    "p_value",
    "proportion",
    "end_rate",
    "lasting_effect_days",
    "pk_cmax",
    "pk_tmax",
    "pk_auc",
    "pk_concentration",
    "pk_half_life",
    "pk_ratio",
)
#: quantities computed from simulated trials (``arms``) and from population PK (``regimens``)
TRIAL_QUANTITIES = ("arm_mean", "arm_difference", "p_value", "proportion", "end_rate")
PK_QUANTITIES = ("pk_cmax", "pk_tmax", "pk_auc", "pk_concentration", "pk_half_life", "pk_ratio")
EXPECTED_EVENTS = (
    *AE_NAMES,
    "dropout",
    "ketamine_responder",
    "placebo_responder",
    "nrs_responder",
)
PK_ANALYTES = ("ketamine", "norketamine", "ce_fast", "ce_slow")
PK_STATISTICS = ("mean", "median", "geometric_mean", "sd", "typical")
P_STATISTICS = ("median", "fraction_significant", "fraction_all_significant")
STATISTICS = (*P_STATISTICS[1:], *PK_STATISTICS)

# keys every expectation may carry, and the selectors each quantity accepts
_EXPECTED_COMMON = frozenset(
    {"name", "quantity", "value", "sd", "se", "n", "ci", "ci_level", "relation", "tolerance"}
    | {"source", "note", "overrides"}
)
_NRS_KEYS = frozenset({"week", "day", "measure", "scale", "anchor"})
_PK_KEYS = frozenset({"analyte", "enantiomer", "statistic", "window"})
EXPECTED_KEYS: dict[str, frozenset[str]] = {
    "arm_mean": _NRS_KEYS | {"arm"},
    "arm_difference": _NRS_KEYS | {"arm", "control"},
    "p_value": _NRS_KEYS | {"arm", "control", "weeks", "test", "statistic", "alpha", "sides"},
    "proportion": frozenset({"arm", "event", "week", "threshold_pct"}),
    "end_rate": frozenset({"arm"}),
    "lasting_effect_days": frozenset(
        {"definition", "arm", "control", "fraction", "threshold", "statistic"}
    ),
    "pk_cmax": _PK_KEYS,
    "pk_tmax": _PK_KEYS | {"unit"},
    "pk_auc": _PK_KEYS,
    "pk_concentration": _PK_KEYS - {"window"} | {"time"},
    "pk_half_life": _PK_KEYS | {"unit"},
    "pk_ratio": _PK_KEYS | {"ratio_analyte", "ratio_of"},
}


class ToleranceSpec(_Frozen):
    """How far the simulated value may lie from the published one: exactly one key.

    ``k_se``
        ``|simulated - value| <= k x SE``, where SE is the published standard error: ``se``; else
        ``sd / sqrt(n)``; else the half-width of ``ci`` divided by the normal quantile of
        ``ci_level``; else, for a ``proportion`` with ``n``, the binomial ``sqrt(p (1 - p) / n)``.
    ``abs`` / ``rel``
        ``|simulated - value| <= abs`` / ``<= rel x |value|``.
    ``ci``
        ``true``: the simulated value lies inside the published ``ci``.
    ``z``
        p-values (``statistic: median``): compare on the z scale, ``z = Φ⁻¹(1 - p/2)`` (two-sided;
        ``Φ⁻¹(1 - p)`` one-sided), signed positive when the effect favours ``arm``; pass if
        ``|z_simulated - z_published| <= z``. One trial's z statistic has SD 1 around its
        expectation, so ``z: 2`` is "2 published SEs" for a single reported P.
    ``tail``
        Binary outcomes of one published trial (``fraction_significant``,
        ``fraction_all_significant``; ``value`` 1 = it happened, 0 = it did not): pass unless the
        model makes the published outcome rarer than ``tail`` (simulated fraction >= tail for
        value 1, <= 1 - tail for value 0).
    """

    k_se: float | None = Field(None, gt=0, description="published standard errors")
    abs: float | None = Field(None, gt=0, description="absolute, in the quantity's unit")
    rel: float | None = Field(None, gt=0, description="relative to |value|")
    ci: Literal[True] | None = Field(None, description="inside the published 'ci'")
    z: float | None = Field(None, gt=0, description="p-values: distance on the z scale")
    tail: float | None = Field(None, gt=0, lt=0.5, description="binary outcomes: tail probability")

    @model_validator(mode="after")
    def _one(self) -> ToleranceSpec:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of k_se, abs, rel, ci, z, tail"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> str:
        """The key given."""
        return next(k for k in type(self).model_fields if getattr(self, k) is not None)


class ExpectedSpec(_Frozen):
    """One published result the scenario should reproduce (checked by ``ketsim validate``).

    ``quantity`` says what is computed from the simulation (see
    :mod:`ketsim.apps.published_checks` for the
    exact definitions); the selectors it needs (``arm``, ``week``, ``event``, ``analyte``, ...)
    pick the number; ``value`` with its published uncertainty (``sd``/``se``/``n``/``ci``) is
    what the paper reports, and ``tolerance`` (or ``relation``) decides pass or fail. ``source``
    says where in the paper the number is. ``overrides`` patches the scenario for this check only
    (e.g. a fixed ``regimens`` for a PK check of a trial scenario): mappings merge key by key,
    anything else replaces. Example (Sigtermans 2009)::

        expected:
          - name: nrs_week1_ketamine
            quantity: arm_mean
            arm: ketamine
            week: 1
            measure: end_of_week
            value: 2.68
            se: 0.51            # published SEM
            n: 30
            tolerance: {k_se: 2}
            source: "Abstract: end of week 1, ketamine 2.68 ± 0.51 (mean ± SEM)"
    """

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=80,
        description="check label in the validation table",
    )
    quantity: Literal[EXPECTED_QUANTITIES] = Field(  # type: ignore[valid-type]
        description="what is computed: " + ", ".join(EXPECTED_QUANTITIES)
    )
    # -- selectors ---------------------------------------------------------------------------
    arm: str | None = Field(None, description="arm whose patients are summarised")
    control: str | None = Field(None, description="comparator arm (differences, p-values)")
    week: int | None = Field(None, ge=1, description="week (from day 1 of the anchor)")
    weeks: tuple[int, int] | None = Field(
        None, description="p_value: first and last week (inclusive), one row per week"
    )
    day: int | None = Field(None, ge=1, description="diary day (measure: day)")
    measure: Literal["end_of_week", "weekly_mean", "day"] = Field(
        "weekly_mean",
        description="NRS of the week: the day-7w diary score (end_of_week), the mean of days "
        "7w-6..7w with >= 4 entries (weekly_mean), or the score of 'day'",
    )
    scale: Literal["nrs", "change_from_baseline"] = Field(
        "nrs", description="raw NRS or change from the baseline-days mean"
    )
    anchor: Literal["start", "treatment_end"] = Field(
        "start", description="day 1 = first treatment day, or first diary day after dosing ends"
    )
    test: Literal["t_test", "welch", "wilcoxon"] = Field(
        "t_test", description="p_value: test of arm vs control in each week"
    )
    statistic: Literal[STATISTICS] | None = Field(  # type: ignore[valid-type]
        None,
        description="p_value: median (default), fraction_significant, fraction_all_significant; "
        "PK and lasting_effect_days: mean (default), median, geometric_mean, sd, typical (the "
        "typical 70-kg man without variability)",
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level of p_value fractions")
    sides: Literal[1, 2] = Field(2, description="p_value: two-sided, or one-sided for benefit")
    event: Literal[EXPECTED_EVENTS] | None = Field(  # type: ignore[valid-type]
        None, description="proportion: " + ", ".join(EXPECTED_EVENTS)
    )
    threshold_pct: float = Field(
        30.0, gt=0, le=100, description="nrs_responder: reduction from baseline at 'week'"
    )
    definition: Literal["difference_below", "slow_below_c50", "drive_below"] | None = Field(
        None,
        description="lasting_effect_days: arm-control NRS difference falls below 'fraction' of "
        "its first post-infusion week (or 'threshold' NRS); slow-compartment S-ketamine below "
        "'threshold' (default the PD C50); desensitizing drive below 'fraction' of its end value",
    )
    fraction: float | None = Field(None, gt=0, lt=1, description="lasting_effect_days fraction")
    threshold: float | None = Field(
        None, gt=0, description="lasting_effect_days: NRS (difference_below) or ng/mL"
    )
    analyte: Literal[PK_ANALYTES] = Field(  # type: ignore[valid-type]
        "ketamine", description="PK: plasma ketamine, norketamine, or effect compartments"
    )
    ratio_analyte: Literal[PK_ANALYTES] | None = Field(  # type: ignore[valid-type]
        None, description="pk_ratio: denominator analyte (default 'analyte')"
    )
    ratio_of: Literal["auc", "cmax"] = Field("auc", description="pk_ratio: AUC or Cmax")
    enantiomer: Literal["S", "R", "sum"] = Field("S", description="PK: enantiomer (racemic: sum)")
    time: HoursField | None = Field(None, description="pk_concentration: time after t = 0")
    window: tuple[HoursField, HoursField] | None = Field(
        None, description="PK: [start, end] of Cmax/Tmax/AUC, or of the half-life fit"
    )
    unit: Literal["h", "min", "d"] = Field("h", description="unit of pk_tmax / pk_half_life")
    overrides: dict[str, Any] | None = Field(
        None, description="scenario changes for this check only (merged into the scenario)"
    )
    # -- the published number ------------------------------------------------------------------
    value: float = Field(description="published value (proportions as fractions, 0-1)")
    sd: float | None = Field(None, ge=0, description="published between-patient SD")
    se: float | None = Field(None, gt=0, description="published standard error")
    n: int | None = Field(None, ge=1, description="published sample size")
    ci: tuple[float, float] | None = Field(None, description="published confidence interval")
    ci_level: float = Field(0.95, gt=0, lt=1, description="level of 'ci'")
    relation: Literal["within", "below", "above"] = Field(
        "within",
        description="within: |simulated - value| inside 'tolerance'; below/above: a published "
        "bound (simulated < value / > value), no tolerance",
    )
    tolerance: ToleranceSpec | None = Field(None, description="acceptance (relation: within)")
    source: str = Field(min_length=1, description="where in the paper the number is")
    note: str = Field("", description="free text shown with the check (assumptions, caveats)")

    @model_validator(mode="after")
    def _consistent(self) -> ExpectedSpec:
        q = self.quantity
        # keys of other quantities are errors unless they hold their default (a resolved dump
        # writes every key)
        fields = type(self).model_fields
        extra = sorted(
            k
            for k in self.model_fields_set - _EXPECTED_COMMON - EXPECTED_KEYS[q]
            if getattr(self, k) != fields[k].default
        )
        if extra:
            allowed = ", ".join(sorted(EXPECTED_KEYS[q]))
            keys = ", ".join(f"'{k}'" for k in extra)
            raise ValueError(f"{keys} does not apply to quantity {q} (its selectors: {allowed})")

        def need(*keys: str) -> None:
            for k in keys:
                if getattr(self, k) is None:
                    raise ValueError(f"quantity {q} needs '{k}'")

        if q in ("arm_mean", "arm_difference", "proportion", "end_rate", "p_value"):
            need("arm")
        if q in ("arm_difference", "p_value"):
            need("control")
        if q in ("arm_mean", "arm_difference"):
            if self.measure == "day":
                need("day")
                if self.week is not None:
                    raise ValueError("measure 'day' takes 'day', not 'week'")
            else:
                need("week")
                if self.day is not None:
                    raise ValueError(f"'day' needs measure 'day' (got {self.measure})")
        if q == "p_value":
            if (self.week is None) == (self.weeks is None):
                raise ValueError("quantity p_value needs exactly one of 'week' or 'weeks'")
            if self.weeks is not None and not 1 <= self.weeks[0] <= self.weeks[1]:
                raise ValueError(f"'weeks' must satisfy 1 <= first <= last (got {self.weeks})")
            if self.measure == "day":
                raise ValueError("p_value compares weeks: measure end_of_week or weekly_mean")
        if q == "proportion":
            need("event")
            if (self.event == "nrs_responder") != (self.week is not None):
                raise ValueError("'week' goes with event nrs_responder (and it needs one)")
        if q == "lasting_effect_days":
            need("definition")
            if self.definition == "difference_below":
                need("arm", "control")
                if (self.fraction is None) == (self.threshold is None):
                    raise ValueError(
                        "difference_below needs exactly one of 'fraction' or 'threshold'"
                    )
            elif self.definition == "drive_below":
                need("fraction")
            elif self.fraction is not None:
                raise ValueError("slow_below_c50 takes 'threshold' (ng/mL), not 'fraction'")
            if self.definition != "difference_below" and (self.arm or self.control):
                raise ValueError(f"{self.definition} is computed from PK: no 'arm'/'control'")
        if q == "pk_concentration":
            need("time")
        if q == "pk_half_life":
            need("window")
        if self.window is not None and not 0 <= self.window[0] < self.window[1]:
            raise ValueError(f"'window' must satisfy 0 <= start < end (got {self.window})")
        stat = self.statistic
        if q == "p_value":
            allowed_stats: tuple[str, ...] = P_STATISTICS
        elif q in PK_QUANTITIES or (
            q == "lasting_effect_days" and self.definition != "difference_below"
        ):
            allowed_stats = PK_STATISTICS
        else:
            allowed_stats = ()
        if stat is not None and stat not in allowed_stats:
            what = ", ".join(allowed_stats) if allowed_stats else "none (the replicate mean)"
            raise ValueError(f"statistic '{stat}' does not apply to {q}; allowed: {what}")
        fraction_valued = q == "proportion" or (q == "p_value" and stat is not None)
        if fraction_valued and stat != "median" and not 0 <= self.value <= 1:
            raise ValueError(f"'value' of {q} is a fraction in [0, 1] (got {self.value})")
        if self.ci is not None and not self.ci[0] <= self.ci[1]:
            raise ValueError(f"'ci' must satisfy low <= high (got {list(self.ci)})")
        self._check_tolerance()
        if self.overrides is not None:
            bad = sorted(set(self.overrides) & {"expected", "sweep", "name", "schema_version"})
            if bad:
                raise ValueError(f"overrides cannot change {', '.join(bad)}")
        return self

    def _check_tolerance(self) -> None:
        t = self.tolerance
        if self.relation != "within":
            if t is not None:
                raise ValueError(f"relation {self.relation} is a bound: give no 'tolerance'")
            return
        if t is None:
            raise ValueError("relation within needs a 'tolerance' (k_se, abs, rel, ci, z, tail)")
        kind = t.kind
        p_stat = self.statistic or "median"
        if kind == "k_se" and self.published_se() is None:
            raise ValueError(
                "tolerance k_se needs the published 'se', 'sd' and 'n', or 'ci' "
                "(or 'n' for a proportion)"
            )
        if kind == "ci" and self.ci is None:
            raise ValueError("tolerance ci needs the published 'ci'")
        if kind == "z":
            if self.quantity != "p_value" or p_stat != "median":
                raise ValueError("tolerance z applies to p_value with statistic median")
            if not 0 < self.value < 1:
                raise ValueError(f"a p-value 'value' must lie in (0, 1) (got {self.value})")
        if kind == "tail":
            if self.quantity != "p_value" or p_stat == "median":
                raise ValueError(
                    "tolerance tail applies to p_value fractions (fraction_significant, "
                    "fraction_all_significant)"
                )
            if self.value not in (0.0, 1.0):
                raise ValueError("tolerance tail needs 'value' 1 (it happened) or 0 (it did not)")
        elif self.quantity == "p_value" and p_stat != "median":
            raise ValueError(
                f"statistic {p_stat} of one published trial is judged by tolerance 'tail'"
            )

    def published_se(self) -> float | None:
        """The published standard error (see :class:`ToleranceSpec`), or None."""
        from statistics import NormalDist

        if self.se is not None:
            return self.se
        if self.sd is not None and self.n is not None:
            return self.sd / self.n**0.5
        if self.ci is not None:
            z = NormalDist().inv_cdf(0.5 + self.ci_level / 2)
            return (self.ci[1] - self.ci[0]) / (2 * z)
        if self.quantity == "proportion" and self.n is not None and 0 <= self.value <= 1:
            return (self.value * (1 - self.value) / self.n) ** 0.5
        return None


def merge_overrides(current: Any, override: Any) -> Any:
    """``override`` merged into ``current``: mappings key by key (recursively), anything else
    replaces. A validated model counts as the mapping of the keys it was given (its defaults are
    filled in again when the result is validated); values are kept as they are, so nothing is
    rounded by a text round trip."""
    if isinstance(override, dict):
        if isinstance(current, BaseModel):
            current = {k: getattr(current, k) for k in current.model_fields_set}
        if isinstance(current, dict):
            out = dict(current)
            for k, v in override.items():
                out[k] = merge_overrides(out.get(k), v)
            return out
    return override


class Scenario(_Frozen):
    """A ketsim scenario: a population PK run (``regimens``) and/or a trial (``arms``)."""

    schema_version: Literal[0] = Field(0, description="scenario schema version")
    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=80,
        description="scenario label: names run directories and report titles",
    )
    description: str = Field("", description="free text: the question the scenario asks")
    reference: str | None = Field(None, description="citation of the trial a scenario encodes")
    drug: Literal["S-ketamine", "racemic"] = Field(
        "S-ketamine",
        description="S-ketamine, or the racemate (R and S in parallel, half of every dose each)",
    )
    parameter_set: Literal[tuple(PARAMETER_SETS)] = Field(  # type: ignore[valid-type]
        "noppers2011", description="PK parameter set (Noppers 2011 or Simons 2022)"
    )
    population: PopulationSpec = Field(
        PopulationSpec(), description="who the patients are (indication defaults)"
    )
    regimens: list[RegimenSpec] | None = Field(
        None, min_length=1, description="dosing for a population PK run (``ketsim pk``)"
    )
    arms: list[ArmSpec] | None = Field(
        None, min_length=1, description="trial arms (``ketsim simulate``)"
    )
    trial: TrialSpec = Field(TrialSpec(), description="trial calendar, diary and screening")
    design: DesignSpec = Field(DesignSpec(), description="allocation, recruitment, design type")
    endpoints: list[EndpointSpec] = Field([], description="endpoints computed per patient")
    analyses: list[AnalysisSpec] = Field([], description="analyses run on each replicate trial")
    statistics: StatisticsSpec = Field(
        StatisticsSpec(), description="default alpha and sides of the analyses"
    )
    switches: SwitchesSpec = Field(
        SwitchesSpec(), description="uncertain model assumptions (MODEL.md), each a switch"
    )
    pd: Annotated[dict[str, float], AfterValidator(_pd_overrides)] = Field(
        {}, description="overrides of PD parameters (ketsim.core.pd.parameters.PDParameters)"
    )
    output: OutputSpec = Field(
        OutputSpec(), description="concentration output grid of PK runs (``ketsim pk``)"
    )
    seed: int | None = Field(None, ge=0, description="root seed; recorded when auto-generated")
    sweep: SweepSpec | None = Field(
        None,
        description=(
            "parameter sweep over this scenario (ketsim.config.sweep); every cell shares the seed"
        ),
    )
    expected: list[ExpectedSpec] = Field(
        [],
        description="published results the scenario should reproduce (ketsim validate)",
    )

    @model_validator(mode="after")
    def _something_to_do(self) -> Scenario:
        if self.regimens is None and self.arms is None:
            raise ValueError("a scenario needs 'regimens' (PK run) or 'arms' (trial)")
        if self.arms is not None:
            names = [a.name for a in self.arms]
            if len(set(names)) != len(names):
                raise ValueError(f"arm names must be unique (got {names})")
            check_design(self)
        elif self.endpoints or self.analyses:
            raise ValueError("'endpoints' and 'analyses' need 'arms'")
        return self

    @model_validator(mode="after")
    def _expected_targets(self) -> Scenario:
        seen: set[str] = set()
        for i, e in enumerate(self.expected):
            path = f"expected[{i}]"
            if e.name in seen:
                raise ValueError(f"{path}.name: '{e.name}' is used twice")
            seen.add(e.name)
            sc = self
            if e.overrides:
                try:
                    sc = apply_overrides(self, e.overrides)
                except ScenarioError as err:
                    raise ValueError(f"{path}.overrides: {'; '.join(err.problems)}") from None
            _check_expected_target(sc, e, path)
        return self

    def pk_regimens(self) -> list[RegimenSpec]:
        """Regimens of a PK run: ``regimens``, else those of the first ketamine arm."""
        if self.regimens is not None:
            return list(self.regimens)
        for arm in self.arms or []:
            if arm.treatment == "ketamine":
                return list(arm.regimens)
        raise ValueError("no ketamine regimen in this scenario")


def _check_expected_target(sc: Scenario, e: ExpectedSpec, path: str) -> None:
    """Cross-field checks of one expectation against the scenario it runs on."""
    q = e.quantity
    trial = q in TRIAL_QUANTITIES or e.definition == "difference_below"
    if trial:
        if not sc.arms:
            raise ValueError(f"{path}.quantity: {q} needs 'arms' (a trial scenario)")
        if sc.design.type == "crossover":
            raise ValueError(f"{path}.quantity: {q} is defined for parallel and enrichment designs")
        names = [a.name for a in sc.arms]
        for key in ("arm", "control"):
            v = getattr(e, key)
            if v is not None and v not in names:
                raise ValueError(f"{path}.{key}: unknown arm '{v}' (arms: {', '.join(names)})")
        if e.control is not None and e.control == e.arm:
            raise ValueError(f"{path}.control: must differ from 'arm' ({e.arm})")
        if e.anchor == "start":
            last = 7 * sc.trial.weeks
            for key, d in (("week", e.week), ("weeks", e.weeks[1] if e.weeks else None)):
                if d is not None and 7 * d > last:
                    raise ValueError(
                        f"{path}.{key}: week {d} is after the trial's last week ({sc.trial.weeks})"
                    )
            if e.day is not None and e.day > last:
                raise ValueError(f"{path}.day: day {e.day} is after the trial's last day ({last})")
    else:
        if sc.regimens is None:
            raise ValueError(
                f"{path}.quantity: {q} runs population PK on 'regimens': give them in the "
                "scenario or in 'overrides' (titrated trial arms are not used)"
            )
        if e.enantiomer != "S" and sc.drug != "racemic":
            raise ValueError(f"{path}.enantiomer: {e.enantiomer} needs drug: racemic")
        for key, t in (("time", e.time), ("window", e.window[1] if e.window else None)):
            if t is not None and t > sc.output.end + 1e-9:
                raise ValueError(
                    f"{path}.{key}: {t:g} h is after the output grid's end ({sc.output.end:g} h)"
                )


def apply_overrides(sc: Scenario, overrides: dict) -> Scenario:
    """The scenario with ``overrides`` merged in (:func:`merge_overrides`), without its
    ``expected`` and ``sweep``.

    Raises
    ------
    ScenarioError
        If the patched scenario is not valid (one ``path: message`` line per problem).
    """
    data = {k: getattr(sc, k) for k in sc.model_fields_set if k not in ("expected", "sweep")}
    return parse_scenario(merge_overrides(data, overrides), f"{sc.name} with overrides")


# -- reading and writing ---------------------------------------------------------------------------
def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _find_model(ann: Any) -> Any:
    """The first pydantic model class inside a type (list[X], X | None, Annotated[X, ...])."""
    import typing

    todo = [ann]
    while todo:
        t = todo.pop(0)
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
        todo.extend(typing.get_args(t))
    return ann


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class that owns the mapping at ``loc`` (for 'allowed keys' hints)."""
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = _find_model(field.annotation)
        model = ann
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _problems(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x.startswith("function-")))
        # union branches add their type name to the path; drop them
        loc = tuple(
            x for x in loc if x not in ("Amount", "Rate", "float", "literal['hardy_weinberg']")
        )
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            owner = _model_at(loc[:-1])
            allowed = ", ".join(owner.model_fields) if owner else ""
            msg = "unknown key" + (f"; allowed: {allowed}" if allowed else "")
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
            # cross-field checks (ketsim.sim.design) name their own YAML path
            m = re.match(r"^([A-Za-z_][\w.\[\]]*): ", msg)
            if not loc and m and m.group(1).split(".")[0].split("[")[0] in Scenario.model_fields:
                lines.append(msg)
                continue
        elif e["type"] == "literal_error":
            msg = msg.replace("Input should be", "must be one of")
        lines.append(f"{_loc(loc)}: {msg}")
    return lines


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a mapping (as read from YAML) into a frozen :class:`Scenario`.

    Raises
    ------
    ScenarioError
        With one ``path: message`` line per problem.
    """
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"(top level): a scenario must be a mapping of keys, got {type(data).__name__}"],
            source,
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_problems(err), source) from None


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with the safe loader.

    Raises
    ------
    ScenarioError
        ``(file): ...`` when the file cannot be read, ``(yaml): ...`` on a syntax error.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(
            [f"(file): cannot read {path}: {err.strerror or err}"], str(path)
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError([f"(yaml): syntax error at {where}: {problem}"], str(path)) from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (safe loader)."""
    return parse_scenario(read_yaml(path), str(Path(path)))


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as YAML with every default filled in (re-loadable)."""
    data = scenario.model_dump(mode="json")
    if scenario.design.type == "crossover" and "weeks" not in scenario.trial.model_fields_set:
        # a crossover's length follows from its periods; a filled-in trial.weeks would be
        # rejected when the dump is read back
        data["trial"].pop("weeks", None)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
