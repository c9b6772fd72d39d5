"""The HTML report: every panel present, scenario text escaped, renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from ketsim.apps.report import PANELS, load_run, write_report
from ketsim.config.scenario import parse_scenario
from ketsim.engine.power import estimate_power
from ketsim.engine.runs import RunOptions

ROOT = Path(__file__).resolve().parents[2]
SIG = ROOT / "scenarios" / "published" / "sigtermans2009.yaml"
EVIL = '<script>alert("x")</script> & <b>bold</b>'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A small Sigtermans power run with power curve, sensitivity and an evil description."""
    data = yaml.safe_load(SIG.read_text())
    data.pop("expected", None)  # published targets of the full trial, not of this cut-down one
    data["description"] = EVIL
    data["reference"] = EVIL
    for a in data["arms"]:
        a["n"] = 8
    data["trial"]["weeks"] = 2
    data["endpoints"] = [
        {"name": "change_week1", "type": "change_from_baseline", "week": 1},
        {"name": "responder30_week1", "type": "responder", "week": 1},
    ]
    data["analyses"] = [
        {"endpoint": "change_week1", "method": "ancova"},
        {"endpoint": "responder30_week1", "method": "fisher"},
    ]
    sc = parse_scenario(data)
    out = tmp_path_factory.mktemp("report") / "run"
    estimate_power(
        sc,
        replicates=12,
        truth_patients=200,
        out=str(out),
        aux_replicates=6,
        opts=RunOptions(jobs=1, progress=False, argv=["test"]),
    )
    write_report(out)
    return out


def test_report_has_every_panel_with_content(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    for pid in PANELS:
        assert f'<section id="{pid}">' in text, pid
    # a power run fills every panel (no placeholder sections)
    for pid in PANELS:
        sec = re.search(f'<section id="{pid}">(.*?)</section>', text, re.S).group(1)
        assert 'class="missing"' not in sec, pid
    figures = {
        pid
        for pid in PANELS
        if "data:image/png;base64,"
        in re.search(f'<section id="{pid}">(.*?)</section>', text, re.S).group(1)
    }
    assert {"power-curve", "weekly", "responders", "safety", "strata", "sensitivity"} <= figures
    assert "http://" not in text and "https://" not in text.replace("https://doi", "")  # no network
    assert "20090304" in text  # provenance: the seed


def test_scenario_text_is_escaped(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in text


def test_report_command_and_missing_run(run_dir, tmp_path, capsys):
    from ketsim.apps.cli import main

    assert main(["report", str(run_dir), "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 10_000
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a ketsim run directory" in capsys.readouterr().err
    run = load_run(run_dir)
    assert run.kind == "power" and run.table("power") is not None and run.table("nope") is None


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium not installed")
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    """Screenshot of the report: the page renders (not blank) with its figures."""
    from PIL import Image

    shot = tmp_path / "shot.png"
    cmd = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--screenshot={shot}",
        "--window-size=1200,6000",
        (run_dir / "report.html").as_uri(),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    im = Image.open(shot).convert("L")
    assert im.size == (1200, 6000)
    hist = im.histogram()
    # mostly white page, but with a substantial amount of drawn (non-white) pixels
    dark = sum(hist[:200]) / sum(hist)
    assert 0.01 < dark < 0.6


def _script(name: str):
    import runpy

    return runpy.run_path(str(ROOT / "analysis" / name))


def test_analysis_scripts_regenerate_figures_and_compare_runs(run_dir, tmp_path, capsys):
    figs = _script("figures.py")["main"]([str(run_dir), "--out", str(tmp_path / "f")])
    assert figs == 0
    names = {p.name for p in (tmp_path / "f").iterdir()}
    assert {"weekly.png", "power-curve.png", "sensitivity.png", "report.html"} <= names
    compare = _script("compare_runs.py")["main"]
    out = tmp_path / "c.html"
    assert compare([str(run_dir), str(run_dir), "--out", str(out)]) == 0
    text = out.read_text()
    assert "difference" in text and "data:image/png;base64," in text
    assert "&lt;script&gt;" not in text or "<script>" not in text
    assert compare([str(run_dir)]) == 2


def test_headline_crossing_of_the_power_curve():
    import pandas as pd

    from ketsim.apps.report.headline import _crossing

    c = pd.DataFrame({"n": [10, 20, 40], "power": [0.3, 0.7, 0.9]})
    assert _crossing(c, 0.8) == "about 30 (interpolated between 20 and 40)"
    assert _crossing(c, 0.95) == "not reached up to 40"
    assert _crossing(c, 0.2).startswith("already at the smallest size evaluated (10)")


def test_report_opens_with_the_answer(run_dir):
    text = (run_dir / "report.html").read_text(encoding="utf-8")
    assert text.index('<section id="answer">') < text.index('<section id="question">')
    sec = re.search('<section id="answer">(.*?)</section>', text, re.S).group(1)
    assert "Primary analysis" in sec and "95% Wilson" in sec
