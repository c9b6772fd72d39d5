"""Expected results in the scenario schema: published numbers a scenario should reproduce
(:class:`ExpectedSpec`), their acceptance (:class:`ToleranceSpec`) and the quantities and
selectors :mod:`ketsim.apps.published_checks` computes.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Literal

from pydantic import Field, model_validator

from ketsim.config.schema.base import HoursField, StrictModel
from ketsim.config.schema.endpoints import AE_NAMES

__all__ = [
    "ANY_AE_DEFAULT",
    "EXPECTED_EVENTS",
    "EXPECTED_KEYS",
    "EXPECTED_QUANTITIES",
    "PK_ANALYTES",
    "PK_QUANTITIES",
    "PK_STATISTICS",
    "PROPORTION_QUANTITIES",
    "P_STATISTICS",
    "STATISTICS",
    "TRIAL_QUANTITIES",
    "ExpectedSpec",
    "ToleranceSpec",
]


# -- expected results (validation against published trials; ketsim.apps.published_checks) ------
EXPECTED_QUANTITIES = (
    "arm_mean",
    "arm_difference",
    "p_value",
    "proportion",
    "proportion_difference",
    "proportion_ratio",
    "any_ae",
    "median_nrs",
    "week_of_largest_difference",
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
TRIAL_QUANTITIES = (
    "arm_mean",
    "arm_difference",
    "p_value",
    "proportion",
    "proportion_difference",
    "proportion_ratio",
    "any_ae",
    "median_nrs",
    "week_of_largest_difference",
    "end_rate",
)
#: quantities over an arm's patients with an event (``event``, or any of ``events``)
PROPORTION_QUANTITIES = ("proportion", "proportion_difference", "proportion_ratio", "any_ae")
#: adverse events of ``any_ae`` without ``events``: every AE ('discontinued' is a treatment
#: action, not an adverse event)
ANY_AE_DEFAULT = tuple(a for a in AE_NAMES if a != "discontinued")
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
_EVENT_KEYS = frozenset({"event", "events", "week", "threshold_pct", "anchor"})
EXPECTED_KEYS: dict[str, frozenset[str]] = {
    "arm_mean": _NRS_KEYS | {"arm"},
    "arm_difference": _NRS_KEYS | {"arm", "control"},
    "p_value": _NRS_KEYS | {"arm", "control", "weeks", "test", "statistic", "alpha", "sides"},
    "proportion": _EVENT_KEYS | {"arm"},
    "proportion_difference": _EVENT_KEYS | {"arm", "control"},
    "proportion_ratio": _EVENT_KEYS | {"arm", "control"},
    "any_ae": frozenset({"arm", "events"}),
    "median_nrs": _NRS_KEYS | {"arm"},
    "week_of_largest_difference": _NRS_KEYS - {"week", "day"} | {"arm", "control", "weeks"},
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


class ToleranceSpec(StrictModel):
    """How far the simulated value may lie from the published one: exactly one key.

    ``k_se``
        ``|simulated - value| <= k x SE``, where SE is the published standard error: ``se``; else
        ``sd / sqrt(n)``; else the half-width of ``ci`` divided by the normal quantile of
        ``ci_level``; else, for a ``proportion`` or ``any_ae`` with ``n``, the binomial
        ``sqrt(p (1 - p) / n)``. ``proportion_ratio`` is judged on the log scale:
        ``|ln simulated - ln value| <= k x SE``, with ``se`` the SE of the log ratio or
        ``(ln high - ln low) / (2 z)`` of the ``ci``.
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


class ExpectedSpec(StrictModel):
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
        None,
        description="p_value: first and last week (inclusive), one row per week; "
        "week_of_largest_difference: the weeks searched (default every week of the trial, or of "
        "a crossover period)",
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
        None,
        description="proportion, proportion_difference, proportion_ratio: "
        + ", ".join(EXPECTED_EVENTS),
    )
    events: tuple[Literal[AE_NAMES], ...] | None = Field(  # type: ignore[valid-type]
        None,
        min_length=1,
        description="instead of 'event': adverse events, counting patients with any of them "
        "(any_ae default: every AE except discontinued)",
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

        if q in TRIAL_QUANTITIES:
            need("arm")
        if q in TRIAL_QUANTITIES and "control" in EXPECTED_KEYS[q]:
            need("control")
        if q in ("arm_mean", "arm_difference", "median_nrs"):
            if self.measure == "day":
                need("day")
                if self.week is not None:
                    raise ValueError("measure 'day' takes 'day', not 'week'")
            else:
                need("week")
                if self.day is not None:
                    raise ValueError(f"'day' needs measure 'day' (got {self.measure})")
        if q == "p_value":
            if self.measure == "day":
                # one diary day, e.g. the third entry after the infusion (Noppers 2010's 48 h)
                need("day")
                if self.week is not None or self.weeks is not None:
                    raise ValueError("measure 'day' takes 'day', not 'week' or 'weeks'")
            else:
                if (self.week is None) == (self.weeks is None):
                    raise ValueError("quantity p_value needs exactly one of 'week' or 'weeks'")
                if self.day is not None:
                    raise ValueError(f"'day' needs measure 'day' (got {self.measure})")
        if q == "week_of_largest_difference":
            if self.measure == "day":
                raise ValueError(
                    "week_of_largest_difference compares weeks: measure 'day' does not apply"
                )
            if self.anchor != "start" and self.weeks is None:
                raise ValueError("anchor treatment_end needs 'weeks' (the weeks searched)")
        if self.weeks is not None and not 1 <= self.weeks[0] <= self.weeks[1]:
            raise ValueError(f"'weeks' must satisfy 1 <= first <= last (got {self.weeks})")
        if q in PROPORTION_QUANTITIES and q != "any_ae":
            if (self.event is None) == (self.events is None):
                raise ValueError(f"quantity {q} needs exactly one of 'event' or 'events'")
            if (self.event == "nrs_responder") != (self.week is not None):
                raise ValueError("'week' goes with event nrs_responder (and it needs one)")
            if self.anchor != "start" and self.event != "nrs_responder":
                raise ValueError("'anchor' goes with event nrs_responder (the week it counts)")
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
        fraction_valued = q in ("proportion", "any_ae") or (q == "p_value" and stat is not None)
        if fraction_valued and stat != "median" and not 0 <= self.value <= 1:
            raise ValueError(f"'value' of {q} is a fraction in [0, 1] (got {self.value})")
        if q == "proportion_difference" and not -1 <= self.value <= 1:
            raise ValueError(f"'value' of {q} is a difference of fractions (got {self.value})")
        if q == "proportion_ratio":
            if self.value <= 0:
                raise ValueError(f"'value' of {q} must be > 0 (got {self.value})")
            if self.sd is not None:
                raise ValueError(f"{q} takes 'se' (of the log ratio) or 'ci', not 'sd'")
            if self.ci is not None and self.ci[0] <= 0:
                raise ValueError(f"'ci' of {q} must be positive (got {list(self.ci)})")
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
        """The published standard error (see :class:`ToleranceSpec`), or None; for
        ``proportion_ratio`` the SE of the log ratio."""

        if self.quantity == "proportion_ratio":
            # ratios are judged on the log scale: a CI of a ratio is symmetric there
            if self.se is not None:
                return self.se
            if self.ci is not None:
                z = NormalDist().inv_cdf(0.5 + self.ci_level / 2)
                return math.log(self.ci[1] / self.ci[0]) / (2 * z)
            return None
        if self.se is not None:
            return self.se
        if self.sd is not None and self.n is not None:
            return self.sd / self.n**0.5
        if self.ci is not None:
            z = NormalDist().inv_cdf(0.5 + self.ci_level / 2)
            return (self.ci[1] - self.ci[0]) / (2 * z)
        binomial = self.quantity in ("proportion", "any_ae")
        if binomial and self.n is not None and 0 <= self.value <= 1:
            return (self.value * (1 - self.value) / self.n) ** 0.5
        return None
