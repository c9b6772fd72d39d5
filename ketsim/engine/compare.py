"""Design comparison: several scenarios' power runs with one seed, side by side
(:func:`compare_designs`, :class:`CompareResult`).

Each design is an ordinary power run (:func:`~ketsim.engine.power.estimate_power`) in its own
run directory under the comparison's, all with the same root entropy. Replicate ``r`` of every
design therefore draws its patients, randomisation, behaviour and measurement noise from the same
seed streams (:mod:`ketsim.core.seeds`): where two designs share structure (population, arm
sizes) they see the same virtual patients, so differences between designs are sharper than
those of independent runs (common random numbers). A design's power is exactly what
``ketsim power`` gives for it with that seed and number of replicates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ketsim.config.scenario import Scenario
from ketsim.core.seeds import given_entropy, root_entropy
from ketsim.engine.power import PowerResult, estimate_power
from ketsim.engine.runs import RunOptions
from ketsim.engine.variants import size_of
from ketsim.sim.design import compile_timeline
from ketsim.storage.files import write_json_atomic, write_text_atomic

#: per-patient events of the trial table compared between designs (share of enrolled patients)
EVENTS = ("psychotomimetic", "nausea", "liver_injury", "discontinued", "dropout")

#: columns of compare.csv (documented in README "Comparing designs")
COMPARE_COLUMNS = [
    "design",
    "file",
    "design_type",
    "unit",
    "size",
    "analysis",
    "comparison",
    "control",
    "replicates",
    "power",
    "mc_se",
    "wilson_low",
    "wilson_high",
    "expected_n",
    "recruitment_weeks",
    "schedule_weeks",
    "expected_duration_weeks",
    *EVENTS,
    "mean_estimate",
    "true_effect",
    "bias",
    "bias_mc_se",
    "scale",
    "seed",
    "run_dir",
]


@dataclass
class DesignRun:
    """One compared design: its name, file, scenario and finished power run."""

    name: str
    file: str
    scenario: Scenario
    result: PowerResult


@dataclass
class CompareResult:
    """A finished comparison (the tables are also written to ``path``)."""

    path: Path
    entropy: int
    table: pd.DataFrame  # COMPARE_COLUMNS, one row per design x primary comparison
    arms: pd.DataFrame  # design, group, mean_n and EVENTS per arm (sequence in a crossover)
    designs: list[DesignRun]


def design_names(scenarios: Sequence[Scenario], files: Sequence[str]) -> list[str]:
    """A unique name per design: the scenario's ``name``, else (when two share it) the file's stem,
    else ``stem-2``, ``stem-3``."""
    names = [sc.name for sc in scenarios]
    out = []
    for nm, f in zip(names, files, strict=True):
        out.append(nm if names.count(nm) == 1 else Path(f).stem)
    seen: dict[str, int] = {}
    for i, nm in enumerate(out):
        seen[nm] = seen.get(nm, 0) + 1
        if seen[nm] > 1:
            out[i] = f"{nm}-{seen[nm]}"
    return out


def design_dir(name: str) -> str:
    """The design's run directory inside the comparison's (``designs/<name>``, characters other
    than letters, digits, ``.``, ``_`` and ``-`` replaced by ``_``)."""
    return "designs/" + re.sub(r"[^A-Za-z0-9._-]", "_", name)


def schedule_weeks(sc: Scenario) -> float:
    """Weeks one patient spends in the trial: screening diary (when there is a screening
    threshold), baseline diary and every diary week after the first treatment day."""
    tr = sc.trial
    screening = tr.screening.days if tr.screening.threshold is not None else 0
    return (screening + tr.baseline_days) / 7.0 + compile_timeline(sc).weeks


def recruitment_weeks(sc: Scenario, expected_n: float) -> float:
    """Expected weeks from the first to the last enrolment.

    Enrolment is a Poisson process of ``design.recruitment.patients_per_week`` (λ) patients per
    week (:func:`ketsim.sim.design.enrolment_days`), so the N-th enrolment comes after the sum of
    N exponential gaps: on average N / λ weeks. Without a rate everyone is enrolled at once (0).
    """
    rate = sc.design.recruitment.patients_per_week
    return 0.0 if rate is None else float(expected_n) / float(rate)


def pooled_events(trial: pd.DataFrame) -> dict[str, float]:
    """Expected enrolled patients per trial and, for each of :data:`EVENTS`, the expected share
    of a trial's enrolled patients with the event (per-group shares weighted by group size within
    each replicate, then the mean over replicates)."""
    t = trial.assign(**{f"_{e}": trial[e] * trial["n"] for e in EVENTS})
    per = t.groupby("replicate", sort=True)[["n", *(f"_{e}" for e in EVENTS)]].sum()
    out = {"expected_n": float(per["n"].mean())}
    for e in EVENTS:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[e] = float((per[f"_{e}"] / per["n"]).mean())
    return out


def design_rows(run: DesignRun) -> pd.DataFrame:
    """The comparison rows of one design: its primary analysis' comparisons (carry-over terms of
    a crossover model aside: they are not the treatment effect)."""
    sc, res = run.scenario, run.result
    primary = sc.primary_analysis()
    p = res.power[res.power["analysis_id"] == primary]
    p = p[~p["comparison"].astype(str).str.startswith("carry-over")]
    ev = pooled_events(res.trial)
    unit, size = size_of(sc)
    rec = recruitment_weeks(sc, ev["expected_n"])
    sched = schedule_weeks(sc)
    rows = p[
        [
            "analysis",
            "comparison",
            "control",
            "replicates",
            "power",
            "mc_se",
            "wilson_low",
            "wilson_high",
            "mean_estimate",
            "true_effect",
            "bias",
            "bias_mc_se",
            "scale",
        ]
    ].copy()
    rows = rows.assign(
        design=run.name,
        file=run.file,
        design_type=sc.design.type,
        unit=unit,
        size=size,
        recruitment_weeks=rec,
        schedule_weeks=sched,
        expected_duration_weeks=rec + sched,
        seed=res.entropy,
        run_dir=str(res.store.path),  # compare_designs makes it relative to the comparison
        **ev,
    )
    return rows[COMPARE_COLUMNS].reset_index(drop=True)


def compare_designs(
    scenarios: Sequence[Scenario],
    files: Sequence[str],
    replicates: int = 500,
    seed: int | None = None,
    truth_patients: int | None = None,
    out: str | Path | None = None,
    runs_dir: str = "runs",
    opts: RunOptions | None = None,
) -> CompareResult:
    """Power runs of several designs with common random numbers, and their comparison tables.

    Parameters
    ----------
    scenarios, files : the designs (scenarios with arms and analyses) and the files they came
        from (for the table and for names, :func:`design_names`).
    replicates : replicate trials per design.
    seed : root entropy of every design; default the first design's ``seed``, else fresh (drawn
        once: all designs share it either way).
    truth_patients : true-effect trial size per design (0: no bias; None: sized from the MC
        error as in ``ketsim power``).
    out : directory of the comparison (default ``runs_dir/compare-<UTC time>``); each design's
        run goes to ``out/designs/<name>`` and is resumed there when the command is repeated.
    opts : execution options (jobs, backend, chunk size, progress).

    Returns
    -------
    CompareResult
        Also written: ``compare.csv``, ``compare_arms.csv`` and ``compare.json`` in ``out``.
    """
    if len(scenarios) < 1:
        raise ValueError("compare needs at least one design")
    for sc, f in zip(scenarios, files, strict=True):
        if not sc.arms or not sc.analyses:
            raise ValueError(f"{f}: analyses: none declared (a design comparison needs them)")
    if out is None:
        stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%SZ")
        out = Path(runs_dir) / f"compare-{stamp}"
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    # the one seed rule (argument, else the scenario's), else the seed this comparison recorded
    # when it was first started (so that repeating it resumes its designs' runs), else fresh
    given = given_entropy(seed, scenarios[0].seed)
    meta = path / "compare.json"
    if given is None and meta.is_file():
        given = json.loads(meta.read_text(encoding="utf-8")).get("seed_entropy")
    entropy = root_entropy(given, None)
    write_json_atomic(meta, {"kind": "compare", "seed_entropy": entropy, "status": "running"})
    names = design_names(scenarios, files)
    runs = []
    for name, sc, f in zip(names, scenarios, files, strict=True):
        res = estimate_power(
            sc,
            replicates=replicates,
            seed=entropy,
            truth_patients=truth_patients,
            out=str(path / design_dir(name)),
            opts=opts,
            aux_replicates=0,
        )
        runs.append(DesignRun(name, str(f), sc, res))
    table = pd.concat([design_rows(r) for r in runs], ignore_index=True)
    # relative to the comparison: the table is the same wherever the comparison is written
    table["run_dir"] = [design_dir(d) for d in table["design"]]
    arms = []
    for r in runs:
        t = r.result.trial
        g = t.groupby("group", sort=False)[["n", *EVENTS]].mean().reset_index()
        arms.append(g.rename(columns={"n": "mean_n"}).assign(design=r.name))
    arm_table = pd.concat(arms, ignore_index=True)[["design", "group", "mean_n", *EVENTS]]
    write_text_atomic(path / "compare.csv", table.to_csv(index=False))
    write_text_atomic(path / "compare_arms.csv", arm_table.to_csv(index=False))
    write_json_atomic(
        path / "compare.json",
        {
            "kind": "compare",
            "seed_entropy": entropy,
            "status": "complete",
            "replicates": replicates,
            "designs": [
                {"name": r.name, "file": r.file, "run_dir": design_dir(r.name)} for r in runs
            ],
        },
    )
    return CompareResult(path, entropy, table, arm_table, runs)
