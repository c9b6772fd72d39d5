"""``ketsim discriminate``: runs designs under each hypothesis with common random numbers and
writes the discrimination tables and page."""

from __future__ import annotations

import io
import json

import pandas as pd
import yaml

from ketsim.apps.cli import main

DESIGN = {
    "name": "short4h",
    "drug": "S-ketamine",
    "population": {"indication": "crps1"},
    "arms": [
        {"name": "ketamine", "n": 10, "treatment": "ketamine", "regimens": ["0.3 mg/kg/h over 4h"]},
        {"name": "placebo", "n": 10, "treatment": "placebo", "regimens": ["0.3 mg/kg/h over 4h"]},
    ],
    "trial": {"weeks": 2, "baseline_days": 5},
    "endpoints": [{"name": "change_week2", "type": "change_from_baseline", "week": 2}],
    "analyses": [{"endpoint": "change_week2", "method": "t_test"}],
    "seed": 5,
}


def test_discriminate_writes_tables_and_page(tmp_path, capsys):
    f = tmp_path / "a.yaml"
    f.write_text(yaml.safe_dump(DESIGN))
    out = tmp_path / "out"
    argv = ["discriminate", str(f), "--replicates", "12", "--out", str(out), "--quiet"]
    rc = main([*argv, "--hypotheses", "dahan,sustained_blockade"])
    assert rc == 0
    s = pd.read_csv(out / "discriminate.csv")
    assert s.design.tolist() == ["short4h"] and 0 <= s.accuracy.iloc[0] <= 1
    conf = pd.read_csv(out / "confusion.csv")
    assert conf.groupby("true").fraction.sum().round(12).eq(1).all()
    pred = pd.read_csv(out / "predictions.csv").set_index("hypothesis")
    # a 4-h infusion: the threshold hypothesis predicts much more relief at 2 weeks than Dahan's
    assert pred.loc["sustained_blockade", "mean_estimate"] < pred.loc["dahan", "mean_estimate"]
    page = (out / "discriminate.html").read_text()
    assert "tells the hypotheses apart best" in page and "short4h" in page
    assert "root seed 5" in page  # the seed the runs used, recorded on the page
    # --format csv: the summary table alone on standard output (the runs are resumed)
    capsys.readouterr()
    argv_csv = [a for a in argv if a != "--quiet"]
    assert main([*argv_csv, "--hypotheses", "dahan,sustained_blockade", "--format", "csv"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    pd.testing.assert_frame_equal(printed, pd.read_csv(out / "discriminate.csv"))
    # the runs under each hypothesis share the root seed (common random numbers)
    seeds = {
        json.loads((out / "short4h" / h / "manifest.json").read_text())["seed_entropy"]
        for h in ("dahan", "sustained_blockade")
    }
    assert seeds == {5}


def test_discriminate_refuses_bad_lists(tmp_path, capsys):
    f = tmp_path / "a.yaml"
    f.write_text(yaml.safe_dump(DESIGN))
    assert main(["discriminate", str(f), "--hypotheses", "dahan"]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["discriminate", str(f), "--weights", "1,x,1"]) == 2
    assert "--weights" in capsys.readouterr().err
