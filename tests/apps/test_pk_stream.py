"""`ketsim pk` streamed in patient chunks: identical tables, memory refusal, the PK page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ketsim.apps.cli.parser import main
from ketsim.apps.pk_run import run_pk
from ketsim.config.scenario import parse_scenario
from ketsim.core.resources import ENV_LIMIT, ResourceLimitError
from ketsim.sim.pk_study import _cell_bytes, pk_memory_estimate, simulate_pk

SCENARIO = {
    "name": "stream",
    "drug": "racemic",
    "population": {"n": 23, "comedication": {"clarithromycin": 0.4}},
    "regimens": [{"route": "oral", "amount": "0.5 mg/kg", "repeats": 3, "interval": "8 h"}],
    "output": {"step": "1 h", "end": "36 h"},
}


def _sc(**population):
    data = json.loads(json.dumps(SCENARIO))
    data["population"].update(population)
    return parse_scenario(data, "test")


def test_chunked_tables_are_those_of_the_whole_population(tmp_path):
    sc = _sc()
    per_patient = _cell_bytes(2) * 37
    plan, _, man = run_pk(sc, tmp_path / "c", seed=3, budget_bytes=5.5 * per_patient)
    assert plan.chunk == 5 and man["chunk_patients"] == 5  # 5 chunks: 5+5+5+5+3
    ref = simulate_pk(sc, seed=3)
    conc = pd.read_parquet(tmp_path / "c" / "concentrations.parquet")
    pd.testing.assert_frame_equal(conc, ref.to_frame())
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "c" / "summary.parquet"), ref.summary()
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "c" / "patients.parquet"), ref.population.to_frame()
    )
    # one chunk gives the same files
    plan1, _, _ = run_pk(sc, tmp_path / "one", seed=3)
    assert plan1.chunk == 23
    pd.testing.assert_frame_equal(
        conc, pd.read_parquet(tmp_path / "one" / "concentrations.parquet")
    )


def test_bands_are_the_quantiles_of_the_band_patients(tmp_path):
    sc = _sc()
    ref = simulate_pk(sc, seed=3)
    # all patients when there are fewer than the sample: exact quantiles of the population
    run_pk(sc, tmp_path / "all", seed=3, budget_bytes=1.0)
    b = pd.read_parquet(tmp_path / "all" / "bands.parquet")
    row = b[(b.enantiomer == "S") & (b.output == "ketamine") & (b.time_h == 10.0)].iloc[0]
    c = ref.conc["S"][:, 10, 0].astype(np.float32)
    np.testing.assert_allclose(
        [row.p05_ng_ml, row.p50_ng_ml, row.p95_ng_ml], np.quantile(c, [0.05, 0.5, 0.95])
    )
    assert (b.p05_ng_ml <= b.p50_ng_ml).all() and (b.p50_ng_ml <= b.p95_ng_ml).all()
    # a subsample: 10 distinct patients, the same for every chunk size
    p1, _, _ = run_pk(sc, tmp_path / "s1", seed=3, band_sample=10, budget_bytes=1.0)
    p2, _, _ = run_pk(sc, tmp_path / "s2", seed=3, band_sample=10)
    np.testing.assert_array_equal(p1.band_patients, p2.band_patients)
    assert np.unique(p1.band_patients).size == 10
    b1 = pd.read_parquet(tmp_path / "s1" / "bands.parquet")
    pd.testing.assert_frame_equal(b1, pd.read_parquet(tmp_path / "s2" / "bands.parquet"))
    r = b1[(b1.enantiomer == "R") & (b1.output == "norketamine") & (b1.time_h == 20.0)].iloc[0]
    c = ref.conc["R"][p1.band_patients, 20, 1].astype(np.float32)
    assert r.band_patients == 10 and r.run_patients == 23
    np.testing.assert_allclose(r.p50_ng_ml, np.quantile(c, 0.5))


def test_the_estimate_is_one_chunk_not_the_population():
    # 1e6 patients x 12 weeks hourly: under 2 GB whatever the number of patients beyond
    # the per-patient covariates (330 B each)
    chunk, big = pk_memory_estimate(1_000_000, 2017)
    assert big < 2e9
    _, small = pk_memory_estimate(100_000, 2017)
    assert big - small == pytest.approx(330.0 * 900_000)
    assert chunk == int(256e6 // (_cell_bytes(1) * 2017))


def test_refusal_names_the_estimate_before_writing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(ENV_LIMIT, "0.01")
    sc = _sc()
    with pytest.raises(ResourceLimitError, match=r"streamed in chunks of 23 patients needs about"):
        run_pk(sc, tmp_path / "r", seed=1)
    assert not list((tmp_path / "r").glob("*"))
    f = tmp_path / "s.yaml"
    f.write_text(json.dumps(SCENARIO))
    assert main(["pk", str(f), "--out", str(tmp_path / "cli"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "more than the limit of 10.0 MB" in err and ENV_LIMIT in err


def test_refusal_when_the_disk_cannot_hold_the_output(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    # 23 patients x 37 times x 2 systems x 4 values x 8 B = 54 kB against 10 kB free
    monkeypatch.setattr(shutil, "disk_usage", lambda d: usage(10**9, 10**9 - 10**4, 10**4))
    with pytest.raises(ResourceLimitError, match=r"needs about 0\.1 MB of disk, more than the"):
        run_pk(_sc(), tmp_path / "d", seed=1)
    assert not (tmp_path / "d").exists()


def test_pk_page_and_report(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text(json.dumps(SCENARIO))
    out = tmp_path / "run"
    assert main(["pk", str(f), "--out", str(out), "--seed", "2", "--quiet"]) == 0
    html = (out / "pk.html").read_text()
    for pid in ("run", "bands", "genotype", "comedication", "provenance"):
        assert f'id="{pid}"' in html
    assert "Concentrations over time: median and 5–95% band" in html
    assert "Bands from all 23 patients" in html
    # genotype table: one row per diplotype present, with its patient count
    pats = pd.read_parquet(out / "patients.parquet")
    for d, k in pats["cyp2b6"].value_counts().items():
        assert f"<td>{d}</td><td>{k:,}</td>" in html
    assert "S-ketamine AUC (ng·h/mL), median (5–95%)" in html
    assert "clarithromycin" in html and "<td>with</td>" in html
    assert html.count("<img") == 3  # bands, genotype, one co-medication
    # `ketsim report` rewrites the page of a pk run
    (out / "pk.html").unlink()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert (out / "pk.html").read_text() == html
    assert not (out / "report.html").exists()


def test_report_refuses_a_kind_it_cannot_report(tmp_path, capsys):
    run = tmp_path / "trial"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"command": "simulate"}))
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert "is a simulate run; reports cover power, sweep, samplesize and pk runs" in err
    assert not list(run.glob("*.html"))


def test_streamed_doses_that_vary_between_patients_are_those_of_simulate_pk(tmp_path):
    """Per-patient dose distributions draw the same uniforms in the streamed run."""
    data = json.loads(json.dumps(SCENARIO))
    data["regimens"] = [{"route": "iv_infusion", "rate": "0.1-0.3 mg/kg/h", "duration": "4 h"}]
    sc = parse_scenario(data, "test")
    per_patient = _cell_bytes(2) * 37
    run_pk(sc, tmp_path / "v", seed=3, budget_bytes=5.5 * per_patient)
    ref = simulate_pk(sc, seed=3)
    conc = pd.read_parquet(tmp_path / "v" / "concentrations.parquet")
    pd.testing.assert_frame_equal(conc, ref.to_frame())
    # and the doses do vary: end-of-infusion concentrations spread across patients
    cmax = ref.summary()["S_ketamine_cmax_ng_ml"]
    assert cmax.std() > 0.1 * cmax.mean()
