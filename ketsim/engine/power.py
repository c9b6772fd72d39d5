"""Power run: estimate the power of one scenario (:func:`estimate_power`, :class:`PowerResult`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ketsim.config.scenario import Scenario
from ketsim.engine.chunks import (
    NormalReference,
)
from ketsim.engine.extra_work import TruthPlan, aux_replicates_for, truth_plan
from ketsim.engine.group_sequential import summarise_group_sequential
from ketsim.engine.multiplicity import summarise_multiplicity
from ketsim.engine.runs import RunOptions, _open_store, _start_manifest, run_cells, scenario_key
from ketsim.engine.summaries import (
    summarise_endpoints,
    summarise_power,
    summarise_subgroups,
    summarise_trial,
    summarise_weekly,
    total_patients,
)
from ketsim.engine.variants import (
    curve_sizes,
    null_scenario,
    resize_scenario,
    sensitivity_scenarios,
    size_of,
)
from ketsim.sim.design import control_and_compare


@dataclass
class PowerResult:
    """A finished power run (the tables are also in ``store.path``)."""

    store: Any
    entropy: int
    power: pd.DataFrame
    analyses: pd.DataFrame
    endpoints: pd.DataFrame
    trial: pd.DataFrame
    hypothesis: str
    resumed: bool
    timings: dict[str, float]
    truth_plan: TruthPlan | None = None
    #: group-sequential design (``statistics.interim``): per-look and overall tables, else None
    group_sequential: pd.DataFrame | None = None
    group_sequential_summary: pd.DataFrame | None = None
    #: multiplicity across analyses (``statistics.multiplicity``), else None
    multiplicity: pd.DataFrame | None = None


def estimate_power(
    sc: Scenario,
    replicates: int = 1000,
    seed: int | None = None,
    null: bool = False,
    truth_patients: int | None = None,
    out: str | None = None,
    base: str = "runs",
    opts: RunOptions | None = None,
    reference: NormalReference | None = None,
    aux_replicates: int | None = 0,
) -> PowerResult:
    """Power of every declared analysis: ``replicates`` simulated trials of the scenario.

    With ``aux_replicates`` the same run also simulates, with that many replicates and common
    random numbers, the scenario at other sizes (:func:`curve_sizes`: the power curve) and with
    each uncertain switch flipped (:func:`sensitivity_scenarios`), for the report. Main, auxiliary
    and true-effect work run in one pass of one worker pool.

    Parameters
    ----------
    sc : a scenario with arms, endpoints and analyses.
    replicates : number of replicate trials (indices ``0 .. replicates-1``).
    seed : root entropy; default the scenario's ``seed``, else the unfinished run's, else fresh.
    null : simulate the null scenario (:func:`null_scenario`): ``power`` is then the type-I error.
    truth_patients : size of the large trial giving the true effects (0: no true effect, bias);
        None (default): sized from the replicates' MC error (:func:`truth_plan`).
    out : run directory (default a new one under ``base``).
    opts : execution options (jobs, backend, chunk size, progress).
    reference : engine check (:class:`NormalReference`): a normal endpoint replaces the trial
        model; the true effect is then the difference of its means.
    aux_replicates : replicates of each power-curve size and sensitivity scenario (0: none;
        None: :func:`aux_replicates_for` ``(replicates)``; not with ``null`` or ``reference``).

    Returns
    -------
    PowerResult
        ``timings`` holds wall and worker seconds by phase (``simulate_wall_s``,
        ``summaries_wall_s``, ``truth_worker_s``, ``main_worker_s``, ``aux_worker_s``) and the
        sizes actually used (``truth_patients``, ``truth_pieces``, ``aux_replicates``,
        ``aux_cells``); ``truth_plan`` says how the truth trial was sized.
    """
    opts = opts or RunOptions()
    if not sc.analyses:
        raise ValueError("analyses: none declared; 'ketsim power' needs at least one analysis")
    sim = null_scenario(sc) if null else sc
    if aux_replicates is None:
        aux_replicates = aux_replicates_for(replicates)
    if null or reference is not None:
        aux_replicates = 0
    plan = truth_plan(
        total_patients(sc), replicates, 0 if (null or reference is not None) else truth_patients
    )
    key = {
        "scenario_sha256": scenario_key(sc),
        "replicates": replicates,
        "null": bool(null),
        "truth_patients": plan.patients,
        "reference": None if reference is None else [list(reference.means), reference.sd],
        "aux_replicates": int(aux_replicates),
    }
    store, resumed, entropy = _open_store("power", sc, key, seed, out, base)
    _start_manifest(store, sc, "power", replicates, opts)
    n_truth = plan.patients
    cells: list[tuple[str, Scenario]] = [("c0000", sim)]
    reps = {"c0000": replicates}
    curve = sens = []
    if aux_replicates:
        curve = [(f"n{n:07d}", n, resize_scenario(sc, n=n)) for n in curve_sizes(sc)]
        sens = sensitivity_scenarios(sc)
        cells += [(c, x) for c, _, x in curve] + [(c, x) for c, _, _, x in sens]
        reps.update({c: aux_replicates for c, _ in cells[1:]})
    tim = run_cells(
        store,
        entropy,
        cells,
        reps,
        opts,
        truth={"c0000": plan} if n_truth else None,
        reference=reference,
        phases={
            "c0000": "null trial" if null else "main trial",
            **{c: "power curve" for c, _, _ in curve},
            **{c: "sensitivity" for c, *_ in sens},
        },
    )
    t_sum = time.perf_counter()
    by_cell = tim.pop("cell_worker_s")
    tim["simulate_wall_s"] = tim["wall_s"]
    tim["main_worker_s"] = by_cell["c0000"] - tim["truth_worker_s"]
    tim["aux_worker_s"] = sum(v for c, v in by_cell.items() if c != "c0000")
    tim.update(
        truth_patients=n_truth,
        truth_pieces=plan.pieces,
        aux_replicates=int(aux_replicates),
        aux_cells=len(cells) - 1,
    )
    truth = store.read_truth("c0000") if n_truth else None
    if reference is not None:
        names = [a.name for a in sc.arms]

        rows = []
        for i, a in enumerate(sc.analyses):
            ctrl, comp = control_and_compare(sc, a)
            for k in comp:
                diff = reference.means[k] - reference.means[ctrl]
                rows.append((i, names[k], diff, 0.0))
        truth = pd.DataFrame(
            rows, columns=["analysis_id", "comparison", "true_effect", "true_effect_se"]
        )
    hyp = "null" if null else "alternative"
    analyses = store.read_cell("c0000", "analyses")
    endpoints = store.read_cell("c0000", "endpoints")
    trial = store.read_cell("c0000", "trial")
    power = summarise_power(analyses, truth, hyp)
    files = store.write_table("power", power)
    files += store.write_table("replicates", analyses, csv=False)
    files += store.write_table("endpoints", endpoints, csv=False)
    files += store.write_table("trial", trial, csv=False)
    files += store.write_table("endpoint_summary", summarise_endpoints(endpoints))
    files += store.write_table("trial_summary", summarise_trial(trial))
    files += store.write_table("weekly", summarise_weekly(store.read_cell("c0000", "weekly")))
    sub = store.read_cell("c0000", "subgroups")
    files += store.write_table("subgroups", summarise_subgroups(sub, hyp))
    gs_looks = gs_summary = None
    if sc.statistics.interim is not None:
        gs_looks, gs_summary = summarise_group_sequential(
            store.read_cell("c0000", "interim"), sc, hyp
        )
        files += store.write_table("group_sequential", gs_looks)
        files += store.write_table("group_sequential_summary", gs_summary)
    mult = None
    if sc.statistics.multiplicity is not None:
        mult = summarise_multiplicity(analyses, sc, hyp)
        files += store.write_table("multiplicity", mult)
    if aux_replicates:
        rows = [power.assign(n=size_of(sc)[1], replicates_main=True)]
        for cell, n, _ in curve:
            rows.append(
                summarise_power(store.read_cell(cell, "analyses"), None, hyp).assign(
                    n=n, replicates_main=False
                )
            )
        pc = pd.concat(rows, ignore_index=True).sort_values(["analysis_id", "comparison", "n"])
        pc.insert(0, "unit", size_of(sc)[0])
        files += store.write_table("power_curve", pc.reset_index(drop=True))
        srows = [power.assign(switch="(as in the scenario)", value="")]
        for cell, name, value, _ in sens:
            srows.append(
                summarise_power(store.read_cell(cell, "analyses"), None, hyp).assign(
                    switch=name, value=str(value)
                )
            )
        files += store.write_table("sensitivity", pd.concat(srows, ignore_index=True))
    tim["summaries_wall_s"] = time.perf_counter() - t_sum
    tim["wall_s"] += tim["summaries_wall_s"]
    store.update(
        status="complete",
        timings_s=tim,
        files=sorted({*files, "scenario.resolved.yaml", "manifest.json"}),
    )
    return PowerResult(
        store,
        entropy,
        power,
        analyses,
        endpoints,
        trial,
        hyp,
        resumed,
        tim,
        plan,
        group_sequential=gs_looks,
        group_sequential_summary=gs_summary,
        multiplicity=mult,
    )
