"""Pain assessments timed by the dosing sessions (:class:`AssessmentSpec`), besides the daily diary.

A *session* is one administration of an arm's regimens, or several that overlap or touch (a bolus
with an infusion, a loading infusion followed by a maintenance one): from its first start to its
last end. Each assessment is read in every session of every treatment segment (run-in, randomised
treatment, crossover periods, extension), on the arm's schedule (placebo arms: the dummy's), and
always also once just before the session starts (the pre-session score, for % relief).

Scales (the reading ``r`` is the expected pain on the 0-10 NRS plus the assessment's noise, clipped
to [0, 10]): ``nrs`` = ``r`` rounded to an integer as the diary is; ``vas`` = ``10 r`` (a 0-100 mm
line, continuous); ``percent_relief`` = ``100 (1 - r / r_pre)`` with ``r_pre`` the pre-session
reading (NaN when ``r_pre`` is 0).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ketsim.config.schema.base import HoursField, StrictModel

__all__ = ["ASSESSMENT_SCALES", "AssessmentSpec"]

ASSESSMENT_SCALES = ("nrs", "vas", "percent_relief")


class AssessmentSpec(StrictModel):
    """A pain assessment at times relative to each dosing session (in-clinic readings).

    ``times`` are offsets from the session's start or end (``relative_to``); ``every`` instead
    reads every so often during the session (from start + every up to its end). Each reading has
    its own measurement noise (``noise_sd``), independent of the diary's; in-clinic readings are
    never missing, except after the patient left the study or for sessions after treatment was
    discontinued.
    """

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=60,
        description="assessment label, referred to by endpoints[].assessment",
    )
    relative_to: Literal["start", "end"] = Field(
        "start", description="offsets count from the session's start or from its end"
    )
    times: list[HoursField] | None = Field(
        None,
        description="offsets of the readings, e.g. ['15 min', '40 min'] (relative_to start: > 0; "
        "the reading at the start itself is the pre-session score, always taken)",
    )
    every: HoursField | None = Field(
        None,
        description="instead of 'times': a reading every so often during the session, from "
        "start + every to its end (relative_to start)",
    )
    scale: Literal[ASSESSMENT_SCALES] = Field(  # type: ignore[valid-type]
        "nrs",
        description="nrs (integer 0-10, rounded as the diary), vas (0-100 = 10 x NRS, "
        "continuous) or percent_relief (100 x (1 - reading / pre-session reading))",
    )
    noise_sd: float | None = Field(
        None,
        ge=0,
        le=5,
        description="SD of a reading's measurement noise in NRS points (VAS: x 10 mm), "
        "independent between readings; None: the diary's daily noise SD (no cited "
        "single-assessment SD; L)",
    )
    regimen: int | None = Field(
        None,
        ge=0,
        description="only the administrations of this regimen (0-based index into each "
        "segment's regimens) make sessions; None: every regimen",
    )

    @model_validator(mode="after")
    def _when(self) -> AssessmentSpec:
        if (self.times is None) == (self.every is None):
            raise ValueError("an assessment needs 'times' or 'every' (one of them)")
        if self.times is not None:
            if not self.times:
                raise ValueError("'times' must not be empty")
            if len(set(self.times)) != len(self.times):
                raise ValueError("'times' must not repeat")
            low = 0.0 if self.relative_to == "end" else 1e-9
            bad = [t for t in self.times if not t >= low]
            if bad:
                what = ">= 0 after the end" if self.relative_to == "end" else "> 0 after the start"
                raise ValueError(f"'times' must be {what} (got {bad[0]:g} h)")
        if self.every is not None:
            if self.relative_to != "start":
                raise ValueError("'every' reads during the session: use relative_to start")
            if not self.every >= 1.0 / 60.0:
                raise ValueError(f"'every' must be at least 1 min (got {self.every * 60:g} min)")
        return self
