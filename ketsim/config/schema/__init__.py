"""The pydantic models of the scenario schema, one module per part of a scenario.

The root :class:`ketsim.config.scenario.Scenario` and YAML reading/writing live in
:mod:`ketsim.config.scenario`, which re-exports the models, field types and constants below.
"""

from ketsim.config.schema.analysis import STRATEGIES, AnalysisSpec, StatisticsSpec
from ketsim.config.schema.assessments import ASSESSMENT_SCALES, AssessmentSpec
from ketsim.config.schema.assumptions import SwitchesSpec, check_pd_overrides
from ketsim.config.schema.base import AmountField, HoursField, RateField, StrictModel
from ketsim.config.schema.design import (
    STRATIFIERS,
    ArmSpec,
    CrossoverSpec,
    DesignSpec,
    EnrichmentSpec,
    ExtensionSpec,
    RandomisationSpec,
    RecruitmentSpec,
    ScreeningSpec,
    TrialSpec,
)
from ketsim.config.schema.endpoints import AE_NAMES, ENDPOINT_TYPES, EndpointSpec
from ketsim.config.schema.expected import (
    ANY_AE_DEFAULT,
    EXPECTED_EVENTS,
    EXPECTED_KEYS,
    EXPECTED_QUANTITIES,
    P_STATISTICS,
    PK_ANALYTES,
    PK_QUANTITIES,
    PK_STATISTICS,
    PROPORTION_QUANTITIES,
    STATISTICS,
    TRIAL_QUANTITIES,
    ExpectedSpec,
    ToleranceSpec,
)
from ketsim.config.schema.population import (
    Ancestry,
    BetaSpec,
    ComedicationName,
    Diplotype,
    Distribution,
    Indication,
    LogNormalSpec,
    PopulationSpec,
)
from ketsim.config.schema.regimen import (
    BOLUS_ROUTES,
    INFUSION_ROUTES,
    ArmRegimen,
    RegimenSpec,
    Route,
    TitratedRegimenSpec,
    TitrationSpec,
    expand_shorthand,
)
from ketsim.config.schema.run_settings import OutputSpec, SweepSpec

__all__ = [
    "AE_NAMES",
    "ANY_AE_DEFAULT",
    "ASSESSMENT_SCALES",
    "BOLUS_ROUTES",
    "ENDPOINT_TYPES",
    "EXPECTED_EVENTS",
    "EXPECTED_KEYS",
    "EXPECTED_QUANTITIES",
    "INFUSION_ROUTES",
    "PK_ANALYTES",
    "PK_QUANTITIES",
    "PK_STATISTICS",
    "PROPORTION_QUANTITIES",
    "P_STATISTICS",
    "STATISTICS",
    "STRATEGIES",
    "STRATIFIERS",
    "TRIAL_QUANTITIES",
    "AmountField",
    "AnalysisSpec",
    "Ancestry",
    "ArmRegimen",
    "ArmSpec",
    "AssessmentSpec",
    "BetaSpec",
    "ComedicationName",
    "CrossoverSpec",
    "DesignSpec",
    "Diplotype",
    "Distribution",
    "EndpointSpec",
    "EnrichmentSpec",
    "ExpectedSpec",
    "ExtensionSpec",
    "HoursField",
    "Indication",
    "LogNormalSpec",
    "OutputSpec",
    "PopulationSpec",
    "RandomisationSpec",
    "RateField",
    "RecruitmentSpec",
    "RegimenSpec",
    "Route",
    "ScreeningSpec",
    "StatisticsSpec",
    "StrictModel",
    "SweepSpec",
    "SwitchesSpec",
    "TitratedRegimenSpec",
    "TitrationSpec",
    "ToleranceSpec",
    "TrialSpec",
    "check_pd_overrides",
    "expand_shorthand",
]
