"""Time-to-event comparison per replicate: the log-rank test with the Peto log hazard ratio.

Conventions are those of :mod:`ketsim.core.stats`.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.stats._batched import (
    _as_1d_float,
    _check_alternative,
    _check_conf_level,
    _group_codes,
    _rep_index,
    _rep_starts,
)
from ketsim.core.stats.estimates import Estimate, wald_estimate

__all__ = ["logrank"]


def logrank(
    time: np.ndarray,
    event: np.ndarray,
    group: np.ndarray,
    rep: np.ndarray,
    n_rep: int,
    *,
    alternative: str = "two-sided",
    conf_level: float = 0.95,
) -> Estimate:
    """Log-rank test per replicate with the Peto one-step log hazard ratio.

    Patients are sorted once by ``(rep, time)``; at each distinct event/censoring time of a
    replicate the deaths and the numbers at risk per group follow from reverse cumulative
    counts within the replicate. Tied times are handled with the hypergeometric variance
    ``d (n1/n)(1 - n1/n)(n - d)/(n - 1)``; censoring at an event time counts as still at risk.

    Parameters
    ----------
    time : (P,) float
        Event or censoring time; NaN = missing.
    event : (P,) float
        1 = event, 0 = censored; NaN = missing.
    group : (P,) int
        0 = control, 1 = treatment.
    rep, n_rep
        Replicate of each patient and number of replicates R.
    alternative, conf_level
        See :mod:`ketsim.core.stats.estimates`; ``"less"``: hazard lower on treatment.

    Returns
    -------
    Estimate
        ``statistic`` = signed ``z = (O1 - E1) / sqrt(V)`` for the treatment group (the
        log-rank chi-square is ``z**2``, also in ``extra["chi2"]``), ``df = inf``;
        ``estimate`` = Peto one-step log hazard ratio ``(O1 - E1) / V`` with ``se = 1/sqrt(V)``
        (so ``estimate / se = z``; the estimate is good for hazard ratios near 1 and balanced
        arms and biased towards 0 for large effects). ``extra`` also has ``"observed"`` (O1),
        ``"expected"`` (E1), ``"variance"`` (V). Replicates with no events or an empty arm
        (V = 0) are NaN / not converged.

    References
    ----------
    Mantel N (1966). Evaluation of survival data and two new rank order statistics arising in
    its consideration. Cancer Chemother Rep 50:163-170.
    Peto R, Pike MC, Armitage P, et al. (1977). Design and analysis of randomized clinical
    trials requiring prolonged observation of each patient. II. Br J Cancer 35:1-39.
    Berry G, Kitchin RM, Mock PA (1991). A comparison of two simple hazard ratio estimators
    based on the logrank test. Stat Med 10:749-755.
    """
    _check_alternative(alternative)
    _check_conf_level(conf_level)
    time = _as_1d_float(time, "time")
    event = _as_1d_float(event, "event")
    if event.shape != time.shape:
        raise ValueError("time and event must have the same shape")
    r = _rep_index(rep, n_rep, time.size)
    g = _group_codes(group, time.size)
    keep = ~np.isnan(time) & ~np.isnan(event)
    if np.any((event[keep] != 0) & (event[keep] != 1)):
        raise ValueError("event must contain only 0, 1 or NaN")
    time, event, g, r = time[keep], event[keep], g[keep], r[keep]
    N = time.size

    order = np.lexsort((time, r))
    rs, ts, es, gs = r[order], time[order], event[order], g[order]
    n_r = np.bincount(rs, minlength=n_rep)
    n1_r = np.bincount(rs, gs, minlength=n_rep)
    start = _rep_starts(n_r)
    new = np.ones(N, dtype=bool)
    new[1:] = (rs[1:] != rs[:-1]) | (ts[1:] != ts[:-1])
    run_start = np.flatnonzero(new)
    run_id = np.cumsum(new) - 1
    d = np.bincount(run_id, es)
    d1 = np.bincount(run_id, es * gs)
    rr = rs[run_start]
    # at risk at a run = patients of the replicate whose time is >= the run's time, i.e. all
    # those not sorted before the run within the replicate
    cum1 = np.zeros(N + 1)
    np.cumsum(gs, out=cum1[1:])
    at_risk = (n_r[rr] - (run_start - start[rr])).astype(float)
    at_risk1 = n1_r[rr] - (cum1[run_start] - cum1[start[rr]])
    with np.errstate(all="ignore"):
        frac = at_risk1 / at_risk
        e1 = d * frac
        v = np.where(at_risk > 1, d * frac * (1 - frac) * (at_risk - d) / (at_risk - 1), 0.0)
    O1 = np.bincount(rr, d1, minlength=n_rep)
    E1 = np.bincount(rr, e1, minlength=n_rep)
    V = np.bincount(rr, v, minlength=n_rep)
    ok = V > 0
    with np.errstate(all="ignore"):
        est = (O1 - E1) / V
        se = 1.0 / np.sqrt(V)
        chi2 = (O1 - E1) ** 2 / V
    return wald_estimate(
        est,
        se,
        np.inf,
        ok,
        alternative=alternative,
        conf_level=conf_level,
        name="logrank",
        scale="log hazard ratio (Peto)",
        statistic_name="z",
        extra={
            "chi2": np.where(ok, chi2, np.nan),
            "observed": O1,
            "expected": E1,
            "variance": V,
        },
    )
