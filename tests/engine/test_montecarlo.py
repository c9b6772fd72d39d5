"""Monte Carlo engine and run store: seeds, chunking, backends, resuming, power summaries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ketsim.config.scenario import load_scenario, parse_scenario
from ketsim.config.sweep import load_sweep
from ketsim.engine.chunks import NormalReference, simulate_chunk
from ketsim.engine.executors import chunk_ranges
from ketsim.engine.intervals import clopper_pearson_interval, wilson_interval
from ketsim.engine.power import estimate_power
from ketsim.engine.runs import RunOptions
from ketsim.engine.sample_size import search_sample_size
from ketsim.engine.summaries import summarise_power
from ketsim.engine.sweep import estimate_sweep
from ketsim.engine.variants import null_scenario, resize_scenario, size_of
from ketsim.storage.store import RunStore, StoreError

ROOT = Path(__file__).resolve().parents[2]
SIG = ROOT / "scenarios" / "published" / "sigtermans2009.yaml"
TABLES = ("power.csv", "power.parquet", "replicates.parquet", "endpoints.parquet", "trial.parquet")


def _small(tmp_path: Path, seed: bool = True) -> Path:
    """Sigtermans with 10 patients per arm, 3 weeks, two quick analyses (a fast scenario)."""
    data = yaml.safe_load(SIG.read_text())
    data.pop("expected", None)  # published targets of the full trial, not of this cut-down one
    data["name"] = "sig_small"
    for a in data["arms"]:
        a["n"] = 10
    data["trial"]["weeks"] = 3
    data["endpoints"] = [
        {"name": "change_week1", "type": "change_from_baseline", "week": 1},
        {"name": "change_week3", "type": "change_from_baseline", "week": 3},
        {"name": "responder30_week1", "type": "responder", "week": 1},
    ]
    data["analyses"] = [
        {"endpoint": "change_week1", "method": "ancova"},
        {"endpoint": "change_week3", "method": "mmrm", "visits": [1, 2, 3]},
        {"endpoint": "responder30_week1", "method": "fisher"},
    ]
    if not seed:
        data.pop("seed")
    f = tmp_path / "sig_small.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return f


def _normal(n: int) -> object:
    return parse_scenario(
        {
            "name": "normal_reference",
            "arms": [
                {"name": "treatment", "n": n, "regimens": ["20 mg/h for 4 h"]},
                {
                    "name": "control",
                    "n": n,
                    "treatment": "placebo",
                    "regimens": ["20 mg/h for 4 h"],
                },
            ],
            "trial": {"weeks": 1},
            "endpoints": [{"name": "y", "type": "weekly_mean", "week": 1}],
            "analyses": [{"endpoint": "y", "method": "t_test"}],
        }
    )


def _quiet(jobs: int = 1, **kw) -> RunOptions:
    return RunOptions(jobs=jobs, progress=False, argv=["test"], **kw)


# -- intervals and summaries -------------------------------------------------------------------
def test_intervals_match_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    x = np.array([0, 1, 7, 50, 99, 100])
    n = np.full(x.shape, 100)
    wl, wh = wilson_interval(x, n)
    el, eh = clopper_pearson_interval(x, n)
    for i in range(x.size):
        np.testing.assert_allclose((wl[i], wh[i]), proportion_confint(x[i], 100, method="wilson"))
        np.testing.assert_allclose((el[i], eh[i]), proportion_confint(x[i], 100, method="beta"))


def test_summarise_power_known_values():
    # 4 replicates: 3 rejections, one failed fit (NaN estimate, not rejected)
    rows = pd.DataFrame(
        {
            "replicate": [0, 1, 2, 3],
            "analysis_id": 0,
            "analysis": "y t",
            "endpoint": "y",
            "method": "t_test",
            "strategy": "treatment_policy",
            "comparison": "a",
            "control": "b",
            "estimate": [1.0, 2.0, 3.0, np.nan],
            "se": [0.5, 0.5, 0.5, np.nan],
            "ci_low": [0.0, 1.0, 2.5, np.nan],
            "ci_high": [2.0, 3.0, 3.5, np.nan],
            "reject": [True, True, True, False],
            "alpha": 0.05,
            "alternative": "two-sided",
            "n_treatment": 10,
            "n_control": 12,
        }
    )
    truth = pd.DataFrame({"analysis_id": [0], "comparison": ["a"], "true_effect": [1.5]})
    truth["true_effect_se"] = 0.01
    p = summarise_power(rows, truth).iloc[0]
    assert p["replicates"] == 4 and p["rejections"] == 3
    assert p["power"] == 0.75
    assert p["mc_se"] == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert p["failed"] == 0.25
    assert p["mean_estimate"] == pytest.approx(2.0)
    assert p["sd_estimate"] == pytest.approx(1.0)
    assert p["bias"] == pytest.approx(0.5)
    assert p["bias_mc_se"] == pytest.approx(np.sqrt(1.0 / 3 + 0.01**2))
    assert p["rmse"] == pytest.approx(np.sqrt((0.25 + 0.25 + 2.25) / 3))
    assert p["coverage"] == pytest.approx(2 / 3)  # [2.5, 3.5] misses 1.5
    null = summarise_power(rows, None, hypothesis="null").iloc[0]
    assert null["hypothesis"] == "null" and null["true_effect"] == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.sets(st.integers(0, 300), max_size=120),
    st.integers(1, 40),
)
def test_chunk_ranges_cover_exactly_the_todo_replicates(todo, size):
    ranges = chunk_ranges(sorted(todo), size)
    got = [r for lo, hi in ranges for r in range(lo, hi)]
    assert got == sorted(todo)  # every replicate once, in order, no replicate outside
    assert all(0 < hi - lo <= size for lo, hi in ranges)


# -- scenarios for the engine ------------------------------------------------------------------
def test_resize_and_null_scenarios():
    sc = load_scenario(SIG)
    assert size_of(sc) == ("n_per_arm", 30)
    big = resize_scenario(sc, n=45)
    assert [a.n for a in big.arms] == [45, 45]
    assert [a.n for a in resize_scenario(sc, factor=0.5).arms] == [15, 15]
    null = null_scenario(sc)
    assert [a.treatment for a in null.arms] == ["placebo", "placebo"]
    assert null.arms[0].regimens == sc.arms[0].regimens  # same schedule, inert drug
    cx = load_scenario(ROOT / "scenarios/designs/pickering_style_crossover.yaml")
    unit, n = size_of(cx)
    assert unit == "n_per_sequence"
    assert size_of(resize_scenario(cx, n=n + 2)) == (unit, n + 2)
    ee = load_scenario(ROOT / "scenarios/designs/eerw_ketamine_infusion.yaml")
    assert size_of(resize_scenario(ee, n=50)) == ("n_enrolled", 50)


# -- determinism across jobs, chunks and backends ----------------------------------------------
def test_identical_bytes_for_any_jobs_chunking_and_backend(tmp_path):
    sc = load_scenario(_small(tmp_path))
    outs = {}
    runs = {
        "serial_chunk1": _quiet(1, chunk_size=1),
        "loky2_chunk5": _quiet(2, chunk_size=5),
        "dask2": _quiet(2, backend="dask"),
    }
    for name, opts in runs.items():
        pytest.importorskip("distributed") if opts.backend == "dask" else None
        res = estimate_power(
            sc, replicates=12, truth_patients=200, out=str(tmp_path / name), opts=opts
        )
        assert res.timings["replicates_simulated"] == 12
        outs[name] = {f: (tmp_path / name / f).read_bytes() for f in TABLES}
    ref = outs.pop("serial_chunk1")
    for name, files in outs.items():
        for f, data in files.items():
            assert data == ref[f], f"{f} differs between serial and {name}"
    # the manifest records the seed, versions and timings
    man = json.loads((tmp_path / "loky2_chunk5" / "manifest.json").read_text())
    assert man["seed_entropy"] == sc.seed and man["status"] == "complete"
    assert {"numpy", "scipy", "ketsim", "python"} <= set(man["versions"])
    assert man["replicates"] == 12 and "wall_s" in man["timings_s"]
    assert (tmp_path / "loky2_chunk5" / "scenario.resolved.yaml").is_file()


def test_one_replicate_alone_equals_its_rows_in_the_run(tmp_path):
    sc = load_scenario(_small(tmp_path))
    res = estimate_power(sc, replicates=6, truth_patients=0, out=str(tmp_path / "r"), opts=_quiet())
    alone = simulate_chunk(sc, res.entropy, [4])["analyses"]
    in_run = res.analyses[res.analyses["replicate"] == 4].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, in_run)


def test_sweep_cells_share_common_random_numbers(tmp_path):
    base, cells = load_sweep(ROOT / "scenarios/designs/dose_duration_sweep.yaml")
    data = yaml.safe_load((ROOT / "scenarios/designs/dose_duration_sweep.yaml").read_text())
    # two rates at one duration, 6 patients per arm, 2 weeks: a quick sweep
    data["sweep"] = {"grid": {"arms[0].regimens[0].rate": ["0.1 mg/kg/h", "0.3 mg/kg/h"]}}
    for a in data["arms"]:
        a["n"] = 6
    data["trial"]["weeks"] = 2
    data["endpoints"] = [e for e in data["endpoints"] if "days" in e]  # days 2-3 after dosing
    eps = {e["name"] for e in data["endpoints"]}
    data["analyses"] = [a for a in data["analyses"] if a["endpoint"] in eps]
    f = tmp_path / "sweep.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    base, cells = load_sweep(f)
    res = estimate_sweep(base, cells, replicates=4, out=str(tmp_path / "s"), opts=_quiet())
    reps = pd.read_parquet(tmp_path / "s" / "replicates.parquet")
    assert set(reps["cell"]) == {0, 1}
    ep = res.endpoints
    # the placebo arm is the same patients with the same draws in both cells ...
    pl = ep[ep["arm"] == "placebo"].pivot_table(index="endpoint", columns="cell", values="value")
    np.testing.assert_array_equal(pl[0].to_numpy(), pl[1].to_numpy())
    # ... while the ketamine arm responds to the dose
    kt = ep[(ep["arm"] == "ketamine") & (ep["endpoint"] == "change_48h")]
    assert kt.set_index("cell")["value"][1] < kt.set_index("cell")["value"][0]
    assert list(res.power.columns[:2]) == ["cell", "arms[0].regimens[0].rate"]


# -- the run store ------------------------------------------------------------------------------
def _cli(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KETSIM_NO_PROGRESS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "ketsim", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_then_rerun_resumes_and_matches_an_uninterrupted_run(tmp_path):
    f = _small(tmp_path, seed=False)  # no seed: the resumed run must reuse the recorded one
    args = ["power", str(f), "--replicates", "40", "--chunk-size", "2", "--truth-patients", "0"]
    args += ["--aux-replicates", "0", "--runs-dir", "runs", "--quiet"]
    p = _cli(args, tmp_path)
    cells = None
    t0 = time.time()
    while time.time() - t0 < 120:
        runs = list((tmp_path / "runs").glob("sig_small-power-*"))
        if runs:
            cells = runs[0] / "cells" / "c0000"
            if cells.is_dir() and len(list(cells.glob("analyses-*.parquet"))) >= 3:
                break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert cells is not None
    man = json.loads((cells.parents[1] / "manifest.json").read_text())
    assert man["status"] == "running"
    n_before = len(list(cells.glob("analyses-*.parquet")))
    assert 3 <= n_before < 20, "the run was not interrupted mid-way"
    q = _cli(args, tmp_path)
    _, err = q.communicate(timeout=300)
    assert q.returncode == 0, err
    runs = list((tmp_path / "runs").glob("sig_small-power-*"))
    assert len(runs) == 1, "the rerun must resume the interrupted run, not start a new one"
    man = json.loads((runs[0] / "manifest.json").read_text())
    assert man["status"] == "complete"
    assert man["timings_s"]["replicates_reused"] >= 2 * n_before - 2
    assert man["timings_s"]["replicates_simulated"] < 40
    # same seed, uninterrupted, other chunking: identical tables
    seed = ["--seed", str(man["seed_entropy"])]
    opts = ["--truth-patients", "0", "--aux-replicates", "0", "--quiet", "--out", "ref"]
    ref = _cli([*args[:4], *opts, *seed], tmp_path)
    _, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err
    for name in TABLES:
        assert (runs[0] / name).read_bytes() == (tmp_path / "ref" / name).read_bytes(), name


def test_store_removes_partial_chunks_and_refuses_foreign_directories(tmp_path):
    key = {"a": 1}
    s = RunStore.create("power", "x", key, 7, path=tmp_path / "run")
    df = pd.DataFrame({"replicate": [0, 1], "v": [1.0, 2.0]})
    from ketsim.storage.store import CHUNK_TABLES

    s.write_chunk("c0000", 0, 2, dict.fromkeys(CHUNK_TABLES, df))
    # a chunk killed half-way: one table written, a temporary file left behind
    from ketsim.storage.files import write_parquet_atomic

    write_parquet_atomic(s.cell_dir("c0000") / "analyses-0000002-0000004.parquet", df)
    (s.cell_dir("c0000") / ".trial-0000002-0000004.parquet.x.tmp").write_bytes(b"junk")
    assert s.finished_chunks("c0000") == [(0, 2)]
    assert s.clean_partial("c0000") == 2
    assert s.done_replicates("c0000") == {0, 1}
    assert RunStore.resume_at(tmp_path / "run", "power", key, None).manifest["seed_entropy"] == 7
    with pytest.raises(StoreError, match="different run"):
        RunStore.resume_at(tmp_path / "run", "power", {"a": 2}, None)
    with pytest.raises(StoreError, match="seed 7, not 8"):
        RunStore.resume_at(tmp_path / "run", "power", key, 8)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a ketsim run directory"):
        RunStore.resume_at(tmp_path / "other", "power", key, None)


# -- command line -------------------------------------------------------------------------------
def test_cli_power_prints_a_table_and_rejects_bad_options(tmp_path, capsys):
    from ketsim.apps.cli import main

    f = _small(tmp_path)
    first = [
        "power",
        str(f),
        "--replicates",
        "6",
        "--truth-patients",
        "100",
        "--aux-replicates",
        "3",
    ]
    rc = main([*first, "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 0
    table = pd.read_csv(tmp_path / "o" / "power.csv")
    assert len(table) == 3 and set(table["hypothesis"]) == {"alternative"}
    assert table["power"].between(0, 1).all()
    again = first  # the same command again
    rc = main([*again, "--out", str(tmp_path / "o")])  # complete: re-summarised, not re-run
    assert rc == 0
    out = capsys.readouterr().out
    assert "power (Monte Carlo SE" in out and "change_week1" in out and "0 simulated" in out
    # the same directory with another replicate count is a different run
    rc = main(["power", str(f), "--replicates", "7", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 1
    assert "holds a different run" in capsys.readouterr().err
    rc = main([*again[:4], "--out", str(tmp_path / "o"), "--quiet"])  # other truth size
    assert rc == 1
    assert "holds a different run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["power", str(f), "--replicates", "0"])
    rc = main(["power", str(f), "--replicate", "3", "--seed", "11"])
    assert rc == 0 and "replicate 3 of seed 11" in capsys.readouterr().out


# -- engine validation ---------------------------------------------------------------------------
def test_normal_reference_power_is_the_t_test_power(tmp_path):
    """Quick version of the slow validation: one point, 1000 replicates, 3 MC SE."""
    from statsmodels.stats.power import TTestIndPower

    res = estimate_power(
        _normal(15),
        replicates=1000,
        seed=3,
        out=str(tmp_path / "n"),
        opts=_quiet(),
        reference=NormalReference((-1.5, 0.0), 2.0),
    )
    p = res.power.iloc[0]
    exact = TTestIndPower().power(0.75, 15, 0.05)
    assert abs(p["power"] - exact) < 3 * np.sqrt(exact * (1 - exact) / 1000)
    assert abs(p["bias"]) < 3 * p["bias_mc_se"]


@pytest.mark.slow
@pytest.mark.parametrize("n", [8, 20, 50])
@pytest.mark.parametrize("effect", [0.0, 0.3, 0.6, 1.0])
def test_engine_power_agrees_with_analytic_t_test_power(tmp_path, n, effect):
    """Monte Carlo power within 3 MC SE of the statsmodels t-test power; alpha on the null.

    Tolerance: the rejection count is binomial(R, power), so |estimate - power| exceeds
    3 sqrt(power (1 - power) / R) with probability ~0.003 per cell (12 cells: ~3% chance of one
    false alarm overall).
    """
    from statsmodels.stats.power import TTestIndPower

    R = 4000
    sd = 2.0
    res = estimate_power(
        _normal(n),
        replicates=R,
        seed=1000 + n,
        out=str(tmp_path / "n"),
        opts=_quiet(2),
        reference=NormalReference((-effect * sd, 0.0), sd),
    )
    p = res.power.iloc[0]
    exact = TTestIndPower().power(effect, n, 0.05) if effect else 0.05
    assert abs(p["power"] - exact) <= 3 * np.sqrt(exact * (1 - exact) / R)
    if effect == 0.0:
        assert p["wilson_low"] <= 0.05 <= p["wilson_high"] or abs(p["power"] - 0.05) < 0.01
    assert abs(p["bias"]) < 4 * p["bias_mc_se"]
    assert abs(p["coverage"] - 0.95) <= 3 * np.sqrt(0.95 * 0.05 / R)


@pytest.mark.slow
def test_sample_size_search_finds_the_analytic_n(tmp_path):
    from statsmodels.stats.power import TTestIndPower

    d = 0.5
    exact = TTestIndPower().solve_power(d, power=0.8, alpha=0.05)  # 63.8 per arm
    res = search_sample_size(
        _normal(30),
        target=0.8,
        replicates=1500,
        seed=17,
        out=str(tmp_path / "ss"),
        opts=_quiet(2),
        reference=NormalReference((-d, 0.0), 1.0),
    )
    assert res.n_fit_low <= exact <= res.n_fit_high
    assert abs(res.n_observed - exact) <= 6
    assert (tmp_path / "ss" / "samplesize.json").is_file()


@pytest.mark.slow
def test_type_i_error_of_the_sigtermans_null(tmp_path):
    """The full model on the null (placebo in both arms): every analysis rejects at ~alpha.

    Band: alpha +- 3 MC SE at R = 600 (0.05 +- 0.027); exact tests (Fisher) may be conservative,
    so only the upper bound applies to them.
    """
    sc = load_scenario(SIG)
    res = estimate_power(sc, replicates=600, null=True, out=str(tmp_path / "null"), opts=_quiet(2))
    band = 3 * np.sqrt(0.05 * 0.95 / 600)
    for _, r in res.power.iterrows():
        assert r["hypothesis"] == "null"
        assert r["power"] <= 0.05 + band, r["analysis"]
        if r["method"] not in ("fisher", "logistic", "logrank"):
            assert r["power"] >= 0.05 - band, r["analysis"]


def test_cli_sweep_writes_tidy_tables_and_surfaces(tmp_path, capsys):
    from ketsim.apps.cli import main

    data = yaml.safe_load((ROOT / "scenarios/designs/dose_duration_sweep.yaml").read_text())
    data["sweep"] = {
        "grid": {
            "arms[0].regimens[0].rate": ["0.1 mg/kg/h", "0.3 mg/kg/h"],
            "arms[*].regimens[0].duration": ["4 h", "24 h"],
        }
    }
    for a in data["arms"]:
        a["n"] = 5
    data["trial"]["weeks"] = 1
    data["endpoints"] = [e for e in data["endpoints"] if "days" in e]
    eps = {e["name"] for e in data["endpoints"]}
    data["analyses"] = [a for a in data["analyses"] if a["endpoint"] in eps]
    f = tmp_path / "sw.yaml"
    f.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    rc = main(["sweep", str(f), "--replicates", "3", "--out", str(tmp_path / "s")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "power by cell" in out and "response surfaces" in out
    power = pd.read_csv(tmp_path / "s" / "sweep_power.csv")
    assert len(power) == 4 * len(data["analyses"])
    surf = pd.read_csv(tmp_path / "s" / "surfaces.csv")
    assert {"power", "mean", "proportion"} <= set(surf["quantity"])
    # a bad sweep is a usage error naming the path
    data["sweep"]["grid"]["arms[9].n"] = [1, 2]
    f.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    assert main(["sweep", str(f), "--replicates", "3"]) == 2
    assert "sweep.grid.arms[9].n" in capsys.readouterr().err


def test_dask_scheduler_address_gives_the_same_tables(tmp_path):
    pytest.importorskip("distributed")
    from dask.distributed import LocalCluster

    sc = _normal(6)
    ref = NormalReference((-1.0, 0.0), 1.0)
    a = estimate_power(
        sc, replicates=30, seed=4, out=str(tmp_path / "a"), opts=_quiet(), reference=ref
    )
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        opts = _quiet(1, backend="dask", scheduler=cluster.scheduler_address, chunk_size=4)
        b = estimate_power(
            sc, replicates=30, seed=4, out=str(tmp_path / "b"), opts=opts, reference=ref
        )
    pd.testing.assert_frame_equal(a.power, b.power)
    assert (tmp_path / "a/replicates.parquet").read_bytes() == (
        tmp_path / "b/replicates.parquet"
    ).read_bytes()


def test_progress_bar_shows_count_and_eta(capsys):
    from ketsim.engine.progress import Progress

    bar = Progress(10, enabled=True)
    bar.update(4)
    bar.update(6)
    bar.close()
    err = capsys.readouterr().err
    assert "10/10 replicates" in err and "ETA" in err
    quiet = Progress(10, enabled=False)
    quiet.update(10)
    quiet.close()
    assert capsys.readouterr().err == ""
