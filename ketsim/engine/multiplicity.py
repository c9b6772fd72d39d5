"""Power under multiplicity across analyses (``statistics.multiplicity``): per hypothesis, and
disjunctive (at least one rejected) and conjunctive (all rejected) power.

Each listed analysis is one hypothesis; its replicate p-values (``p_adjusted``: after any
adjustment across the analysis' own comparisons) go through the declared procedure
(:func:`ketsim.core.stats.graphical.graphical_adjust` for the Bonferroni-based graphs,
:func:`ketsim.core.stats.hochberg` for Hochberg), at the family-wise level ``alpha``.

Table ``multiplicity`` (one row per hypothesis, then ``any`` and ``all``): ``hypothesis``,
``analysis_id`` and ``analysis`` (NaN / the combination for the last two rows), ``method``,
``alpha``, ``replicates``, ``power_unadjusted`` (each analysis at ``alpha`` alone), ``power``
after the procedure, ``mc_se``, ``wilson_low``, ``wilson_high``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketsim.config.scenario import Scenario
from ketsim.core import stats
from ketsim.core.stats import graphical as gr
from ketsim.engine.intervals import wilson_interval

__all__ = ["multiplicity_p", "summarise_multiplicity"]


def multiplicity_p(p: np.ndarray, sc: Scenario) -> np.ndarray:
    """Adjusted p-values ``(R, m)`` of ``sc.statistics.multiplicity`` for p-values ``(R, m)``."""
    spec = sc.statistics.multiplicity
    m = p.shape[1]
    if spec.method == "hochberg":
        return stats.adjust(np.where(np.isnan(p), 1.0, p), "hochberg")
    if spec.method == "holm":
        w, g = gr.holm_graph(m)
    elif spec.method == "bonferroni":
        w, g = np.full(m, 1.0 / m), np.zeros((m, m))
    elif spec.method == "fixed_sequence":
        w, g = gr.fixed_sequence_graph(m)
    elif spec.method == "fallback":
        w, g = gr.fallback_graph(spec.weights if spec.weights is not None else np.full(m, 1 / m))
    else:
        w, g = np.asarray(spec.weights, float), np.asarray(spec.transitions, float)
    return gr.graphical_adjust(p, w, g)


def summarise_multiplicity(
    analyses: pd.DataFrame, sc: Scenario, hypothesis: str = "alternative"
) -> pd.DataFrame:
    """Per-hypothesis, disjunctive and conjunctive power of the multiplicity procedure.

    Parameters
    ----------
    analyses : per-replicate analysis rows (the run's ``replicates`` table).
    sc : the scenario with ``statistics.multiplicity``.
    hypothesis : ``alternative`` or ``null`` (then the rates are type-I errors; ``any`` is the
        family-wise error rate).
    """
    spec = sc.statistics.multiplicity
    if spec is None or analyses.empty:
        return pd.DataFrame()
    ids = list(spec.analyses) if spec.analyses is not None else list(range(len(sc.analyses)))
    alpha = spec.alpha if spec.alpha is not None else sc.statistics.alpha
    rows = analyses[~analyses["comparison"].astype(str).str.startswith("carry-over")]
    reps = np.unique(rows["replicate"].to_numpy())
    p = np.full((reps.size, len(ids)), np.nan)
    labels = []
    for j, i in enumerate(ids):
        a = rows[rows["analysis_id"] == i]
        comps = a["comparison"].unique()
        if len(comps) != 1:
            raise ValueError(
                f"statistics.multiplicity: analysis {i} has {len(comps)} comparisons; each "
                "hypothesis must be one comparison (set 'compare' to one arm)"
            )
        p[np.searchsorted(reps, a["replicate"].to_numpy()), j] = a["p_adjusted"].to_numpy(float)
        labels.append(f"{a['analysis'].iloc[0]}: {comps[0]}")
    q = multiplicity_p(p, sc)
    rej = q <= alpha
    raw = np.nan_to_num(p, nan=1.0) < alpha
    R = reps.size
    cols = [(f"H{j + 1}", i, labels[j], raw[:, j], rej[:, j]) for j, i in enumerate(ids)]
    cols.append(("any", np.nan, "at least one rejected", raw.any(1), rej.any(1)))
    cols.append(("all", np.nan, "all rejected", raw.all(1), rej.all(1)))
    out = []
    for name, i, label, r0, r in cols:
        x = float(r.sum())
        wl, wh = wilson_interval(np.array([x]), np.array([R]), 0.95)
        pw = x / R
        out.append(
            {
                "hypothesis": name,
                "analysis_id": i,
                "analysis": label,
                "method": spec.method,
                "alpha": alpha,
                "null": hypothesis == "null",
                "replicates": R,
                "power_unadjusted": float(r0.mean()),
                "power": pw,
                "mc_se": float(np.sqrt(pw * (1 - pw) / R)),
                "wilson_low": float(wl[0]),
                "wilson_high": float(wh[0]),
            }
        )
    return pd.DataFrame(out)
