"""Analyses in the scenario schema: the test of each endpoint with its intercurrent-event
strategy (:class:`AnalysisSpec`) and the default significance level (:class:`StatisticsSpec`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ketsim.config.design_rules import METHODS
from ketsim.config.schema.base import StrictModel

__all__ = [
    "STRATEGIES",
    "AnalysisSpec",
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


class StatisticsSpec(StrictModel):
    """Significance level and sidedness of every analysis unless overridden."""

    alpha: float = Field(0.05, gt=0, lt=1, description="type-I error rate")
    sides: Literal[1, 2] = Field(
        2, description="2: two-sided; 1: one-sided in the direction of benefit"
    )
