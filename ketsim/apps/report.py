"""Self-contained HTML report of a power or sweep run (``ketsim report RUN_DIR``).

The report reads only the run directory (:mod:`ketsim.storage.store` layout) and writes one HTML
file
with every figure embedded as a PNG data URI: no network, no external files, so it can be handed
to a statistician or an ethics committee as it is. Every string that comes from a scenario is
HTML-escaped.

Panels (those whose data the run has):

1. the question and the design in words;
2. assumptions: the switches with their sources, PD overrides, the parameter set;
3. the power table with Monte Carlo SEs, Wilson intervals, estimates and bias;
4. power against n per arm with the target line and the chosen n;
5. mean weekly NRS per arm with the 95% band of trial-level means;
6. responder rates and other binary endpoints per arm;
7. adverse events and dropouts per arm;
8. power by patient stratum (CYP2B6 carriers, sensitization, sex);
9. sensitivity of power to the uncertain switches;
10. (sweeps) dose x duration heatmaps of power and response;
11. provenance: versions, seed, command, timings.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PANELS", "RunTables", "figures", "load_run", "render_report", "write_report"]

#: panel ids in the order they appear (ids are HTML anchors; tests check them)
PANELS = (
    "question",
    "assumptions",
    "power",
    "power-curve",
    "weekly",
    "responders",
    "safety",
    "strata",
    "sensitivity",
    "surfaces",
    "provenance",
)


class RunTables:
    """The tables of a run directory, read lazily (missing tables are None)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        f = self.path / "manifest.json"
        if not f.is_file():
            raise FileNotFoundError(f"{self.path} is not a ketsim run directory (no manifest.json)")
        self.manifest: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
        self._cache: dict[str, pd.DataFrame | None] = {}

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    def table(self, name: str) -> pd.DataFrame | None:
        """``<name>.parquet`` of the run (None if the run has no such table)."""
        if name not in self._cache:
            f = self.path / f"{name}.parquet"
            self._cache[name] = pd.read_parquet(f) if f.is_file() else None
        return self._cache[name]

    def scenario(self):
        """The run's resolved scenario."""
        from ketsim.config.scenario import load_scenario

        return load_scenario(self.path / "scenario.resolved.yaml")


def load_run(path: str | Path) -> RunTables:
    """Open a run directory written by ``ketsim power`` or ``ketsim sweep``."""
    return RunTables(path)


# -- helpers ---------------------------------------------------------------------------------
def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


#: when set (by :func:`figures`), every figure is also kept here under its panel name
_SINK: dict[str, Any] | None = None


def _png(fig, name: str) -> str:
    """A matplotlib figure as an ``<img>`` with an embedded PNG."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    if _SINK is not None:
        _SINK[name] = fig
    else:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if v != v:
            return ""
        return f"{v:.{digits}f}"
    return str(v)


def _table(df: pd.DataFrame, columns: dict[str, str], digits: int = 3) -> str:
    """An HTML table of ``columns`` (name -> header); every cell escaped."""
    head = "".join(f"<th>{_e(h)}</th>" for h in columns.values())
    rows = []
    for _, r in df.iterrows():
        cells = "".join(f"<td>{_e(_fmt(r[c], digits))}</td>" for c in columns)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(pid: str, title: str, body: str, note: str = "") -> str:
    n = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{pid}"><h2>{_e(title)}</h2>{n}{body}</section>'


def _missing(pid: str, title: str, why: str) -> str:
    return _section(pid, title, f'<p class="missing">{_e(why)}</p>')


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


# -- panels ------------------------------------------------------------------------------------
def _regimen_words(r) -> str:
    d = r.model_dump(mode="json", exclude_defaults=True)
    parts = [d.pop("route").replace("_", " ")]
    for k in ("rate", "amount", "duration", "start", "repeats", "interval"):
        if k in d:
            parts.append(f"{k} {d.pop(k)}")
    if "titration" in d:
        t = d.pop("titration")
        parts.append("titrated " + ", ".join(f"{k} {v}" for k, v in t.items()))
    return "; ".join(parts)


def _question(run: RunTables, sc) -> str:
    d = sc.design
    arms = sc.arms or []
    items = []
    for a in arms:
        size = f"{a.n} patients" if a.n is not None else f"ratio {a.ratio}"
        regs = " + ".join(_regimen_words(r) for r in a.regimens)
        items.append(
            f"<li><b>{_e(a.name)}</b> ({_e(size)}): {_e(a.treatment.replace('_', ' '))}, "
            f"{_e(a.blinding.replace('_', ' '))}; {_e(regs)}</li>"
        )
    design = {
        "parallel": "a randomised parallel-group trial",
        "crossover": "a randomised crossover trial",
        "enrichment": "an enriched-enrolment randomised-withdrawal (EERW) trial",
    }[d.type]
    extra = ""
    if d.type == "crossover":
        cx = d.crossover
        extra = (
            f" Sequences {_e(cx.sequences)}, {cx.n_per_sequence} patients per sequence, periods of "
            f"{cx.period_weeks} weeks with {cx.washout_weeks} weeks of washout."
        )
    elif d.type == "enrichment":
        en = d.enrichment
        extra = (
            f" {en.n} patients enter a {en.run_in_weeks}-week open-label run-in; those at least "
            f"{en.threshold_pct:g}% below baseline are randomised."
        )
    eps = "".join(
        f"<li>{_e(e.name)}: {_e(e.type.replace('_', ' '))}"
        + (f", week {e.week}" if e.week else "")
        + (f", days {e.days[0]}-{e.days[1]}" if e.days else "")
        + (", counted from the end of dosing" if e.anchor == "treatment_end" else "")
        + "</li>"
        for e in sc.endpoints
    )
    st = sc.statistics
    ans = "".join(
        f"<li>{_e(a.endpoint)}: {_e(a.method)} ({_e(a.strategy.replace('_', ' '))})"
        + (f", {a.multiplicity} adjustment" if a.multiplicity != "none" else "")
        + "</li>"
        for a in sc.analyses
    )
    man = run.manifest
    R = man.get("replicates", "?")
    null = man.get("key", {}).get("null")
    q = (
        f"What is the chance that this trial rejects the null hypothesis for each declared "
        f"analysis (alpha {st.alpha:g}, {st.sides}-sided), if the model's assumptions hold? "
        f"Estimated from {_e(R)} simulated trials."
    )
    if null:
        q = (
            f"Type-I error: every arm received the control treatment; the rejection rates "
            f"below are false-positive rates, from {_e(R)} simulated trials."
        )
    body = [
        f"<p class='lead'>{q}</p>",
        f"<p><b>{_e(sc.name)}</b>: {_e(sc.description or '')}</p>",
    ]
    if sc.reference:
        body.append(f"<p class='ref'>Reference: {_e(sc.reference)}</p>")
    body.append(
        f"<p>Design: {design} of {_e(sc.drug)} in {_e(sc.population.indication)} patients, "
        f"{sc.trial.weeks} weeks of daily pain diaries after {sc.trial.baseline_days} "
        f"baseline days.{extra}</p><ul>{''.join(items)}</ul>"
    )
    body.append(f"<p>Endpoints:</p><ul>{eps}</ul><p>Analyses:</p><ul>{ans}</ul>")
    return _section("question", "The question and the design", "".join(body))


def _assumptions(sc) -> str:
    from ketsim.config.scenario import SwitchesSpec

    rows = []
    for name, f in SwitchesSpec.model_fields.items():
        v = getattr(sc.switches, name)
        default = f.default
        rows.append(
            {
                "switch": name,
                "value": v if not isinstance(v, bool) else ("on" if v else "off"),
                "default": default
                if not isinstance(default, bool)
                else ("on" if default else "off"),
                "changed": "changed" if v != default else "",
                "source": f.description or "",
            }
        )
    sw = pd.DataFrame(rows)
    body = [
        "<p>The model's uncertain assumptions are switches; the values used in this run, their "
        "defaults and their sources (H: read from the paper, M: secondary source, L: "
        "assumption). The sensitivity panel below shows how power moves when the contested "
        "ones are flipped.</p>",
        _table(
            sw,
            {
                "switch": "switch",
                "value": "value",
                "default": "default",
                "changed": "",
                "source": "source",
            },
        ),
    ]
    from ketsim.apps.schema_doc import pd_parameter_sources

    src = pd_parameter_sources()
    if sc.pd:
        pdrows = pd.DataFrame(
            [{"parameter": k, "value": v, "source": src.get(k, "")} for k, v in sc.pd.items()]
        )
        body.append("<p>PD parameters overridden by the scenario:</p>")
        body.append(
            _table(
                pdrows,
                {"parameter": "parameter", "value": "value", "source": "default's source"},
                4,
            )
        )
    key = [
        "acute_c50_ng_ml",
        "slow_c50_ng_ml",
        "responder_probability",
        "placebo_responder_probability",
        "psy_threshold_median",
        "fluctuation_sd",
    ]
    from ketsim.core.pd.parameters import PDParameters

    defaults = PDParameters()
    krows = [
        {"parameter": k, "value": getattr(defaults, k), "source": src.get(k, "")}
        for k in key
        if hasattr(defaults, k) and k not in sc.pd
    ]
    if krows:
        body.append("<p>Key PD defaults (all: <code>ketsim/pd/parameters.py</code>):</p>")
        body.append(
            _table(
                pd.DataFrame(krows),
                {"parameter": "parameter", "value": "value", "source": "source"},
                4,
            )
        )
    body.append(
        f"<p>PK parameter set: {_e(sc.parameter_set)}; drug {_e(sc.drug)}; population: "
        f"{_e(sc.population.indication)}, {sc.population.female_fraction:.0%} women.</p>"
    )
    return _section("assumptions", "Assumptions and their sources", "".join(body))


def _power_panel(run: RunTables) -> str:
    p = run.table("power")
    if p is None or p.empty:
        return _missing("power", "Power", "no power table in this run")
    null = (p["hypothesis"] == "null").all()
    p = p.assign(
        comparison_=p["comparison"] + " v " + p["control"],
        ci=[f"{a:.3f}–{b:.3f}" for a, b in zip(p["wilson_low"], p["wilson_high"], strict=True)],
    )
    cols = {
        "endpoint": "endpoint",
        "method": "method",
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
    note = (
        "Power = share of simulated trials rejecting H0 (multiplicity-adjusted p below alpha; a "
        "failed fit counts as not rejecting). The true effect is the same analysis in one large "
        "simulated trial; bias = mean estimate − true effect."
    )
    return _section("power", "Power", _table(p, cols), note)


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
    from ketsim.sim.trial import STRATA

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


def _surfaces(run: RunTables) -> str:
    surf = run.table("surfaces")
    if surf is None or surf.empty:
        why = "not a sweep over two axes" if run.kind != "sweep" else "fewer than two axes varied"
        return _missing("surfaces", "Dose × duration surfaces", why)
    from ketsim.config.sweep import axis_value

    plt = _plt()
    x, y = [c for c in surf.columns if c not in ("cell", "quantity", "name", "value", "mc_se")][:2]
    xs = sorted(surf[x].unique(), key=axis_value)
    ys = sorted(surf[y].unique(), key=axis_value)
    figs = []
    for (q, name), g in surf.groupby(["quantity", "name"], sort=False):
        piv = g.pivot_table(index=x, columns=y, values="value").reindex(index=xs, columns=ys)
        fig, ax = plt.subplots(figsize=(4.2, 3.0))
        vmin, vmax = (0, 1) if q in ("power", "proportion") else (None, None)
        im = ax.imshow(piv.to_numpy(float), cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
        ax.set_xticks(range(len(ys)), [str(v) for v in ys], fontsize=7)
        ax.set_yticks(range(len(xs)), [str(v) for v in xs], fontsize=7)
        ax.set_xlabel(y, fontsize=7)
        ax.set_ylabel(x, fontsize=7)
        arr = piv.to_numpy(float)
        lo, hi = im.get_clim()
        for i in range(len(xs)):
            for j in range(len(ys)):
                v = arr[i, j]
                if v == v:
                    # dark text on the bright end of viridis, light text on the dark end
                    light = (v - lo) / (hi - lo or 1.0) < 0.6
                    c = "w" if light else "k"
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", color=c, fontsize=7)
        ax.set_title(f"{q}: {name}", fontsize=7.5)
        fig.colorbar(im, ax=ax, shrink=0.8)
        figs.append(f"<figure>{_png(fig, f'surface {q} {name}')}</figure>")
    note = (
        "Power of each analysis and mean response of each endpoint and arm over the first two "
        "swept axes (every cell simulated with the same random numbers)."
    )
    return _section(
        "surfaces", "Dose × duration surfaces", f"<div class='grid'>{''.join(figs)}</div>", note
    )


def _sweep_power(run: RunTables) -> str:
    p = run.table("sweep_power")
    if p is None or p.empty:
        return _missing("power", "Power by cell", "no sweep power table")
    axes = [c for c in run.table("sweep_cells").columns if c != "cell"]
    cols = {
        "cell": "cell",
        **{a: a for a in axes},
        "endpoint": "endpoint",
        "method": "method",
        "comparison": "comparison",
        "power": "power",
        "mc_se": "MC SE",
        "mean_estimate": "mean estimate",
    }
    return _section("power", "Power by sweep cell", _table(p, cols))


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


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1100px;
margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:0.2em} h2{font-size:1.15em;border-bottom:1px solid #ccc;
padding-bottom:0.2em;margin-top:1.6em} table{border-collapse:collapse;font-size:0.8em;
margin:0.5em 0} th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} .note{color:#555;font-size:0.85em} .missing{color:#888;font-style:italic}
.lead{font-size:1.05em} .ref{font-size:0.85em;color:#444} img{max-width:100%}
.grid{display:flex;flex-wrap:wrap;gap:8px} figure{margin:0}
nav a{margin-right:0.8em;font-size:0.85em}
"""


def render_report(run: RunTables, target: float = 0.8) -> str:
    """The report of a run as one HTML string."""
    sc = run.scenario()
    kind = run.kind
    parts = [_question(run, sc), _assumptions(sc)]
    if kind == "sweep":
        parts.append(_sweep_power(run))
        for pid, title in (
            ("power-curve", "Power against sample size"),
            ("weekly", "Mean weekly pain by arm"),
            ("responders", "Responder rates"),
            ("safety", "Adverse events and dropouts"),
            ("strata", "Power by patient stratum"),
            ("sensitivity", "Sensitivity to uncertain assumptions"),
        ):
            parts.append(_missing(pid, title, "see the power report of a single design"))
        parts.append(_surfaces(run))
    else:
        parts += [
            _power_panel(run),
            _power_curve(run, target),
            _weekly(run),
            _responders(run),
            _safety(run),
            _strata(run),
            _sensitivity(run),
            _surfaces(run),
        ]
    parts.append(_provenance(run))
    nav = "".join(f'<a href="#{p}">{p.replace("-", " ")}</a>' for p in PANELS)
    title = f"ketsim {kind} report: {sc.name}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><nav>{nav}</nav>{''.join(parts)}"
        "<footer class='note'>Generated by ketsim from the run directory alone; all figures "
        "are embedded.</footer></body></html>"
    )


def figures(run_dir: str | Path, target: float = 0.8) -> dict[str, Any]:
    """The report's matplotlib figures by panel name (for analysis scripts to save or restyle).

    The caller owns the figures (close them with ``matplotlib.pyplot.close``).
    """
    global _SINK
    run = load_run(run_dir)
    _SINK = {}
    try:
        render_report(run, target)
        return _SINK
    finally:
        _SINK = None


def write_report(run_dir: str | Path, out: str | Path | None = None, target: float = 0.8) -> Path:
    """Write ``report.html`` (or ``out``) for a run directory; returns its path."""
    from ketsim.storage.files import write_text_atomic

    run = load_run(run_dir)
    path = Path(out) if out is not None else run.path / "report.html"
    write_text_atomic(path, render_report(run, target))
    return path
