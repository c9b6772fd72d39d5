"""``ketsim init``: every template is a scenario that validates, satisfies the JSON Schema its
modeline names, and simulates; the command lists, writes and never overwrites silently."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from ketsim.apps.cli import main
from ketsim.apps.cli.init_command import SCHEMA_FILE, TEMPLATES, template_text
from ketsim.apps.cli.scenario_commands import scenario_json_schema
from ketsim.config.scenario import parse_scenario
from ketsim.sim.trial import simulate_trial


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_template_validates_and_simulates(name):
    text = template_text(name)
    assert text.startswith("# yaml-language-server: $schema=" + SCHEMA_FILE)
    data = yaml.safe_load(text)
    jsonschema.Draft202012Validator(json.loads(scenario_json_schema())).validate(data)
    sc = parse_scenario(data, name)
    res = simulate_trial(sc, seed=1)
    assert res.patients.shape[0] > 0
    assert res.diary.expected_nrs.notna().any()


def test_init_lists_writes_and_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in TEMPLATES)
    assert main(["init", "daily_sessions", "--out", "trial.yaml"]) == 0
    assert (tmp_path / "trial.yaml").read_text() == template_text("daily_sessions")
    assert json.loads((tmp_path / SCHEMA_FILE).read_text())["title"].startswith("ketsim")
    capsys.readouterr()
    assert main(["init", "daily_sessions", "--out", "trial.yaml"]) == 2
    assert "--force" in capsys.readouterr().out
    assert main(["init", "oral_maintenance", "--out", "trial.yaml", "--force"]) == 0
    assert "oral S-ketamine" in (tmp_path / "trial.yaml").read_text()
