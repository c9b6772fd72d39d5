"""Analyses in the scenario schema: the test of each endpoint with its intercurrent-event
strategy (:class:`AnalysisSpec`) and the default significance level (:class:`StatisticsSpec`).
"""

from __future__ import annotations

import itertools
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ketsim.config.design_rules import METHODS
from ketsim.config.schema.base import StrictModel
from ketsim.core.stats.graphical import check_graph

__all__ = [
    "STRATEGIES",
    "AnalysisSpec",
    "InterimSpec",
    "MultiplicitySpec",
    "StatisticsSpec",
]


STRATEGIES = ("treatment_policy", "hypothetical", "composite", "bocf")


class AnalysisSpec(StrictModel):
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
    # Firth 1993 (Biometrika 80:27); Heinze & Schemper 2002 (Stat Med 21:2409): the penalised
    # likelihood has finite estimates under separation, which small responder trials hit often
    logistic_fit: Literal["firth", "maximum_likelihood"] = Field(
        "firth",
        description="logistic: Firth's penalised likelihood (finite estimates under separation; "
        "Wald test as SAS FIRTH) or plain maximum likelihood (separated replicates fail and "
        "count as not rejected)",
    )
    primary: bool = Field(
        False,
        description="the trial's primary analysis (at most one; default: the first analysis); "
        "ketsim samplesize sizes the trial for it, the CLI and report mark it",
    )
    alpha: float | None = Field(None, gt=0, lt=1, description="overrides statistics.alpha")
    sides: Literal[1, 2] | None = Field(None, description="overrides statistics.sides")


class InterimSpec(StrictModel):
    """Group-sequential design of the primary analysis: interim looks and their boundaries.

    Efficacy boundaries come from Lan–DeMets alpha spending at the looks' information fractions
    (:mod:`ketsim.core.stats.group_sequential`); futility bounds are non-binding.
    """

    information: list[float] | None = Field(
        None,
        min_length=1,
        description="interim looks as information fractions, increasing in (0, 1) (a final 1 "
        "may be given; the final analysis is always added): the look analyses the first "
        "ceil(t n) randomised patients, with their complete follow-up",
    )
    weeks: list[float] | None = Field(
        None,
        min_length=1,
        description="interim looks as calendar weeks from the first enrolment (needs "
        "design.recruitment.patients_per_week): the look analyses the patients whose follow-up "
        "is complete by then; its information fraction is their share of n",
    )
    # Lan & DeMets 1983 (Biometrika 70:659): the O'Brien-Fleming-type function spends almost no
    # alpha early, the usual choice for confirmatory trials (Jennison & Turnbull 2000, ch. 7);
    # default L (a design choice, not a measured quantity)
    spending: Literal["obrien_fleming", "pocock"] = Field(
        "obrien_fleming",
        description="alpha-spending function: obrien_fleming (2 - 2 Phi(z_{1-a/2} / sqrt(t))) or "
        "pocock (a ln(1 + (e - 1) t)); two-sided designs spend alpha/2 per side",
    )
    futility: list[float] | None = Field(
        None,
        description="non-binding futility bounds, one z value per interim look: stop if the "
        "benefit-direction z statistic is below it (efficacy boundaries ignore them)",
    )
    futility_beta: float | None = Field(
        None,
        gt=0,
        lt=0.5,
        description="instead of futility: non-binding bounds from spending this type-II error "
        "(gsDesign test.type 4: spent under the drift at which the bounds meet at the final "
        "look, where the design has power 1 - beta)",
    )
    futility_spending: Literal["obrien_fleming", "pocock"] | None = Field(
        None, description="beta-spending function of futility_beta (default: spending)"
    )
    follow_up_weeks: float | None = Field(
        None,
        gt=0,
        description="calendar time from a patient's enrolment to complete follow-up (default: "
        "the baseline days plus the diary to its last day)",
    )

    @model_validator(mode="after")
    def _looks(self) -> InterimSpec:
        if (self.information is None) == (self.weeks is None):
            raise ValueError("statistics.interim: give exactly one of 'information' or 'weeks'")
        looks = self.information if self.information is not None else self.weeks
        if any(b <= a for a, b in itertools.pairwise(looks)) or looks[0] <= 0:
            raise ValueError(f"statistics.interim: looks must be positive and increase: {looks}")
        if self.information is not None and (self.information[-1] > 1.0 or not self.interim_looks):
            raise ValueError(
                "statistics.interim.information: interim looks lie in (0, 1) (a final 1 may "
                f"follow): {self.information}"
            )
        n = len(self.interim_looks)
        if self.futility is not None and self.futility_beta is not None:
            raise ValueError("statistics.interim: give futility (z bounds) or futility_beta")
        if self.futility_spending is not None and self.futility_beta is None:
            raise ValueError("statistics.interim.futility_spending: needs futility_beta")
        if self.futility is not None and len(self.futility) != n:
            raise ValueError(
                f"statistics.interim.futility: one z bound per interim look ({n}), "
                f"got {len(self.futility)}"
            )
        return self

    @property
    def interim_looks(self) -> list[float]:
        """The interim looks (fractions or weeks), the final analysis not included."""
        if self.weeks is not None:
            return list(self.weeks)
        return [t for t in self.information if t < 1.0]


class MultiplicitySpec(StrictModel):
    """Multiplicity across analyses (endpoints): one hypothesis per listed analysis.

    Each listed analysis must have a single comparison; its p-value (after any adjustment across
    its own comparisons) enters the procedure. Bonferroni-based procedures are graphs of Bretz et
    al. 2009 (:mod:`ketsim.core.stats.graphical`); hochberg is Hochberg's step-up.
    """

    method: Literal["fixed_sequence", "fallback", "holm", "hochberg", "bonferroni", "graphical"] = (
        Field(
            description="fixed_sequence (in the listed order, each at the full alpha until one "
            "fails); fallback (Wiens 2003: weights, unused level passed forward); holm, "
            "hochberg, bonferroni; graphical (Bretz et al. 2009: weights and transitions)"
        )
    )
    analyses: list[int] | None = Field(
        None, description="indices of the analyses tested, in order (default: all)"
    )
    alpha: float | None = Field(
        None, gt=0, lt=1, description="family-wise error rate (default: statistics.alpha)"
    )
    weights: list[float] | None = Field(
        None,
        description="fallback, graphical: initial weights, one per hypothesis, summing to at "
        "most 1 (fallback default: equal)",
    )
    transitions: list[list[float]] | None = Field(
        None,
        description="graphical: transition matrix (row i: shares of H_i's level passed to each "
        "other hypothesis once H_i is rejected; zero diagonal, rows sum <= 1)",
    )

    @model_validator(mode="after")
    def _graph(self) -> MultiplicitySpec:
        if self.method == "graphical" and (self.weights is None or self.transitions is None):
            raise ValueError("statistics.multiplicity: graphical needs weights and transitions")
        if self.transitions is not None and self.method != "graphical":
            raise ValueError("statistics.multiplicity.transitions: only for method graphical")
        if self.weights is not None and self.method not in ("fallback", "graphical"):
            raise ValueError("statistics.multiplicity.weights: only for fallback or graphical")
        if self.weights is not None:
            g = self.transitions if self.transitions is not None else np.eye(len(self.weights), k=1)
            check_graph(self.weights, g)
        if self.analyses is not None and self.weights is not None:
            if len(self.weights) != len(self.analyses):
                raise ValueError(
                    f"statistics.multiplicity: {len(self.analyses)} analyses need as many "
                    f"weights (got {len(self.weights)})"
                )
        return self


class StatisticsSpec(StrictModel):
    """Significance level and sidedness of every analysis unless overridden."""

    alpha: float = Field(0.05, gt=0, lt=1, description="type-I error rate")
    target_power: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="the power the design aims at: the default target of samplesize, compare "
        "and the report's target line (0.8, the conventional choice)",
    )
    sides: Literal[1, 2] = Field(
        2, description="2: two-sided; 1: one-sided in the direction of benefit"
    )
    interim: InterimSpec | None = Field(
        None, description="group-sequential design of the primary analysis (interim looks)"
    )
    multiplicity: MultiplicitySpec | None = Field(
        None, description="multiplicity across analyses (endpoints): fixed sequence, graphical..."
    )
