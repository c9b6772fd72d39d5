"""Sizing of a power run's extra work (truth trial, auxiliary cells) and truth-trial pieces."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from ketsim.config.scenario import load_scenario
from ketsim.engine import extra_work
from ketsim.engine.extra_work import aux_replicates_for, truth_plan
from ketsim.engine.power import estimate_power
from ketsim.engine.runs import RunOptions
from ketsim.engine.summaries import combine_truth_pieces, total_patients, true_effects
from tests.engine.test_montecarlo import _small


def test_truth_plan_follows_the_mc_error_rule():
    p = truth_plan(60, 1000, None)
    # N = n R / ratio, split into equal pieces of at most TRUTH_PIECE_PATIENTS
    assert p.patients == 30_000 and p.pieces == 3 and p.piece_patients == 10_000
    assert p.automatic and p.se_ratio == pytest.approx(math.sqrt(2))
    assert "30,000-patient trial in 3 pieces" in p.describe()
    # small R: at least TRUTH_MIN_FACTOR trials' worth; huge R: capped
    assert truth_plan(60, 10, None).patients == 20 * 60
    assert truth_plan(60, 10**6, None).patients == extra_work.TRUTH_PATIENTS_MAX
    # explicit sizes are kept (one piece when small: the old single large trial)
    q = truth_plan(60, 1000, 5000)
    assert (q.patients, q.pieces, q.automatic) == (5000, 1, False)
    r = truth_plan(60, 1000, 25_001)
    assert r.pieces == 3 and r.patients >= 25_001 and r.patients == 3 * r.piece_patients
    assert truth_plan(60, 1000, 0).patients == 0
    assert "none" in truth_plan(60, 1000, 0).describe()


def test_aux_replicates_grow_with_the_request():
    assert aux_replicates_for(1000) == 100
    assert aux_replicates_for(5000) == 500
    assert aux_replicates_for(200) == extra_work.AUX_MIN
    assert aux_replicates_for(20) == 20  # never more than the main run


def _piece(est, se):
    return pd.DataFrame(
        {
            "analysis_id": [0, 0, 1],
            "comparison": ["a", "b", "a"],
            "true_effect": est,
            "true_effect_se": se,
        }
    )


def test_combine_truth_pieces():
    one = _piece([1.0, 2.0, 3.0], [0.1, 0.2, 0.3])
    pdt.assert_frame_equal(combine_truth_pieces([one]), one)
    two = _piece([3.0, 4.0, np.nan], [0.3, 0.4, 0.5])
    got = combine_truth_pieces([one, two])
    assert got["true_effect"].tolist()[:2] == [2.0, 3.0]
    np.testing.assert_allclose(
        got["true_effect_se"].to_numpy()[:2], [math.hypot(0.1, 0.3) / 2, math.hypot(0.2, 0.4) / 2]
    )
    # a row undefined in any piece is undefined
    assert np.isnan(got["true_effect"].iloc[2]) and np.isnan(got["true_effect_se"].iloc[2])
    assert got[["analysis_id", "comparison"]].equals(one[["analysis_id", "comparison"]])


def _opts(jobs: int) -> RunOptions:
    return RunOptions(jobs=jobs, chunk_size=3, progress=False)


def test_single_piece_truth_is_the_single_large_trial(tmp_path):
    sc = load_scenario(_small(tmp_path))
    res = estimate_power(
        sc, replicates=4, truth_patients=200, out=str(tmp_path / "r"), opts=_opts(1)
    )
    assert res.truth_plan.pieces == 1
    pdt.assert_frame_equal(res.store.read_truth("c0000"), true_effects(sc, res.entropy, 200))


def test_truth_pieces_are_combined_identically_for_any_jobs(tmp_path, monkeypatch):
    monkeypatch.setattr(extra_work, "TRUTH_PIECE_PATIENTS", 100)
    sc = load_scenario(_small(tmp_path))
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"j{jobs}"
        res = estimate_power(sc, replicates=6, truth_patients=300, out=str(out), opts=_opts(jobs))
        assert (res.truth_plan.pieces, res.truth_plan.piece_patients) == (3, 100)
        assert res.timings["truth_pieces"] == 3 and res.timings["truth_worker_s"] > 0
        runs[jobs] = {
            f: (out / f).read_bytes()
            for f in ("power.parquet", "cells/c0000/truth.parquet", "replicates.parquet")
        }
    assert runs[1] == runs[2]
    pieces = [true_effects(sc, res.entropy, 100, piece=k) for k in range(3)]
    truth = res.store.read_truth("c0000")
    np.testing.assert_allclose(
        truth["true_effect"], np.mean([p["true_effect"] for p in pieces], axis=0), rtol=1e-12
    )
    # the pieces are different trials (different replicate streams), not one trial three times
    assert not pieces[0]["true_effect"].equals(pieces[1]["true_effect"])
    pw = res.power
    assert np.allclose(pw["bias"], pw["mean_estimate"] - pw["true_effect"], equal_nan=True)


def test_automatic_sizes_are_recorded(tmp_path):
    sc = load_scenario(_small(tmp_path))
    # 10 requested: every automatic size is still exercised (aux = min(10, 50) = 10 per cell)
    res = estimate_power(
        sc,
        replicates=10,
        truth_patients=None,
        aux_replicates=None,
        out=str(tmp_path / "a"),
        opts=_opts(1),
    )
    t = res.timings
    assert t["truth_patients"] == truth_plan(total_patients(sc), 10, None).patients
    assert t["aux_replicates"] == aux_replicates_for(10) and t["aux_cells"] > 0
    assert t["replicates_simulated"] == 10 + t["aux_cells"] * t["aux_replicates"]
    assert (tmp_path / "a" / "power_curve.csv").is_file()
