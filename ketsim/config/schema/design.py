"""The trial in the scenario schema: arms, calendar and screening, and the design (allocation,
recruitment, crossover, enrichment, open-label extension).
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ketsim.config.schema.base import StrictModel
from ketsim.config.schema.regimen import ArmRegimen
from ketsim.core.pd.background import BACKGROUND_FIELDS
from ketsim.core.pd.comparators import PD_FIELDS

__all__ = [
    "STRATIFIERS",
    "AdjunctSpec",
    "ArmSpec",
    "ComparatorSpec",
    "CrossoverSpec",
    "DesignSpec",
    "EnrichmentSpec",
    "ExtensionSpec",
    "RandomisationSpec",
    "RecruitmentSpec",
    "ScreeningSpec",
    "TrialSpec",
]


class ComparatorSpec(StrictModel):
    """The comparator drug of an ``active_placebo`` (midazolam) or ``lidocaine`` arm.

    The arm's ``regimens`` give the comparator's doses (IV infusion or IV bolus), scaled by
    ``dose_per_mg``; its PK and PD are :mod:`ketsim.core.pk.comparator_pk` and
    :mod:`ketsim.core.pd.comparators`.
    """

    dose_per_mg: float = Field(
        1.0,
        gt=0,
        le=10,
        description="mg of the comparator per mg of the arm's regimens: 1 when the regimens are "
        "the comparator's own doses (e.g. midazolam '5 mg over 30min', Noppers 2011); below 1 "
        "for a bag matched to a ketamine schedule, which then follows its titration",
    )
    parameters: dict[str, float] = Field(
        {},
        description="overrides of the comparator's PD: " + ", ".join(PD_FIELDS),
    )

    @field_validator("parameters")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(v) - set(PD_FIELDS))
        if bad:
            raise ValueError(f"unknown comparator parameters {bad}; allowed: {list(PD_FIELDS)}")
        if any(not x >= 0 for x in v.values()):
            raise ValueError("comparator parameters must be >= 0")
        return v


class AdjunctSpec(StrictModel):
    """An adjunct infusion given with the arm's own (e.g. MgSO4 with ketamine): its effects act
    while the arm's infusion runs (no PK of its own; :mod:`ketsim.core.pd.background`)."""

    parameters: dict[str, float] = Field(
        {},
        description="overrides of the adjunct's effects (defaults: no relief, Fischer 2013; "
        "ketamine acute factor 1, felt flush 0.5, belief up 0.2, L): "
        + ", ".join(BACKGROUND_FIELDS),
    )

    @field_validator("parameters")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(set(v) - set(BACKGROUND_FIELDS))
        if bad:
            raise ValueError(
                f"unknown adjunct parameters {bad}; allowed: {list(BACKGROUND_FIELDS)}"
            )
        if any(not x >= 0 for x in v.values()):
            raise ValueError("adjunct parameters must be >= 0")
        return v


class ArmSpec(StrictModel):
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
    treatment: Literal["ketamine", "placebo", "active_placebo", "lidocaine"] = Field(
        "ketamine",
        description="ketamine; placebo (saline on the same schedule); active placebo "
        "(midazolam: its own PK and felt sedation, no dissociation); lidocaine (active "
        "comparator: acute relief during the infusion, felt CNS effects)",
    )
    comparator: ComparatorSpec | None = Field(
        None,
        description="dose scale and PD overrides of the comparator drug (active_placebo and "
        "lidocaine arms; None: the defaults)",
    )
    regimens: list[ArmRegimen] = Field(
        min_length=1,
        description="dosing schedule (placebo arms: the schedule of the dummy; active_placebo "
        "and lidocaine arms: the comparator's IV doses, times comparator.dose_per_mg)",
    )
    mgso4: AdjunctSpec | None = Field(
        None, description="MgSO4 infused with the arm's infusions (an adjunct; None: none)"
    )
    blinding: Literal["double_blind", "open_label"] = Field(
        "double_blind",
        description="double_blind: patients start at the allocation prior of being on drug; "
        "open_label: they know their treatment (placebo response follows belief)",
    )

    @model_validator(mode="after")
    def _comparator_arm(self) -> ArmSpec:
        if self.comparator is not None and self.treatment not in ("active_placebo", "lidocaine"):
            raise ValueError(
                f"'comparator' needs treatment active_placebo or lidocaine (got {self.treatment})"
            )
        if self.treatment in ("active_placebo", "lidocaine"):
            bad = sorted({r.route for r in self.regimens} - {"iv_infusion", "iv_bolus"})
            if bad:
                raise ValueError(
                    f"a {self.treatment} arm is given IV (iv_infusion, iv_bolus), not {bad}"
                )
        return self

    @model_validator(mode="after")
    def _titrated_windows_apart(self) -> ArmSpec:
        # one nurse-set rate at a time: the trial model refuses overlapping titrated infusions,
        # so say so here, with the regimens' indices, before anything is simulated
        windows = sorted(
            (s, s + r.duration, i)
            for i, r in enumerate(self.regimens)
            if r.titration is not None and r.duration is not None
            for s in r.start_times()
        )
        for (a0, a1, i), (b0, b1, j) in itertools.pairwise(windows):
            if b0 < a1 - 1e-9:
                raise ValueError(
                    f"regimens[{i}] ({a0:g}-{a1:g} h) and regimens[{j}] ({b0:g}-{b1:g} h) are "
                    "titrated infusions that overlap: one titrated rate at a time"
                )
        return self


class ScreeningSpec(StrictModel):
    """Entry by a noisy screening score: creates regression to the mean."""

    days: int = Field(1, ge=1, le=28, description="daily NRS averaged for the screening score")
    threshold: float | None = Field(
        None, ge=0, le=10, description="minimum screening score to enter (None: everyone)"
    )


class TrialSpec(StrictModel):
    """Trial calendar and diary."""

    weeks: int = Field(12, ge=1, le=520, description="follow-up after the start of treatment")
    baseline_days: int = Field(7, ge=1, le=56, description="diary days before treatment")
    start_hour: float = Field(8.0, ge=0, lt=24, description="clock hour of t = 0")
    diary_hour: float = Field(20.0, ge=0, lt=24, description="clock hour of the daily NRS")
    screening: ScreeningSpec = Field(
        ScreeningSpec(), description="entry by a noisy screening score (regression to the mean)"
    )


STRATIFIERS = ("sex", "cyp2b6", "sensitization", "depression", "baseline_pain")


class RandomisationSpec(StrictModel):
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


class RecruitmentSpec(StrictModel):
    """Enrolment over calendar time (a Poisson process); ``None`` rate = everyone at once."""

    patients_per_week: float | None = Field(
        None, gt=0, le=10_000, description="mean enrolment rate (patients per week)"
    )


class CrossoverSpec(StrictModel):
    """A crossover: every patient receives the arms' treatments in the order of a sequence."""

    sequences: list[list[str]] | Literal["latin_square", "williams", "all"] = Field(
        "williams",
        description="orders of arm names, one list per sequence, or a generator: latin_square "
        "(cyclic), williams (balanced for first-order carry-over), all (every permutation)",
    )
    n_per_sequence: int | list[int] = Field(
        description="patients per sequence: one number for every sequence, or one per sequence "
        "(unequal sequences, e.g. an odd total: [10, 9])"
    )
    period_weeks: int = Field(
        ge=1, le=104, description="weeks from a period's first dose to its end"
    )
    washout_weeks: int = Field(
        0, ge=0, le=104, description="weeks without treatment between periods"
    )

    @field_validator("n_per_sequence")
    @classmethod
    def _sizes(cls, v: int | list[int]) -> int | list[int]:
        sizes = v if isinstance(v, list) else [v]
        if not sizes:
            raise ValueError("at least one sequence size is needed")
        for x in sizes:
            if isinstance(x, bool) or not 1 <= x <= 100_000:
                raise ValueError(f"patients per sequence must lie in 1..100000 (got {x})")
        return v

    def sizes(self, n_sequences: int) -> list[int]:
        """Patients in each of ``n_sequences`` sequences."""
        v = self.n_per_sequence
        return list(v) if isinstance(v, list) else [int(v)] * n_sequences


class EnrichmentSpec(StrictModel):
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


class ExtensionSpec(StrictModel):
    """Open-label extension after the double-blind phase (``trial.weeks``)."""

    arms: list[str] = Field(min_length=1, description="arms whose patients enter the extension")
    weeks: int = Field(ge=1, le=520, description="length of the extension")
    regimens: list[ArmRegimen] = Field(min_length=1, description="open-label ketamine regimens")


class DesignSpec(StrictModel):
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
