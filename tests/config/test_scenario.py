"""Scenario schema: unit conversion, defaults, frozen models and path-named errors."""

from pathlib import Path

import pytest
import yaml

from ketsim.config.scenario import ScenarioError, dump_scenario, load_scenario, parse_scenario
from ketsim.core.units import parse_amount, parse_duration_h, parse_rate

BASE = {"name": "t", "regimens": [{"route": "iv_infusion", "rate": "20 mg/h", "duration": "100 h"}]}


def _problems(data) -> list[str]:
    with pytest.raises(ScenarioError) as e:
        parse_scenario(data)
    return e.value.problems


@pytest.mark.parametrize(
    ("text", "mg_per_h_at_70kg"),
    [
        ("20 mg/h", 20.0),
        ("0.35 mg/kg/h", 0.35 * 70),
        ("1.2 ug/kg/min", 1.2e-3 * 60 * 70),
        ("1.2 µg/kg/min", 1.2e-3 * 60 * 70),
        ({"value": 7.2, "unit": "mcg/kg/min"}, 7.2e-3 * 60 * 70),
        ("480 mg/day", 20.0),
    ],
)
def test_rates(text, mg_per_h_at_70kg):
    """Rates in every accepted unit convert to mg/h."""
    assert parse_rate(text).mg_per_h(70.0) == pytest.approx(mg_per_h_at_70kg, rel=1e-12)


def test_amounts_and_durations():
    """Amounts to mg (per kg when asked) and times to hours."""
    assert parse_amount("0.2 mg/kg").mg(80.0) == pytest.approx(16.0)
    assert parse_amount("500 ug").mg(80.0) == pytest.approx(0.5)
    assert parse_duration_h("4 h") == 4.0
    assert parse_duration_h("30 min") == 0.5
    assert parse_duration_h("12 weeks") == 12 * 168
    assert parse_duration_h(2) == 2.0
    with pytest.raises(ValueError, match="allowed"):
        parse_rate("20 mg/fortnight")


def test_valid_scenario_defaults_and_frozen():
    """A minimal scenario fills defaults and cannot be modified."""
    sc = parse_scenario(BASE)
    assert sc.parameter_set == "noppers2011"
    assert sc.population.female_fraction == 0.8
    assert sc.regimens[0].rate_mg_per_h(70.0) == 20.0
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen models
        sc.name = "other"


def test_resolved_dump_round_trips():
    """`show --resolved` output is itself a valid scenario equal to the original."""
    sc = parse_scenario(
        {
            **BASE,
            "regimens": [{"route": "oral", "amount": "0.2 mg/kg", "repeats": 3, "interval": "8 h"}],
        }
    )
    again = parse_scenario(yaml.safe_load(dump_scenario(sc)))
    assert again == sc


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        (
            {"regimens": [{"route": "iv_infusion", "rate": "0 mg/h", "duration": "1 h"}]},
            "regimens[0].rate: must be > 0",
        ),
        (
            {"regimens": [{"route": "iv_infusion", "rate": "5 mg/h"}]},
            "regimens[0]: route iv_infusion needs a 'duration'",
        ),
        (
            {"regimens": [{"route": "oral", "amount": "5 mg", "repeats": 2}]},
            "regimens[0]: 'repeats' > 1 needs an 'interval'",
        ),
        ({"regimens": [{"route": "nasal", "amount": "5 mg"}]}, "regimens[0].route: must be one of"),
        (
            {"regimens": [{"route": "oral", "amount": "5 mg", "dose": 1}]},
            "regimens[0].dose: unknown key; allowed: route, amount",
        ),
        (
            {"regimens": [{"route": "iv_infusion", "rate": "5 mg/fortnight", "duration": "1 h"}]},
            "regimens[0].rate: unknown rate unit 'mg/fortnight'; allowed:",
        ),
        ({"population": {"n": 0}}, "population.n: must be at least 1 (got 0)"),
        ({"population": {"ancestry": {"european": 0.5}}}, "population.ancestry: fractions must"),
        ({"population": {"comedication": {"aspirin": 0.1}}}, "population.comedication.aspirin"),
        ({"colour": "red"}, "colour: unknown key; allowed: schema_version, name"),
        ({"regimens": []}, "regimens: List should have at least 1 item"),
    ],
)
def test_errors_name_the_yaml_path(patch, expected):
    """Each bad input gives one line naming its YAML path and what is allowed."""
    lines = _problems({**BASE, **patch})
    assert any(line.startswith(expected) for line in lines), lines


def test_several_problems_reported_together():
    """All problems are reported, not only the first."""
    lines = _problems(
        {
            "name": "t",
            "regimens": [
                {"route": "iv_infusion", "rate": "-1 mg/h", "duration": "1 h"},
                {"route": "oral"},
            ],
        }
    )
    assert len(lines) == 2
    assert lines[0].startswith("regimens[0].rate")
    assert lines[1].startswith("regimens[1]")


def test_yaml_errors(tmp_path):
    """Syntax errors and non-mappings are reported with a location, never a traceback."""
    f = tmp_path / "bad.yaml"
    f.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="syntax error at line"):
        load_scenario(f)
    f.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        load_scenario(f)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_safe_loader_rejects_python_objects(tmp_path):
    """YAML tags that construct Python objects are refused (safe loader)."""
    f = tmp_path / "evil.yaml"
    f.write_text("name: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ScenarioError, match="yaml"):
        load_scenario(f)


@pytest.mark.parametrize(
    "path",
    sorted(
        str(p.relative_to(Path(__file__).resolve().parents[2]))
        for p in (Path(__file__).resolve().parents[2] / "scenarios").rglob("*.yaml")
    ),
)
def test_shipped_scenarios_round_trip(path):
    """Every shipped scenario validates and its resolved dump loads back equal (trial schema)."""
    from ketsim.config.scenario import load_scenario

    sc = load_scenario(path)
    assert parse_scenario(yaml.safe_load(dump_scenario(sc))) == sc


def test_indication_sets_population_defaults():
    sc = parse_scenario(
        {**BASE, "population": {"indication": "neuropathic", "female_fraction": 0.3}}
    )
    assert sc.population.female_fraction == 0.3  # explicit value wins
    assert sc.population.weight_kg.mean == 85.0  # from the indication table


#: every public name ketsim.config.scenario defined before the schema moved to ketsim.config.schema
NAMES_BEFORE_THE_SPLIT = (
    "SCHEMA_VERSION ScenarioError AmountField RateField HoursField Route INFUSION_ROUTES "
    "BOLUS_ROUTES RegimenSpec Distribution LogNormalSpec BetaSpec Ancestry Diplotype "
    "ComedicationName Indication PopulationSpec SwitchesSpec OutputSpec TitrationSpec "
    "TitratedRegimenSpec ArmRegimen ArmSpec ScreeningSpec TrialSpec STRATIFIERS RandomisationSpec "
    "RecruitmentSpec CrossoverSpec EnrichmentSpec ExtensionSpec DesignSpec ENDPOINT_TYPES AE_NAMES "
    "EndpointSpec STRATEGIES AnalysisSpec StatisticsSpec SweepSpec EXPECTED_QUANTITIES "
    "TRIAL_QUANTITIES PK_QUANTITIES EXPECTED_EVENTS PK_ANALYTES PK_STATISTICS P_STATISTICS "
    "STATISTICS EXPECTED_KEYS ToleranceSpec ExpectedSpec merge_overrides Scenario apply_overrides "
    "parse_scenario read_yaml load_scenario dump_scenario"
).split()


def test_scenario_module_still_exports_every_schema_name():
    """ketsim.config.scenario re-exports the schema: the same objects as ketsim.config.schema."""
    import ketsim.config.scenario as scenario
    import ketsim.config.schema as schema

    missing = [n for n in NAMES_BEFORE_THE_SPLIT if n not in scenario.__all__]
    assert not missing
    for name in schema.__all__:
        if hasattr(scenario, name):
            assert getattr(scenario, name) is getattr(schema, name), name
    for name in scenario.__all__:
        assert hasattr(scenario, name), name
