"""Command line: exit codes, messages and the files `ketsim pk` writes."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ketsim.apps.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "scenarios").rglob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_shipped_scenarios_validate(path, capsys):
    """Every scenario shipped in scenarios/ is valid."""
    assert main(["scenario", "validate", str(path)]) == 0


def test_bad_file_exits_2_with_paths(tmp_path, capsys):
    """A bad scenario exits 2 with one path-named line per problem and no traceback."""
    f = tmp_path / "bad.yaml"
    f.write_text(
        "name: bad\nregimens:\n  - route: iv_infusion\n    rate: 0 mg/h\n    duration: 1 h\n"
        "  - route: oral\n    amount: 5 mg\n    speed: 3\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "ketsim", "scenario", "validate", str(f)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        f"{f}: regimens[0].rate: must be > 0 (got '0 mg/h')",
        f"{f}: regimens[1].speed: unknown key; allowed: route, amount, rate, max, min, escalation, "
        "start, duration, "
        "repeats, interval",
    ]
    assert "Traceback" not in proc.stderr


def test_show_resolved(capsys):
    """`show --resolved` prints every default."""
    assert main(["scenario", "show", str(EXAMPLES[0]), "--resolved"]) == 0
    out = capsys.readouterr().out
    assert "switches:" in out and "sex_effect_on_clearance: true" in out


def test_pk_writes_tables(tmp_path, capsys):
    """`ketsim pk` writes concentrations, summary, patients, resolved scenario and manifest."""
    src = ROOT / "scenarios" / "examples" / "sigtermans_infusion_pk.yaml"
    sc = tmp_path / "s.yaml"
    sc.write_text(src.read_text().replace("n: 200", "n: 7"))
    out = tmp_path / "out"
    assert main(["pk", str(sc), "--out", str(out), "--seed", "5"]) == 0
    conc = pd.read_parquet(out / "concentrations.parquet")
    assert list(conc.columns) == [
        "patient",
        "time_h",
        "ketamine_ng_ml",
        "norketamine_ng_ml",
        "ce_fast_ng_ml",
        "ce_slow_ng_ml",
    ]
    assert len(conc) == 7 * (12 * 168 + 1)
    summary = pd.read_parquet(out / "summary.parquet")
    assert (summary.ketamine_cmax_ng_ml > 50).all()
    # a 100-h infusion: plasma ketamine peaks at the end of the infusion (plateau end)
    assert (summary.ketamine_tmax_h == 100.0).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed_entropy"] == 5 and manifest["versions"]["numpy"]
    printed = capsys.readouterr().out
    assert "ketamine_cmax_ng_ml" in printed
    # the same seed gives identical tables
    out2 = tmp_path / "out2"
    assert main(["pk", str(sc), "--out", str(out2), "--seed", "5", "--quiet"]) == 0
    pd.testing.assert_frame_equal(conc, pd.read_parquet(out2 / "concentrations.parquet"))


def test_bench_json_small(capsys):
    """`bench pk --json` prints one JSON line with subjects_per_s."""
    assert main(["bench", "pk", "--json", "--patients", "50", "--repeats", "1"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["subjects_per_s"] > 0 and r["patients"] == 50


def test_simulate_writes_trial_tables(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "trial"
    rc = main(
        ["simulate", "scenarios/published/sigtermans2009.yaml", "--out", str(out), "--seed", "3"]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "ketamine" in text and "psychotomimetic" in text
    for f in (
        "patients.parquet",
        "diary.parquet",
        "events.parquet",
        "summary.csv",
        "manifest.json",
    ):
        assert (out / f).exists()
    assert len(pd.read_parquet(out / "patients.parquet")) == 60


def test_simulate_without_arms_is_a_usage_error(capsys):
    rc = main(["simulate", "scenarios/examples/sigtermans_infusion_pk.yaml", "--out", "/tmp/x"])
    assert rc == 2
    assert "arms" in capsys.readouterr().err


def test_export_and_import_doses_are_wired(tmp_path, capsys):
    """``ketsim export`` and ``ketsim import-doses`` through the main parser, round trip of mg."""
    csv = tmp_path / "sig.csv"
    sc = ROOT / "scenarios" / "published" / "sigtermans2009.yaml"
    assert main(["export", str(sc), "--out", str(csv), "--quiet"]) == 0
    assert csv.is_file() and csv.with_suffix(".json").is_file()
    data = pd.read_csv(csv, na_values=".")
    doses = data[data["EVID"] == 1]
    out = tmp_path / "regimens.yaml"
    assert main(["import-doses", str(csv), "--out", str(out)]) == 0
    import yaml

    from ketsim.apps.interchange import read_dosing, total_mg

    per_id = read_dosing(csv)
    dosed = {i for i, r in per_id.items() if r}
    assert set(yaml.safe_load(out.read_text())["regimens"]) == dosed == set(doses["ID"])
    total = sum(total_mg(r) for r in per_id.values())
    assert total == pytest.approx(doses["AMT"].sum(), rel=1e-12)
    with pytest.raises(SystemExit) as err:
        main(["export", str(sc), "--format", "sas"])
    assert err.value.code == 2


def test_pk_never_overwrites_a_run_silently(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = ROOT / "scenarios" / "examples" / "sigtermans_infusion_pk.yaml"
    out = tmp_path / "pk"
    assert main(["pk", str(f), "--out", str(out), "--seed", "1"]) == 0
    capsys.readouterr()
    assert main(["pk", str(f), "--out", str(out), "--seed", "2"]) == 2
    assert "already holds a run; use --force" in capsys.readouterr().err
    assert main(["pk", str(f), "--out", str(out), "--seed", "2", "--force"]) == 0
    # without --out: a new timestamped directory per run
    assert main(["pk", str(f), "--seed", "1"]) == 0
    assert main(["pk", str(f), "--seed", "1"]) == 0
    assert len(list((tmp_path / "runs").glob("*-pk-*"))) == 2


def test_json_schema_accepts_the_shipped_scenarios_and_refuses_unknown_keys(tmp_path, capsys):
    import jsonschema
    import yaml

    out = tmp_path / "ketsim.schema.json"
    assert main(["scenario", "schema", "--out", str(out)]) == 0
    schema = json.loads(out.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for f in sorted((ROOT / "scenarios").rglob("*.yaml")):
        data = yaml.safe_load(f.read_text())
        errors = [e.message for e in validator.iter_errors(data)]
        assert not errors, (f.name, errors[:3])
    bad = yaml.safe_load((ROOT / "scenarios/published/sigtermans2009.yaml").read_text())
    bad["arms"][0]["dose"] = 1
    assert any("dose" in e.message for e in validator.iter_errors(bad))


def test_report_of_a_pk_run_is_its_pk_page(tmp_path, capsys):
    f = ROOT / "scenarios" / "examples" / "sigtermans_infusion_pk.yaml"
    out = tmp_path / "pk"
    assert main(["pk", str(f), "--out", str(out), "--seed", "1", "--quiet", "--no-report"]) == 0
    assert not (out / "pk.html").exists()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert f"wrote {out / 'pk.html'}" in capsys.readouterr().out
    assert not (out / "report.html").exists()
