"""The sweep report: labelled axes with units, one stated colour scale per quantity, MC SEs,
the target-power boundary and no empty sections, read from the HTML itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from ketsim.apps.report import write_report
from ketsim.apps.report.heatmap_svg import ColourScale, _contour, heatmap_svg
from ketsim.apps.report.sweep_axes import describe_axis, sorted_values
from ketsim.config.scenario import parse_scenario
from ketsim.config.sweep import expand_sweep
from ketsim.engine.runs import RunOptions
from ketsim.engine.sweep import estimate_sweep

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ROOT / "scenarios" / "designs" / "dose_duration_sweep.yaml"


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory) -> str:
    """A 2 x 2 cut-down of the dose x duration sweep, 6 replicates per cell."""
    data = yaml.safe_load(SWEEP.read_text())
    for a in data["arms"]:
        a["n"] = 8
    data["trial"]["weeks"] = 3
    data["endpoints"] = [
        {
            "name": "change_48h",
            "type": "change_from_baseline",
            "days": [2, 3],
            "anchor": "treatment_end",
        },
        {"name": "responder30_48h", "type": "responder", "days": [2, 3], "anchor": "treatment_end"},
    ]
    data["analyses"] = [{"endpoint": "change_48h", "method": "ancova"}]
    data["sweep"] = {
        "grid": {
            "arms[0].regimens[0].rate": ["0.1 mg/kg/h", "0.3 mg/kg/h"],
            "arms[*].regimens[0].duration": ["4 h", "24 h"],
        }
    }
    base = parse_scenario(data)
    out = tmp_path_factory.mktemp("sweep") / "run"
    estimate_sweep(
        base,
        expand_sweep(data),
        replicates=6,
        out=str(out),
        opts=RunOptions(jobs=1, progress=False, argv=["test"]),
    )
    return write_report(out, target=0.5).read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    return dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', text, re.S))


def test_sweep_report_has_no_empty_section(sweep_report):
    secs = _sections(sweep_report)
    assert {"question", "assumptions", "power", "surfaces", "safety", "provenance"} <= set(secs)
    for pid, body in secs.items():
        assert 'class="missing"' not in body, pid
        # every section has content beyond its heading
        assert len(re.sub(r"<h2>.*?</h2>", "", body)) > 200, pid
    # the navigation links only to sections that exist
    for target in re.findall(r'<a href="#([^"]+)">', sweep_report):
        assert target in secs


def test_sweep_axes_have_human_labels_and_units(sweep_report):
    power = _sections(sweep_report)["power"]
    x = set(re.findall(r'<text class="xlabel"[^>]*>([^<]*)</text>', power))
    y = set(re.findall(r'<text class="ylabel"[^>]*>([^<]*)</text>', power))
    assert x == {"infusion duration, all arms (h)"}
    assert y == {"↑ infusion rate, ketamine arm (mg/kg/h)"}
    # ticks are bare numbers once the unit is in the title
    assert ">0.1<" in power and ">0.3<" in power and ">24<" in power
    assert "arms[0].regimens[0].rate</code>" in power  # the raw path is still named once


def test_one_stated_colour_scale_per_quantity(sweep_report):
    secs = _sections(sweep_report)
    scales = re.findall(r"<p class='scale'>Colour scale — ([^:]*):", sweep_report)
    assert scales.count("power (share of simulated trials rejecting H0)") == 1
    ends = re.findall(r"one colour scale from (\S+) to (\S+) ", secs["surfaces"])
    assert len(ends) == 2  # change from baseline and responder share: one scale each
    assert ("0.00", "1.00") in ends
    # every change map's colour bar carries the same ends
    bars = re.findall(
        r'<g class="colour-bar">.*?font-size="9">([^<]*)</text><text[^>]*>([^<]*)</text>',
        secs["surfaces"],
    )
    change = {b for b in bars if b != ("1.00", "0.00")}
    assert len(change) == 1


def test_mc_se_and_target_contour_are_drawn(sweep_report):
    power = _sections(sweep_report)["power"]
    se = re.findall(r'<text class="mc-se"[^>]*>± (\d\.\d\d)</text>', power)
    assert len(se) == 4  # one per cell of the 2 x 2 grid
    assert "target power 0.5" in power
    assert "± " in power  # the table also gives power ± MC SE


def test_contour_encloses_exactly_the_cells_reaching_the_target():
    z = np.array([[0.1, 0.2], [0.9, 0.95]])  # the top row (row 1) reaches 0.8
    d = re.search(r'd="([^"]+)"', _contour(z, 0.8)).group(1)
    segs = d.split("M")[1:]
    # top row: its top edge (2 segments), its two outer sides and the edge above row 0
    assert len(segs) == 6
    assert _contour(z, 0.99) == ""
    assert _contour(np.array([[np.nan, 0.9]]), 0.8).count("M") == 4


def test_heatmap_puts_the_first_row_at_the_bottom():
    sc = ColourScale("power", 0.0, 1.0, "viridis", "yellow = higher", "power")
    svg = heatmap_svg(
        np.array([[0.1], [0.9]]),
        np.array([[0.01], [0.02]]),
        ["a"],
        ["low", "high"],
        "x (u)",
        "y (v)",
        "t",
        sc,
    )
    y_low = float(re.search(r'y="([\d.]+)" text-anchor="end">low<', svg).group(1))
    y_high = float(re.search(r'y="([\d.]+)" text-anchor="end">high<', svg).group(1))
    assert y_low > y_high  # SVG y grows downwards: "low" is drawn below "high"
    assert sc.colour(0.0) == "#440154" and sc.colour(1.0) == "#fde724"  # viridis ends


def test_describe_axis_words():
    sc = parse_scenario(yaml.safe_load(SWEEP.read_text()))
    a = describe_axis("arms[*].n", sc, [20, 30])
    assert (a.label, a.unit, a.ticks) == (
        "patients per arm, all arms",
        "",
        {"20": "20", "30": "30"},
    )
    mixed = describe_axis("arms[*].regimens[0].duration", sc, ["2 days", "24 h"])
    assert mixed.unit == "" and mixed.ticks == {"2 days": "2 days", "24 h": "24 h"}
    assert describe_axis("pd.slow_gamma", sc, [1, 2]).title == "slow gamma, pd"
    assert sorted_values(["100 h", "4 h", "2 days"]) == ["4 h", "2 days", "100 h"]
