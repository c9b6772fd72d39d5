"""Group-sequential operating characteristics from the replicates' interim looks.

Each replicate's primary analysis at every look (:func:`ketsim.analysis.interim.interim_analyses`)
is compared with the Lan–DeMets boundaries of the looks it actually had
(:func:`ketsim.core.stats.group_sequential.design`): the trial stops at the first look whose
nominal p-value crosses the efficacy boundary, or whose benefit-direction z falls below the
futility bound (non-binding; the simulated trial obeys it). Looks by calendar time have a
replicate-specific information fraction; the boundaries are recomputed for each distinct set of
fractions (Lan & DeMets 1983: only the fractions already observed enter each boundary). A look
with no new patient is skipped (it spends no alpha); one with every patient followed up is the
final analysis.

Tables
------
``group_sequential`` (per comparison and look): ``planned`` look (fraction or week), mean
``info``, mean ``efficacy_z`` / ``nominal_p`` and ``futility_z`` over the replicates that had the
look, ``p_efficacy`` / ``p_futility`` (probability of stopping there, with ``*_mc_se``),
``cumulative_power``, mean ``n_analysed`` and ``weeks`` of the look.
``group_sequential_summary`` (per comparison): overall ``power`` (with ``mc_se`` and Wilson
interval), ``p_stop_early``, ``expected_n`` (patients analysed at the stopping look),
``expected_n_enrolled``, ``expected_weeks`` (calendar duration, NaN without recruitment over
time), each with its MC SE, and ``fixed_power`` (the final analysis at the nominal alpha,
without looks) for comparison.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ketsim.analysis.analyses import alternative_for
from ketsim.config.scenario import Scenario
from ketsim.core.stats import group_sequential as gs
from ketsim.engine.intervals import wilson_interval

__all__ = ["summarise_group_sequential"]

_KEYS = ["analysis_id", "comparison"]


def _benefit_z(p: np.ndarray, est: np.ndarray, alternative: str, benefit: str) -> np.ndarray:
    """The z statistic signed towards benefit, from a p-value of the analysis' sidedness."""
    p = np.clip(p, 1e-300, 1.0)
    if alternative != "two-sided":
        return -ndtri(p)
    sign = np.where(est < 0, -1.0, 1.0) * (-1.0 if benefit == "less" else 1.0)
    return sign * -ndtri(p / 2.0)


def _boundaries(info: np.ndarray, sc: Scenario, alpha: float, sides: int):
    """Efficacy and futility z per replicate and look (NaN: the look did not happen)."""
    spec = sc.statistics.interim
    R, K = info.shape
    fut_plan = np.full(K, -np.inf)
    if spec.futility is not None:
        fut_plan[:-1] = spec.futility
    active = np.zeros((R, K), bool)
    last = np.zeros(R)
    for k in range(K - 1):  # interim looks with new information, below full information
        a = (info[:, k] > last + 1e-12) & (last < 1.0 - 1e-12)
        a &= info[:, k] < 1.0 - 1e-12
        active[:, k] = a
        last = np.where(a, info[:, k], last)
    # the final analysis: at the first look with full information, else the planned final look
    full = np.where(info >= 1.0 - 1e-12, np.arange(K), K)
    final = np.minimum(full.min(axis=1), K - 1)
    active[np.arange(R), final] = True
    active &= np.arange(K)[None, :] <= final[:, None]
    eff = np.full((R, K), np.nan)
    fut = np.full((R, K), np.nan)
    # replicates share boundaries when they share the looks' fractions: one design per pattern
    pattern = np.where(active, np.round(info, 12), -1.0)
    uniq, inv = np.unique(pattern, axis=0, return_inverse=True)
    for u, row in enumerate(uniq):
        on = row >= 0
        t = row[on].copy()
        t[-1] = 1.0
        f = fut_plan[np.flatnonzero(on)[:-1]]
        if spec.futility_beta is not None:
            d = gs.design(
                t, alpha, spec.spending, sides, beta=spec.futility_beta,
                beta_spending=spec.futility_spending,
            )  # fmt: skip
        else:
            d = gs.design(t, alpha, spec.spending, sides, f if f.size else None)
        sel = np.flatnonzero(inv.ravel() == u)
        eff[np.ix_(sel, np.flatnonzero(on))] = d.efficacy
        fut[np.ix_(sel, np.flatnonzero(on))] = d.futility
    return eff, fut, final


def _one(df: pd.DataFrame, sc: Scenario, planned: list[float], hyp: str) -> tuple[list, dict]:
    K = len(planned)
    reps = np.unique(df["replicate"].to_numpy())
    R = reps.size
    r_idx = np.searchsorted(reps, df["replicate"].to_numpy())
    k_idx = df["look"].to_numpy(int)

    def grid(col: str, fill: float) -> np.ndarray:
        out = np.full((R, K), fill, float)
        out[r_idx, k_idx] = df[col].to_numpy(float)
        return out

    p, est, info = grid("p_adjusted", np.nan), grid("estimate", np.nan), grid("info", 0.0)
    n_an, n_en, day = grid("n_analysed", 0.0), grid("n_enrolled", 0.0), grid("look_day", np.nan)
    alt = str(df["alternative"].iloc[0])
    alpha = float(df["alpha"].iloc[0])
    sides = 2 if alt == "two-sided" else 1
    ep = {e.name: e for e in sc.endpoints}[sc.analyses[int(df["analysis_id"].iloc[0])].endpoint]
    z = _benefit_z(p, est, alt, alternative_for(ep, 1))
    eff, fut, final = _boundaries(info, sc, alpha, sides)
    stat = np.abs(z) if sides == 2 else z
    ok = np.isfinite(z) & np.isfinite(eff)
    s_eff = ok & (stat >= eff)
    s_fut = ok & ~s_eff & (z < fut)
    cols = np.arange(K)[None, :]
    s_fin = cols == final[:, None]  # the final analysis always ends the trial
    stop = s_eff | s_fut | s_fin
    first = np.argmax(stop, axis=1)
    rows_ = np.arange(R)
    at = cols == first[:, None]
    e_at, f_at = (s_eff & at), (s_fut & at & (first != final)[:, None])
    rej = e_at.any(axis=1)
    looks = []
    cum = 0.0
    for k in range(K):
        had = np.isfinite(eff[:, k])
        pe, pf = e_at[:, k].mean(), f_at[:, k].mean()
        cum += pe
        with np.errstate(invalid="ignore"):
            looks.append(
                {
                    "look": k + 1,
                    "final": k == K - 1,
                    "planned": planned[k],
                    "replicates_with_look": int(had.sum()),
                    "info": float(np.mean(info[had, k])) if had.any() else np.nan,
                    "efficacy_z": float(np.mean(eff[had, k])) if had.any() else np.nan,
                    "nominal_p": float(np.mean(sides * ndtr(-eff[had, k])))
                    if had.any()
                    else np.nan,
                    "futility_z": float(np.mean(fut[had, k])) if had.any() else np.nan,
                    "p_efficacy": pe,
                    "p_efficacy_mc_se": float(np.sqrt(pe * (1 - pe) / R)),
                    "p_futility": pf,
                    "p_futility_mc_se": float(np.sqrt(pf * (1 - pf) / R)),
                    "cumulative_power": cum,
                    "n_analysed": float(np.mean(n_an[had, k])) if had.any() else np.nan,
                    "weeks": float(np.nanmean(day[had, k]) / 7.0)
                    if had.any() and np.isfinite(day[had, k]).any()
                    else np.nan,
                }
            )

    def mean_se(x: np.ndarray) -> tuple[float, float]:
        if not np.isfinite(x).all():
            return np.nan, np.nan
        return float(x.mean()), float(x.std(ddof=1) / np.sqrt(R)) if R > 1 else np.nan

    pw = float(rej.mean())
    wl, wh = wilson_interval(np.array([rej.sum()]), np.array([R]), 0.95)
    n_stop, en_stop, d_stop = n_an[rows_, first], n_en[rows_, first], day[rows_, first] / 7.0
    fin_p = p[rows_, K - 1]
    summary = {
        "hypothesis": hyp,
        "spending": sc.statistics.interim.spending,
        "alpha": alpha,
        "sides": sides,
        "replicates": R,
        "power": pw,
        "mc_se": float(np.sqrt(pw * (1 - pw) / R)),
        "wilson_low": float(wl[0]),
        "wilson_high": float(wh[0]),
        "p_stop_early": float((first < final).mean()),
        "p_stop_futility": float(f_at.any(axis=1).mean()),
        "expected_n": mean_se(n_stop)[0],
        "expected_n_mc_se": mean_se(n_stop)[1],
        "expected_n_enrolled": mean_se(en_stop)[0],
        "expected_n_enrolled_mc_se": mean_se(en_stop)[1],
        "expected_weeks": mean_se(d_stop)[0],
        "expected_weeks_mc_se": mean_se(d_stop)[1],
        "fixed_power": float(np.mean(np.nan_to_num(fin_p, nan=1.0) < alpha)),
    }
    return looks, summary


def summarise_group_sequential(
    interim: pd.DataFrame, sc: Scenario, hypothesis: str = "alternative"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-look and overall operating characteristics of ``sc.statistics.interim``.

    Parameters
    ----------
    interim : the interim table of a run (:data:`ketsim.analysis.interim.INTERIM_COLUMNS`).
    sc : the scenario (its ``statistics.interim``, primary analysis and endpoints).
    hypothesis : ``alternative`` or ``null`` (then ``power`` is the type-I error).

    Returns
    -------
    (looks, summary) : the ``group_sequential`` and ``group_sequential_summary`` tables (see the
        module docstring); empty without interim looks.
    """
    spec = sc.statistics.interim
    if spec is None or interim is None or interim.empty:
        return pd.DataFrame(), pd.DataFrame()
    planned = [*spec.interim_looks, 1.0 if spec.information is not None else np.nan]
    looks, summ = [], []
    for (aid, comp), df in interim.groupby(_KEYS, sort=False):
        lk, s = _one(df, sc, planned, hypothesis)
        ids = {"analysis_id": aid, "comparison": comp}
        looks += [{**ids, **r} for r in lk]
        summ.append({**ids, **s})
    return pd.DataFrame(looks), pd.DataFrame(summ)
