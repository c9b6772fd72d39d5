"""A calibration run: the run directory, resuming, and the diagnostics tables.

Layout of ``runs/<hypothesis>-calibrate-<UTC time>-<hash>/`` (or ``--out``)::

    manifest.json        key (scenarios' SHA-256, hypothesis, parameters, settings), seed entropy,
                         versions, invocations, timings, status
    scenarios/<name>.yaml  the scenarios as read
    abc.db               pyabc's history (every generation; what a resumed run continues from)
    posterior.parquet    the last generation: parameters (natural scale), weight, distance
    populations.parquet  every generation's particles
    predictive.parquet   the last generation's simulated targets (posterior-predictive draws)
    generations.csv      per generation: epsilon, replicates, evaluations, acceptance rate, ESS
    parameters.csv       per parameter: prior, default, posterior mean/SD/median/95% interval
    ppc.csv              per target: published, posterior-predictive median and 95% interval
    calibration.html     the page (:mod:`~ketsim.apps.calibrate.page`)

A run with the same command (or ``--out`` directory) resumes: pyabc reloads the stored
generations and the run continues with the next one. Particle seeds depend only on the root
entropy and the generation and particle indices, so a resumed run draws what an uninterrupted one
would from the same stored population.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc
import yaml

from ketsim import __version__
from ketsim.apps.calibrate.abc_fit import (
    FitSettings,
    OrderedSampler,
    default_min_epsilon,
    make_abc,
    observed,
    populations,
    predictive,
    quiet_pyabc,
    replicates_at,
)
from ketsim.apps.calibrate.page import write_page
from ketsim.apps.calibrate.parameters import UncertainParameter
from ketsim.apps.calibrate.targets import TargetSet, discrepancy
from ketsim.core.seeds import given_entropy, root_entropy
from ketsim.storage.files import versions, write_parquet_atomic, write_text_atomic
from ketsim.storage.store import RunStore

__all__ = ["CalibrationResult", "calibrate", "weighted_quantile"]

KIND = "calibrate"


def weighted_quantile(x: np.ndarray, w: np.ndarray, q: float | Sequence[float]) -> np.ndarray:
    """Quantiles of a weighted sample (inverse of the weighted ECDF at the midpoints)."""
    x, w = np.asarray(x, float), np.asarray(w, float)
    o = np.argsort(x, kind="stable")
    x, w = x[o], w[o] / w.sum()
    c = np.cumsum(w) - 0.5 * w
    return np.interp(np.atleast_1d(q), c, x)


@dataclass
class CalibrationResult:
    """The outcome of :func:`calibrate` (also on disk in ``path``)."""

    path: Path
    entropy: int
    posterior: pd.DataFrame
    generations: pd.DataFrame
    parameters: pd.DataFrame
    ppc: pd.DataFrame
    elapsed_s: float
    resumed: bool


def _key(targets: TargetSet, params, settings: FitSettings, min_eps: float) -> dict:
    digests = {
        n: hashlib.sha256(
            json.dumps(targets.data[n], sort_keys=True, default=str).encode()
        ).hexdigest()
        for n in targets.names
    }
    return {
        "scenarios": digests,
        "parameters": [asdict(p) for p in params],
        "settings": {**asdict(settings), "min_epsilon": min_eps},
        "ketsim": __version__,
    }


def _open(key, seed, out, base, label) -> tuple[RunStore, bool]:
    given = given_entropy(seed, None)
    if out is not None:
        store = RunStore.resume_at(out, KIND, key, given)
        if store is None:
            return RunStore.create(KIND, label, key, root_entropy(seed, None), path=out), False
        return store, True
    store = RunStore.find_unfinished(base, KIND, label, key, given)
    if store is not None:
        return store, True
    return RunStore.create(KIND, label, key, root_entropy(seed, None), base=base), False


def _has_generation(db: str) -> bool:
    """True if the pyabc database holds a finished generation (t >= 0) of analysis 1."""
    try:
        h = pyabc.History(db, _id=1)
        return int(h.max_t) >= 0
    except Exception:  # no analysis yet, or a database cut short before its first write
        return False


def _generations(history, settings: FitSettings) -> pd.DataFrame:
    pops = history.get_all_populations()
    pops = pops[pops.t >= 0]
    rows = []
    for r in pops.itertuples():
        _, w = history.get_distribution(m=0, t=int(r.t))
        rows.append(
            {
                "generation": int(r.t),
                "epsilon": float(r.epsilon),
                "replicates": replicates_at(int(r.t), settings.replicates),
                "evaluations": int(r.samples),
                "accepted": int(r.particles),
                "acceptance_rate": float(r.particles) / max(int(r.samples), 1),
                "ess": float(pyabc.weighted_statistics.effective_sample_size(w)),
            }
        )
    return pd.DataFrame(rows)


def _parameter_table(post: pd.DataFrame, params, hypothesis: str) -> pd.DataFrame:
    rows = []
    w = post["weight"].to_numpy()
    for p in params:
        x = post[p.name].to_numpy()
        xi = np.array([p.to_internal(v) for v in x])
        lo, hi = p.internal_bounds
        prior_sd_int = (hi - lo) / np.sqrt(12.0)
        sd_int = float(np.sqrt(np.sum(w * (xi - np.sum(w * xi)) ** 2)))
        q = weighted_quantile(x, w, [0.025, 0.5, 0.975])
        rows.append(
            {
                "parameter": p.name,
                "prior": p.prior_text(),
                "default": p.default(hypothesis),
                "mean": float(np.sum(w * x)),
                "sd": float(np.sqrt(np.sum(w * (x - np.sum(w * x)) ** 2))),
                "median": float(q[1]),
                "q025": float(q[0]),
                "q975": float(q[2]),
                # posterior / prior SD on the prior's scale: 1 = the targets say nothing
                "sd_ratio": sd_int / prior_sd_int,
                "source": p.source,
                "confidence": p.confidence,
            }
        )
    return pd.DataFrame(rows)


def _ppc_table(pred: pd.DataFrame, targets: TargetSet) -> pd.DataFrame:
    rows = []
    for t in targets.targets:
        d = pred[pred.target == t.key]
        x, w = d["simulated"].to_numpy(), d["weight"].to_numpy()
        ok = np.isfinite(x)
        q = weighted_quantile(x[ok], w[ok], [0.025, 0.5, 0.975]) if ok.any() else [np.nan] * 3
        inside = (x >= t.lower) & (x <= t.upper)
        dis = np.array(
            [discrepancy(t, a, b) for a, b in zip(x, d["mc_se"], strict=True)], dtype=float
        )
        rows.append(
            {
                "target": t.key,
                "kind": t.kind,
                "published": t.published,
                "scale": t.scale,
                "lower": t.lower,
                "upper": t.upper,
                "median": float(q[1]),
                "q025": float(q[0]),
                "q975": float(q[2]),
                "p_inside": float(np.sum(w[inside]) / np.sum(w)),
                "mean_discrepancy": float(np.sum(w * dis) / np.sum(w)),
            }
        )
    return pd.DataFrame(rows)


def calibrate(
    targets: TargetSet,
    params: Sequence[UncertainParameter],
    settings: FitSettings,
    *,
    seed: int | None = None,
    jobs: int = 1,
    out: str | Path | None = None,
    base: str | Path = "runs",
    verbose: bool = False,
    page: bool = True,
    argv: list[str] | None = None,
) -> CalibrationResult:
    """Fit ``params`` to the targets by ABC-SMC and write the run directory.

    Parameters
    ----------
    targets : the scenarios and their ``expected:`` targets.
    params : the uncertain parameters to fit (:mod:`~ketsim.apps.calibrate.parameters`).
    settings : hypothesis, population size, generations, replicate schedule, stopping.
    seed : root entropy (default: a resumed run's, else fresh; recorded in the manifest).
    jobs : worker processes; the result does not depend on it.
    out : run directory (default ``<base>/<hypothesis>-calibrate-<UTC>-<hash>``).
    verbose : pyabc's per-generation log on stderr.
    page : write ``calibration.html``.

    Returns
    -------
    CalibrationResult
        Posterior ensemble and diagnostics tables (also written to ``path``).
    """
    if not params:
        raise ValueError("no parameters to fit")
    if settings.population < 2 or settings.generations < 1 or jobs < 1:
        raise ValueError("population must be >= 2, generations and jobs >= 1")
    if not 1 <= settings.replicates[0] <= settings.replicates[1]:
        raise ValueError("replicates must satisfy 1 <= r_0 <= r_max")
    quiet_pyabc(verbose)
    t0 = time.perf_counter()
    min_eps = (
        settings.min_epsilon
        if settings.min_epsilon is not None
        else default_min_epsilon(len(targets.targets))
    )
    key = _key(targets, params, settings, min_eps)
    store, resumed = _open(key, seed, out, base, settings.hypothesis)
    entropy = store.entropy
    for n in targets.names:
        store.write_text(f"scenarios/{n}.yaml", yaml.safe_dump(targets.data[n], sort_keys=False))
    inv = store.manifest.get("invocations", [])
    inv.append({"argv": argv if argv is not None else sys.argv, "jobs": jobs})
    store.update(
        command=KIND,
        hypothesis=settings.hypothesis,
        parameters=[p.name for p in params],
        min_epsilon=min_eps,
        versions=versions(),
        invocations=inv,
        status="running",
    )
    db = "sqlite:///" + str((store.path / "abc.db").resolve())
    sampler = OrderedSampler(entropy, jobs)
    if not resumed or not _has_generation(db):
        (store.path / "abc.db").unlink(missing_ok=True)
        abc = make_abc(targets, params, settings, entropy, jobs, sampler)
        history = abc.new(db, observed(targets))
    else:
        history = None
    # One generation per pyabc run(), each from a freshly loaded ABCSMC: every generation, of an
    # uninterrupted or a resumed run, starts from the stored population the same way (a reused
    # ABCSMC object would re-calibrate epsilon from its cached prior sample), and the stopping
    # rule can wait for the full replicate count.
    r_max = settings.replicates[1]
    while True:
        if history is None or int(history.max_t) >= 0:
            abc = make_abc(targets, params, settings, entropy, jobs, sampler)
            history = abc.load(db, 1)
        pops = history.get_all_populations()
        pops = pops[pops.t >= 0]
        t_last = int(pops.t.max()) if len(pops) else -1
        spent = int(history.total_nr_simulations)
        if t_last + 1 >= settings.generations or spent >= settings.max_evaluations:
            break
        if (
            t_last >= 0
            and float(pops.epsilon.iloc[-1]) <= min_eps + 1e-12
            and replicates_at(t_last, settings.replicates) >= r_max
        ):
            break
        left = settings.max_evaluations - spent
        # a generation gives up after `left` simulations (pyabc: population / min rate)
        history = abc.run(
            max_nr_populations=1, min_acceptance_rate=settings.population / max(left, 1)
        )
        if int(history.max_t) <= t_last:  # the generation gave up (acceptance too low)
            break
        store.update(generations_done=int(history.max_t) + 1)
        if verbose:
            g = history.get_all_populations().iloc[-1]
            print(
                f"generation {int(g.t)}: epsilon {g.epsilon:.3g}, {int(g.samples)} simulations",
                file=sys.stderr,
            )
    post_all = populations(history, params)
    post = post_all[post_all.generation == history.max_t].drop(columns="generation")
    pred = predictive(history, targets)
    gens = _generations(history, settings)
    ptab = _parameter_table(post, params, settings.hypothesis)
    ppc = _ppc_table(pred, targets)
    write_parquet_atomic(store.path / "posterior.parquet", post.reset_index(drop=True))
    write_parquet_atomic(store.path / "populations.parquet", post_all)
    write_parquet_atomic(store.path / "predictive.parquet", pred)
    for name, df in (("generations", gens), ("parameters", ptab), ("ppc", ppc)):
        write_text_atomic(store.path / f"{name}.csv", df.to_csv(index=False))
    elapsed = time.perf_counter() - t0
    result = CalibrationResult(store.path, entropy, post, gens, ptab, ppc, elapsed, resumed)
    if page:
        write_page(result, params, targets, settings, min_eps)
    surplus = sampler.surplus_evaluations
    store.update(
        status="complete",
        generations_done=int(history.max_t) + 1,
        evaluations=int(gens["evaluations"].sum()),
        surplus_evaluations=int(surplus),
        elapsed_s=round(elapsed, 2),
    )
    return result
