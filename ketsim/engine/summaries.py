"""Power summaries: true effects and the power, endpoint, weekly, subgroup and trial tables; sweep
surfaces.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ketsim.analysis.analyses import ESTIMATE_SCALES
from ketsim.analysis.analyses import ID_COLUMNS as ANALYSIS_ID_COLUMNS
from ketsim.config.scenario import Scenario
from ketsim.core.seeds import TRUTH_REPLICATE
from ketsim.engine.chunks import (
    simulate_chunk,
)
from ketsim.engine.intervals import clopper_pearson_interval, wilson_interval
from ketsim.engine.variants import (
    resize_scenario,
)
from ketsim.sim.design import compile_timeline

#: what identifies an analysis row (the replicate aside): the power table's grouping
_GROUP_KEYS = [*ANALYSIS_ID_COLUMNS, "alternative", "alpha"]
#: columns of the power table (documented in README "Power tables")
POWER_COLUMNS = [
    *_GROUP_KEYS,
    "hypothesis",
    "scale",
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
    "coverage_nominal",
    "coverage_mc_se",
    "mean_ratio",
    "true_ratio",
    "mean_n_treatment",
    "mean_n_control",
    "flags",
]

#: a failure rate above this is flagged (the failed fits count as "not rejected")
FAILED_FLAG = 0.01
#: coverage further than this many MC SEs from its nominal level is flagged
COVERAGE_FLAG_SE = 3.0


# -- true effects and the power summary ------------------------------------------------------------
def true_effects(sc: Scenario, entropy: int, patients: int, piece: int = 0) -> pd.DataFrame:
    """Every analysis' estimate in one very large trial of the scenario: the true effect.

    The trial is the scenario scaled up to about ``patients`` patients (at least its own size),
    simulated on the replicate stream ``TRUTH_REPLICATE + piece`` (:data:`TRUTH_REPLICATE`), which
    no power replicate uses. Its estimate converges to the estimand of the analysis under the
    declared strategy (including dropout and discontinuation); its SE is reported as
    ``true_effect_se``. A truth trial too large for one worker runs as several ``piece`` s
    (:mod:`ketsim.engine.extra_work`), combined by :func:`combine_truth_pieces`.
    """
    total = total_patients(sc)
    big = resize_scenario(sc, factor=max(1.0, patients / total)) if patients > total else sc
    t = simulate_chunk(big, entropy, [TRUTH_REPLICATE + int(piece)])["analyses"]
    keep = ["analysis_id", "comparison", "estimate", "se"]
    return t[keep].rename(columns={"estimate": "true_effect", "se": "true_effect_se"})


def combine_truth_pieces(pieces: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """The true effects of equal-sized truth-trial pieces: mean estimate, SE ``sqrt(sum se^2)/K``.

    Equal weights rather than inverse-variance ones: the pieces have the same size, and weights
    estimated from each piece's own SE would correlate with its estimate (e.g. proportions). One
    piece is returned unchanged, bit for bit. A row missing or undefined (NaN) in any piece is NaN.
    """
    if len(pieces) == 1:
        return pieces[0].reset_index(drop=True)
    keys = ["analysis_id", "comparison"]
    stacked = pd.concat(
        [p.assign(_piece=k) for k, p in enumerate(pieces)], ignore_index=True
    ).sort_values([*keys, "_piece"], kind="stable")
    g = stacked.groupby(keys, sort=False)
    k = g["true_effect"].count()  # non-NaN estimates
    out = g.agg(
        true_effect=("true_effect", "mean"),
        s2=("true_effect_se", lambda v: float(np.sum(np.square(v.to_numpy(float))))),
    )
    complete = (k == len(pieces)).to_numpy()
    out["true_effect"] = np.where(complete, out["true_effect"].to_numpy(float), np.nan)
    out["true_effect_se"] = np.where(
        complete, np.sqrt(out["s2"].to_numpy(float)) / len(pieces), np.nan
    )
    order = pieces[0][keys]
    return order.merge(out.drop(columns="s2").reset_index(), on=keys, how="left")


def total_patients(sc: Scenario) -> int:
    """Patients enrolled in one trial of the scenario (all arms, sequences or the run-in)."""
    d = sc.design
    if d.type == "crossover":
        return int(sum(d.crossover.sizes(len(compile_timeline(sc).groups))))
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
    if "conf_level" not in df:
        df["conf_level"] = np.nan  # tables from before the column: nominal coverage unknown
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
        conf_level=("conf_level", "first"),
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
        nominal = s["conf_level"].to_numpy(float)
        out["coverage_nominal"] = nominal
        out["coverage_mc_se"] = np.sqrt(nominal * (1 - nominal) / k)
        scales = [ESTIMATE_SCALES.get(m, ("estimate", False)) for m in s["method"]]
        out["scale"] = [
            "first-order carry-over difference (crossover model)"
            if str(c).startswith("carry-over")
            else label
            for (label, _), c in zip(scales, s["comparison"], strict=True)
        ]
        is_ratio = np.array([r for _, r in scales], dtype=bool)
        out["mean_ratio"] = np.where(is_ratio, np.exp(mean), np.nan)
        out["true_ratio"] = np.where(is_ratio, np.exp(s["true_effect"].to_numpy(float)), np.nan)
        out["mean_n_treatment"] = s["mean_n_treatment"]
        out["mean_n_control"] = s["mean_n_control"]
    out["flags"] = _flags(out)
    return out[POWER_COLUMNS].reset_index(drop=True)


def _flags(out: pd.DataFrame) -> list[str]:
    """Warnings a statistician must see beside each power: failed fits, off-nominal coverage."""
    flags = []
    for failed, cov, nominal, cse in zip(
        out["failed"], out["coverage"], out["coverage_nominal"], out["coverage_mc_se"], strict=True
    ):
        f = []
        if failed > FAILED_FLAG:
            f.append(f"{100 * failed:.1f}% of fits failed (counted as not rejected)")
        if np.isfinite(cov) and np.isfinite(cse) and abs(cov - nominal) > COVERAGE_FLAG_SE * cse:
            side = "below" if cov < nominal else "above"
            f.append(
                f"CI coverage {cov:.3f} {side} nominal {nominal:.2f} "
                f"(beyond {COVERAGE_FLAG_SE:g} MC SE)"
            )
        flags.append("; ".join(f))
    return flags


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
