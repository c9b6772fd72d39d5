"""Run a scenario's declared analyses on every replicate trial of a batch at once.

For each ``analyses[i]`` of the scenario: build the endpoint under the analysis' intercurrent-event
strategy (ICH E9(R1)), compare each arm with the control by the declared method (vectorised across
replicates, :mod:`ketsim.core.stats`), adjust for multiplicity across the compared arms, and
return one tidy row per replicate x analysis x comparison.

Strategies
----------
treatment_policy
    Every recorded value counts, whether or not treatment was stopped; values missing after
    dropout are left out (complete cases; MMRM uses every recorded visit).
hypothetical
    "As if treatment had not been stopped": entries after discontinuation are removed and the
    missing values are treated as missing at random by the MMRM (or the crossover mixed model).
composite
    Binary endpoints: discontinuation for adverse events, or dropout, before the assessment counts
    as non-response.
bocf
    Baseline observation carried forward: after discontinuation or dropout, the endpoint takes the
    patient's baseline value (change 0, non-response).

References
----------
ICH E9(R1) addendum on estimands and sensitivity analysis in clinical trials (2019).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ketsim.analysis.endpoints import (
    EndpointData,
    compute_endpoint,
    hypothetical_diary,
    start_days,
    weekly_matrix,
)
from ketsim.core import stats
from ketsim.core.stats.estimates import Estimate, wald_estimate
from ketsim.sim.design import control_and_compare

if TYPE_CHECKING:
    from ketsim.config.scenario import AnalysisSpec, EndpointSpec, Scenario
    from ketsim.sim.trial import TrialArrays

__all__ = ["COLUMNS", "ID_COLUMNS", "alternative_for", "analyse_trials", "endpoint_summaries"]

#: what identifies a row besides its replicate: the analysis and the comparison
ID_COLUMNS = [
    "analysis_id",
    "analysis",
    "endpoint",
    "method",
    "strategy",
    "comparison",
    "control",
]
#: what each method's ``estimate`` is (treatment vs control) and whether it is the log of a
#: ratio (then tables also show it back-transformed); labels shared by power.csv, CLI and report
ESTIMATE_SCALES: dict[str, tuple[str, bool]] = {
    "t_test": ("difference in means", False),
    "welch": ("difference in means", False),
    "ancova": ("adjusted difference in means", False),
    "mmrm": ("difference in means at the visit (MMRM)", False),
    "crossover": ("within-patient difference (crossover model)", False),
    "wilcoxon": ("Hodges-Lehmann shift", False),
    "fisher": ("risk difference", False),
    "chi2": ("risk difference", False),
    "chi2_yates": ("risk difference", False),
    "logistic": ("log odds ratio", True),  # Firth-penalised by default (logistic_fit)
    "logrank": ("log hazard ratio", True),
}

COLUMNS = [
    "replicate",
    *ID_COLUMNS,
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "conf_level",
    "statistic",
    "df",
    "p_value",
    "p_adjusted",
    "alpha",
    "alternative",
    "reject",
    "n_treatment",
    "n_control",
    "converged",
]


def alternative_for(ep: EndpointSpec, sides: int) -> str:
    """Test direction: two-sided, or one-sided towards benefit (less pain, more responders and
    session relief, later relapse; more adverse events or dropouts on treatment)."""
    if sides == 2:
        return "two-sided"
    benefit_up = ("responder", "adverse_event", "dropout", "session_relief", "peak_session_relief")
    if ep.type in benefit_up:
        return "greater"
    return "less"  # pain endpoints: lower on treatment; relapse: hazard ratio < 1


def model_words(a: AnalysisSpec) -> str:
    """The analysis' method with its model details: MMRM covariance, multiplicity and, for a
    crossover, which model it is (``crossover with carry-over term`` or ``crossover without
    carry-over term``): both print as rows of the same method, so each must say which it is."""
    extra = ""
    if a.method == "mmrm":
        extra = f" {a.covariance}"
    if a.method == "crossover":
        extra += " with carry-over term" if a.carryover else " without carry-over term"
    if a.multiplicity != "none":
        extra += f", {a.multiplicity}"
    return f"{a.method}{extra}"


def _label(a: AnalysisSpec) -> str:
    return f"{a.endpoint} {model_words(a)} ({a.strategy})"


def find_analysis(sc: Scenario, key: str | int) -> int:
    """The index of an analysis named by its 0-based index, its endpoint (if only one analysis
    uses it) or its label (``"change_week12 mmrm unstructured (treatment_policy)"``).

    Raises
    ------
    ValueError
        Naming what is allowed.
    """
    labels = [_label(a) for a in sc.analyses]
    text = str(key).strip()
    if text.isdigit() and int(text) < len(labels):
        return int(text)
    if text in labels:
        return labels.index(text)
    by_endpoint = [i for i, a in enumerate(sc.analyses) if a.endpoint == text]
    if len(by_endpoint) == 1:
        return by_endpoint[0]
    allowed = ", ".join(f"{i} = {lab!r}" for i, lab in enumerate(labels))
    why = f"{len(by_endpoint)} analyses use endpoint {text!r}; " if by_endpoint else ""
    raise ValueError(f"{why}--analysis must be one of: {allowed}")


def _apply_strategy(d: EndpointData, a: AnalysisSpec, ep: EndpointSpec) -> np.ndarray:
    v = d.value.copy()
    before = d.ice_day <= d.end_day  # NaN compares False
    if a.strategy == "bocf":
        v = np.where(before, d.baseline_value, v)
        if ep.type == "time_to_relapse":
            raise ValueError("bocf is not defined for time-to-event endpoints")
    elif a.strategy == "composite":
        v = np.where(before, 0.0, v)
    return v


def _units(ta: TrialArrays, rep_codes: np.ndarray, d: EndpointData, v: np.ndarray):
    """Flatten (P, J) units: values, arms, replicate codes, baselines."""
    J = v.shape[1]
    return (
        v.reshape(-1),
        d.arm.reshape(-1),
        np.repeat(rep_codes, J),
        np.repeat(d.baseline, J),
    )


def _pairwise(
    a: AnalysisSpec,
    ep: EndpointSpec,
    y: np.ndarray,
    arm: np.ndarray,
    rep: np.ndarray,
    base: np.ndarray,
    n_rep: int,
    ctrl: int,
    k: int,
    alt: str,
    conf: float,
    event: np.ndarray | None,
    mm_y: np.ndarray | None,
) -> Estimate:
    sel = (arm == ctrl) | (arm == k)
    g = (arm[sel] == k).astype(np.int64)
    r = rep[sel]
    yy = y[sel]
    cov = base[sel][:, None] if "baseline" in a.covariates else np.empty((int(sel.sum()), 0))
    m = a.method
    if m in ("t_test", "welch"):
        return stats.two_sample_t(
            yy, g, r, n_rep, welch=m == "welch", alternative=alt, conf_level=conf
        )
    if m == "ancova":
        return stats.ancova(yy, g, cov, r, n_rep, alternative=alt, conf_level=conf)
    if m == "wilcoxon":
        return stats.mann_whitney(yy, g, r, n_rep, alternative=alt, conf_level=conf)
    if m in ("fisher", "chi2", "chi2_yates"):
        x1, n1, x0, n0 = stats.count_by_group(yy, g, r, n_rep)
        return stats.proportions(x1, n1, x0, n0, test=m, alternative=alt, conf_level=conf)
    if m == "logistic":
        ok = ~np.isnan(yy) & ~np.any(np.isnan(cov), axis=1)
        X = np.column_stack([np.ones(int(ok.sum())), g[ok], cov[ok]])
        return stats.logistic(
            yy[ok],
            X,
            r[ok],
            n_rep,
            coef=1,
            alternative=alt,
            conf_level=conf,
            firth=a.logistic_fit == "firth",
        )
    if m == "logrank":
        return stats.logrank(yy, event[sel], g, r, n_rep, alternative=alt, conf_level=conf)
    if m == "mmrm":
        return stats.mmrm(
            mm_y[sel],
            g,
            cov,
            r,
            n_rep,
            covariance=a.covariance,
            visit=mmrm_visit_index(a, ep),
            alternative=alt,
            conf_level=conf,
        )
    raise ValueError(f"unknown method {m!r}")  # pragma: no cover


def mmrm_visit_index(a: AnalysisSpec, ep: EndpointSpec) -> int:
    visits = a.visits or list(range(1, ep.week + 1))
    return sorted(visits).index(ep.week)


def _mmrm_matrix(ta: TrialArrays, a: AnalysisSpec, ep: EndpointSpec, nrs: np.ndarray) -> np.ndarray:
    visits = sorted(a.visits or range(1, ep.week + 1))
    wm = weekly_matrix(ta, visits, start_days(ta)[:, 0], nrs, ep.min_days_per_week)
    if ep.type == "change_from_baseline":
        wm = wm - ta.baseline[:, None]
    if a.strategy == "bocf":
        ice = ta.discontinued_day - start_days(ta)[:, 0]
        ice = np.fmin(ice, ta.dropout_day - start_days(ta)[:, 0])
        ends = 7.0 * np.asarray(visits, dtype=float)
        fill = 0.0 if ep.type == "change_from_baseline" else ta.baseline[:, None]
        wm = np.where(ice[:, None] <= ends[None, :], fill, wm)
    return wm


def analyse_trials(ta: TrialArrays, sc: Scenario) -> pd.DataFrame:
    """Every declared analysis on every replicate of a batch: one row per comparison.

    Columns: see :data:`COLUMNS`. ``p_adjusted`` is the multiplicity-adjusted p-value across the
    analysis' comparisons (equal to ``p_value`` without adjustment); ``reject`` compares it with
    ``alpha``.
    """
    reps, rep_codes = np.unique(ta.replicate, return_inverse=True)
    n_rep = reps.size
    eps = {e.name: e for e in sc.endpoints}
    frames = []
    hyp = None
    for i, a in enumerate(sc.analyses):
        ep = eps[a.endpoint]
        alpha = a.alpha if a.alpha is not None else sc.statistics.alpha
        sides = a.sides if a.sides is not None else sc.statistics.sides
        alt = alternative_for(ep, sides)
        conf = 1.0 - alpha * (3 - sides)
        nrs = ta.nrs
        if a.strategy == "hypothetical":
            if hyp is None:
                hyp = hypothetical_diary(ta)
            nrs = hyp
        d = compute_endpoint(ta, ep, sc, nrs)
        v = _apply_strategy(d, a, ep)
        ctrl, comp = control_and_compare(sc, a)
        names = [x.name for x in sc.arms]
        carry: list[Estimate] = []
        if a.method == "crossover":
            ests, carry = _crossover(ta, d, v, rep_codes, n_rep, ctrl, comp, a, alt, conf)
            counts = [_count_units(d.arm, v, rep_codes, n_rep, [k, ctrl]) for k in comp]
        else:
            y, arm, rep, base = _units(ta, rep_codes, d, v)
            mm_y = _mmrm_matrix(ta, a, ep, nrs) if a.method == "mmrm" else None
            if a.multiplicity == "dunnett" or (a.method == "ancova" and len(comp) > 1):
                ests = _multiarm_ols(a, y, arm, rep, base, n_rep, ctrl, comp, alt, conf)
            else:
                ests = [
                    _pairwise(a, ep, y, arm, rep, base, n_rep, ctrl, k, alt, conf, d.event, mm_y)
                    for k in comp
                ]
            counts = [_count_units(d.arm, v, rep_codes, n_rep, [k, ctrl]) for k in comp]
        p = np.column_stack([np.asarray(e.p_value, float) for e in ests])
        if a.multiplicity == "none" or len(comp) == 1:
            p_adj = p
        elif a.multiplicity == "dunnett":
            e0 = ests[0]
            p_adj = stats.dunnett(
                np.column_stack([e.statistic for e in ests]),
                e0.df,
                e0.extra["corr"],
                alternative=alt,
            )
        else:
            p_adj = stats.adjust(p, a.multiplicity)
        # carry-over terms (crossover): reported as extra comparisons, two-sided, unadjusted
        todo = [
            (names[k], e, p_adj[:, j], counts[j])
            for j, (k, e) in enumerate(zip(comp, ests, strict=True))
        ]
        todo += [
            (f"carry-over {names[k]}", e, e.p_value, counts[j])
            for j, (k, e) in enumerate(zip(comp, carry, strict=False))
        ]
        for label, e, pa, cnt in todo:
            k_alt = e.alternative if label.startswith("carry-over") else alt
            frames.append(
                pd.DataFrame(
                    {
                        "replicate": reps,
                        "analysis_id": i,
                        "analysis": _label(a),
                        "endpoint": ep.name,
                        "method": a.method,
                        "strategy": a.strategy,
                        "comparison": label,
                        "control": names[ctrl],
                        "estimate": e.estimate,
                        "se": e.se,
                        "ci_low": e.ci_low,
                        "ci_high": e.ci_high,
                        "conf_level": conf,
                        "statistic": e.statistic,
                        "df": np.broadcast_to(np.asarray(e.df, float), reps.shape),
                        "p_value": e.p_value,
                        "p_adjusted": pa,
                        "alpha": alpha,
                        "alternative": k_alt,
                        "reject": np.where(np.isnan(pa), False, pa < alpha),
                        "n_treatment": cnt[0],
                        "n_control": cnt[1],
                        "converged": np.broadcast_to(np.asarray(e.converged, bool), reps.shape),
                    }
                )
            )
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def _count_units(arm, v, rep_codes, n_rep, arms) -> list[np.ndarray]:
    J = v.shape[1]
    rep = np.repeat(rep_codes, J)
    a = arm.reshape(-1)
    ok = ~np.isnan(v.reshape(-1))
    return [np.bincount(rep[ok & (a == k)], minlength=n_rep) for k in arms]


def _multiarm_ols(a, y, arm, rep, base, n_rep, ctrl, comp, alt, conf) -> list[Estimate]:
    """One common-variance model over the control and every compared arm (Dunnett-ready)."""
    sel = np.isin(arm, [ctrl, *comp])
    code = np.zeros(arm.size, np.int64)
    for j, k in enumerate(comp, start=1):
        code[arm == k] = j
    covs = (
        base[sel][:, None]
        if (a.method == "ancova" and "baseline" in a.covariates)
        else np.empty((int(sel.sum()), 0))
    )
    e = stats.ancova(y[sel], code[sel], covs, rep[sel], n_rep, alternative=alt, conf_level=conf)
    return _split(e)


def _split(e: Estimate) -> list[Estimate]:
    """Split an (R, K) Estimate into K (R,) Estimates (keeping the correlation for Dunnett)."""
    est = np.asarray(e.estimate)
    if est.ndim == 1:
        return [e]
    cov = e.extra.get("cov")
    corr = None if cov is None else stats.cov_to_corr(cov)
    out = []
    for k in range(est.shape[1]):
        out.append(
            Estimate(
                estimate=est[:, k],
                se=np.asarray(e.se)[:, k],
                statistic=np.asarray(e.statistic)[:, k],
                df=np.asarray(e.df) if np.ndim(e.df) < 2 else np.asarray(e.df)[:, k],
                p_value=np.asarray(e.p_value)[:, k],
                ci_low=np.asarray(e.ci_low)[:, k],
                ci_high=np.asarray(e.ci_high)[:, k],
                converged=np.asarray(e.converged)
                if np.ndim(e.converged) < 2
                else np.asarray(e.converged)[:, k],
                name=e.name,
                scale=e.scale,
                statistic_name=e.statistic_name,
                alternative=e.alternative,
                conf_level=e.conf_level,
                extra={"corr": corr},
            )
        )
    return out


def _crossover(
    ta, d, v, rep_codes, n_rep, ctrl, comp, a, alt, conf
) -> tuple[list[Estimate], list[Estimate]]:
    """Crossover mixed model over the units' periods; treatment codes: control 0, compared 1..K.

    Periods on arms outside the analysis are left out (set missing). Returns the treatment
    comparisons and (with ``carryover``) the carry-over estimates with two-sided tests."""
    code = np.full(d.arm.shape, -1, np.int64)
    code[d.arm == ctrl] = 0
    for j, k in enumerate(comp, start=1):
        code[d.arm == k] = j
    y = np.where(code >= 0, v, np.nan)
    e = stats.crossover(
        y,
        np.maximum(code, 0),
        ta.group,
        rep_codes,
        n_rep,
        control=0,
        carryover=a.carryover,
        alternative=alt,
        conf_level=conf,
    )
    carry: list[Estimate] = []
    if a.carryover:
        co = np.asarray(e.extra["carryover_estimate"], float).reshape(n_rep, -1)
        se = np.asarray(e.extra["carryover_se"], float).reshape(n_rep, -1)
        df = np.asarray(e.df, float).reshape(n_rep, -1)[:, 0]
        carry = [
            wald_estimate(
                co[:, k],
                se[:, k],
                df,
                np.ones(n_rep, bool),
                alternative="two-sided",
                conf_level=conf,
                name="carry-over",
                scale="difference",
                statistic_name="t",
            )
            for k in range(co.shape[1])
        ]
    return _split(e), carry


def endpoint_summaries(ta: TrialArrays, sc: Scenario) -> pd.DataFrame:
    """Per replicate, endpoint and arm: units, mean (or proportion/median time) and SD."""
    reps, rep_codes = np.unique(ta.replicate, return_inverse=True)
    names = [x.name for x in sc.arms]
    rows = []
    for ep in sc.endpoints:
        d = compute_endpoint(ta, ep, sc)
        J = d.value.shape[1]
        rep = np.repeat(rep_codes, J)
        y = d.value.reshape(-1)
        arm = d.arm.reshape(-1)
        for k, nm in enumerate(names):
            sel = (arm == k) & ~np.isnan(y)
            n = np.bincount(rep[sel], minlength=reps.size)
            s1 = np.bincount(rep[sel], weights=y[sel], minlength=reps.size)
            s2 = np.bincount(rep[sel], weights=y[sel] ** 2, minlength=reps.size)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = s1 / n
                sd = np.sqrt(np.maximum(s2 - n * mean**2, 0.0) / (n - 1))
            stat = "proportion" if ep.kind == "binary" else "mean"
            if ep.kind == "time_to_event":
                stat = "events"
                ev = np.bincount(rep[sel], weights=np.repeat(d.event, J)[sel], minlength=reps.size)
                mean = ev / np.maximum(n, 1)
            rows.append(
                pd.DataFrame(
                    {
                        "replicate": reps,
                        "endpoint": ep.name,
                        "arm": nm,
                        "statistic": stat,
                        "n": n,
                        "value": mean,
                        "sd": np.where(n > 1, sd, np.nan) if ep.kind == "continuous" else np.nan,
                    }
                )
            )
    if not rows:
        cols = ["replicate", "endpoint", "arm", "statistic", "n", "value", "sd"]
        return pd.DataFrame(columns=cols)
    return pd.concat(rows, ignore_index=True)
