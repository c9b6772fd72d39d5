"""Interim looks of a group-sequential design: the primary analysis on the data of each look.

For ``statistics.interim`` (:class:`~ketsim.config.schema.analysis.InterimSpec`) every replicate's
primary analysis is run again at each interim look, on the patients whose data the look has:

information fractions
    the first ``ceil(t n_g)`` patients of each randomised group ``g`` (arm; sequence in a
    crossover) in enrolment order (patient index), with their complete follow-up. Without
    recruitment over time this is the approximation "the fraction ``t`` of patients has completed
    follow-up".
calendar weeks
    the patients whose follow-up is complete by the look: ``enrolment day + follow-up <= 7 w``
    (follow-up: ``follow_up_weeks``, default the baseline days plus the diary). Patients still in
    follow-up are left out (a completers analysis); the look's information fraction is the share
    of the ``n`` patients analysed.

The final look is the primary analysis on all patients (the ``analyses`` table). Every row
carries the look's information fraction ``info``, the patients analysed ``n_analysed``, the
patients enrolled by then ``n_enrolled`` and its calendar day ``look_day`` (NaN without
recruitment over time). Stopping rules are applied by :mod:`ketsim.engine.group_sequential`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ketsim.analysis.analyses import analyse_trials

if TYPE_CHECKING:
    from ketsim.config.scenario import Scenario
    from ketsim.sim.trial import TrialArrays

__all__ = ["INTERIM_COLUMNS", "follow_up_days", "interim_analyses"]

#: columns of the interim table (one row per replicate x look x comparison)
INTERIM_COLUMNS = [
    "replicate",
    "look",
    "analysis_id",
    "comparison",
    "alternative",
    "estimate",
    "p_adjusted",
    "alpha",
    "info",
    "n_analysed",
    "n_enrolled",
    "look_day",
]


def follow_up_days(ta: TrialArrays, sc: Scenario) -> float:
    """Days from a patient's enrolment to complete follow-up (calendar looks)."""
    spec = sc.statistics.interim
    if spec is not None and spec.follow_up_weeks is not None:
        return 7.0 * spec.follow_up_weeks
    return float(ta.baseline_days + max(int(np.max(ta.days)), 0))


def interim_analyses(
    ta: TrialArrays,
    sc: Scenario,
    analyses: pd.DataFrame,
    enrolment_day: np.ndarray | None = None,
) -> pd.DataFrame:
    """The primary analysis at every look of ``sc.statistics.interim`` (final look included).

    Parameters
    ----------
    ta : the batch's patient arrays.
    sc : the scenario (with ``statistics.interim``; otherwise an empty table is returned).
    analyses : the batch's analyses table (:func:`analyse_trials`): the final look.
    enrolment_day : (P,) calendar day of each patient's enrolment (None: all at day 0).

    Returns
    -------
    pandas.DataFrame
        :data:`INTERIM_COLUMNS`; a replicate with no patient at a look has no row there.
    """
    spec = sc.statistics.interim
    if spec is None or not sc.analyses or ta.n == 0:
        return pd.DataFrame(columns=INTERIM_COLUMNS)
    pid = sc.primary_analysis()
    one = sc.model_copy(update={"analyses": [sc.analyses[pid]]})
    reps, codes = np.unique(ta.replicate, return_inverse=True)
    n_per = np.bincount(codes)
    enrol = np.zeros(ta.n) if enrolment_day is None else np.asarray(enrolment_day, float)
    recruits = enrolment_day is not None and bool(np.any(enrol > 0))
    done = enrol + follow_up_days(ta, sc)  # calendar day each patient's follow-up is complete

    def per_rep(x: np.ndarray, how: str) -> np.ndarray:
        out = np.full(reps.size, -np.inf if how == "max" else 0.0)
        if how == "max":
            np.maximum.at(out, codes, x)
        else:
            np.add.at(out, codes, x)
        return out

    # rank of each patient within its replicate and group, in enrolment order
    cell = codes * (int(ta.group.max()) + 1 if ta.n else 1) + ta.group
    order = np.lexsort((ta.patient, cell))
    size = np.bincount(cell)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.empty(ta.n, np.int64)
    rank[order] = np.arange(ta.n) - start[cell[order]]
    frames = []
    looks = spec.interim_looks
    for j, look in enumerate(looks):
        if spec.information is not None:
            keep = rank < np.ceil(look * size[cell] - 1e-9)
            day = per_rep(np.where(keep, done, -np.inf), "max") if recruits else np.nan
        else:
            day = np.full(reps.size, 7.0 * look)
            keep = done <= day[codes]
        n_an = per_rep(keep.astype(float), "sum")
        n_en = per_rep((enrol <= np.broadcast_to(day, reps.shape)[codes]).astype(float), "sum")
        meta = pd.DataFrame(
            {
                "replicate": reps,
                "info": n_an / n_per,
                "n_analysed": n_an.astype(np.int64),
                "n_enrolled": np.where(recruits, n_en, n_per).astype(np.int64),
                "look_day": day if recruits else np.nan,
            }
        )
        if not keep.any():
            continue
        rows = analyse_trials(ta.take(keep), one).assign(analysis_id=pid)
        frames.append(rows.merge(meta, on="replicate").assign(look=j))
    final = analyses[analyses["analysis_id"] == pid]
    final = final[~final["comparison"].astype(str).str.startswith("carry-over")]
    meta = pd.DataFrame(
        {
            "replicate": reps,
            "info": 1.0,
            "n_analysed": n_per.astype(np.int64),
            "n_enrolled": n_per.astype(np.int64),
            "look_day": per_rep(done, "max") if recruits else np.nan,
        }
    )
    frames.append(final.merge(meta, on="replicate").assign(look=len(looks)))
    out = pd.concat(frames, ignore_index=True)
    out = out[~out["comparison"].astype(str).str.startswith("carry-over")]
    return out[INTERIM_COLUMNS].sort_values(["replicate", "look"], kind="stable")
