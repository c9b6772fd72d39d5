"""Strict input (issue 20, deliverable 1): duplicate keys, booleans as numbers, non-finite numbers,
non-UTF-8 files and alias bombs are refused with one clean line naming where; the CLI exits 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ketsim.config.scenario import ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SIG = ROOT / "scenarios" / "published" / "sigtermans2009.yaml"


def _problems_of(tmp_path: Path, text: str | bytes) -> list[str]:
    f = tmp_path / "s.yaml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(ScenarioError) as err:
        load_scenario(f)
    return err.value.problems


def test_duplicate_keys_name_both_lines(tmp_path):
    text = SIG.read_text().replace("  - name: ketamine\n", "  - name: ketamine\n    n: 5\n", 1)
    # the arm already declares n below its name: the inserted one duplicates it
    (p,) = _problems_of(tmp_path, text)
    assert p.startswith("(yaml): duplicate key 'n' at line") and "first at line" in p
    (q,) = _problems_of(tmp_path, SIG.read_text() + "arms: []\n")
    assert "duplicate key 'arms'" in q


def test_booleans_are_not_numbers():
    data = yaml.safe_load(SIG.read_text())
    data["arms"][0]["n"] = True
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert any(p.startswith("arms[0].n:") and "boolean" in p for p in err.value.problems)
    data = yaml.safe_load(SIG.read_text())
    data["arms"][0]["regimens"][0]["rate"] = True
    with pytest.raises(ScenarioError, match="boolean"):
        parse_scenario(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("statistics", "alpha"), float("nan")),
        (("arms", 0, "regimens", 0, "rate"), "1e400 mg/h"),
        (("arms", 0, "regimens", 0, "duration"), float("inf")),
    ],
)
def test_non_finite_numbers_are_refused(path, value):
    data = yaml.safe_load(SIG.read_text())
    node = data
    for k in path[:-1]:
        node = node.setdefault(k, {}) if isinstance(k, str) else node[k]
    node[path[-1]] = value
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    where = ".".join(str(k) if isinstance(k, str) else f"[{k}]" for k in path).replace(".[", "[")
    assert any(p.startswith(where) and "finite" in p for p in err.value.problems), (
        err.value.problems
    )


def test_non_utf8_file_is_one_clean_line(tmp_path):
    (p,) = _problems_of(tmp_path, "name: caf\xe9\n".encode("latin-1"))
    assert p.startswith("(file):") and "not UTF-8" in p and "0xe9" in p
    (q,) = _problems_of(tmp_path, bytes(range(256)))
    assert q.startswith("(file):")


def test_alias_bomb_is_refused_before_it_expands(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):  # 10^9 leaves as written out
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    (p,) = _problems_of(tmp_path, "\n".join(lines) + "\nname: bomb\n")
    assert p.startswith("(yaml): the document expands to more than")


def test_cli_exits_2_with_the_path(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text(SIG.read_text() + "seed: 1\n")
    r = subprocess.run(
        [sys.executable, "-m", "ketsim", "scenario", "validate", str(f)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2
    assert "duplicate key 'seed'" in r.stderr + r.stdout and "Traceback" not in r.stderr


def _with(update) -> list[str]:
    data = yaml.safe_load(SIG.read_text())
    update(data)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    return err.value.problems


def _reg(data) -> dict:
    return data["arms"][0]["regimens"][0]


@pytest.mark.parametrize(
    ("update", "where", "words"),
    [
        (lambda d: _reg(d).update(rate="1e300 mg/h"), "arms[0].regimens[0].rate", "at most"),
        (lambda d: _reg(d).update(duration="1e9 weeks"), "arms[0].regimens[0].duration", "5 years"),
        (
            lambda d: _reg(d)["titration"].update(min_rate="20 µg/kg/min"),
            "arms[0].regimens[0]",
            "'min_rate'",
        ),
        (
            lambda d: _reg(d).update(rate="10 µg/kg/min"),
            "arms[0].regimens[0]",
            "within the titration's",
        ),
        (
            lambda d: d["population"].update(
                weight_kg={"mean": 70, "sd": 10, "min": -5, "max": 100}
            ),
            "population.weight_kg",
            "within [2, 350]",
        ),
    ],
)
def test_implausible_values_are_refused_with_their_path(update, where, words):
    problems = _with(update)
    assert any(p.startswith(where) and words in p for p in problems), problems


def test_boluses_closer_than_a_minute_are_refused():
    data = {
        "name": "b",
        "regimens": [{"route": "iv_bolus", "amount": "1 mg", "repeats": 100, "interval": "1 s"}],
    }
    with pytest.raises(ScenarioError, match=r"regimens\[0\]\.interval: .*at least 1 min"):
        parse_scenario(data)


def test_primary_analysis():
    data = yaml.safe_load(SIG.read_text())
    assert parse_scenario(data).primary_analysis() == 0  # default: the first
    data["analyses"][6]["primary"] = True
    assert parse_scenario(data).primary_analysis() == 6
    data["analyses"][2]["primary"] = True
    with pytest.raises(ScenarioError, match="at most one may be 'primary: true'"):
        parse_scenario(data)


def test_overlapping_titrated_infusions_are_refused_by_validate():
    data = yaml.safe_load(SIG.read_text())
    reg = data["arms"][0]["regimens"][0]
    data["arms"][0]["regimens"].append({**reg, "start": "50 h"})
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data)
    assert any(
        p.startswith("arms[0]") and "regimens[0]" in p and "overlap" in p
        for p in err.value.problems
    ), err.value.problems


@pytest.mark.parametrize("value", [0, -2, "0 h", "30 s"])
def test_titration_check_interval_must_be_at_least_a_minute(value):
    # a zero check interval once scheduled titration checks without end and ate the machine's memory
    data = yaml.safe_load((ROOT / "scenarios" / "published" / "sigtermans2009.yaml").read_text())
    data["arms"][0]["regimens"][0]["titration"]["day_interval"] = value
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "t")
    assert any("arms[0].regimens[0].titration.day_interval" in p for p in err.value.problems)
