"""Monte Carlo power engine: replicate trials in chunks, in parallel, resumable, summarised.

Seeds
-----
A run has one root entropy (recorded in the manifest even when drawn fresh). Replicate ``r`` of
every sweep cell uses ``SeedSequence(entropy, spawn_key=(r, purpose, ...))`` with fixed purposes
(population, randomisation, behaviour, measurement; :mod:`ketsim.core.seeds`). Cells of a sweep
and the
arms of a trial therefore share common random numbers, and a replicate's results depend on nothing
but the entropy and its index: they are the same for any ``jobs``, chunk size and backend, and
``--replicate r`` re-runs one replicate alone.

Execution
---------
Replicates are simulated in vectorised chunks (:class:`~ketsim.sim.trial.TrialModel` batches all
of a
chunk's patients into one set of arrays). Chunks run in-process (``jobs=1``), on joblib's loky
process pool (``backend="loky"``; ``import mesa`` forces spawn, so no fork), or on a dask
cluster (``backend="dask"``: ``scheduler`` address, else a ``LocalCluster``). The main process
writes each finished chunk to the run store; the summary tables are always assembled from the
stored chunks, in replicate order, so an interrupted and resumed run ends with the same bytes.

Power summary
-------------
For each analysis and comparison: the rejection rate (power; the type-I error when the scenario is
run on the null) with its Monte Carlo SE ``sqrt(p (1 - p) / R)``, Wilson and Clopper-Pearson
intervals, the mean and SD of the estimates, the mean model SE, and bias, RMSE and CI coverage
against the scenario's true effect. The true effect of an analysis is its estimate in one very
large trial of the same scenario (a separate seed stream); on the null it is 0 by construction.

References
----------
.. [Wilson1927] Wilson EB. Probable inference, the law of succession, and statistical inference.
   J Am Stat Assoc 1927;22:209-12.
.. [Clopper1934] Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in
   the case of the binomial. Biometrika 1934;26:404-13.
.. [Morris2019] Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical
   methods. Stat Med 2019;38:2074-102 (performance measures and their Monte Carlo SEs).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketsim.analysis.analyses import ID_COLUMNS as ANALYSIS_ID_COLUMNS
from ketsim.config.scenario import Scenario, dump_scenario, parse_scenario
from ketsim.core.seeds import TRUTH_REPLICATE, auxiliary_stream, given_entropy, root_entropy

__all__ = [
    "BACKENDS",
    "POWER_COLUMNS",
    "TRUTH_REPLICATE",
    "Progress",
    "chunk_ranges",
    "clopper_pearson_interval",
    "null_scenario",
    "resize_scenario",
    "run_chunks",
    "simulate_chunk",
    "size_of",
    "summarise_power",
    "total_patients",
    "true_effects",
    "wilson_interval",
]

BACKENDS = ("loky", "dask")
#: what identifies an analysis row (the replicate aside): the power table's grouping
_GROUP_KEYS = [*ANALYSIS_ID_COLUMNS, "alternative", "alpha"]
#: columns of the power table (documented in README "Power tables")
POWER_COLUMNS = [
    *_GROUP_KEYS,
    "hypothesis",
    "replicates",
    "rejections",
    "power",
    "mc_se",
    "wilson_low",
    "wilson_high",
    "exact_low",
    "exact_high",
    "failed",
    "mean_estimate",
    "sd_estimate",
    "mean_se",
    "true_effect",
    "true_effect_se",
    "bias",
    "bias_mc_se",
    "rmse",
    "coverage",
    "mean_n_treatment",
    "mean_n_control",
]


# -- intervals ---------------------------------------------------------------------------------
def wilson_interval(x: np.ndarray, n: np.ndarray, conf: float = 0.95) -> tuple[np.ndarray, ...]:
    """Wilson score interval for a binomial proportion ``x / n`` (Wilson 1927)."""
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    z = sps.norm.ppf(0.5 + conf / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        den = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
    # exact ends at 0 and R rejections (the formula gives them up to rounding)
    lo = np.where(x == 0, 0.0, np.clip(centre - half, 0, 1))
    hi = np.where(x == n, 1.0, np.clip(centre + half, 0, 1))
    return lo, hi


def clopper_pearson_interval(
    x: np.ndarray, n: np.ndarray, conf: float = 0.95
) -> tuple[np.ndarray, ...]:
    """Exact (Clopper-Pearson 1934) interval for a binomial proportion."""
    x = np.asarray(x, float)
    n = np.asarray(n, float)
    a = 1 - conf
    with np.errstate(invalid="ignore"):
        lo = np.where(x > 0, sps.beta.ppf(a / 2, x, n - x + 1), 0.0)
        hi = np.where(x < n, sps.beta.ppf(1 - a / 2, x + 1, n - x), 1.0)
    return lo, hi


# -- scenarios for the engine ------------------------------------------------------------------
def _data(sc: Scenario) -> dict:
    """The resolved scenario as a plain mapping (round-trips through :func:`parse_scenario`)."""
    import yaml

    return yaml.safe_load(dump_scenario(sc))


def size_of(sc: Scenario) -> tuple[str, int]:
    """The scenario's sizing unit and its value.

    Parallel designs: patients in the smallest arm (``n per arm``); crossover: patients per
    sequence; enrichment: patients enrolled in the run-in.
    """
    d = sc.design
    if d.type == "crossover":
        return "n_per_sequence", int(d.crossover.n_per_sequence)
    if d.type == "enrichment":
        return "n_enrolled", int(d.enrichment.n)
    return "n_per_arm", int(min(a.n for a in sc.arms))


def resize_scenario(sc: Scenario, n: int | None = None, factor: float | None = None) -> Scenario:
    """The scenario with its sizing unit (:func:`size_of`) set to ``n`` or scaled by ``factor``.

    Parallel arms keep their allocation ratio: each arm is scaled by ``n / smallest arm``.
    """
    unit, n0 = size_of(sc)
    f = (n / n0) if n is not None else float(factor)
    data = _data(sc)
    data.pop("sweep", None)
    if unit == "n_per_sequence":
        data["design"]["crossover"]["n_per_sequence"] = max(1, round(n0 * f))
    elif unit == "n_enrolled":
        data["design"]["enrichment"]["n"] = max(2, round(n0 * f))
    else:
        for a in data["arms"]:
            a["n"] = max(1, round(a["n"] * f))
    return parse_scenario(data, f"{sc.name} resized")


def null_scenario(sc: Scenario) -> Scenario:
    """The scenario under the null hypothesis: every arm gets the control arm's treatment.

    The control is that of the first analysis (else the first non-ketamine arm). Regimens and
    blinding stay, so the null trial is the same trial with an inert drug. An enrichment run-in
    is left as it is (open-label ketamine): the null of a randomised withdrawal is that
    continuing is no better than withdrawing.
    """
    from ketsim.sim.design import control_and_compare

    arms = sc.arms or []
    if sc.analyses:
        ctrl, _ = control_and_compare(sc, sc.analyses[0])
    else:
        ctrl = next((i for i, a in enumerate(arms) if a.treatment != "ketamine"), None)
    if ctrl is None:
        raise ValueError(
            "analyses[0].control: the null scenario needs a control arm that is not ketamine"
        )
    treat = arms[ctrl].treatment
    data = _data(sc)
    data.pop("sweep", None)
    for a in data["arms"]:
        a["treatment"] = treat
    return parse_scenario(data, f"{sc.name} (null)")


# -- one chunk -----------------------------------------------------------------------------------
def _trial_table(ta, sc: Scenario) -> pd.DataFrame:
    """Per replicate and group (arm, or sequence in a crossover): size, dropouts and AEs."""
    reps, rep_codes = np.unique(ta.replicate, return_inverse=True)
    names, codes = _group_labels(ta)
    k = len(names)
    cell = rep_codes * k + codes
    size = reps.size * k

    def frac(mask: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.bincount(cell, weights=mask.astype(float), minlength=size) / n

    n = np.bincount(cell, minlength=size).astype(float)
    out = pd.DataFrame(
        {
            "replicate": np.repeat(reps, k),
            "group": np.tile(np.asarray(names, dtype=object), reps.size),
            "n": n.astype(np.int64),
            "dropout": frac(~np.isnan(ta.dropout_day)),
            "discontinued": frac(~np.isnan(ta.discontinued_day)),
            "psychotomimetic": frac(ta.ae["psychotomimetic"].any(axis=1)),
            "nausea": frac(ta.ae["nausea"].any(axis=1)),
            "liver_injury": frac(ta.ae["liver_injury"].any(axis=1)),
        }
    )
    return out[out["n"] > 0].reset_index(drop=True)


def _group_labels(ta) -> tuple[list[str], np.ndarray]:
    """Report groups: the randomised arm (parallel, EERW) or the sequence (crossover)."""
    if ta.type == "crossover":
        return list(ta.group_names), ta.group
    names = list(ta.arm_names) + (["not_randomised"] if ta.type == "enrichment" else [])
    return names, np.where(ta.arm >= 0, ta.arm, len(ta.arm_names))


def _weekly_table(ta) -> pd.DataFrame:
    """Per replicate, group and diary week: mean over patients of their weekly mean NRS.

    Week 0 is the baseline; weeks count from t = 0 (the first treatment day). Patients with no
    entry in a week do not count in it.
    """
    reps, rep_codes = np.unique(ta.replicate, return_inverse=True)
    names, codes = _group_labels(ta)
    k = len(names)
    cell = rep_codes * k + codes
    week = np.where(ta.days <= 0, 0, (ta.days - 1) // 7 + 1)
    frames = []
    for w in np.unique(week):
        x = ta.nrs[:, week == w]
        cnt = np.sum(~np.isnan(x), axis=1)
        pm = np.nansum(x, axis=1) / np.maximum(cnt, 1)
        ok = cnt > 0
        n = np.bincount(cell[ok], minlength=reps.size * k)
        tot = np.bincount(cell[ok], weights=pm[ok], minlength=reps.size * k)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = tot / n
        frames.append(
            pd.DataFrame(
                {
                    "replicate": np.repeat(reps, k),
                    "group": np.tile(np.asarray(names, dtype=object), reps.size),
                    "week": int(w),
                    "n": n.astype(np.int64),
                    "mean_nrs": mean,
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out = out[out["n"] > 0]
    return out.sort_values(["replicate", "group", "week"], kind="stable").reset_index(drop=True)


def _subgroup_table(ta, sc: Scenario) -> pd.DataFrame:
    """The first declared analysis within each level of each patient stratum.

    One row per replicate x stratum x level x comparison (the columns of the analyses table plus
    ``stratum`` and ``level``), for the report's power-by-stratum panel. A subgroup without
    enough patients in a replicate gives a failed (not rejected) analysis there.
    """
    from ketsim.analysis.analyses import COLUMNS, analyse_trials

    if not sc.analyses or not ta.strata:
        return pd.DataFrame(columns=["stratum", "level", *COLUMNS])
    primary = sc.model_copy(update={"analyses": [sc.analyses[0]]})
    frames = []
    for name, mask in ta.strata.items():
        for level in (True, False):
            sel = mask == level
            if not sel.any():
                continue
            rows = analyse_trials(ta.take(sel), primary)
            rows.insert(0, "level", level)
            rows.insert(0, "stratum", name)
            frames.append(rows)
    if not frames:
        return pd.DataFrame(columns=["stratum", "level", *COLUMNS])
    return pd.concat(frames, ignore_index=True)


def _chunk_tables(ta, scenario: Scenario) -> dict[str, pd.DataFrame]:
    from ketsim.analysis.analyses import analyse_trials, endpoint_summaries

    return {
        "analyses": analyse_trials(ta, scenario),
        "endpoints": endpoint_summaries(ta, scenario),
        "trial": _trial_table(ta, scenario),
        "weekly": _weekly_table(ta),
        "subgroups": _subgroup_table(ta, scenario),
    }


def simulate_chunk(
    scenario: Scenario, entropy: int, replicates: Sequence[int]
) -> dict[str, pd.DataFrame]:
    """Simulate and analyse a chunk of replicate trials in one vectorised batch.

    Returns
    -------
    dict of tidy tables: ``analyses`` (one row per replicate x analysis x comparison,
    :data:`ketsim.analysis.analyses.COLUMNS`), ``endpoints`` (per replicate x endpoint x arm),
    ``trial`` (per replicate x arm: size, dropout, discontinuation and AE fractions),
    ``weekly`` (per replicate x arm x week: mean NRS) and ``subgroups`` (the first analysis
    within each patient stratum, :data:`ketsim.sim.trial.STRATA`).
    """
    from ketsim.sim.trial import TrialModel, trial_arrays

    m = TrialModel(scenario, entropy, list(replicates), with_agents=False)
    m.run_model()
    return _chunk_tables(trial_arrays(m), scenario)


@dataclass(frozen=True)
class NormalReference:
    """Engine check: replace the trial model by a normal endpoint with known effect and SD.

    Patient ``i`` of arm ``k`` in replicate ``r`` has outcome ``mean_k + sd * z`` with ``z`` from
    the replicate's measurement stream; the outcome fills every diary day of week 1, so that the
    scenario's own endpoint (``weekly_mean`` of week 1) and analyses (``t_test``, ...) run through
    the real endpoint, analysis, chunking, store and summary code. Its power has a closed form
    (the two-sample t test), which validates the engine end to end.
    """

    means: tuple[float, ...]  # outcome mean per arm, in scenario order
    sd: float


def simulate_normal_chunk(
    scenario: Scenario, entropy: int, replicates: Sequence[int], ref: NormalReference
) -> dict[str, pd.DataFrame]:
    """:func:`simulate_chunk` for a :class:`NormalReference` (parallel designs only)."""
    from ketsim.core.seeds import stream
    from ketsim.sim.trial import AE_EVENTS, TrialArrays

    arms = scenario.arms
    sizes = [a.n for a in arms]
    per = int(sum(sizes))
    reps = np.repeat(np.asarray(list(replicates), dtype=np.int64), per)
    arm = np.tile(np.repeat(np.arange(len(arms)), sizes), len(replicates))
    z = np.concatenate(
        [stream(entropy, r, "measurement", 0).standard_normal(per) for r in replicates]
    )
    y = np.asarray(ref.means, float)[arm] + ref.sd * z
    P, D = y.size, 7
    nrs = np.repeat(y[:, None], D, axis=1)
    ta = TrialArrays(
        type="parallel",
        replicate=reps,
        patient=np.tile(np.arange(per), len(replicates)),
        group=arm,
        arm=arm,
        arm_names=[a.name for a in arms],
        arm_treatments=[a.treatment for a in arms],
        group_names=[a.name for a in arms],
        segment_arm=arm[:, None],
        segment_start_day=np.zeros((P, 1)),
        randomised_segment=0,
        days=np.arange(1, D + 1),
        baseline_days=0,
        nrs=nrs,
        expected_nrs=nrs,
        baseline=np.full(P, np.nan),
        discontinued_day=np.full(P, np.nan),
        dropout_day=np.full(P, np.nan),
        dropout_reason=np.full(P, "", dtype=object),
        ae={k: np.zeros((P, 1), bool) for k in AE_EVENTS},
        in_study=np.ones((P, D), bool),
        segment_end_day=np.zeros((P, 1)),
    )
    return _chunk_tables(ta, scenario)


def chunk_ranges(todo: Sequence[int], chunk_size: int) -> list[tuple[int, int]]:
    """Split sorted replicate indices into ``[first, end)`` ranges of consecutive indices.

    Ranges never straddle a gap (replicates already done), so every chunk file of the store names
    exactly the replicates inside it.
    """
    out: list[tuple[int, int]] = []
    todo = sorted(todo)
    i = 0
    while i < len(todo):
        lo = todo[i]
        j = i
        while j + 1 < len(todo) and todo[j + 1] == todo[j] + 1 and j + 1 - i < chunk_size:
            j += 1
        out.append((lo, todo[j] + 1))
        i = j + 1
    return out


def default_chunk_size(n_replicates: int, jobs: int, patients: int) -> int:
    """Replicates per chunk: big enough to vectorise, small enough to balance and checkpoint.

    About 8000 patients per chunk (measured on ``ketsim bench trial``: 50 Sigtermans replicates
    per chunk give 270 trials/s on 2 workers, 125 give 400), and at least 4 chunks per worker
    so that the last chunks do not leave workers idle.
    """
    by_size = max(1, 8000 // max(patients, 1))
    by_balance = max(1, -(-n_replicates // (4 * max(jobs, 1))))
    return int(max(1, min(by_size, by_balance, 500)))


# -- running chunks ------------------------------------------------------------------------------
@dataclass
class Task:
    """One chunk of one sweep cell, or (``truth_patients > 0``) a cell's true-effect trial."""

    cell: str
    scenario: Scenario
    entropy: int
    lo: int
    hi: int
    truth_patients: int = 0
    reference: NormalReference | None = None


def _run_task(task: Task) -> tuple[str, int, int, dict[str, pd.DataFrame], float]:
    t0 = time.perf_counter()
    if task.reference is not None:
        reps = range(task.lo, task.hi)
        tables = simulate_normal_chunk(task.scenario, task.entropy, reps, task.reference)
    elif task.truth_patients:
        tables = {"truth": true_effects(task.scenario, task.entropy, task.truth_patients)}
    else:
        tables = simulate_chunk(task.scenario, task.entropy, range(task.lo, task.hi))
    return task.cell, task.lo, task.hi, tables, time.perf_counter() - t0


def _serial(tasks: list[Task]) -> Iterator:
    for t in tasks:
        yield _run_task(t)


def _loky(tasks: list[Task], jobs: int) -> Iterator:
    from joblib import Parallel, delayed

    # unordered: chunks are stored as they finish; the order of the final tables does not
    # depend on it (they are assembled from the store in replicate order)
    yield from Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")(
        delayed(_run_task)(t) for t in tasks
    )


def _dask(tasks: list[Task], jobs: int, scheduler: str | None) -> Iterator:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as err:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "the dask backend needs the 'dask' extra: pip install 'ketsim[dask]'"
        ) from err
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=jobs,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
        client = Client(cluster)
    try:
        futures = [client.submit(_run_task, t, pure=False) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_chunks(
    tasks: list[Task],
    on_result: Callable[[str, int, int, dict[str, pd.DataFrame], float], None],
    jobs: int = 1,
    backend: str = "loky",
    scheduler: str | None = None,
) -> None:
    """Run chunk tasks and hand each result to ``on_result`` as it finishes (any order)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; allowed: {', '.join(BACKENDS)}")
    if not tasks:
        return
    if backend == "dask":
        it = _dask(tasks, jobs, scheduler)
    elif jobs == 1 or len(tasks) == 1:
        it = _serial(tasks)
    else:
        it = _loky(tasks, jobs)
    for res in it:
        on_result(*res)


# -- progress ------------------------------------------------------------------------------------
@dataclass
class Progress:
    """A one-line progress bar with ETA on stderr (silent unless stderr is a terminal)."""

    total: int
    label: str = "replicates"
    enabled: bool | None = None
    done: int = 0
    _t0: float = field(default_factory=time.perf_counter)
    _last: float = 0.0

    def __post_init__(self) -> None:
        if self.enabled is None:
            self.enabled = sys.stderr.isatty() and not os.environ.get("KETSIM_NO_PROGRESS")

    def update(self, k: int) -> None:
        self.done += k
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        el = now - self._t0
        frac = self.done / self.total if self.total else 1.0
        eta = el * (1 - frac) / frac if frac > 0 else float("nan")
        width = 30
        bar = "#" * int(width * frac) + "." * (width - int(width * frac))
        sys.stderr.write(
            f"\r[{bar}] {self.done}/{self.total} {self.label} {100 * frac:3.0f}% "
            f"elapsed {_fmt_s(el)} ETA {_fmt_s(eta)}   "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _fmt_s(s: float) -> str:
    if s != s:
        return "?"
    if s < 60:
        return f"{s:.1f}s"
    m, s = divmod(int(s), 60)
    return f"{m}m{s:02d}s" if m < 60 else f"{m // 60}h{m % 60:02d}m"


# -- true effects and the power summary ------------------------------------------------------------
def true_effects(sc: Scenario, entropy: int, patients: int) -> pd.DataFrame:
    """Every analysis' estimate in one very large trial of the scenario: the true effect.

    The trial is the scenario scaled up to about ``patients`` patients (at least its own size),
    simulated on the replicate stream :data:`TRUTH_REPLICATE`, which no power replicate uses. Its
    estimate converges to the estimand of the analysis under the declared strategy (including
    dropout and discontinuation); its SE is reported as ``true_effect_se``.
    """
    total = total_patients(sc)
    big = resize_scenario(sc, factor=max(1.0, patients / total)) if patients > total else sc
    t = simulate_chunk(big, entropy, [TRUTH_REPLICATE])["analyses"]
    keep = ["analysis_id", "comparison", "estimate", "se"]
    return t[keep].rename(columns={"estimate": "true_effect", "se": "true_effect_se"})


def total_patients(sc: Scenario) -> int:
    """Patients enrolled in one trial of the scenario (all arms, sequences or the run-in)."""
    d = sc.design
    if d.type == "crossover":
        from ketsim.sim.design import compile_timeline

        return int(d.crossover.n_per_sequence * len(compile_timeline(sc).groups))
    if d.type == "enrichment":
        return int(d.enrichment.n)
    return int(sum(a.n for a in sc.arms))


def summarise_power(
    analyses: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    hypothesis: str = "alternative",
    conf: float = 0.95,
) -> pd.DataFrame:
    """Power (rejection rate) and estimate performance per analysis and comparison.

    Parameters
    ----------
    analyses : per-replicate rows (:func:`simulate_chunk` ``["analyses"]``).
    truth : ``analysis_id, comparison, true_effect, true_effect_se`` (:func:`true_effects`);
        on the null hypothesis pass None: the true effect is 0.
    hypothesis : ``alternative`` or ``null`` (then ``power`` is the type-I error).
    conf : level of the Wilson and Clopper-Pearson intervals of the rejection rate.

    Notes
    -----
    A replicate whose analysis failed (no estimate) counts as not rejecting; ``failed`` gives
    their fraction. Estimate summaries use the replicates with an estimate. Monte Carlo SEs follow
    Morris et al. (2019): ``sqrt(p (1 - p) / R)`` for the power, ``sqrt(SD^2 / R + SE_true^2)``
    for the bias (the true effect is itself estimated, with SE ``true_effect_se``).
    """
    if analyses.empty:
        return pd.DataFrame(columns=POWER_COLUMNS)
    df = analyses.copy()
    if truth is not None:
        df = df.merge(truth, on=["analysis_id", "comparison"], how="left", sort=False)
    else:
        df["true_effect"] = 0.0 if hypothesis == "null" else np.nan
        df["true_effect_se"] = 0.0 if hypothesis == "null" else np.nan
    est = df["estimate"].to_numpy(float)
    ok = np.isfinite(est)
    te = df["true_effect"].to_numpy(float)
    df["_ok"] = ok
    df["_est"] = np.where(ok, est, 0.0)
    df["_est2"] = np.where(ok, est**2, 0.0)
    df["_se"] = np.where(ok & np.isfinite(df["se"].to_numpy(float)), df["se"], 0.0)
    df["_err2"] = np.where(ok, (est - te) ** 2, 0.0)
    lo, hi = df["ci_low"].to_numpy(float), df["ci_high"].to_numpy(float)
    df["_cover"] = ok & (lo <= te) & (te <= hi)
    df["_rej"] = df["reject"].astype(bool)
    g = df.groupby(_GROUP_KEYS, sort=False, dropna=False)
    s = g.agg(
        replicates=("replicate", "size"),
        rejections=("_rej", "sum"),
        n_ok=("_ok", "sum"),
        s_est=("_est", "sum"),
        s_est2=("_est2", "sum"),
        s_se=("_se", "sum"),
        s_err2=("_err2", "sum"),
        s_cover=("_cover", "sum"),
        true_effect=("true_effect", "first"),
        true_effect_se=("true_effect_se", "first"),
        mean_n_treatment=("n_treatment", "mean"),
        mean_n_control=("n_control", "mean"),
    ).reset_index()
    R = s["replicates"].to_numpy(float)
    x = s["rejections"].to_numpy(float)
    k = s["n_ok"].to_numpy(float)
    p = x / R
    wl, wh = wilson_interval(x, R, conf)
    el, eh = clopper_pearson_interval(x, R, conf)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s["s_est"] / k
        var = (s["s_est2"] - k * mean**2) / (k - 1)
        sd = np.sqrt(np.maximum(var, 0.0))
        out = s[_GROUP_KEYS].copy()
        out["hypothesis"] = hypothesis
        out["replicates"] = s["replicates"].astype(np.int64)
        out["rejections"] = s["rejections"].astype(np.int64)
        out["power"] = p
        out["mc_se"] = np.sqrt(p * (1 - p) / R)
        out["wilson_low"], out["wilson_high"] = wl, wh
        out["exact_low"], out["exact_high"] = el, eh
        out["failed"] = 1.0 - k / R
        out["mean_estimate"] = mean
        out["sd_estimate"] = np.where(k > 1, sd, np.nan)
        out["mean_se"] = s["s_se"] / k
        out["true_effect"] = s["true_effect"]
        out["true_effect_se"] = s["true_effect_se"]
        out["bias"] = mean - s["true_effect"]
        # the true effect is itself an estimate (one large trial): its SE adds to the bias's
        tse = np.nan_to_num(s["true_effect_se"].to_numpy(float), nan=0.0)
        out["bias_mc_se"] = np.where(k > 1, np.sqrt(sd**2 / k + tse**2), np.nan)
        out["rmse"] = np.sqrt(s["s_err2"] / k)
        out["coverage"] = np.where(np.isfinite(s["true_effect"]), s["s_cover"] / k, np.nan)
        out["mean_n_treatment"] = s["mean_n_treatment"]
        out["mean_n_control"] = s["mean_n_control"]
    return out[POWER_COLUMNS].reset_index(drop=True)


def summarise_endpoints(endpoints: pd.DataFrame) -> pd.DataFrame:
    """Mean over replicates of each endpoint x arm summary, with its Monte Carlo SE."""
    if endpoints.empty:
        return pd.DataFrame(
            columns=["endpoint", "arm", "statistic", "replicates", "mean_n", "value", "value_mc_se"]
        )
    g = endpoints.groupby(["endpoint", "arm", "statistic"], sort=False)
    out = g.agg(
        replicates=("replicate", "size"),
        mean_n=("n", "mean"),
        value=("value", "mean"),
        value_sd=("value", "std"),
    ).reset_index()
    out["value_mc_se"] = out["value_sd"] / np.sqrt(out["replicates"])
    return out.drop(columns=["value_sd"])


def scenario_key(sc: Scenario) -> str:
    """SHA-256 of the resolved scenario: what the run store compares to resume a run."""
    import hashlib

    return hashlib.sha256(dump_scenario(sc).encode("utf-8")).hexdigest()


# -- orchestration: a run in the store ------------------------------------------------------------
@dataclass
class RunOptions:
    """How to execute a run (none of it changes the results)."""

    jobs: int = 1
    backend: str = "loky"
    scheduler: str | None = None
    chunk_size: int | None = None
    progress: bool | None = None  # None: a bar when stderr is a terminal
    argv: list[str] | None = None


def _open_store(
    kind: str,
    sc: Scenario,
    key: dict[str, Any],
    seed: int | None,
    out: str | None,
    base: str,
):
    """The run store (new, or the unfinished run of the same command) and its entropy."""
    from ketsim import __version__
    from ketsim.storage.store import RunStore

    key = {**key, "ketsim": __version__}
    # a resumed run keeps the seed it recorded; a new one follows the one rule (root_entropy)
    given = given_entropy(seed, sc.seed)
    if out is not None:
        store = RunStore.resume_at(out, kind, key, given)
        if store is None:
            ent = root_entropy(seed, sc.seed)
            return RunStore.create(kind, sc.name, key, ent, path=out), False, ent
        return store, True, store.entropy
    store = RunStore.find_unfinished(base, kind, sc.name, key, given)
    if store is not None:
        return store, True, store.entropy
    ent = root_entropy(seed, sc.seed)
    return RunStore.create(kind, sc.name, key, ent, base=base), False, ent


def run_cells(
    store,
    entropy: int,
    cells: Sequence[tuple[str, Scenario]],
    replicates: int,
    opts: RunOptions,
    truth_patients: int = 0,
    progress_label: str = "replicates",
    reference: NormalReference | None = None,
) -> dict[str, float]:
    """Simulate replicates ``0 .. replicates-1`` of every cell not yet in the store.

    With ``truth_patients > 0`` each cell's true-effect trial (:func:`true_effects`) runs in the
    same pool (first, as the largest task) and is stored as ``cells/<cell>/truth.parquet``.

    ``entropy`` is the run's root entropy (the one the store recorded); it is passed as a value.

    Returns timings: ``wall_s`` (this call), ``worker_s`` (summed task times), and the counts of
    replicates simulated now and reused from an interrupted run.
    """
    from ketsim.storage.files import write_parquet_atomic

    t0 = time.perf_counter()
    tasks: list[Task] = []
    reused = 0
    if truth_patients > 0:
        for cell, sc in cells:
            if not (store.cell_dir(cell) / "truth.parquet").is_file():
                tasks.append(Task(cell, sc, entropy, 0, 0, truth_patients))
    for cell, sc in cells:
        store.clean_partial(cell)
        done = store.done_replicates(cell)
        reused += len(done & set(range(replicates)))
        todo = [r for r in range(replicates) if r not in done]
        per = total_patients(sc)
        size = opts.chunk_size or default_chunk_size(replicates * len(cells), opts.jobs, per)
        tasks += [
            Task(cell, sc, entropy, lo, hi, reference=reference)
            for lo, hi in chunk_ranges(todo, size)
        ]
    n_new = sum(t.hi - t.lo for t in tasks)
    bar = Progress(n_new, progress_label, enabled=opts.progress)
    worker = 0.0

    def on_result(cell: str, lo: int, hi: int, tables: dict, seconds: float) -> None:
        nonlocal worker
        if "truth" in tables:
            write_parquet_atomic(store.cell_dir(cell) / "truth.parquet", tables["truth"])
        else:
            store.write_chunk(cell, lo, hi, tables)
        worker += seconds
        bar.update(hi - lo)

    try:
        run_chunks(tasks, on_result, opts.jobs, opts.backend, opts.scheduler)
    finally:
        bar.close()
    return {
        "wall_s": time.perf_counter() - t0,
        "worker_s": worker,
        "replicates_simulated": n_new,
        "replicates_reused": reused,
        "chunks": len(tasks),
    }


def _start_manifest(store, sc: Scenario, kind: str, replicates: int, opts: RunOptions) -> None:
    from ketsim.storage.files import versions

    store.write_text("scenario.resolved.yaml", dump_scenario(sc))
    runs = store.manifest.get("invocations", [])
    runs.append(
        {
            "argv": opts.argv if opts.argv is not None else sys.argv,
            "jobs": opts.jobs,
            "backend": opts.backend,
            "scheduler": opts.scheduler,
            "chunk_size": opts.chunk_size,
        }
    )
    store.update(
        command=kind,
        replicates=replicates,
        versions=versions(),
        invocations=runs,
        status="running",
    )


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


def estimate_power(
    sc: Scenario,
    replicates: int = 1000,
    seed: int | None = None,
    null: bool = False,
    truth_patients: int = 20_000,
    out: str | None = None,
    base: str = "runs",
    opts: RunOptions | None = None,
    reference: NormalReference | None = None,
    aux_replicates: int = 0,
) -> PowerResult:
    """Power of every declared analysis: ``replicates`` simulated trials of the scenario.

    With ``aux_replicates > 0`` the same run also simulates, with that many replicates and
    common random numbers, the scenario at other sizes (:func:`curve_sizes`: the power curve)
    and with each uncertain switch flipped (:func:`sensitivity_scenarios`), for the report.

    Parameters
    ----------
    sc : a scenario with arms, endpoints and analyses.
    replicates : number of replicate trials (indices ``0 .. replicates-1``).
    seed : root entropy; default the scenario's ``seed``, else the unfinished run's, else fresh.
    null : simulate the null scenario (:func:`null_scenario`): ``power`` is then the type-I error.
    truth_patients : size of the large trial giving the true effects (0: no true effect, bias).
    out : run directory (default a new one under ``base``).
    opts : execution options (jobs, backend, chunk size, progress).
    reference : engine check (:class:`NormalReference`): a normal endpoint replaces the trial
        model; the true effect is then the difference of its means.
    aux_replicates : replicates of each power-curve size and sensitivity scenario (0: none; not
        with ``null`` or ``reference``).
    """
    opts = opts or RunOptions()
    if not sc.analyses:
        raise ValueError("analyses: none declared; 'ketsim power' needs at least one analysis")
    sim = null_scenario(sc) if null else sc
    if null or reference is not None:
        aux_replicates = 0
    key = {
        "scenario_sha256": scenario_key(sc),
        "replicates": replicates,
        "null": bool(null),
        "truth_patients": 0 if null else int(truth_patients),
        "reference": None if reference is None else [list(reference.means), reference.sd],
        "aux_replicates": int(aux_replicates),
    }
    if reference is not None:
        truth_patients = 0
    store, resumed, entropy = _open_store("power", sc, key, seed, out, base)
    _start_manifest(store, sc, "power", replicates, opts)
    n_truth = 0 if null else truth_patients
    tim = run_cells(
        store,
        entropy,
        [("c0000", sim)],
        replicates,
        opts,
        truth_patients=n_truth,
        reference=reference,
    )
    curve = sens = []
    if aux_replicates:
        curve = [(f"n{n:07d}", n, resize_scenario(sc, n=n)) for n in curve_sizes(sc)]
        sens = sensitivity_scenarios(sc)
        aux = [(c, x) for c, _, x in curve] + [(c, x) for c, _, _, x in sens]
        t_aux = run_cells(
            store, entropy, aux, aux_replicates, opts, progress_label="auxiliary replicates"
        )
        for k in ("wall_s", "worker_s", "replicates_simulated", "replicates_reused", "chunks"):
            tim[k] += t_aux[k]
    truth = store.read_truth("c0000") if n_truth else None
    if reference is not None:
        names = [a.name for a in sc.arms]
        from ketsim.sim.design import control_and_compare

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
    store.update(
        status="complete",
        timings_s=tim,
        files=sorted({*files, "scenario.resolved.yaml", "manifest.json"}),
    )
    return PowerResult(store, entropy, power, analyses, endpoints, trial, hyp, resumed, tim)


#: the uncertain switches of the report's sensitivity panel and the value each is flipped to
#: (None: the other boolean; a pair: the first value unless the scenario already has it)
SENSITIVITY_SWITCHES: dict[str, Any] = {
    "norketamine_analgesia": ("antagonist", "none"),  # Olofsen 2012 vs Olofsen 2022
    "sex_effect_on_clearance": None,  # Sigtermans 2009 vs Perez-Ruixo 2021
    "r_inhibits_s": None,  # Ihmsen 2001 (racemic only)
    "cyp2b6_effect": ("null", "in_vitro"),  # Rao 2016 vs Li 2013
}


def sensitivity_scenarios(sc: Scenario) -> list[tuple[str, str, Any, Scenario]]:
    """The scenario with each uncertain switch flipped: ``(cell, switch, value, scenario)``."""
    out = []
    for name, alt in SENSITIVITY_SWITCHES.items():
        cur = getattr(sc.switches, name)
        value = (not cur) if alt is None else (alt[0] if cur != alt[0] else alt[1])
        flipped = sc.model_copy(update={"switches": sc.switches.model_copy(update={name: value})})
        out.append((f"sw-{name}-{value}", name, value, flipped))
    return out


def curve_sizes(sc: Scenario) -> list[int]:
    """Sizes of the power curve around the scenario's own (half to twice, 5 points)."""
    _, n0 = size_of(sc)
    sizes = {max(2, round(n0 * f)) for f in (0.5, 0.75, 1.25, 1.5, 2.0)}
    sizes.discard(n0)
    return sorted(sizes)


def summarise_weekly(weekly: pd.DataFrame) -> pd.DataFrame:
    """Mean weekly NRS per group and week over replicates, with the 2.5-97.5% band of the
    replicate means (the spread of a trial's arm mean) and the Monte Carlo SE of the mean."""
    if weekly.empty:
        return pd.DataFrame(
            columns=["group", "week", "replicates", "mean_nrs", "q025", "q975", "mc_se"]
        )
    g = weekly.groupby(["group", "week"], sort=False)["mean_nrs"]
    out = g.agg(
        replicates="count",
        mean_nrs="mean",
        q025=lambda x: x.quantile(0.025),
        q975=lambda x: x.quantile(0.975),
        sd="std",
    ).reset_index()
    out["mc_se"] = out["sd"] / np.sqrt(out["replicates"])
    return out.drop(columns=["sd"]).sort_values(["group", "week"], kind="stable")


def summarise_subgroups(sub: pd.DataFrame, hypothesis: str = "alternative") -> pd.DataFrame:
    """Power of the first analysis within each stratum level (no true effect: bias not given)."""
    if sub.empty:
        return pd.DataFrame(columns=["stratum", "level", *POWER_COLUMNS])
    rows = []
    for (name, level), g in sub.groupby(["stratum", "level"], sort=False):
        p = summarise_power(g.drop(columns=["stratum", "level"]), None, hypothesis)
        p.insert(0, "level", level)
        p.insert(0, "stratum", name)
        rows.append(p)
    return pd.concat(rows, ignore_index=True)


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
    truth_patients: int = 0,
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
        trial per cell).
    """
    from ketsim.config.sweep import cell_frame

    opts = opts or RunOptions()
    if not base.analyses and not base.endpoints:
        raise ValueError("endpoints: none declared; a sweep needs endpoints or analyses")
    key = {
        "scenario_sha256": scenario_key(base),
        "replicates": replicates,
        "truth_patients": int(truth_patients),
    }
    store, resumed, entropy = _open_store("sweep", base, key, seed, out, runs_dir)
    _start_manifest(store, base, "sweep", replicates, opts)
    pairs = [(_cell_id(c.index), c.scenario) for c in cells]
    tim = run_cells(store, entropy, pairs, replicates, opts, truth_patients=truth_patients)
    frame = cell_frame(cells)
    powers, eps, trials, reps = [], [], [], []
    for c in cells:
        cid = _cell_id(c.index)
        an = store.read_cell(cid, "analyses")
        ep = store.read_cell(cid, "endpoints")
        tr = store.read_cell(cid, "trial")
        truth = store.read_truth(cid) if truth_patients else None
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


def summarise_trial(trial: pd.DataFrame) -> pd.DataFrame:
    """Mean over replicates of the per-arm sizes, dropout, discontinuation and AE fractions."""
    if trial.empty:
        return trial
    cols = [c for c in trial.columns if c not in ("replicate", "group")]
    out = trial.groupby("group", sort=False)[cols].mean().reset_index()
    return out.rename(columns={"n": "mean_n"})


def surfaces(
    sweep_power: pd.DataFrame, sweep_endpoints: pd.DataFrame, axes: Sequence[str]
) -> pd.DataFrame:
    """Long table of response and power surfaces over two swept axes.

    One row per (first axis value, second axis value, quantity): ``power`` of each analysis and
    comparison, and the mean ``value`` of each endpoint and arm (e.g. change from baseline at
    week 1, 4 and 12: how long relief lasts as a function of dose and infusion duration).
    """
    x, y = axes[:2]
    rows = []
    if len(sweep_power):
        p = sweep_power.assign(
            quantity="power",
            name=sweep_power["analysis"] + " | " + sweep_power["comparison"],
            value=sweep_power["power"],
            mc_se=sweep_power["mc_se"],
        )
        rows.append(p[["cell", x, y, "quantity", "name", "value", "mc_se"]])
    if len(sweep_endpoints):
        e = sweep_endpoints.assign(
            quantity=sweep_endpoints["statistic"],
            name=sweep_endpoints["endpoint"] + " | " + sweep_endpoints["arm"],
            mc_se=sweep_endpoints["value_mc_se"],
        )
        rows.append(e[["cell", x, y, "quantity", "name", "value", "mc_se"]])
    if not rows:
        return pd.DataFrame(columns=["cell", x, y, "quantity", "name", "value", "mc_se"])
    return pd.concat(rows, ignore_index=True)


# -- sample size -----------------------------------------------------------------------------------
@dataclass
class SampleSizeResult:
    """Smallest size reaching a target power, with the evaluated points and a fitted curve."""

    store: Any
    entropy: int
    unit: str
    target: float
    analysis: str
    comparison: str
    points: pd.DataFrame  # n, power, mc_se, wilson_low, wilson_high (sorted by n)
    n_observed: int | None  # smallest evaluated n whose estimated power >= target
    n_fit: float  # from the probit-in-sqrt(n) curve (NaN if it cannot be fitted)
    n_fit_low: float
    n_fit_high: float
    curve: tuple[float, float]  # probit(power) = a + b sqrt(n)
    timings: dict[str, float]


def _probit_fit(n: np.ndarray, x: np.ndarray, R: np.ndarray):
    """Binomial maximum likelihood of ``power(n) = Phi(a + b sqrt(n))``; (a, b) and covariance.

    The form is exact for a one-sided z test (power = Phi(delta sqrt(n/2)/sigma - z_alpha)) and
    a close approximation for the Wald-type tests of the analyses.
    """
    from scipy import optimize

    s = np.sqrt(n.astype(float))
    X = np.column_stack([np.ones_like(s), s])

    def nll(th):
        p = np.clip(sps.norm.cdf(X @ th), 1e-12, 1 - 1e-12)
        return -np.sum(x * np.log(p) + (R - x) * np.log1p(-p))

    pe = np.clip((x + 0.5) / (R + 1.0), 1e-3, 1 - 1e-3)
    th0 = np.linalg.lstsq(X, sps.norm.ppf(pe), rcond=None)[0]
    res = optimize.minimize(
        nll, th0, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000}
    )
    th = res.x
    # observed information by central differences
    h = 1e-4 * np.maximum(1.0, np.abs(th))
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
            H[i, j] = (
                nll(th + ei + ej) - nll(th + ei - ej) - nll(th - ei + ej) + nll(th - ei - ej)
            ) / (4 * h[i] * h[j])
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.full((2, 2), np.nan)
    return th, cov


def search_sample_size(
    sc: Scenario,
    target: float = 0.8,
    analysis: int = 0,
    comparison: str | None = None,
    replicates: int = 400,
    n_min: int = 4,
    n_max: int = 2000,
    seed: int | None = None,
    out: str | None = None,
    runs_dir: str = "runs",
    opts: RunOptions | None = None,
    reference: NormalReference | None = None,
) -> SampleSizeResult:
    """Smallest size (:func:`size_of`: n per arm, per sequence or enrolled) reaching ``target``.

    Search: evaluate the scenario's own size, then double (or halve) until the target is
    bracketed, then bisect on integers. Every evaluation is ``replicates`` trials with common
    random numbers (one entropy for all sizes), stored as one cell of the run, so an interrupted
    search resumes where it stopped. The answer is reported twice: ``n_observed``, the smallest
    evaluated size whose estimated power reaches the target (its own Monte Carlo uncertainty is
    in ``points``), and ``n_fit`` with a 95% interval from a binomial probit fit of power against
    sqrt(n) through every evaluated point (parametric bootstrap of the fitted curve).
    """
    opts = opts or RunOptions()
    if not sc.analyses:
        raise ValueError("analyses: none declared; a sample-size search needs an analysis")
    if not 0 <= analysis < len(sc.analyses):
        raise ValueError(
            f"--analysis {analysis}: the scenario has analyses 0..{len(sc.analyses) - 1}"
        )
    if not 0 < target < 1:
        raise ValueError("--target must be between 0 and 1")
    unit, n0 = size_of(sc)
    lo_bound = max(1 if unit != "n_enrolled" else 2, n_min)
    key = {
        "scenario_sha256": scenario_key(sc),
        "replicates": replicates,
        "target": target,
        "analysis": analysis,
        "comparison": comparison,
        "n_min": lo_bound,
        "n_max": n_max,
        "reference": None if reference is None else [list(reference.means), reference.sd],
    }
    store, _, entropy = _open_store("samplesize", sc, key, seed, out, runs_dir)
    _start_manifest(store, sc, "samplesize", replicates, opts)
    cache: dict[int, tuple[int, int]] = {}
    label = {"analysis": "", "comparison": ""}
    tim = {"wall_s": 0.0, "worker_s": 0.0, "replicates_simulated": 0, "replicates_reused": 0}

    def power_at(n: int) -> float:
        if n not in cache:
            cell = f"n{n:07d}"
            t = run_cells(
                store,
                entropy,
                [(cell, resize_scenario(sc, n=n))],
                replicates,
                opts,
                progress_label=f"replicates at {unit}={n}",
                reference=reference,
            )
            for k in tim:
                tim[k] += t.get(k, 0)
            an = store.read_cell(cell, "analyses")
            an = an[an["analysis_id"] == analysis]
            comps = list(dict.fromkeys(an["comparison"]))
            comp = comparison if comparison is not None else comps[0]
            if comp not in comps:
                raise ValueError(f"--comparison {comp!r}: analysis {analysis} compares {comps}")
            an = an[an["comparison"] == comp]
            label["analysis"], label["comparison"] = an["analysis"].iloc[0], comp
            cache[n] = (int(an["reject"].sum()), len(an))
        x, r = cache[n]
        return x / r

    n = int(np.clip(n0, lo_bound, n_max))
    if power_at(n) >= target:
        hi = n
        lo = None
        while hi > lo_bound:
            cand = max(lo_bound, hi // 2)
            if power_at(cand) >= target:
                hi = cand
            else:
                lo = cand
                break
    else:
        lo = n
        hi = None
        while lo < n_max:
            cand = min(n_max, lo * 2)
            if power_at(cand) >= target:
                hi = cand
                break
            lo = cand
    if lo is not None and hi is not None:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if power_at(mid) >= target:
                hi = mid
            else:
                lo = mid
    ns = np.array(sorted(cache))
    x = np.array([cache[k][0] for k in ns], float)
    R = np.array([cache[k][1] for k in ns], float)
    p = x / R
    wl, wh = wilson_interval(x, R)
    points = pd.DataFrame(
        {
            unit: ns,
            "replicates": R.astype(np.int64),
            "rejections": x.astype(np.int64),
            "power": p,
            "mc_se": np.sqrt(p * (1 - p) / R),
            "wilson_low": wl,
            "wilson_high": wh,
        }
    )
    reach = ns[p >= target]
    n_obs = int(reach.min()) if reach.size else None
    n_fit = n_l = n_h = float("nan")
    a = b = float("nan")
    informative = (x > 0) & (x < R)
    if informative.sum() >= 2 or (len(ns) >= 2 and informative.any()):
        th, cov = _probit_fit(ns, x, R)
        a, b = float(th[0]), float(th[1])
        zt = sps.norm.ppf(target)
        if b > 0:
            n_fit = ((zt - a) / b) ** 2
            if np.all(np.isfinite(cov)):
                # parametric bootstrap of the fitted curve (independent stream: not a replicate)
                rng = auxiliary_stream(entropy, "sample_size_bootstrap")
                draws = rng.multivariate_normal(th, cov, size=4000, method="cholesky")
                ok = draws[:, 1] > 0
                nb = ((zt - draws[ok, 0]) / draws[ok, 1]) ** 2
                if nb.size > 100:
                    n_l, n_h = (float(v) for v in np.quantile(nb, [0.025, 0.975]))
    res = SampleSizeResult(
        store,
        entropy,
        unit,
        target,
        label["analysis"],
        label["comparison"],
        points,
        n_obs,
        n_fit,
        n_l,
        n_h,
        (a, b),
        tim,
    )
    files = store.write_table("samplesize_points", points)
    summary = {
        "unit": unit,
        "target_power": target,
        "analysis": label["analysis"],
        "comparison": label["comparison"],
        "n_observed": n_obs,
        "n_fit": n_fit,
        "n_fit_95ci": [n_l, n_h],
        "probit_curve": {"a": a, "b": b, "form": "power = Phi(a + b sqrt(n))"},
        "reached": n_obs is not None,
        "n_max": n_max,
    }
    from ketsim.storage.files import write_json_atomic

    write_json_atomic(store.path / "samplesize.json", summary)
    store.update(
        status="complete",
        timings_s=tim,
        files=sorted({*files, "samplesize.json", "scenario.resolved.yaml", "manifest.json"}),
    )
    return res
