"""Sweep run: estimate power over the cells of a sweep (:func:`estimate_sweep`,
:class:`SweepResult`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ketsim.config.scenario import Scenario
from ketsim.config.sweep import cell_frame
from ketsim.engine.extra_work import truth_plan
from ketsim.engine.runs import RunOptions, _open_store, _start_manifest, run_cells, scenario_key
from ketsim.engine.summaries import (
    summarise_endpoints,
    summarise_power,
    summarise_trial,
    total_patients,
)


# -- sweeps --------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    """A finished sweep: one power row per cell x analysis x comparison, and so on."""

    store: Any
    entropy: int
    cells: pd.DataFrame  # cell index and the swept values
    power: pd.DataFrame
    endpoints: pd.DataFrame
    trial: pd.DataFrame
    resumed: bool
    timings: dict[str, float]


def _cell_id(i: int) -> str:
    return f"c{i:04d}"


def estimate_sweep(
    base: Scenario,
    cells: Sequence[Any],
    replicates: int = 200,
    seed: int | None = None,
    truth_patients: int | None = 0,
    out: str | None = None,
    runs_dir: str = "runs",
    opts: RunOptions | None = None,
) -> SweepResult:
    """Power and endpoint summaries of every cell of a sweep, with common random numbers.

    Every cell uses the same root entropy, so replicate ``r`` of every cell draws the same
    patients' random numbers: differences between cells are differences of design, not of luck.

    Parameters
    ----------
    base : the scenario as loaded (with its ``sweep``); its hash identifies the run.
    cells : :class:`ketsim.config.sweep.SweepCell` list (:func:`ketsim.config.sweep.load_sweep`).
    truth_patients : per-cell true-effect trial size for bias (0: skip; it costs one large
        trial per cell; None: each cell's sized from the MC error, :func:`truth_plan`).
    """

    opts = opts or RunOptions()
    if not base.analyses and not base.endpoints:
        raise ValueError("endpoints: none declared; a sweep needs endpoints or analyses")
    key = {
        "scenario_sha256": scenario_key(base),
        "replicates": replicates,
        "truth_patients": None if truth_patients is None else int(truth_patients),
    }
    store, resumed, entropy = _open_store("sweep", base, key, seed, out, runs_dir)
    _start_manifest(store, base, "sweep", replicates, opts)
    pairs = [(_cell_id(c.index), c.scenario) for c in cells]
    plans = {
        cid: truth_plan(total_patients(x), replicates, truth_patients)
        for cid, x in pairs
        if truth_patients != 0
    }
    phases = {c: f"sweep cells ({len(pairs)})" for c, _ in pairs}
    tim = run_cells(store, entropy, pairs, replicates, opts, truth=plans, phases=phases)
    tim.pop("cell_worker_s")
    frame = cell_frame(cells)
    powers, eps, trials, reps = [], [], [], []
    for c in cells:
        cid = _cell_id(c.index)
        an = store.read_cell(cid, "analyses")
        ep = store.read_cell(cid, "endpoints")
        tr = store.read_cell(cid, "trial")
        truth = store.read_truth(cid) if cid in plans else None
        for df, lst in (
            (summarise_power(an, truth), powers),
            (summarise_endpoints(ep), eps),
            (summarise_trial(tr), trials),
            (an, reps),
        ):
            if len(df):
                lst.append(df.assign(cell=c.index))

    def with_cells(parts: list[pd.DataFrame]) -> pd.DataFrame:
        if not parts:
            return frame.iloc[0:0]
        df = pd.concat(parts, ignore_index=True)
        cols = ["cell", *[c for c in df.columns if c != "cell"]]
        return frame.merge(df[cols], on="cell", how="right", sort=False)

    power, endpoints, trial = with_cells(powers), with_cells(eps), with_cells(trials)
    files = store.write_table("sweep_power", power)
    files += store.write_table("sweep_endpoints", endpoints)
    files += store.write_table("sweep_trial", trial)
    files += store.write_table("sweep_cells", frame)
    files += store.write_table("replicates", with_cells(reps), csv=False)
    store.update(
        status="complete",
        cells=len(cells),
        timings_s=tim,
        files=sorted({*files, "scenario.resolved.yaml", "manifest.json"}),
    )
    return SweepResult(store, entropy, frame, power, endpoints, trial, resumed, tim)
