"""``ketsim compare`` and ``ketsim samplesize`` end to end on tiny designs; crossover rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ketsim.apps.cli import main
from ketsim.apps.cli.compare_command import format_compare

ROOT = Path(__file__).resolve().parents[2]


def _design(
    tmp_path: Path, name: str, primary: int, n: int = 6, rate: float | None = None, seed=11
):
    """A two-arm, one-week design (fast); ``primary`` is the index of its primary analysis."""
    data = {
        "name": name,
        "arms": [
            {"name": "ketamine", "n": n, "regimens": ["20 mg/h for 4 h"]},
            {"name": "placebo", "n": n, "treatment": "placebo", "regimens": ["20 mg/h for 4 h"]},
        ],
        "trial": {"weeks": 1},
        "endpoints": [
            {"name": "resp", "type": "responder", "week": 1},
            {"name": "y", "type": "weekly_mean", "week": 1},
        ],
        "analyses": [
            {"endpoint": "resp", "method": "fisher"},
            {"endpoint": "y", "method": "t_test"},
        ],
        "seed": 11,
    }
    data["analyses"][primary]["primary"] = True
    if rate is not None:
        data["design"] = {"recruitment": {"patients_per_week": rate}}
    if seed is None:
        data.pop("seed")
    f = tmp_path / f"{name}.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False))
    return f


def _compare(files, out, seed: str | None = "7"):
    args = ["compare", *map(str, files), "--replicates", "8", "--out", str(out)]
    args += [] if seed is None else ["--seed", seed]
    return main([*args, "--truth-patients", "0", "--quiet", "--no-report"])


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """Two designs (same patients, different primary analyses and recruitment) compared once."""
    tmp = tmp_path_factory.mktemp("compare")
    a = _design(tmp, "by_mean", primary=1)
    b = _design(tmp, "by_responder", primary=0, rate=3.0)
    assert _compare([a, b], tmp / "c1") == 0
    return tmp, a, b


def test_compare_writes_its_files_with_common_random_numbers(compared):
    tmp, _, _ = compared
    for f in ("compare.csv", "compare_arms.csv", "compare.html", "compare.json"):
        assert (tmp / "c1" / f).is_file()
    t = pd.read_csv(tmp / "c1" / "compare.csv")
    assert list(t["design"]) == ["by_mean", "by_responder"]
    assert list(t["analysis"]) == ["y t_test (treatment_policy)", "resp fisher (treatment_policy)"]
    assert (t["seed"] == 7).all() and (t["expected_n"] == 12).all()
    # same patients in both designs (one seed, same structure): identical trial tables
    arms = pd.read_csv(tmp / "c1" / "compare_arms.csv").set_index(["design", "group"])
    assert arms.loc["by_mean"].equals(arms.loc["by_responder"])
    # recruitment at 3/week adds 12 / 3 = 4 weeks to the one-week schedule (+ baseline diary)
    d = t.set_index("design")
    assert d.at["by_responder", "recruitment_weeks"] == pytest.approx(4.0)
    assert d.at["by_mean", "recruitment_weeks"] == 0.0
    assert d.at["by_responder", "expected_duration_weeks"] == pytest.approx(
        4.0 + d.at["by_mean", "expected_duration_weeks"]
    )
    html = (tmp / "c1" / "compare.html").read_text()
    assert "by_responder" in html and "data:image/png;base64" in html
    text = format_compare(t)
    assert text.splitlines()[1].startswith("by_mean ") and "primary analyses:" in text


def test_compare_twice_gives_the_same_csv(compared):
    tmp, a, b = compared
    assert _compare([a, b], tmp / "c2") == 0
    assert (tmp / "c1" / "compare.csv").read_text() == (tmp / "c2" / "compare.csv").read_text()


def test_compare_without_a_seed_resumes_with_the_one_it_drew(tmp_path):
    a = _design(tmp_path, "seedless", primary=1, seed=None)
    assert _compare([a], tmp_path / "c", seed=None) == 0
    first = (tmp_path / "c" / "compare.csv").read_text()
    # the same command again: the recorded seed, so the design's run is found and reused
    assert _compare([a], tmp_path / "c", seed=None) == 0
    assert (tmp_path / "c" / "compare.csv").read_text() == first
    man = json.loads((tmp_path / "c" / "designs" / "seedless" / "manifest.json").read_text())
    assert len(man["invocations"]) == 2


def test_compare_power_is_ketsim_power_with_the_same_seed(compared):
    tmp, a, b = compared
    d = pd.read_csv(tmp / "c1" / "compare.csv").set_index("design")
    for f, name in ((a, "by_mean"), (b, "by_responder")):
        out = tmp / f"power_{name}"
        args = ["power", str(f), "--replicates", "8", "--seed", "7", "--out", str(out)]
        rc = main(
            [*args, "--quiet", "--truth-patients", "0", "--aux-replicates", "0", "--no-report"]
        )
        assert rc == 0
        p = pd.read_csv(out / "power.csv")
        p = p[p["analysis"] == d.at[name, "analysis"]]
        assert p["power"].iloc[0] == d.at[name, "power"]
        assert p["rejections"].iloc[0] == round(d.at[name, "power"] * 8)


def test_samplesize_defaults_to_the_primary_and_writes_its_page(tmp_path, capsys):
    f = _design(tmp_path, "ss", primary=1, n=6)
    out = tmp_path / "ss"
    args = ["samplesize", str(f), "--replicates", "6", "--seed", "3", "--out", str(out)]
    rc = main([*args, "--n-max", "12", "--quiet"])
    assert rc == 0
    s = json.loads((out / "samplesize.json").read_text())
    assert s["analysis"] == "y t_test (treatment_policy)"  # the primary, not analysis 0
    na = s["normal_approximation"]
    assert na["n"] > 0 and na["sides"] == 2 and na["alpha"] == 0.05
    html = (out / "samplesize.html").read_text()
    assert "Normal-approximation cross-check" in html and "data:image/png;base64" in html


def test_crossover_rows_name_their_model(tmp_path):
    from ketsim.analysis.analyses import model_words
    from ketsim.apps.report.result_panels import _power_panel
    from ketsim.config.scenario import load_scenario
    from ketsim.engine.power import estimate_power
    from ketsim.engine.runs import RunOptions
    from ketsim.storage.reader import load_run

    sc = load_scenario(ROOT / "scenarios/designs/pickering_style_crossover.yaml")
    words = [model_words(a) for a in sc.analyses]
    assert words == [
        "crossover without carry-over term, holm",
        "crossover with carry-over term",
        "crossover without carry-over term, hochberg",
    ]
    opts = RunOptions(chunk_size=2, progress=False)  # one chunk: the fixed cost paid once
    res = estimate_power(sc, replicates=2, truth_patients=0, out=str(tmp_path / "x"), opts=opts)
    assert set(res.power["analysis"]) == {
        "auc35 crossover without carry-over term, holm (treatment_policy)",
        "auc35 crossover with carry-over term (treatment_policy)",
        "change_week1 crossover without carry-over term, hochberg (treatment_policy)",
    }
    page = _power_panel(load_run(tmp_path / "x"))
    assert page.count("<td>crossover with carry-over term</td>") == 4  # 2 effects + 2 carry-over
    assert page.count("<td>crossover without carry-over term, holm</td>") == 2


def test_samplesize_target_defaults_to_the_scenarios_target_power(tmp_path):
    f = _design(tmp_path, "tp", primary=1, n=6)
    data = yaml.safe_load(f.read_text())
    data["statistics"] = {"target_power": 0.9}
    f.write_text(yaml.safe_dump(data))
    out = tmp_path / "tp"
    args = ["samplesize", str(f), "--replicates", "6", "--seed", "3", "--out", str(out)]
    assert main([*args, "--n-max", "12", "--quiet", "--no-report"]) == 0
    assert json.loads((out / "samplesize.json").read_text())["target_power"] == 0.9
