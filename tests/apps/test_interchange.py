"""NONMEM-style export and dose import (ketsim.apps.interchange) and the trial's dose recorder.

The round trip is the main check: a trial simulated with the recorder on is exported, its dose
records are read back into ketsim regimens, and those regimens, simulated with
``simulate_concentrations`` for the same virtual patients (covariates and etas), reproduce every
exported concentration and the recorded total dose.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from ketsim.apps.interchange import (
    CMT_CODES,
    COLUMNS,
    DVID_CODES,
    ROUTE_CMT,
    InterchangeError,
    add_interchange_parsers,
    dosing_from_frame,
    exposures,
    read_dosing,
    regimen_dicts,
    to_nonmem,
    total_mg,
    write_nonmem,
)
from ketsim.config.scenario import RegimenSpec, parse_scenario, read_yaml
from ketsim.sim.trial import simulate_trial

SIG = "scenarios/published/sigtermans2009.yaml"

#: racemic, several routes: repeated SC infusions, intranasal and oral boluses at constant
#: intervals (8.4 h: not a binary fraction), an IV bolus on top of a titrated IV infusion, and a
#: placebo and an active-placebo arm
MULTI = """
name: racemic-multiroute
drug: racemic
population: {indication: neuropathic}
arms:
  - name: ketamine
    n: 5
    regimens:
      - {route: subcutaneous_infusion, rate: 0.1 mg/kg/h, duration: 24 h, repeats: 3,
         interval: 48 h}
      - {route: intranasal, amount: 0.2 mg/kg, start: 2 h, repeats: 10, interval: 12 h}
      - {route: oral, amount: 25 mg, start: 30 h, repeats: 6, interval: 8.4 h}
      - {route: iv_bolus, amount: 10 mg, start: 150 h}
      - route: iv_infusion
        rate: 5 mg/h
        start: 150 h
        duration: 10 h
        titration: {step: 5 mg/h, max_rate: 20 mg/h, min_rate: 5 mg/h, day_interval: 1 h}
  - name: placebo
    n: 3
    treatment: placebo
    regimens:
      - {route: intranasal, amount: 0.2 mg/kg, start: 2 h, repeats: 10, interval: 12 h}
  - name: midazolam
    n: 2
    treatment: active_placebo
    regimens:
      - {route: iv_bolus, amount: 2 mg, start: 2 h, repeats: 10, interval: 12 h}
trial: {weeks: 2, baseline_days: 3}
seed: 7
"""


def _sig_scenario(n: int = 8):
    """Sigtermans 2009 with ``n`` per arm and more stops on intolerable effects, so that
    discontinuations (and dropouts after them) happen in a small trial."""
    data = read_yaml(SIG)
    for a in data["arms"]:
        a["n"] = n
    data["pd"] = {"stop_on_intolerable": 0.3}
    data.pop("expected")
    return parse_scenario(data, "sigtermans2009 small")


@pytest.fixture(scope="module")
def sig_res():
    return simulate_trial(_sig_scenario(), record_doses=True)


@pytest.fixture(scope="module")
def multi_res():
    return simulate_trial(parse_scenario(yaml.safe_load(MULTI)), record_doses=True)


@pytest.fixture(scope="module", params=["sig", "multi"])
def exported(request, sig_res, multi_res, tmp_path_factory):
    """(result, dataset, the dataset as written and read back by pandas, CSV path)."""
    res = sig_res if request.param == "sig" else multi_res
    df = to_nonmem(res)
    path = tmp_path_factory.mktemp(request.param) / "data.csv"
    write_nonmem(df, path)
    return res, df, pd.read_csv(path, na_values="."), path


# -- the recorder ---------------------------------------------------------------------------------
def test_recorder_changes_no_table(multi_res):
    """Recording is read-only: every table is identical with the recorder off."""
    sc = multi_res.scenario
    off = simulate_trial(sc)
    for name in ("patients", "diary", "events"):
        pd.testing.assert_frame_equal(getattr(off, name), getattr(multi_res, name))
    assert off.doses is None and off.concentrations is None and off.population is None


def test_recorded_doses_follow_the_schedule(multi_res):
    """Whole-drug mg (the racemate's halves added back), per route, only to ketamine patients."""
    d, p = multi_res.doses, multi_res.patients
    ket = set(p.loc[p["treatment"] == "ketamine", "patient"])
    assert set(d["patient"]) <= ket
    one = d[d["patient"] == min(ket)]
    w = float(p.loc[p["patient"] == min(ket), "weight_kg"].iloc[0])
    nasal = one[one["route"] == "intranasal"]
    assert len(nasal) == 10
    np.testing.assert_allclose(nasal["amount_mg"], 0.2 * w, rtol=1e-15)
    oral = one[one["route"] == "oral"]
    np.testing.assert_array_equal(oral["start_h"], [30 + k * 8.4 for k in range(6)])
    np.testing.assert_allclose(oral["amount_mg"], 25.0, rtol=1e-15)
    sc_inf = one[one["route"] == "subcutaneous_infusion"]
    np.testing.assert_array_equal(sc_inf["start_h"], [0.0, 48.0, 96.0])
    np.testing.assert_array_equal(sc_inf["end_h"], [24.0, 72.0, 120.0])
    np.testing.assert_allclose(sc_inf["rate_mg_h"], 0.1 * w, rtol=1e-15)
    iv = one[one["route"] == "iv_infusion"]
    assert iv["start_h"].min() == 150.0 and iv["end_h"].max() <= 160.0
    assert (iv["rate_mg_h"] <= 20.0 + 1e-12).all()
    # intervals of one route never overlap, and an interval is one constant rate
    assert (iv["start_h"].to_numpy()[1:] >= iv["end_h"].to_numpy()[:-1]).all()
    assert (np.diff(iv["rate_mg_h"].to_numpy()) != 0).all()


# -- the dataset ----------------------------------------------------------------------------------
def test_dataset_invariants(exported):
    res, df, _, _ = exported
    assert list(df.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert all(pd.api.types.is_numeric_dtype(df[c]) for c in df.columns)
    # sorted by ID and TIME, doses before observations at equal times
    key = df[["ID", "TIME"]].assign(o=1 - df["EVID"]).to_numpy()
    assert (np.lexsort(key.T[::-1]) == np.arange(len(df))).all()
    assert df["ID"].nunique() == len(res.patients)
    dose, obs = df[df["EVID"] == 1], df[df["EVID"] == 0]
    assert set(df["EVID"]) <= {0, 1} and (dose["MDV"] == 1).all() and (obs["MDV"] == 0).all()
    assert dose["DV"].isna().all() and obs["DV"].notna().all()
    assert (dose["AMT"] > 0).all() and (obs[["AMT", "RATE"]] == 0).all().all()
    assert set(dose["CMT"]) <= set(range(1, 7)) and set(obs["DVID"]) == set(DVID_CODES)
    routes = {1: "iv_infusion", 2: "iv_bolus", 3: "oral", 4: "sublingual", 5: "intranasal"}
    routes |= {6: "subcutaneous", 7: "subcutaneous_infusion", 8: "intramuscular"}
    assert (dose["CMT"] == dose["ROUTE"].map(routes).map(ROUTE_CMT)).all()
    # infusion records: AMT = RATE x duration of the recorded interval
    d = res.doses
    inf = d[d["kind"] == "infusion"]
    np.testing.assert_allclose(
        inf["amount_mg"], inf["rate_mg_h"] * (inf["end_h"] - inf["start_h"]), rtol=1e-15
    )
    assert (dose.loc[dose["ROUTE"].isin([2, 3, 4, 5, 6, 8]), "RATE"] == 0).all()
    # every ID's constant covariates are constant
    for c in ("WT", "AGE", "SEX", "CYP2B6", "CYPD", "ARM", "REP", "PAT", "RAC"):
        assert (df.groupby("ID")[c].nunique() == 1).all(), c
    # the NRS is the diary's (treatment days, recorded entries)
    nrs = df[df["DVID"] == 3]
    diary = res.diary[(res.diary["day"] >= 1) & res.diary["nrs"].notna()]
    assert len(nrs) == len(diary)
    assert set(nrs["DV"]) <= set(range(11))


def test_no_drug_after_discontinuation_nor_for_placebo(exported):
    res, df, _, _ = exported
    p = res.patients.assign(ID=np.arange(1, len(res.patients) + 1))
    dose = df[df["EVID"] == 1].merge(p[["ID", "treatment", "discontinued_h", "dropout_h"]])
    assert set(dose["treatment"]) == {"ketamine"}
    assert (dose["TRT"] == 1).all()
    stop = np.fmin(dose["discontinued_h"], dose["dropout_h"]).fillna(np.inf)
    inf = dose["RATE"] > 0
    end = dose["TIME"].where(~inf, dose["TIME"] + dose["AMT"] / dose["RATE"].where(inf))
    assert (end <= stop * (1 + 1e-12)).all()
    # placebo patients: observations only, all concentrations exactly 0
    placebo = df.merge(p[["ID", "treatment"]])
    placebo = placebo[placebo["treatment"] != "ketamine"]
    assert len(placebo) and (placebo["EVID"] == 0).all()
    assert (placebo.loc[placebo["DVID"] < 3, "DV"] == 0).all()
    assert (placebo["TRT"] != 1).all()
    # observations end at dropout
    obs = df[df["EVID"] == 0].merge(p[["ID", "dropout_h"]])
    assert (obs["TIME"] <= obs["dropout_h"].fillna(np.inf)).all()


def test_sigtermans_has_discontinuations_and_titration(sig_res):
    """The small Sigtermans trial exercises what the round trip is about."""
    p = sig_res.patients
    assert p["discontinued"].any()
    per = sig_res.doses.groupby("patient")["rate_mg_h"].nunique()
    assert per.max() > 2  # titrated: several rates per patient


def test_csv_reads_back_and_sidecar_describes_it(exported):
    res, df, back, path = exported
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    text = path.read_text().splitlines()
    assert text[0] == ",".join(df.columns)
    assert any(",.," in line for line in text[1:])  # DV of dose records is '.'
    side = json.loads(path.with_suffix(".json").read_text())
    assert side["seed_entropy"] == res.entropy
    assert side["scenario"] == res.scenario.name
    assert side["ketsim_version"]
    assert set(side["columns"]) == set(df.columns)
    assert side["cmt_codes"]["4"] == CMT_CODES[4]
    assert side["nonmem"]["input"] == "$INPUT " + " ".join(df.columns)


# -- the round trip -------------------------------------------------------------------------------
def test_round_trip_reproduces_concentrations_and_doses(exported):
    """export -> read_dosing -> simulate_concentrations == exported DV at every observation."""
    res, df, _, path = exported
    regs = read_dosing(path)
    assert set(regs) == set(df["ID"])
    sim = exposures(res, regs)
    for dvid, col in ((1, "s_ketamine_ng_ml"), (2, "s_norketamine_ng_ml")):
        obs = df[df["DVID"] == dvid].merge(sim, on=["ID", "TIME"], how="left")
        assert obs[col].notna().all()
        if dvid == 1:
            # S-ketamine, the DV: rtol 1e-9 and a tiny absolute atol (1e-9 ng/mL)
            np.testing.assert_allclose(obs[col], obs["DV"], rtol=1e-9, atol=1e-9)
            continue
        # S-norketamine: rtol 1e-9 plus 1e-9 of the patient's peak. The trial steps event by
        # event, the import on its own plan and grid; exact linear propagation by two routes of
        # arithmetic agrees to round-off relative to the peak (~1e-11), and norketamine's fast
        # fall after an infusion loses digits relative to the value itself
        peak = obs.groupby("ID")["DV"].transform("max").to_numpy()
        err = np.abs(obs[col].to_numpy() - obs["DV"].to_numpy())
        bound = 1e-9 * np.abs(obs["DV"].to_numpy()) + 1e-9 * peak
        assert (err <= bound).all(), float(np.max(err / np.maximum(peak, 1e-300)))
    # every mg recorded is imported, per patient
    rec = res.doses.groupby(["replicate", "patient"])["amount_mg"].sum()
    ids = res.patients.set_index(["replicate", "patient"]).index
    for (r, p), mg in rec.items():
        np.testing.assert_allclose(total_mg(regs[ids.get_loc((r, p)) + 1]), mg, rtol=1e-12)
    no_drug = set(range(1, len(ids) + 1)) - {ids.get_loc(k) + 1 for k in rec.index}
    assert all(regs[i] == [] for i in no_drug)


def test_import_compacts_repeated_doses(multi_res, tmp_path):
    """Equal doses at a constant interval come back as one regimen with repeats."""
    path = tmp_path / "m.csv"
    write_nonmem(to_nonmem(multi_res), path)
    regs = read_dosing(path)
    first = regs[1] if regs[1] else next(v for v in regs.values() if v)
    by = {r.route: r for r in first}
    assert by["intranasal"].repeats == 10 and by["intranasal"].interval == 12.0
    assert by["subcutaneous_infusion"].repeats == 3 and by["subcutaneous_infusion"].interval == 48
    assert by["oral"].repeats == 6 and by["oral"].start == 30.0 and by["oral"].interval == 8.4
    # and the YAML form parses back to the same regimens
    text = yaml.safe_dump({"regimens": regimen_dicts(first)})
    again = [RegimenSpec.model_validate(d) for d in yaml.safe_load(text)["regimens"]]
    assert again == first


# -- reading other datasets -----------------------------------------------------------------------
def _frame(rows, cols="ID TIME EVID AMT RATE CMT"):
    return pd.DataFrame(rows, columns=cols.split())


def test_reader_accepts_nonmem_conventions(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text(
        "#ID,TIME,AMT,RATE,CMT,DV,MDV,ADDL,II,EXTRA\n"
        "# a comment line\n"
        "1,0,100,.,1,.,1,.,.,x\n"  # IV bolus, RATE '.' = 0
        "1,2,50,25,1,.,1,0,0,y\n"  # 2-h IV infusion
        "1,4,.,.,1,12.5,0,.,.,z\n"  # observation, no EVID column: AMT '.' is not a dose
        "2,0,0.5,0,4,.,1,3,12,w\n"  # intranasal, ADDL 3 II 12 -> 4 doses
        "2,1,0,0,2,.,1,.,.,v\n"  # AMT 0: skipped
    )
    regs = read_dosing(f)
    assert [r.route for r in regs[1]] == ["iv_bolus", "iv_infusion"]
    assert regs[1][1].rate.value == 25.0 and regs[1][1].duration == 2.0
    assert regs[2][0].route == "intranasal" and regs[2][0].repeats == 4
    assert regs[2][0].interval == 12.0 and regs[2][0].amount.value == 0.5
    # whitespace-separated, lower-case names, EVID 4 as the first dose
    g = tmp_path / "d.txt"
    g.write_text("id time evid amt rate cmt\n1 0 4 10 0 2\n1 1 0 . . 1\n")
    assert read_dosing(g)[1][0].route == "oral"
    # DataFrame input, extra columns, NaN as missing
    df = _frame(
        [[3, 0.0, 1, 20.0, 10.0, 5, 1.0], [3, 5.0, 0, np.nan, np.nan, 1, 2.0]],
        "ID TIME EVID AMT RATE CMT WT",
    )
    r = dosing_from_frame(df)[3][0]
    assert r.route == "subcutaneous_infusion" and r.duration == 2.0


BAD = [
    ([[1, 0, 1, 10, -1, 1]], "RATE", "RATE=-1"),
    ([[1, 0, 1, 10, -2, 1]], "RATE", "RATE=-2"),
    ([[1, 0, 1, 10, 5, 4]], "RATE", "no ketsim route"),
    ([[1, 0, 1, -10, 0, 1]], "AMT", "negative"),
    ([[1, 0, 1, 10, 0, 9]], "CMT", "CMT 9"),
    ([[1, -1, 1, 10, 0, 1]], "TIME", "negative"),
    ([[1, 0, 1, ".", 0, 1]], "AMT", "missing"),
    ([[1, "08:00", 1, 10, 0, 1]], "TIME", "expected a number"),
    ([[1, 0, 7, 10, 0, 1]], "EVID", "EVID 7"),
    ([[1, 0, 1, 10, 0, 1], [1, 5, 4, 10, 0, 1]], "EVID", "reset"),
    ([[1, 0, 1, 10, 0, 1.5]], "CMT", "integer"),
]


@pytest.mark.parametrize(("rows", "col", "words"), BAD)
def test_reader_errors_name_row_and_column(rows, col, words, tmp_path):
    df = _frame(rows)
    with pytest.raises(InterchangeError) as e:
        dosing_from_frame(df, source="dose.csv")
    msg = str(e.value)
    assert f"row {len(rows)}" in msg and f"column {col}" in msg and words in msg, msg
    assert "\n" not in msg
    # the same through a file: the line number is named too
    f = tmp_path / "bad.csv"
    df.to_csv(f, index=False)
    with pytest.raises(
        InterchangeError, match=rf"bad.csv: row {len(rows)} \(line {len(rows) + 1}\)"
    ):
        read_dosing(f)


def test_reader_errors_on_missing_columns_and_steady_state():
    with pytest.raises(InterchangeError, match="column CMT is missing"):
        dosing_from_frame(_frame([[1, 0, 1, 10, 0]], "ID TIME EVID AMT RATE"))
    with pytest.raises(InterchangeError, match="column TIME is missing"):
        dosing_from_frame(_frame([[1, 1, 10, 0, 1]], "ID EVID AMT RATE CMT"))
    with pytest.raises(InterchangeError, match="column SS: steady-state"):
        dosing_from_frame(_frame([[1, 0, 1, 10, 0, 1, 1]], "ID TIME EVID AMT RATE CMT SS"))
    with pytest.raises(InterchangeError, match="column II: ADDL 2 needs"):
        dosing_from_frame(_frame([[1, 0, 1, 10, 0, 1, 2]], "ID TIME EVID AMT RATE CMT ADDL"))
    with pytest.raises(InterchangeError, match=r"ROUTE 5 \(intranasal\) disagrees"):
        dosing_from_frame(_frame([[1, 0, 1, 10, 0, 1, 5]], "ID TIME EVID AMT RATE CMT ROUTE"))
    with pytest.raises(InterchangeError, match="row 1, column II: not a valid ketsim regimen: "):
        # repeated 4-h infusions every 2 h would overlap
        dosing_from_frame(_frame([[1, 0, 1, 40, 10, 1, 1, 2]], "ID TIME EVID AMT RATE CMT ADDL II"))


def test_export_needs_the_recorder(multi_res):
    with pytest.raises(InterchangeError, match="record_doses=True"):
        to_nonmem(simulate_trial(multi_res.scenario))


# -- command line ---------------------------------------------------------------------------------
def _cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="ketsim")
    add_interchange_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def multi_file(tmp_path_factory):
    f = tmp_path_factory.mktemp("cli") / "multi.yaml"
    f.write_text(MULTI)
    return f


def test_cli_export_scenario_and_run_directories(multi_file, multi_res, tmp_path, capsys):
    out = tmp_path / "a.csv"
    assert _cli(["export", str(multi_file), "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    a = pd.read_csv(out, na_values=".")
    pd.testing.assert_frame_equal(a, to_nonmem(multi_res), check_dtype=False)
    # a 'ketsim simulate' run directory: its seed and replicate are re-simulated
    from ketsim.apps.cli import main

    run = tmp_path / "run"
    assert (
        main(["simulate", str(multi_file), "--out", str(run), "--replicate", "2", "--quiet"]) == 0
    )
    assert _cli(["export", str(run), "--quiet"]) == 0
    b = pd.read_csv(run / "nonmem-r2.csv", na_values=".")
    c = tmp_path / "c.csv"
    assert _cli(["export", str(multi_file), "--replicate", "2", "--out", str(c), "--quiet"]) == 0
    pd.testing.assert_frame_equal(b, pd.read_csv(c, na_values="."))
    assert json.loads((run / "nonmem-r2.json").read_text())["run_command"] == "simulate"
    # a power run directory (manifest as the run store writes it): replicate 0 by default
    pw = tmp_path / "power"
    pw.mkdir()
    (pw / "scenario.resolved.yaml").write_text((run / "scenario.resolved.yaml").read_text())
    man = {"command": "power", "seed_entropy": 7, "replicates": 3, "key": {"null": False}}
    (pw / "manifest.json").write_text(json.dumps(man))
    assert _cli(["export", str(pw), "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(pw / "nonmem-r0.csv", na_values="."), a)
    capsys.readouterr()
    assert _cli(["export", str(pw), "--replicate", "3"]) == 2
    assert "replicates 0-2" in capsys.readouterr().err
    assert _cli(["export", str(pw), "--seed", "8"]) == 2
    assert "seed 7" in capsys.readouterr().err


def test_cli_export_bad_input(tmp_path, capsys):
    assert _cli(["export", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.yaml" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nregimens: [{route: oral, amount: 5 mg}]\n")
    assert _cli(["export", str(bad)]) == 2
    assert "arms" in capsys.readouterr().err
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "manifest.json").write_text('{"command": "sweep", "seed_entropy": 1}')
    assert _cli(["export", str(tmp_path / "sweep")]) == 2
    assert "'sweep' run cannot be exported" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _cli(["export", str(bad), "--format", "monolix"])


def test_cli_import_doses(multi_res, tmp_path, capsys):
    data = tmp_path / "d.csv"
    write_nonmem(to_nonmem(multi_res), data)
    out = tmp_path / "r.yaml"
    assert _cli(["import-doses", str(data), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ID 1:" in printed and "wrote" in printed
    doc = yaml.safe_load(out.read_text())
    regs = read_dosing(data)
    assert set(doc["regimens"]) == {k for k, v in regs.items() if v}
    for k, entries in doc["regimens"].items():
        assert [RegimenSpec.model_validate(e) for e in entries] == regs[k]
    # one ID: a plain regimens list that a scenario's arm takes as written
    k = min(doc["regimens"])
    one = tmp_path / "one.yaml"
    assert _cli(["import-doses", str(data), "--id", str(k), "--out", str(one)]) == 0
    entries = yaml.safe_load(one.read_text())["regimens"]
    sc = yaml.safe_load(MULTI)
    sc["arms"] = [{"name": "imported", "n": 2, "regimens": entries}]
    assert parse_scenario(sc).arms[0].regimens[0].route == regs[k][0].route
    capsys.readouterr()
    assert _cli(["import-doses", str(data), "--id", "999", "--out", str(one)]) == 2
    assert "ID 999" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,TIME,EVID,AMT,RATE,CMT\n1,0,1,10,-2,1\n")
    assert _cli(["import-doses", str(bad), "--out", str(one)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "row 1 (line 2), column RATE" in err
