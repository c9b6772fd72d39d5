"""NONMEM export: a simulated trial as a NONMEM-ready dataset (doses and observations) with a
JSON sidecar describing its codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ketsim.sim.trial import TrialResult
from ketsim import __version__
from ketsim.apps.interchange.codes import (
    _DVID_CMT,
    _INT_COLUMNS,
    _ROUTE_CODE,
    _TRT_OF,
    CMT_CODES,
    COLUMNS,
    DVID_CODES,
    ROUTE_CMT,
    ROUTE_CODES,
    TRT_CODES,
    InterchangeError,
)
from ketsim.core.pk.parameters import CYP2B6_DIPLOTYPE_ACTIVITY
from ketsim.sim.population import ANCESTRIES
from ketsim.storage.files import write_json_atomic, write_text_atomic


# -- export ---------------------------------------------------------------------------------------
def _need_recording(result: TrialResult) -> None:
    if result.doses is None or result.concentrations is None or result.population is None:
        raise InterchangeError(
            "the trial was simulated without the dose recorder: "
            "use simulate_trial(..., record_doses=True)"
        )


def to_nonmem(
    result: TrialResult,
    *,
    norketamine: bool = True,
    nrs: bool = True,
    after_dropout: bool = False,
) -> pd.DataFrame:
    """A NONMEM-style event dataset of a trial simulated with ``record_doses=True``.

    Parameters
    ----------
    result : the simulated trial (any number of replicates; ``ID`` is unique across them).
    norketamine : add S-norketamine observations (``DVID`` 2).
    nrs : add the daily pain diary of the treatment days (``DVID`` 3; baseline days are
        summarised in ``BNRS`` since they precede t = 0; missing days are omitted).
    after_dropout : keep concentration records after a patient left the study (default: the
        dataset ends at dropout, like the diary).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS` plus ``CM_<NAME>`` (0/1) for each co-medication of the
        population, all numeric. Dose records (``EVID=1, MDV=1``, ``DV`` NaN): one per bolus
        (``RATE=0``) and one per interval of constant infusion rate (``AMT = RATE x duration``),
        whole-drug mg as administered after titration, discontinuation, dropout and blinding
        (placebo patients have none). Observation records (``EVID=0, MDV=0``): the model's
        S-ketamine (``DVID`` 1) and S-norketamine (2) plasma concentrations at every event and
        diary time the model stepped through (just after the doses due then), and the diary NRS
        (3). Sorted by ``ID``, ``TIME``, then dose records before observations (NONMEM processes
        records in order, so an observation at a dose time sees the dose), then ``CMT``.
        ``df.attrs["ketsim"]`` holds provenance for :func:`write_nonmem`.
    """

    _need_recording(result)
    sc = result.scenario
    pats = result.patients
    ta = result.arrays
    pop = result.population
    n = len(pats)
    rep = pats["replicate"].to_numpy()
    pat = pats["patient"].to_numpy()
    ids = np.arange(1, n + 1)
    dipl = list(CYP2B6_DIPLOTYPE_ACTIVITY)
    cov = {
        "ID": ids,
        "ARM": np.where(ta.arm >= 0, ta.arm + 1, 0),
        "SEQ": ta.group + 1,
        "REP": rep,
        "PAT": pat,
        "WT": pop.weight_kg,
        "AGE": pop.age_years,
        "SEX": np.asarray(pop.female, dtype=int),
        "ANC": np.asarray(pop.ancestry, dtype=int) + 1,
        "CYP2B6": np.asarray([CYP2B6_DIPLOTYPE_ACTIVITY[d] for d in pop.cyp2b6], dtype=float),
        "CYPD": np.asarray([dipl.index(d) + 1 for d in pop.cyp2b6], dtype=int),
        "BNRS": pats["baseline_nrs"].to_numpy(dtype=float),
        "RAC": np.full(n, int(sc.drug == "racemic")),
    }
    for name, on in pop.comedication.items():
        cov[f"CM_{name.upper()}"] = np.asarray(on, dtype=int)
    cov_df = pd.DataFrame(cov)
    key = pd.DataFrame({"replicate": rep, "patient": pat, "ID": ids})

    conc = result.concentrations.merge(key, on=["replicate", "patient"], how="left")
    if not after_dropout:
        drop = pats["dropout_h"].to_numpy(dtype=float)
        limit = np.where(np.isnan(drop), np.inf, drop)[conc["ID"].to_numpy() - 1]
        conc = conc[conc["time_h"].to_numpy() <= limit]
    # treatment in force at every model time: dose and diary times are model times
    all_trt = result.concentrations.merge(key, on=["replicate", "patient"])
    all_trt = all_trt[["ID", "time_h"]].assign(
        TRT=all_trt["treatment"].map(_TRT_OF).astype(int).to_numpy()
    )

    parts = []
    d = result.doses.merge(key, on=["replicate", "patient"], how="left")
    if len(d):
        inf = (d["kind"] == "infusion").to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "ID": d["ID"].to_numpy(),
                    "TIME": d["start_h"].to_numpy(dtype=float),
                    "EVID": 1,
                    "AMT": d["amount_mg"].to_numpy(dtype=float),
                    "RATE": np.where(inf, d["rate_mg_h"].to_numpy(dtype=float), 0.0),
                    "CMT": d["route"].map(ROUTE_CMT).to_numpy(),
                    "DV": np.nan,
                    "MDV": 1,
                    "DVID": 0,
                    "ROUTE": d["route"].map(_ROUTE_CODE).to_numpy(),
                }
            )
        )
    analytes = [(1, "s_ketamine_ng_ml")] + ([(2, "s_norketamine_ng_ml")] if norketamine else [])
    for dvid, col in analytes:
        parts.append(
            pd.DataFrame(
                {
                    "ID": conc["ID"].to_numpy(),
                    "TIME": conc["time_h"].to_numpy(dtype=float),
                    "EVID": 0,
                    "AMT": 0.0,
                    "RATE": 0.0,
                    "CMT": _DVID_CMT[dvid],
                    "DV": conc[col].to_numpy(dtype=float),
                    "MDV": 0,
                    "DVID": dvid,
                    "ROUTE": 0,
                }
            )
        )
    if nrs:
        tr = sc.trial
        first_diary = (tr.diary_hour - tr.start_hour) % 24.0
        dia = result.diary
        dia = dia[(dia["day"] >= 1) & dia["nrs"].notna()].merge(
            key, on=["replicate", "patient"], how="left"
        )
        # the model's diary times, same arithmetic (TrialModel: first_diary + 24 * index)
        t = first_diary + 24.0 * (dia["day"].to_numpy() - 1).astype(float)
        parts.append(
            pd.DataFrame(
                {
                    "ID": dia["ID"].to_numpy(),
                    "TIME": t,
                    "EVID": 0,
                    "AMT": 0.0,
                    "RATE": 0.0,
                    "CMT": _DVID_CMT[3],
                    "DV": dia["nrs"].to_numpy(dtype=float),
                    "MDV": 0,
                    "DVID": 3,
                    "ROUTE": 0,
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    df = df.merge(
        all_trt.rename(columns={"time_h": "TIME"}), on=["ID", "TIME"], how="left", validate="m:1"
    )
    # a record off the model's time grid cannot happen; keep the column numeric regardless
    df["TRT"] = df["TRT"].fillna(0).astype(int)
    df = df.merge(cov_df, on="ID", how="left")
    df["_dose_first"] = 1 - df["EVID"]
    df = df.sort_values(["ID", "TIME", "_dose_first", "CMT"], kind="stable")
    df = df.drop(columns="_dose_first").reset_index(drop=True)
    for c in _INT_COLUMNS:
        df[c] = df[c].astype(np.int64)
    for c in df.columns:
        if c.startswith("CM_"):
            df[c] = df[c].astype(np.int64)
    cols = list(COLUMNS) + [c for c in df.columns if c.startswith("CM_")]
    df = df[cols]

    df.attrs["ketsim"] = {
        "ketsim_version": __version__,
        "scenario": sc.name,
        "drug": sc.drug,
        "parameter_set": sc.parameter_set,
        "seed_entropy": int(result.entropy),
        "replicates": [int(r) for r in result.replicates],
        "design": sc.design.type,
        "arms": [a.name for a in sc.arms or []],
        "sequences": list(ta.group_names),
        "comedications": sorted(pop.comedication),
        "ancestries": list(ANCESTRIES),
        "options": {"norketamine": norketamine, "nrs": nrs, "after_dropout": after_dropout},
    }
    return df


def _sidecar_path(path: Path) -> Path:
    return path.with_suffix(".json") if path.suffix.lower() != ".json" else Path(f"{path}.json")


def write_nonmem(
    df: pd.DataFrame, path: str | Path, meta: Mapping[str, Any] | None = None
) -> tuple[Path, Path]:
    """Write a :func:`to_nonmem` dataset as CSV and a JSON sidecar next to it.

    The CSV has a plain header line (read it in NONMEM with ``$DATA file.csv IGNORE=@``), full
    float precision (shortest round-trip repr) and ``.`` for missing values (NONMEM reads ``.`` as
    0; only ``DV`` of dose records and ``BNRS`` without baseline entries are missing). The sidecar
    (same name, ``.json``) lists every column with its meaning and unit, the ``CMT``, ``ROUTE``,
    ``DVID`` and ``TRT`` codes, the ketsim version, seed and scenario, and a ``$INPUT`` line.

    Parameters
    ----------
    df : the dataset (its ``attrs["ketsim"]`` provenance is written to the sidecar).
    path : the CSV file; parent directories are created.
    meta : extra provenance for the sidecar (e.g. the run directory it was re-simulated from).

    Returns
    -------
    (csv path, sidecar path)
    """

    path = Path(path)
    side = _sidecar_path(path)
    cols = {}
    for c in df.columns:
        desc, unit = COLUMNS.get(c, (None, ""))
        if desc is None and c.startswith("CM_"):
            desc = f"co-medication {c[3:].lower()}: 1 taking it, 0 not"
        cols[c] = {"description": desc or "", "unit": unit}
    info = {
        "format": "ketsim NONMEM-style event dataset",
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **dict(df.attrs.get("ketsim", {})),
        **dict(meta or {}),
        "file": path.name,
        "rows": len(df),
        "ids": int(df["ID"].nunique()) if "ID" in df else 0,
        "column_order": list(df.columns),
        "columns": cols,
        "cmt_codes": {str(k): v for k, v in CMT_CODES.items()},
        "route_codes": {str(k): v for k, v in ROUTE_CODES.items()},
        "route_cmt": ROUTE_CMT,
        "dvid_codes": {str(k): v for k, v in DVID_CODES.items()},
        "trt_codes": {str(k): v for k, v in TRT_CODES.items()},
        "conventions": {
            "time": "hours on the trial clock; t = 0 is the start of each patient's first "
            "treatment segment",
            "units": "AMT mg (whole drug, racemate when RAC = 1), RATE mg/h, DV ng/mL (DVID 1, 2) "
            "or NRS (DVID 3)",
            "missing": "'.' in the CSV (NaN in pandas); dose records have MDV = 1",
            "sort": "ID, TIME, dose records before observations at equal times, then CMT",
            "infusions": "one record per interval of constant rate; AMT = RATE x duration",
            "observations": "model values without residual error, just after the doses due at "
            "TIME; concentrations end at dropout unless exported with after_dropout",
            "placebo": "placebo and active-placebo patients have no dose records",
            "nrs": "treatment-period diary days only; missing days omitted; baseline days in BNRS",
            "read_with_pandas": "pandas.read_csv(path, na_values='.')",
        },
        "nonmem": {
            "data": f"$DATA {path.name} IGNORE=@",
            "input": "$INPUT " + " ".join(df.columns),
        },
    }
    text = df.to_csv(index=False, na_rep=".", lineterminator="\n")
    write_text_atomic(path, text)
    write_json_atomic(side, info)
    return path, side
