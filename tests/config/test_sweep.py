"""Parameter sweeps in scenario files: paths, cell order, overrides and path-named errors."""

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ketsim.config.scenario import ScenarioError, dump_scenario, load_scenario, parse_scenario
from ketsim.config.sweep import (
    MAX_CELLS,
    SweepPathError,
    axis_value,
    cell_frame,
    expand_sweep,
    load_sweep,
    parse_path,
    set_path,
    sweep_axes,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "scenarios" / "designs" / "dose_duration_sweep.yaml"

REGIMEN = {"route": "iv_infusion", "rate": "20 mg/h", "duration": "4 h"}
TRIAL = {
    "name": "t",
    "arms": [
        {"name": "ketamine", "n": 10, "regimens": [REGIMEN]},
        {"name": "placebo", "n": 10, "treatment": "placebo", "regimens": [REGIMEN]},
    ],
    "trial": {"weeks": 4},
    "seed": 7,
}


def _with(sweep) -> dict:
    return {**copy.deepcopy(TRIAL), "sweep": sweep}


def _problems(sweep) -> list[str]:
    with pytest.raises(ScenarioError) as e:
        expand_sweep(_with(sweep))
    return e.value.problems


def test_grid_times_zip_count_and_order():
    """Grid keys in declared order (last fastest), crossed with zip rows (fastest of all)."""
    sweep = {
        "grid": {
            "arms[0].regimens[0].rate": ["10 mg/h", "30 mg/h"],
            "trial.weeks": [4, 8, 12],
        },
        "zip": {"arms[0].n": [20, 30], "arms[1].n": [21, 31]},
    }
    cells = expand_sweep(_with(sweep))
    assert len(cells) == 2 * 3 * 2
    assert [c.index for c in cells] == list(range(12))
    assert list(cells[0].values) == [
        "arms[0].regimens[0].rate",
        "trial.weeks",
        "arms[0].n",
        "arms[1].n",
    ]
    got = [tuple(c.values.values()) for c in cells[:5]]
    assert got == [
        ("10 mg/h", 4, 20, 21),
        ("10 mg/h", 4, 30, 31),
        ("10 mg/h", 8, 20, 21),
        ("10 mg/h", 8, 30, 31),
        ("10 mg/h", 12, 20, 21),
    ]
    assert cells[6].values["arms[0].regimens[0].rate"] == "30 mg/h"
    last = cells[-1].scenario
    assert last.arms[0].regimens[0].rate_mg_per_h(70.0) == 30.0
    assert last.trial.weeks == 12
    assert (last.arms[0].n, last.arms[1].n) == (30, 31)
    assert last.sweep is None and last.seed == 7 and last.name == "t"
    assert (
        cells[1].label
        == "arms[0].regimens[0].rate=10 mg/h, trial.weeks=4, arms[0].n=30, arms[1].n=31"
    )


def test_only_grid_or_only_zip():
    """Without a zip the cells are the grid; without a grid, the zip rows."""
    assert len(expand_sweep(_with({"grid": {"trial.weeks": [4, 8]}}))) == 2
    cells = expand_sweep(_with({"zip": {"trial.weeks": [4, 8, 12], "arms[*].n": [5, 6, 7]}}))
    assert [(c.scenario.trial.weeks, c.scenario.arms[1].n) for c in cells] == [
        (4, 5),
        (8, 6),
        (12, 7),
    ]


def test_wildcard_sets_every_arm():
    """`[*]` sets every element of a list: both arms get the swept duration and size."""
    sweep = {"grid": {"arms[*].regimens[0].duration": ["24 h", "100 h"], "arms[*].n": [15]}}
    cells = expand_sweep(_with(sweep))
    for cell, hours in zip(cells, (24.0, 100.0), strict=True):
        assert [a.regimens[0].duration for a in cell.scenario.arms] == [hours, hours]
        assert [a.n for a in cell.scenario.arms] == [15, 15]


def test_missing_keys_are_created_to_override_defaults():
    """Keys absent from the YAML are created, overriding defaults; the input is not modified."""
    data = _with(
        {
            "grid": {
                "pd.slow_gamma": [0.5, 1.0],
                "switches.norketamine_analgesia": ["none", "antagonist"],
                "trial.screening.threshold": [4],
            }
        }
    )
    before = copy.deepcopy(data)
    cells = expand_sweep(data)
    assert data == before
    assert len(cells) == 4
    assert cells[0].scenario.pd == {"slow_gamma": 0.5}
    assert cells[3].scenario.pd == {"slow_gamma": 1.0}
    assert cells[3].scenario.switches.norketamine_analgesia == "antagonist"
    assert cells[0].scenario.switches.norketamine_analgesia == "none"
    assert cells[0].scenario.trial.screening.threshold == 4
    assert cells[0].scenario.trial.weeks == 4  # siblings of a created key are kept


def test_yaml_aliases_are_unshared():
    """Setting a value under a YAML alias changes only the path named, not every alias."""
    text = """
name: t
arms:
  - {name: ketamine, n: 10, regimens: [&reg {route: iv_infusion, rate: 20 mg/h, duration: 4 h}]}
  - {name: placebo, n: 10, treatment: placebo, regimens: [*reg]}
sweep:
  grid:
    arms[0].regimens[0].rate: [10 mg/h]
"""
    (cell,) = expand_sweep(yaml.safe_load(text))
    rates = [a.regimens[0].rate_mg_per_h(70.0) for a in cell.scenario.arms]
    assert rates == [10.0, 20.0]


def test_whole_regimen_can_be_swept_as_shorthand():
    """A path ending in an index replaces the element (here with a shorthand regimen)."""
    sweep = {"grid": {"arms[0].regimens[0]": ["20 mg/h over 4h", "20 mg/h over 24h"]}}
    cells = expand_sweep(_with(sweep))
    assert [c.scenario.arms[0].regimens[0].duration for c in cells] == [4.0, 24.0]


def test_parse_and_set_path():
    """Paths split into keys, indices and wildcards; set_path creates mappings, not list items."""
    assert parse_path("arms[0].regimens[12].rate") == ["arms", 0, "regimens", 12, "rate"]
    assert parse_path("arms[*].n") == ["arms", "*", "n"]
    assert parse_path("design.crossover.washout_weeks") == ["design", "crossover", "washout_weeks"]
    for bad in ("arms[x].n", "arms[-1].n", "arms..n", "", "arms[0]n", "[0].n", "pd.slow gamma"):
        with pytest.raises(SweepPathError, match="bad path"):
            parse_path(bad)
    data = copy.deepcopy(TRIAL)
    set_path(data, "design.crossover.washout_weeks", 2)
    assert data["design"] == {"crossover": {"washout_weeks": 2}}
    value = {"route": "oral", "amount": "10 mg"}
    set_path(data, "arms[*].regimens[0]", value)
    assert data["arms"][0]["regimens"][0] == value
    assert data["arms"][0]["regimens"][0] is not data["arms"][1]["regimens"][0]
    with pytest.raises(SweepPathError, match=r"no arms\[0\]\.regimens\[1\] in this scenario"):
        set_path(data, "arms[0].regimens[1].rate", "1 mg/h")
    with pytest.raises(SweepPathError, match=r"give an index, e.g. arms\[0\] or arms\[\*\]"):
        set_path(data, "arms.n", 3)
    with pytest.raises(SweepPathError, match="trial is a mapping, not a list"):
        set_path(data, "trial[0].weeks", 3)
    with pytest.raises(SweepPathError, match=r"arms\[\*\] matches nothing"):
        set_path({"arms": []}, "arms[*].n", 3)


@pytest.mark.parametrize(
    ("sweep", "expected"),
    [
        ({"grid": {"arms[x].n": [1]}}, "sweep.grid.arms[x].n: bad path"),
        (
            {"grid": {"arms[5].n": [1]}},
            "sweep.grid.arms[5].n: no arms[5] in this scenario (2 arms)",
        ),
        (
            {"zip": {"regimens[0].rate": ["1 mg/h"]}},
            "sweep.zip.regimens[0].rate: no regimens[0] in this scenario (no regimens)",
        ),
        (
            {"grid": {"arms[0].regimens[0].rate.value": [1]}},
            "sweep.grid.arms[0].regimens[0].rate.value: arms[0].regimens[0].rate is a str",
        ),
        ({"grid": {"seed": [1, 2]}}, "sweep.grid.seed: cannot be swept: every cell shares"),
        ({"grid": {"name": ["a", "b"]}}, "sweep.grid.name: cannot be swept"),
        ({"zip": {"sweep.grid": [{}]}}, "sweep.zip.sweep.grid: cannot be swept"),
        ({"grid": {"schema_version": [0]}}, "sweep.grid.schema_version: cannot be swept"),
        ({"grid": {"trial.weeks": []}}, "sweep.grid.trial.weeks: empty list; give at least one"),
        ({"zip": {"trial.weeks": 8}}, "sweep.zip.trial.weeks: must be a list of values"),
        ({"grid": {"trial.weeks": "8"}}, "a single value is written [8]"),
        (
            {"zip": {"arms[*].n": [1, 2, 3], "trial.weeks": [4, 8]}},
            "sweep.zip: lists are varied together and need equal lengths "
            "(got arms[*].n: 3, trial.weeks: 2)",
        ),
        (
            {"grid": {"trial.weeks": [4]}, "cross": {}},
            "sweep.cross: unknown key; allowed: grid, zip",
        ),
        ({"grid": ["trial.weeks"]}, "sweep.grid: must be a mapping of path: [values]"),
        ([{"trial.weeks": [4]}], "sweep: must be a mapping with 'grid' and/or 'zip'"),
        ({}, "sweep: declares no values"),
        (
            {"grid": {"arms[*].n": [1, 2]}, "zip": {"arms[0].n": [3]}},
            "sweep.zip.arms[0].n: overlaps sweep.grid.arms[*].n",
        ),
        (
            {"grid": {"trial.weeks": list(range(1, 102)), "arms[*].n": list(range(1, 102))}},
            f"sweep: 10201 cells (101 × 101); at most {MAX_CELLS} are allowed",
        ),
    ],
)
def test_sweep_errors_name_the_path(sweep, expected):
    """Every malformed sweep is reported as one line naming where in `sweep:` it is."""
    problems = _problems(sweep)
    assert any(expected in p for p in problems), problems


def test_forbidden_seed_says_why():
    """Sweeping the seed is refused because cells share it (common random numbers)."""
    (line,) = _problems({"grid": {"seed": [1, 2]}})
    assert "common random numbers" in line


def test_all_structural_problems_are_collected():
    """Several structural problems come back together."""
    problems = _problems({"grid": {"seed": [1], "trial.weeks": []}, "zip": {"arms[x]": [1]}})
    assert [p.split(":")[0] for p in problems] == [
        "sweep.grid.seed",
        "sweep.grid.trial.weeks",
        "sweep.zip.arms[x]",
    ]


def test_invalid_cells_name_cell_values_and_path():
    """A cell failing validation is named with its values; repeats are reported once."""
    sweep = {
        "grid": {
            "arms[0].regimens[0].rate": ["-5 mg/h", "20 mg/h"],
            "arms[*].regimens[0].duration": ["4 h", "24 h"],
        },
        "zip": {"trial.weeks": [0, 4]},
    }
    problems = _problems(sweep)
    assert problems[0] == (
        "sweep cell 0 (arms[0].regimens[0].rate=-5 mg/h, arms[*].regimens[0].duration=4 h, "
        "trial.weeks=0) (and 3 more cells): arms[0].regimens[0].rate: must be > 0 "
        "(got '-5 mg/h')"
    )
    assert any(
        p.startswith("sweep cell 0 (") and "(and 3 more cells): trial.weeks:" in p for p in problems
    )
    assert len(problems) == len(set(problems)) == 2


def test_pd_override_is_checked_per_cell():
    """A PD override out of range fails in the cell that sets it, and only there."""
    problems = _problems({"grid": {"pd.responder_probability": [0.5, 1.5]}})
    assert problems and all(
        p.startswith("sweep cell 1 (pd.responder_probability=1.5): pd") for p in problems
    )


def test_no_sweep_gives_one_cell():
    """A scenario without a sweep (or with `sweep: null`) is one cell: itself, no values."""
    for data in (copy.deepcopy(TRIAL), _with(None)):
        (cell,) = expand_sweep(data)
        assert cell.index == 0 and cell.values == {} and cell.label == ""
        assert cell.scenario == parse_scenario(TRIAL)
        assert sweep_axes([cell]) == []
        assert list(cell_frame([cell]).columns) == ["cell"]


def test_scenario_with_sweep_round_trips(tmp_path):
    """The schema keeps the sweep; the resolved dump reloads equal and expands the same."""
    data = _with({"grid": {"arms[*].n": [10, 20]}, "zip": {"pd.slow_gamma": [0.5]}})
    sc = parse_scenario(data)
    assert sc.sweep.grid == {"arms[*].n": [10, 20]}
    assert sc.sweep.zip == {"pd.slow_gamma": [0.5]}
    text = dump_scenario(sc)
    path = tmp_path / "resolved.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_scenario(path) == sc
    base, cells = load_sweep(path)
    assert base == sc
    assert [c.scenario for c in cells] == [c.scenario for c in expand_sweep(data)]
    # a scenario without a sweep still round-trips
    plain = parse_scenario(TRIAL)
    assert parse_scenario(yaml.safe_load(dump_scenario(plain))) == plain


def test_schema_rejects_unknown_sweep_keys():
    """load_scenario's own validation knows the sweep keys."""
    with pytest.raises(ScenarioError) as e:
        parse_scenario(_with({"grid": {"trial.weeks": [4]}, "cross": {}}))
    assert e.value.problems == ["sweep.cross: unknown key; allowed: grid, zip"]


def test_load_sweep_errors(tmp_path):
    """File and YAML errors as load_scenario; sweep problems before base problems."""
    with pytest.raises(ScenarioError, match=r"\(file\): cannot read"):
        load_sweep(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"\(yaml\): syntax error at line"):
        load_sweep(bad)
    both = tmp_path / "both.yaml"
    data = _with({"grid": {"trial.weeks": 4}})
    data["trial"]["weeks"] = 0
    both.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as e:
        load_sweep(both)
    assert e.value.problems[0].startswith("sweep.grid.trial.weeks: must be a list")
    assert e.value.source == str(both)


def test_example_sweep_expands_to_nine_valid_cells():
    """The dose x duration example: 3 rates x 3 durations, placebo dummy timed with ketamine."""
    base, cells = load_sweep(EXAMPLE)
    assert base == load_scenario(EXAMPLE)
    assert base.sweep is not None and base.seed is not None
    assert len(cells) == 9
    assert sweep_axes(cells) == ["arms[0].regimens[0].rate", "arms[*].regimens[0].duration"]
    seen = set()
    for cell in cells:
        sc = cell.scenario
        assert sc.seed == base.seed and sc.sweep is None
        assert [a.n for a in sc.arms] == [20, 20] and sc.trial.weeks == 13
        assert sc.arms[0].regimens[0].titration is None
        dur = {a.regimens[0].duration for a in sc.arms}
        assert len(dur) == 1
        seen.add((sc.arms[0].regimens[0].rate_mg_per_h(70.0), dur.pop()))
    assert len(seen) == 9
    assert {d for _, d in seen} == {4.0, 24.0, 100.0}
    eps = {e.name: e for e in base.endpoints}
    for when in ("48h", "week4", "week12"):
        assert {f"change_{when}", f"responder30_{when}"} <= set(eps)
        assert eps[f"change_{when}"].anchor == "treatment_end"  # counted from the infusion end
        assert any(a.endpoint == f"change_{when}" and a.method == "ancova" for a in base.analyses)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").rglob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_scenario_loads_as_a_sweep(path):
    """Scenario files with or without a sweep load through load_sweep."""
    base, cells = load_sweep(path)
    assert cells and all(c.scenario.sweep is None for c in cells)
    if base.sweep is None:
        assert [c.scenario for c in cells] == [base]


def test_cell_frame_columns():
    """`cell` plus one column per swept path; numeric paths stay numeric, others are strings."""
    sweep = {
        "grid": {"arms[0].regimens[0].rate": ["10 mg/h", "30 mg/h"], "switches.iiv": [True]},
        "zip": {"arms[*].n": [20, 40], "pd.slow_gamma": [0.5, 1]},
    }
    cells = expand_sweep(_with(sweep))
    frame = cell_frame(cells)
    assert list(frame.columns) == ["cell", *sweep_axes(cells)]
    assert list(frame.columns[1:]) == [
        "arms[0].regimens[0].rate",
        "switches.iiv",
        "arms[*].n",
        "pd.slow_gamma",
    ]
    assert frame["cell"].tolist() == [0, 1, 2, 3]
    assert frame["arms[0].regimens[0].rate"].tolist() == [
        "10 mg/h",
        "10 mg/h",
        "30 mg/h",
        "30 mg/h",
    ]
    assert frame["switches.iiv"].tolist() == ["true"] * 4
    assert pd.api.types.is_integer_dtype(frame["arms[*].n"])
    assert pd.api.types.is_numeric_dtype(frame["pd.slow_gamma"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20 mg/h", 20.0),
        ("0.3 mg/kg/h", 0.3),
        ("1.2 µg/kg/min", 1.2e-3 * 60),
        ("25 mg", 25.0),
        ("100 h", 100.0),
        ("2 days", 48.0),
        (30, 30.0),
        (0.5, 0.5),
        ("antagonist", "antagonist"),
        (True, "true"),
        ([1, 4], "[1, 4]"),
    ],
)
def test_axis_value(value, expected):
    """Quantities become magnitudes in ketsim units; other values stay as written."""
    got = axis_value(value)
    assert got == (pytest.approx(expected) if isinstance(expected, float) else expected)
