"""Scenario schema (v0): validated once at the boundary, frozen, recorded with every run.

A scenario is a YAML file read with a safe loader. Unknown keys are rejected; quantities carry
units (``"20 mg/h"``, ``"0.2 mg/kg"``, ``"1.2 µg/kg/min"``, ``"100 h"``) and are converted to
ketsim's internal units here, once. Every problem is reported as one line naming its YAML path::

    regimens[0].rate: must be > 0 (got '0 mg/h')

The spec models of the parts of a scenario live in :mod:`ketsim.config.schema` (one module per
part); this module holds the root :class:`Scenario`, the published-result cross-checks that need
the whole scenario, overrides, and YAML reading and writing. It re-exports the schema's names, so
``from ketsim.config.scenario import RegimenSpec`` keeps working.
"""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, Field, ValidationError, model_validator

from ketsim.config.design_rules import check_design
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
)
from ketsim.config.schema.run_settings import OutputSpec, SweepSpec
from ketsim.config.yaml_io import YAMLProblem, load_yaml_text, read_yaml_text
from ketsim.core.pk.parameters import PARAMETER_SETS

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
    "SCHEMA_VERSION",
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
    "Scenario",
    "ScenarioError",
    "ScreeningSpec",
    "StatisticsSpec",
    "StrictModel",
    "SweepSpec",
    "SwitchesSpec",
    "TitratedRegimenSpec",
    "TitrationSpec",
    "ToleranceSpec",
    "TrialSpec",
    "apply_overrides",
    "dump_scenario",
    "load_scenario",
    "merge_overrides",
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


class Scenario(StrictModel):
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
    assessments: list[AssessmentSpec] = Field(
        [],
        description="pain assessments timed by each dosing session (minutes after the start, at "
        "the end, hours after it), besides the daily diary",
    )
    endpoints: list[EndpointSpec] = Field([], description="endpoints computed per patient")
    analyses: list[AnalysisSpec] = Field([], description="analyses run on each replicate trial")
    statistics: StatisticsSpec = Field(
        StatisticsSpec(), description="default alpha and sides of the analyses"
    )
    switches: SwitchesSpec = Field(
        SwitchesSpec(), description="uncertain model assumptions (MODEL.md), each a switch"
    )
    pd: Annotated[dict[str, float], AfterValidator(check_pd_overrides)] = Field(
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
        elif self.endpoints or self.analyses or self.assessments:
            raise ValueError("'endpoints', 'analyses' and 'assessments' need 'arms'")
        gs = self.statistics.interim
        if gs is not None and not self.analyses:
            raise ValueError("statistics.interim: needs an analysis (the primary one)")
        if (
            gs is not None
            and gs.weeks is not None
            and self.design.recruitment.patients_per_week is None
        ):
            raise ValueError(
                "statistics.interim.weeks: calendar looks need "
                "design.recruitment.patients_per_week (else give 'information' fractions)"
            )
        mult = self.statistics.multiplicity
        if mult is not None:
            ids = mult.analyses if mult.analyses is not None else range(len(self.analyses))
            if len(ids) < 2 or any(not 0 <= i < len(self.analyses) for i in ids):
                raise ValueError(
                    "statistics.multiplicity.analyses: at least two indices of declared "
                    f"analyses (0..{len(self.analyses) - 1}), got {list(ids)}"
                )
            if mult.weights is not None and len(mult.weights) != len(ids):
                raise ValueError(
                    f"statistics.multiplicity: {len(ids)} hypotheses need as many weights"
                )
        primary = [i for i, a in enumerate(self.analyses) if a.primary]
        if len(primary) > 1:
            raise ValueError(
                f"analyses: at most one may be 'primary: true' (got analyses {primary})"
            )
        return self

    def primary_analysis(self) -> int | None:
        """Index of the primary analysis: the one marked ``primary``, else the first (None if
        there are no analyses)."""
        for i, a in enumerate(self.analyses):
            if a.primary:
                return i
        return 0 if self.analyses else None

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
        crossover = sc.design.type == "crossover"
        if crossover:
            _check_crossover_expected(e, path)
        names = [a.name for a in sc.arms]
        for key in ("arm", "control"):
            v = getattr(e, key)
            if v is not None and v not in names:
                raise ValueError(f"{path}.{key}: unknown arm '{v}' (arms: {', '.join(names)})")
        if e.control is not None and e.control == e.arm:
            raise ValueError(f"{path}.control: must differ from 'arm' ({e.arm})")
        if e.anchor == "start":
            weeks = sc.design.crossover.period_weeks if crossover else sc.trial.weeks
            last = 7 * weeks
            what = "period" if crossover else "trial"
            for key, d in (("week", e.week), ("weeks", e.weeks[1] if e.weeks else None)):
                if d is not None and 7 * d > last:
                    raise ValueError(
                        f"{path}.{key}: week {d} is after the {what}'s last week ({weeks})"
                    )
            if e.day is not None and e.day > last:
                raise ValueError(f"{path}.day: day {e.day} is after the {what}'s last day ({last})")
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


def _check_crossover_expected(e: ExpectedSpec, path: str) -> None:
    """What a crossover's (patient, period) units support: per-period values and AEs, and
    within-patient differences; not per-patient events, infusion rates or lasting curves."""
    q = e.quantity
    if q in ("end_rate", "lasting_effect_days"):
        raise ValueError(f"{path}.quantity: {q} is defined for parallel and enrichment designs")
    if e.event in ("dropout", "ketamine_responder", "placebo_responder"):
        raise ValueError(
            f"{path}.event: {e.event} is per patient, not per crossover period "
            "(crossovers: adverse events and nrs_responder)"
        )
    if e.anchor != "start":
        raise ValueError(f"{path}.anchor: treatment_end is for parallel and enrichment designs")
    if q == "p_value" and e.test == "welch":
        raise ValueError(
            f"{path}.test: welch compares independent groups; a crossover's p-values are "
            "paired (t_test: paired t, wilcoxon: signed rank)"
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
            if owner:
                close = difflib.get_close_matches(str(loc[-1]), list(owner.model_fields), n=1)
                msg = (
                    msg.replace("unknown key", f"unknown key (did you mean {close[0]!r}?)")
                    if close
                    else msg
                )
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
            msg = msg.replace("Input should be", "must be one of") + _did_you_mean(e)
        else:
            msg = _plain(e)
        lines.append(f"{_loc(loc)}: {msg}")
    return lines


#: pydantic error type -> the message in the words of the other scenario messages
_PLAIN = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be greater than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
}


def _plain(e: dict) -> str:
    """A pydantic error as "must be ..." with the value found, e.g. "must be at least 1 (got
    0)", instead of pydantic's capitalised "Input should be greater than or equal to 1"."""
    tmpl = _PLAIN.get(e["type"])
    if tmpl is None:
        msg = e["msg"]
        return msg.replace("Input should be", "must be") if msg.startswith("Input") else msg
    msg = tmpl.format(**(e.get("ctx") or {}))
    got = e.get("input")
    if isinstance(got, str | int | float | bool) or got is None:
        msg += f" (got {got!r})"
    return msg


def _did_you_mean(e: dict) -> str:
    """`` (did you mean 'ketamine'?)`` for a near miss of one of a literal's values."""
    options = re.findall(r"'([^']*)'", str((e.get("ctx") or {}).get("expected", "")))
    got = e.get("input")
    if not isinstance(got, str) or not options:
        return f" (got {got!r})" if isinstance(got, int | float) else ""
    close = difflib.get_close_matches(got, options, n=1, cutoff=0.6)
    return f" (got {got!r}; did you mean {close[0]!r}?)" if close else f" (got {got!r})"


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
    """Read a YAML file strictly (:mod:`ketsim.config.yaml_io`: safe loader, unique keys, UTF-8,
    bounded alias expansion).

    Raises
    ------
    ScenarioError
        ``(file): ...`` when the file cannot be read or is not UTF-8, ``(yaml): ...`` on a
        syntax error, a duplicate key or an alias bomb.
    """
    path = Path(path)
    try:
        return load_yaml_text(read_yaml_text(path))
    except OSError as err:
        raise ScenarioError([f"(file): cannot read it: {err.strerror or err}"], str(path)) from None
    except YAMLProblem as err:
        raise ScenarioError([str(err)], str(path)) from None


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
