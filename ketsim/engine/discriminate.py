"""Which design tells the lasting-effect hypotheses apart (issue 16, deliverable 4).

Each candidate design is simulated under every hypothesis (``switches.lasting_effect``) with the
same root seed, so the patients and their noise are the same across hypotheses and designs
(common random numbers): the differences are the mechanisms', not the dice's. Each simulated
trial is reduced to the estimates of its declared analyses (one per endpoint and comparison),
and :func:`ketsim.core.stats.discrimination.discriminate` scores how often the result of one
trial points to the hypothesis that generated it. The power of each analysis under each
hypothesis comes along, so a designer sees both "is it powered?" and "would it settle the
question?".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ketsim.config.scenario import Scenario
from ketsim.core.pd.parameters import LASTING_EFFECTS
from ketsim.core.stats.discrimination import Discrimination, discriminate
from ketsim.engine.power import estimate_power
from ketsim.engine.runs import RunOptions

__all__ = ["DesignDiscrimination", "design_statistics", "discriminate_designs"]


@dataclass(frozen=True)
class DesignDiscrimination:
    """One design's result: the discrimination and the per-hypothesis predictions."""

    name: str
    result: Discrimination
    statistics: list[str]
    predictions: pd.DataFrame  # hypothesis x statistic: mean estimate, SD, power
    failed: dict[str, int]  # hypothesis -> trials with a failed fit (dropped)
    entropy: int  # the root seed every run of the comparison shared


def design_statistics(analyses: pd.DataFrame) -> tuple[np.ndarray, list[str], pd.DataFrame]:
    """Per-replicate estimates of each (endpoint, comparison): the first analysis of each.

    Several analyses of one endpoint estimate nearly the same thing, so only the first declared
    one enters (others would add collinear columns and nothing else).

    Returns
    -------
    (X, labels, power) : X is (replicates, statistics); ``power`` the rejection rate of each
    statistic's analysis.
    """
    a = analyses.copy()
    a["key"] = a["endpoint"].astype(str) + ": " + a["comparison"].astype(str)
    first = a.groupby("key", sort=False)["analysis_id"].min()
    a = a[a["analysis_id"].to_numpy() == first.reindex(a["key"]).to_numpy()]
    labels = list(first.index)
    x = a.pivot_table(index="replicate", columns="key", values="estimate", dropna=False)
    x = x.reindex(columns=labels)
    power = a.groupby("key", sort=False)["reject"].mean().reindex(labels)
    return x.to_numpy(dtype=float), labels, power.to_frame("power")


def _with_hypothesis(sc: Scenario, h: str) -> Scenario:
    sw = sc.switches.model_copy(update={"lasting_effect": h})
    return sc.model_copy(update={"switches": sw})


def discriminate_designs(
    designs: list[Scenario],
    hypotheses: tuple[str, ...] = LASTING_EFFECTS,
    replicates: int = 400,
    seed: int | None = None,
    out: str | Path | None = None,
    opts: RunOptions | None = None,
    weights: dict[str, float] | None = None,
    threshold: float = 0.9,
) -> list[DesignDiscrimination]:
    """Run every design under every hypothesis and score how well each tells them apart.

    Parameters
    ----------
    designs : scenarios with declared analyses (names must differ).
    hypotheses : lasting-effect hypotheses to tell apart (default all).
    replicates : trials per design and hypothesis.
    seed : root seed shared by every run (default: the first design's, else fresh; recorded in
        each run's manifest).
    out : directory for the runs (``<out>/<design>/<hypothesis>/``); default ``runs/``.
    opts : execution options of the power runs.
    weights : prior weight of each hypothesis (default equal).
    threshold : posterior probability of the truth counted as decisive.
    """
    names = [d.name for d in designs]
    if len(set(names)) != len(names):
        raise ValueError(f"design names must differ (got {names})")
    if seed is None:
        seed = designs[0].seed
    root = Path(out) if out is not None else Path("runs") / "discriminate"
    results = []
    for sc in designs:
        samples, preds, failed = {}, [], {}
        labels: list[str] = []
        for h in hypotheses:
            run = estimate_power(
                _with_hypothesis(sc, h),
                replicates=replicates,
                seed=seed,
                truth_patients=0,
                aux_replicates=0,
                out=str(root / sc.name / h),
                opts=opts,
            )
            if seed is None:  # fresh entropy: every later run shares the first one's
                seed = int(run.entropy)
            x, labels, power = design_statistics(run.analyses)
            failed[h] = int(np.sum(~np.all(np.isfinite(x), axis=1)))
            samples[h] = x
            p = power.assign(
                hypothesis=h,
                mean_estimate=np.nanmean(x, axis=0),
                sd_estimate=np.nanstd(x, axis=0, ddof=1),
            )
            preds.append(p.rename_axis("statistic").reset_index())
        res = discriminate(samples, weights=weights, threshold=threshold)
        results.append(
            DesignDiscrimination(
                sc.name, res, labels, pd.concat(preds, ignore_index=True), failed, int(seed)
            )
        )
    return results


def summary_table(results: list[DesignDiscrimination]) -> pd.DataFrame:
    """One row per design: accuracy, decisive rate (± MC SE) and the truth's mean posterior."""
    rows = []
    for r in results:
        d = r.result
        row = {
            "design": r.name,
            "statistics": len(r.statistics),
            "trials_per_hypothesis": int(d.n.min()),
            "accuracy": d.accuracy,
            "accuracy_se": d.accuracy_se,
            "decisive": d.decisive,
            "decisive_se": d.decisive_se,
            "chance": 1.0 / len(d.hypotheses),
        }
        for h, p in zip(d.hypotheses, d.mean_posterior, strict=True):
            row[f"posterior_if_{h}"] = float(p)
        rows.append(row)
    return pd.DataFrame(rows)


def confusion_table(results: list[DesignDiscrimination]) -> pd.DataFrame:
    """Long table: design, true hypothesis, chosen (MAP) hypothesis, fraction of trials."""
    rows = []
    for r in results:
        d = r.result
        for i, t in enumerate(d.hypotheses):
            for j, g in enumerate(d.hypotheses):
                rows.append(
                    {"design": r.name, "true": t, "chosen": g, "fraction": d.confusion[i, j]}
                )
    return pd.DataFrame(rows)
