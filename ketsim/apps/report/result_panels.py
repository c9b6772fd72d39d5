"""Report panels about the results: power, power curve, weekly pain, responders, safety, strata,
sensitivity and provenance (the sweep
report's panels are in :mod:`ketsim.apps.report.sweep_panels`).
"""

from __future__ import annotations

import json

import numpy as np

from ketsim.analysis.analyses import model_words
from ketsim.apps.report.html_parts import (
    _e,
    _missing,
    _plt,
    _png,
    _section,
    _table,
)
from ketsim.apps.report.sequential_tables import sequential_tables
from ketsim.config.scenario import ScenarioError
from ketsim.sim.trial import STRATA
from ketsim.storage.reader import (
    RunTables,
)


def _power_panel(run: RunTables) -> str:
    p = run.table("power")
    if p is None or p.empty:
        return _missing("power", "Power", "no power table in this run")
    null = (p["hypothesis"] == "null").all()
    p = p.assign(
        comparison_=p["comparison"] + " v " + p["control"],
        model=_model_column(run, p),
        ci=[f"{a:.3f}–{b:.3f}" for a, b in zip(p["wilson_low"], p["wilson_high"], strict=True)],
    )
    cols = {
        "endpoint": "endpoint",
        "model": "method (model)",
        "strategy": "strategy",
        "comparison_": "comparison",
        "power": "type-I error" if null else "power",
        "mc_se": "MC SE",
        "ci": "95% Wilson",
        "mean_estimate": "mean estimate",
        "sd_estimate": "SD",
        "true_effect": "true effect",
        "bias": "bias",
        "coverage": "CI coverage",
        "failed": "failed fits",
    }
    if "scale" in p:  # runs written before the column have no scale or flags
        cols = {**cols, "scale": "scale", "mean_ratio": "geometric mean ratio"}
        cols["true_ratio"] = "true ratio"
    note = (
        "Power = share of simulated trials rejecting H0 (multiplicity-adjusted p below alpha; a "
        "failed fit counts as not rejecting). The true effect is the same analysis in one large "
        "simulated trial; bias = mean estimate − true effect. Ratio scales (odds and hazard "
        "ratios) are estimated on the log scale and also shown back-transformed."
    )
    flags = p["flags"][p["flags"] != ""] if "flags" in p else p.iloc[0:0]
    warn = "".join(
        f"<p class='warn'>⚠ {_e(p.at[i, 'endpoint'])} {_e(p.at[i, 'model'])} "
        f"({_e(p.at[i, 'comparison_'])}): {_e(f)}</p>"
        for i, f in flags.items()
    )
    return _section("power", "Power", warn + _table(p, cols) + sequential_tables(run), note)


def _model_column(run: RunTables, p) -> list[str]:
    """Each row's method with its model details (e.g. ``crossover with carry-over term``): two
    crossover analyses of one endpoint differ only there. From the run's scenario; the bare
    method when the scenario cannot be read or does not have the analysis."""
    try:
        analyses = run.scenario().analyses
    except (ScenarioError, OSError):  # a report of an old run must not fail on this column
        analyses = []
    return [
        model_words(analyses[int(i)]) if 0 <= int(i) < len(analyses) else str(m)
        for i, m in zip(p["analysis_id"], p["method"], strict=True)
    ]


def _power_curve(run: RunTables, target: float) -> str:
    pc = run.table("power_curve")
    if pc is None or pc.empty:
        return _missing(
            "power-curve",
            "Power against sample size",
            "this run has no power curve (run ketsim power with --aux-replicates > 0)",
        )
    plt = _plt()
    unit = str(pc["unit"].iloc[0]).replace("_", " ")
    main = pc[pc["replicates_main"]]
    n0 = int(main["n"].iloc[0])
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for (analysis, comp), g in pc.groupby(["analysis", "comparison"], sort=False):
        g = g.sort_values("n")
        yerr = np.vstack([g["power"] - g["wilson_low"], g["wilson_high"] - g["power"]])
        label = f"{analysis}, {comp}"
        ax.errorbar(g["n"], g["power"], yerr=yerr, marker="o", ms=3, capsize=2, label=label)
    ax.axhline(target, color="k", ls="--", lw=0.8)
    ax.text(ax.get_xlim()[0], target, f" target {target:g}", va="bottom", fontsize=8)
    ax.axvline(n0, color="tab:red", lw=0.8)
    ax.text(n0, 0.02, f" chosen: {n0}", color="tab:red", fontsize=8)
    ax.set_xlabel(unit)
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    note = (
        f"Each point: share of simulated trials rejecting H0 with its 95% Wilson interval; the "
        f"chosen {unit} uses {int(main['replicates'].iloc[0])} replicates, the others "
        f"{int(pc[~pc['replicates_main']]['replicates'].max())} with common random numbers."
    )
    return _section("power-curve", "Power against sample size", _png(fig, "power-curve"), note)


def _weekly(run: RunTables) -> str:
    w = run.table("weekly")
    if w is None or w.empty:
        return _missing("weekly", "Mean weekly pain", "no weekly table in this run")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for grp, g in w.groupby("group", sort=False):
        g = g.sort_values("week")
        ax.plot(g["week"], g["mean_nrs"], marker="o", ms=3, label=str(grp))
        ax.fill_between(g["week"], g["q025"], g["q975"], alpha=0.18)
    ax.set_xlabel("week (0 = baseline)")
    ax.set_ylabel("mean NRS (0-10)")
    ax.set_ylim(0, 10)
    ax.legend(frameon=False, fontsize=8)
    note = (
        "Mean over simulated trials of each arm's mean weekly NRS; the band holds 95% of the "
        "simulated trials' arm means (what one trial of this size could show)."
    )
    return _section("weekly", "Mean weekly pain by arm", _png(fig, "weekly"), note)


def _responders(run: RunTables) -> str:
    e = run.table("endpoints")
    if e is None or e.empty or not (e["statistic"] == "proportion").any():
        return _missing("responders", "Responder rates", "no binary endpoints declared")
    plt = _plt()
    b = e[e["statistic"] == "proportion"]
    s = (
        b.groupby(["endpoint", "arm"], sort=False)["value"]
        .agg(mean="mean", lo=lambda x: x.quantile(0.025), hi=lambda x: x.quantile(0.975))
        .reset_index()
    )
    eps = list(dict.fromkeys(s["endpoint"]))
    arms = list(dict.fromkeys(s["arm"]))
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.9 * len(eps)))
    h = 0.8 / max(len(arms), 1)
    for k, arm in enumerate(arms):
        g = s[s["arm"] == arm].set_index("endpoint").reindex(eps)
        y = np.arange(len(eps)) + k * h
        xerr = np.vstack([g["mean"] - g["lo"], g["hi"] - g["mean"]])
        ax.barh(y, g["mean"], height=h, xerr=xerr, capsize=2, label=str(arm))
    ax.set_yticks(np.arange(len(eps)) + h * (len(arms) - 1) / 2, eps)
    ax.set_xlim(0, 1)
    ax.set_xlabel("proportion of patients")
    ax.legend(frameon=False, fontsize=8)
    tab = _table(
        s, {"endpoint": "endpoint", "arm": "arm", "mean": "mean", "lo": "2.5%", "hi": "97.5%"}
    )
    note = (
        "Mean proportion over simulated trials; whiskers: 95% of the simulated trials' proportions."
    )
    return _section(
        "responders", "Responder rates and binary endpoints", _png(fig, "responders") + tab, note
    )


def _safety(run: RunTables) -> str:
    t = run.table("trial_summary")
    if t is None or t.empty:
        return _missing("safety", "Adverse events and dropouts", "no trial table in this run")
    plt = _plt()
    cols = ["psychotomimetic", "nausea", "liver_injury", "discontinued", "dropout"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = np.arange(len(cols))
    h = 0.8 / max(len(t), 1)
    for k, (_, r) in enumerate(t.iterrows()):
        ax.bar(x + k * h, [r[c] for c in cols], width=h, label=str(r["group"]))
    ax.set_xticks(x + h * (len(t) - 1) / 2, [c.replace("_", " ") for c in cols])
    ax.set_ylabel("patients with the event")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8)
    tab = _table(t, {"group": "arm", "mean_n": "mean n", **{c: c.replace("_", " ") for c in cols}})
    note = "Share of patients per arm, mean over simulated trials."
    return _section("safety", "Adverse events and dropouts", _png(fig, "safety") + tab, note)


def _strata(run: RunTables) -> str:

    s = run.table("subgroups")
    if s is None or s.empty:
        return _missing("strata", "Power by patient stratum", "no subgroup analyses in this run")
    plt = _plt()
    s = s.assign(
        label=[
            f"{STRATA.get(a, a)}: {'yes' if b else 'no'}"
            for a, b in zip(s["stratum"], s["level"], strict=True)
        ]
    )
    fig, ax = plt.subplots(figsize=(7, 0.6 + 0.35 * len(s)))
    y = np.arange(len(s))
    xerr = np.vstack([s["power"] - s["wilson_low"], s["wilson_high"] - s["power"]])
    ax.errorbar(s["power"], y, xerr=xerr, fmt="o", capsize=2)
    ax.set_yticks(y, s["label"])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("power within the stratum (same trial, half the patients or fewer)")
    a0 = s["analysis"].iloc[0]
    tab = _table(
        s,
        {
            "label": "stratum",
            "comparison": "comparison",
            "power": "power",
            "mc_se": "MC SE",
            "mean_estimate": "mean estimate",
            "mean_n_treatment": "n treatment",
            "mean_n_control": "n control",
        },
    )
    note = (
        f"The first declared analysis ({_e(a0)}) within each stratum of each simulated trial: "
        "how the effect, and the power of a subgroup analysis, differ by genotype, "
        "sensitization and sex."
    )
    return _section(
        "strata", "Power by genotype and sensitization stratum", _png(fig, "strata") + tab, note
    )


def _sensitivity(run: RunTables) -> str:
    s = run.table("sensitivity")
    if s is None or s.empty:
        return _missing(
            "sensitivity",
            "Sensitivity to uncertain assumptions",
            "this run has no sensitivity scenarios (run ketsim power with --aux-replicates > 0)",
        )
    plt = _plt()
    s = s.assign(what=s["switch"] + [f" = {v}" if v else "" for v in s["value"]])
    comps = list(dict.fromkeys(s["analysis"] + " | " + s["comparison"]))
    whats = list(dict.fromkeys(s["what"]))
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.3 * len(comps) * len(whats) / 2))
    h = 0.8 / len(whats)
    for k, w in enumerate(whats):
        g = s[s["what"] == w]
        g = g.set_index(g["analysis"] + " | " + g["comparison"]).reindex(comps)
        y = np.arange(len(comps)) + k * h
        ax.barh(y, g["power"], height=h, label=w)
    ax.set_yticks(np.arange(len(comps)) + h * (len(whats) - 1) / 2, comps, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("power")
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    tab = _table(
        s,
        {
            "what": "scenario",
            "analysis": "analysis",
            "comparison": "comparison",
            "power": "power",
            "mc_se": "MC SE",
            "mean_estimate": "mean estimate",
        },
    )
    note = (
        "Power with each contested assumption flipped (norketamine antagonism, Olofsen 2012; sex "
        "effect on clearance, Sigtermans 2009 vs Perez-Ruixo 2021; R-ketamine inhibiting "
        "S-ketamine clearance, Ihmsen 2001, racemate only; CYP2B6 effect null vs in vitro). "
        "Flipped scenarios use fewer replicates (see MC SE) and the same random numbers."
    )
    return _section(
        "sensitivity", "Sensitivity to uncertain assumptions", _png(fig, "sensitivity") + tab, note
    )


def _provenance(run: RunTables) -> str:
    m = run.manifest
    inv = m.get("invocations", [])
    argv = " ".join(inv[-1].get("argv", [])) if inv else ""
    versions = m.get("versions", {})
    rows = [
        ("run directory", str(run.path)),
        ("kind", m.get("kind", "")),
        ("scenario", m.get("scenario", "")),
        ("scenario SHA-256", m.get("key", {}).get("scenario_sha256", "")),
        ("seed entropy", m.get("seed_entropy", "")),
        ("replicates", m.get("replicates", "")),
        ("command", argv),
        ("invocations", len(inv)),
        ("status", m.get("status", "")),
        ("timings (s)", json.dumps(m.get("timings_s", {}))),
    ] + [(f"version: {k}", v) for k, v in versions.items()]
    body = (
        "<table><tbody>"
        + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
        + "</tbody></table>"
    )
    note = "Re-running the command with the same seed reproduces every table byte for byte."
    return _section("provenance", "Provenance", body, note)
