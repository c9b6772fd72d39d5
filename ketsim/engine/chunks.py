"""Tidy per-chunk tables: simulate a chunk of replicates (trial model or normal reference) into
trial, weekly, subgroup, analysis and endpoint tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketsim.analysis.analyses import COLUMNS, analyse_trials, endpoint_summaries
from ketsim.analysis.interim import interim_analyses
from ketsim.config.scenario import Scenario
from ketsim.core.seeds import stream
from ketsim.sim.trial import AE_EVENTS, TrialArrays, TrialModel, trial_arrays


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


def _chunk_tables(
    ta, scenario: Scenario, enrolment_day: np.ndarray | None = None
) -> dict[str, pd.DataFrame]:

    analyses = analyse_trials(ta, scenario)
    return {
        "analyses": analyses,
        "endpoints": endpoint_summaries(ta, scenario),
        "trial": _trial_table(ta, scenario),
        "weekly": _weekly_table(ta),
        "subgroups": _subgroup_table(ta, scenario),
        "interim": interim_analyses(ta, scenario, analyses, enrolment_day),
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
    within each patient stratum, :data:`ketsim.sim.trial.STRATA`) and ``interim`` (the primary
    analysis at each look of ``statistics.interim``, :func:`interim_analyses`; else empty).
    """

    m = TrialModel(scenario, entropy, list(replicates), with_agents=False)
    m.run_model()
    ta = trial_arrays(m)
    enrol = np.asarray(m.enrolment_day, float)
    return _chunk_tables(ta, scenario, enrol if enrol.size == ta.n else None)


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
