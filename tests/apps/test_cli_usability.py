"""Command-line usability: examples in every --help, CSV tables, clear refusals of mismatched
files, named progress phases and plain validation messages."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ketsim.apps.cli import build_parser, main
from ketsim.apps.cli.examples import subcommand_paths
from ketsim.engine.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
SIG = ROOT / "scenarios" / "published" / "sigtermans2009.yaml"
SWEEP = ROOT / "scenarios" / "designs" / "dose_duration_sweep.yaml"
FAST = ["--replicates", "4", "--no-report"]


def _small(tmp_path: Path, sweep: dict | None = None) -> Path:
    """Sigtermans 2009 cut to 6 per arm, 2 weeks and two analyses (a sweep if given)."""
    data = yaml.safe_load(SIG.read_text())
    data.pop("expected", None)
    for a in data["arms"]:
        a["n"] = 6
    data["trial"]["weeks"] = 2
    data["endpoints"] = [
        {"name": "change_week1", "type": "change_from_baseline", "week": 1},
        {"name": "responder30_week1", "type": "responder", "week": 1},
    ]
    data["analyses"] = [
        {"endpoint": "change_week1", "method": "ancova"},
        {"endpoint": "responder30_week1", "method": "fisher"},
    ]
    if sweep:
        data["sweep"] = sweep
    f = tmp_path / ("sweep.yaml" if sweep else "small.yaml")
    f.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return f


def test_every_subcommand_help_ends_with_examples():
    parser = build_parser()
    paths = subcommand_paths(parser)
    assert {"power", "sweep", "scenario validate", "report", "explore"} <= set(paths)
    subs = {}
    for path in paths:
        p = parser
        for word in path.split():
            p = next(a for a in p._actions if a.__class__.__name__ == "_SubParsersAction")
            p = p.choices[word]
        subs[path] = p.format_help()
    for path, text in subs.items():
        assert "\nexamples:\n  ketsim " in text, f"'ketsim {path} --help' has no examples block"
        # the examples use this subcommand (a group's examples use its subcommands)
        block = text.split("\nexamples:\n", 1)[1]
        assert all(ln.startswith(f"  ketsim {path}") for ln in block.strip("\n").splitlines()), path
    # a subcommand's own help line heads its --help
    assert (
        subs["power"]
        .splitlines()[subs["power"].splitlines().index("") + 1]
        .startswith("Monte Carlo power")
    )


def test_power_format_csv_is_the_power_table(tmp_path, capsys):
    f = _small(tmp_path)
    out = tmp_path / "run"
    args = ["power", str(f), *FAST, "--aux-replicates", "0", "--truth-patients", "0"]
    assert main([*args, "--out", str(out), "--format", "csv"]) == 0
    cap = capsys.readouterr()
    table = pd.read_csv(io.StringIO(cap.out))
    saved = pd.read_csv(out / "power.csv")
    assert list(table.columns) == list(saved.columns)
    assert len(table) == 2 and table["power"].tolist() == saved["power"].tolist()
    assert "scenario small" not in cap.out and "wrote" in cap.err  # the rest went to stderr
    # --quiet keeps the CSV and drops the rest
    assert main([*args, "--out", str(out), "--format", "csv", "--quiet"]) == 0
    cap = capsys.readouterr()
    assert pd.read_csv(io.StringIO(cap.out))["power"].tolist() == saved["power"].tolist()
    assert cap.err == ""


def test_sweep_format_csv_is_the_per_cell_power_table(tmp_path, capsys):
    f = _small(tmp_path, {"grid": {"arms[0].n": [4, 6]}})
    assert main(["sweep", str(f), *FAST, "--out", str(tmp_path / "s"), "--format", "csv"]) == 0
    table = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(table) == 2 * 2  # two cells x two analyses
    assert set(table["arms[0].n"]) == {4, 6} and table["power"].between(0, 1).all()


def test_mismatched_files_are_refused_with_one_line(tmp_path, capsys):
    sweep = _small(tmp_path, {"grid": {"arms[0].n": [4, 6]}})
    for cmd in ("power", "samplesize"):
        assert main([cmd, str(sweep), *FAST]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            f"{sweep}: sweep: this is a sweep file; 'ketsim {cmd}' runs one design: use "
            f"'ketsim sweep {sweep}' for every cell, or remove the 'sweep:' block to run the "
            "base design"
        ]
    single = _small(tmp_path)
    assert main(["sweep", str(single), *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"{single}: sweep: no 'sweep:' block")
    assert f"'ketsim power {single}'" in err[0]


def test_progress_names_every_phase(capsys):
    bar = Progress(10, enabled=True)
    bar.phases.update({"main trial": [0, 6], "power curve": [0, 4], "true-effect trial": [0, 2]})
    bar.update(6, "main trial")
    bar.update(1, "true-effect trial", count=False)
    bar.update(4, "power curve")
    bar.close()
    line = capsys.readouterr().err.strip().split("\r")[-1]
    assert "10/10 replicates 100%" in line
    assert "main trial 6/6; power curve 4/4; true-effect trial 1/2" in line


def test_power_run_progress_names_its_phases(tmp_path, capsys):
    from ketsim.config.scenario import load_scenario
    from ketsim.engine.power import estimate_power
    from ketsim.engine.runs import RunOptions

    sc = load_scenario(_small(tmp_path))
    estimate_power(
        sc,
        replicates=4,
        truth_patients=100,
        aux_replicates=2,
        out=str(tmp_path / "r"),
        opts=RunOptions(jobs=1, progress=True, argv=["test"]),
    )
    last = capsys.readouterr().err.strip().split("\r")[-1]
    for phase in ("true-effect trial 1/1", "main trial 4/4", "power curve", "sensitivity"):
        assert phase in last, last


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trial": {"weeks": 0}}, "trial.weeks: must be at least 1 (got 0)"),
        ({"trial": {"weeks": "many"}}, "trial.weeks: must be a whole number (got 'many')"),
        ({"trial": {"wekks": 3}}, "trial.wekks: unknown key (did you mean 'weeks'?); allowed: "),
        (
            {"arms": [{"name": "k", "n": 5, "treatment": "ketamin"}]},
            "(got 'ketamin'; did you mean 'ketamine'?)",
        ),
    ],
)
def test_validation_messages_are_plain(tmp_path, capsys, change, message):
    data = yaml.safe_load(SIG.read_text())
    for k, v in change.items():
        data[k] = {**data[k], **v} if isinstance(v, dict) else v
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert main(["scenario", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Input should be" not in err


def test_unreadable_file_names_the_path_once(tmp_path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main(["scenario", "validate", str(missing)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count(str(missing)) == 1 and "cannot read it" in err
