"""Endpoints in the scenario schema: what is measured per patient from the diary and events
(:class:`EndpointSpec`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ketsim.config.schema.base import HoursField, StrictModel

__all__ = [
    "AE_NAMES",
    "ENDPOINT_TYPES",
    "SESSION_ENDPOINTS",
    "EndpointSpec",
]


ENDPOINT_TYPES = (
    "change_from_baseline",
    "weekly_mean",
    "auc",
    "responder",
    "time_to_relapse",
    "adverse_event",
    "dropout",
    "session_score",
    "session_relief",
    "peak_session_relief",
)
#: endpoints read from a session assessment (``assessments:``) rather than from the diary
SESSION_ENDPOINTS = ("session_score", "session_relief", "peak_session_relief")
AE_NAMES = ("psychotomimetic", "intolerable", "nausea", "vomiting", "liver_injury", "discontinued")


class EndpointSpec(StrictModel):
    """One endpoint computed per patient from the diary and events.

    Days and weeks count from the first dose of the randomised treatment (for crossovers: of
    each period; for enrichment designs: the first day after randomisation is day 1), or with
    ``anchor: treatment_end`` from the end of its scheduled dosing (day 1 = the first diary
    entry after the last scheduled infusion or dose): "is relief still there 48 h / 4 weeks /
    12 weeks after the infusion?".

    Session endpoints read an ``assessment`` in one dosing ``session`` of the randomised
    treatment (each crossover period): ``session_score`` is the reading on the assessment's scale
    at offset ``time``; ``session_relief`` the % relief from the pre-session reading at ``time``,
    ``100 (1 - x(time) / x_pre)`` on the recorded scale (NRS integers, VAS mm; a percent_relief
    assessment's own value); ``peak_session_relief`` the highest of those % reliefs over the
    session's readings. ``session: mean`` averages the patient's sessions.
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
    assessment: str | None = Field(
        None, description="session endpoints: name of the assessment (assessments[].name)"
    )
    time: HoursField | None = Field(
        None,
        description="session_score, session_relief: the assessment's offset read, e.g. '40 min' "
        "(as in its 'times', or a multiple of its 'every')",
    )
    session: int | Literal["mean"] = Field(
        1,
        description="session endpoints: which session of the randomised treatment (1 = the "
        "first), or mean (the mean over the patient's sessions with a value)",
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
        if t in SESSION_ENDPOINTS:
            if self.assessment is None:
                raise ValueError(f"endpoint type {t} needs an 'assessment'")
            if (self.time is None) != (t == "peak_session_relief"):
                need = "does not take" if t == "peak_session_relief" else "needs"
                raise ValueError(f"endpoint type {t} {need} a 'time'")
            if self.week is not None or self.days is not None or self.anchor != "start":
                raise ValueError(f"endpoint type {t} is timed by its session: no week/days/anchor")
            if self.session != "mean" and self.session < 1:
                raise ValueError(f"'session' counts from 1 (got {self.session})")
        elif self.assessment is not None or self.time is not None:
            raise ValueError(f"'assessment' and 'time' are for session endpoints, not {t}")
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
