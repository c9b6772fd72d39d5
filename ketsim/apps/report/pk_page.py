"""The PK page (``pk.html``) of a population PK run directory (`ketsim pk`).

It reads the run directory alone: ``bands.parquet`` (5/50/95% bands over time), ``summary.parquet``
(per-patient Cmax, Tmax, AUC), ``patients.parquet`` (CYP2B6 diplotype, co-medications),
``manifest.json`` and ``scenario.resolved.yaml``. Figures are embedded PNGs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ketsim.apps.report.design_panels import _regimen_words
from ketsim.apps.report.html_parts import _CSS, _e, _plt, _png, _section, _table
from ketsim.config.scenario import load_scenario
from ketsim.core.pk.parameters import CYP2B6_DIPLOTYPE_ACTIVITY
from ketsim.storage.files import write_text_atomic

__all__ = ["PK_PANELS", "render_pk_page", "write_pk_page"]

#: panel ids in page order (HTML anchors; tests check them)
PK_PANELS = ("run", "bands", "genotype", "comedication", "provenance")

#: plot titles and y labels per output of the PK system (MODEL.md §1 compartments)
_OUTPUT_LABELS = {
    "ketamine": ("plasma {drug}", "concentration (ng/mL)"),
    "norketamine": ("plasma {nk}", "concentration (ng/mL)"),
    "ce_fast": ("fast effect site (t½ke0 8.3 min)", "{drug} (ng/mL)"),
    "ce_slow": ("slow compartment (t½ 10.9 d)", "{drug}, plasma-equivalent (ng/mL)"),
}
_METRICS = (
    ("ketamine_cmax_ng_ml", "{drug} Cmax (ng/mL)"),
    ("ketamine_auc_ng_h_ml", "{drug} AUC (ng·h/mL)"),
    ("norketamine_cmax_ng_ml", "{nk} Cmax (ng/mL)"),
    ("norketamine_auc_ng_h_ml", "{nk} AUC (ng·h/mL)"),
)


#: analyte names: S-ketamine is simulated alone or, for the racemate, as one of two enantiomer
#: systems; the page shows the S system either way
_NAMES = {"drug": "S-ketamine", "nk": "S-norketamine"}


def _load(run_dir: Path):
    man = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    bands = pd.read_parquet(run_dir / "bands.parquet")
    summary = pd.read_parquet(run_dir / "summary.parquet")
    names = pq.read_schema(run_dir / "patients.parquet").names
    keep = ["cyp2b6"] + [c for c in names if c.startswith("comed_")]
    pats = pd.read_parquet(run_dir / "patients.parquet", columns=keep)
    sc = load_scenario(run_dir / "scenario.resolved.yaml")
    return man, bands, summary, pats, sc


def _stats(v: np.ndarray) -> dict[str, float]:
    q = np.quantile(v, [0.05, 0.25, 0.5, 0.75, 0.95]) if v.size else [np.nan] * 5
    return {"n": int(v.size), "p05": q[0], "p25": q[1], "median": q[2], "p75": q[3], "p95": q[4]}


def group_table(summary: pd.DataFrame, groups: pd.Series, metric: str) -> pd.DataFrame:
    """Per group: n, 5/25/50/75/95% of ``summary[metric]`` (rows in ``groups`` order of levels)."""
    levels = list(groups.cat.categories) if hasattr(groups, "cat") else sorted(groups.unique())
    vals = summary[metric].to_numpy()
    g = groups.to_numpy()
    rows = [{"group": lv, **_stats(vals[g == lv])} for lv in levels]
    return pd.DataFrame(rows)


def _bxp(ax, tables: list[pd.DataFrame], labels: list[str], colors: list[str]) -> None:
    """Box = 25-75%, line = median, whiskers = 5-95% (no outliers drawn: populations are big)."""
    stats, pos, cols = [], [], []
    width = 0.8 / len(tables)
    for j, t in enumerate(tables):
        for i, r in t.reset_index(drop=True).iterrows():
            if r["n"] == 0:
                continue
            stats.append(
                {
                    "med": r["median"],
                    "q1": r["p25"],
                    "q3": r["p75"],
                    "whislo": r["p05"],
                    "whishi": r["p95"],
                    "fliers": [],
                }
            )
            pos.append(i + (j - (len(tables) - 1) / 2) * width)
            cols.append(colors[j])
    art = ax.bxp(stats, positions=pos, widths=width * 0.85, patch_artist=True, showfliers=False)
    for patch, c in zip(art["boxes"], cols, strict=True):
        patch.set_facecolor(c)
        patch.set_alpha(0.6)
    for m in art["medians"]:
        m.set_color("black")
    ax.set_xticks(range(len(labels)), labels)


def _num(v: float) -> str:
    """Three significant figures, without exponents for PK magnitudes (12,345 -> "12,300")."""
    if not np.isfinite(v):
        return ""
    if abs(v) >= 100:
        return f"{float(f'{v:.3g}'):,.0f}"
    return f"{v:.3g}"


def _shown_until(t: np.ndarray, upper: np.ndarray) -> float:
    """End of the window worth plotting: where the upper band last exceeds 1% of its peak.

    Plasma and the fast effect site fall to nothing within days of the last dose; on a 12-week
    axis their whole course would be a spike at the origin. The window ends 25% after the upper
    band last exceeds 1% of its maximum (the full window if that is most of it).
    """
    peak = float(np.max(upper)) if upper.size else 0.0
    if peak <= 0.0:
        return float(t[-1])
    last = float(t[np.nonzero(upper > 0.01 * peak)[0][-1]])
    end = min(float(t[-1]), max(last * 1.25, last + 4.0))
    return float(t[-1]) if end > 0.6 * float(t[-1]) else end


def _bands_figure(bands: pd.DataFrame, names: dict[str, str]) -> tuple[str, list[str]]:
    """The 2x2 band figure and notes on the windows that were cut short."""
    plt = _plt()
    s = bands[bands["enantiomer"] == "S"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    notes = []
    for ax, (out, (title, ylab)) in zip(axes.ravel(), _OUTPUT_LABELS.items(), strict=True):
        d = s[s["output"] == out]
        t = d["time_h"].to_numpy()
        end = _shown_until(t, d["p95_ng_ml"].to_numpy())
        days = end > 96.0  # long windows read better in days
        keep = t <= end
        x = t[keep] / (24.0 if days else 1.0)
        ax.fill_between(
            x,
            d["p05_ng_ml"].to_numpy()[keep],
            d["p95_ng_ml"].to_numpy()[keep],
            color="C0",
            alpha=0.25,
            lw=0,
            label="5–95% of patients",
        )
        ax.plot(x, d["p50_ng_ml"].to_numpy()[keep], color="C0", lw=1.3, label="median")
        name = title.format(**names)
        ax.set_title(name, fontsize=10)
        ax.set_ylabel(ylab.format(**names))
        ax.set_xlabel("time since the first dose (" + ("days" if days else "h") + ")")
        ax.set_ylim(bottom=0)
        ax.set_xlim(x[0], x[-1])
        if end < t[-1]:
            notes.append(
                f"{name}: shown to {end:.0f} h; from then to the end of the output window "
                f"({t[-1]:g} h) the 95% band stays below 1% of its peak"
            )
    # one legend above the panels: inside, every corner is data for some regimen
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _png(fig, "pk_bands"), notes


def _group_panel(summary, groups, labels, title_of, names, colors) -> str:
    """Box plots of the four metrics per level of each grouping, and one table of them."""
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
    table: pd.DataFrame | None = None
    cols = {"group": "group", "n": "patients"}
    for ax, (metric, lab) in zip(axes, _METRICS, strict=True):
        tables = [group_table(summary, g, metric) for g in groups]
        _bxp(ax, tables, labels, colors)
        ax.set_title(lab.format(**names), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
        t = pd.concat(tables, ignore_index=True)
        if table is None:
            table = t[["group"]].copy()
            table["n"] = [f"{int(k):,}" for k in t["n"]]
        table[metric] = [
            f"{_num(r['median'])} ({_num(r['p05'])}–{_num(r['p95'])})" if r["n"] else ""
            for _, r in t.iterrows()
        ]
        cols[metric] = lab.format(**names) + ", median (5–95%)"
    fig.tight_layout()
    return _png(fig, title_of) + _table(table, cols)


def render_pk_page(run_dir: str | Path) -> str:
    """The PK page of a `ketsim pk` run directory as one HTML string."""
    run_dir = Path(run_dir)
    man, bands, summary, pats, sc = _load(run_dir)
    names = _NAMES
    prefix = "S_" if "S_ketamine_cmax_ng_ml" in summary.columns else ""
    if prefix:  # racemate: the S system's columns under the page's names
        summary = summary.rename(columns=lambda c: c[2:] if c.startswith("S_") else c)
    n, n_band = int(man["patients"]), int(bands["band_patients"].iloc[0])
    regimens = "; ".join(_regimen_words(r) for r in sc.pk_regimens())
    drug = "racemic ketamine (the S-enantiomer is shown)" if prefix else sc.drug
    run = (
        f"<p class='lead'>{n:,} virtual patients, {_e(drug)}: {_e(regimens)}. "
        f"Output every {sc.output.step:g} h to {sc.output.end:g} h "
        f"({int(man['output_times']):,} times). Seed entropy {_e(man['seed_entropy'])}.</p>"
    )
    sample = (
        f"all {n:,} patients"
        if n_band >= n
        else f"a uniform random subsample of {n_band:,} of the {n:,} patients (the quantiles' "
        "Monte Carlo error is about 0.6 percentile points at the 5% and 95% bands)"
    )
    bands_html, cut = _bands_figure(bands, names)
    if cut:
        bands_html += "<p class='note'>" + "<br>".join(_e(c) for c in cut) + "</p>"
    # diplotypes by decreasing CYP2B6 activity (MODEL.md §2), those present in the run
    present = set(pats["cyp2b6"].unique())
    order = [
        d for d in sorted(CYP2B6_DIPLOTYPE_ACTIVITY, key=lambda d: -CYP2B6_DIPLOTYPE_ACTIVITY[d])
    ]
    order = [d for d in order if d in present] + sorted(present - set(order))
    geno = pd.Categorical(pats["cyp2b6"], categories=order)
    labels = [f"{d}\n({CYP2B6_DIPLOTYPE_ACTIVITY.get(d, float('nan')):g})" for d in order]
    geno_html = _group_panel(summary, [pd.Series(geno)], labels, "pk_genotype", names, ["C0"])
    comeds = [c for c in pats.columns if c.startswith("comed_")]
    if comeds:
        # per co-medication: patients taking it against those not taking it
        comed_html = ""
        for c in comeds:
            g = pd.Series(
                pd.Categorical(
                    np.where(pats[c].to_numpy(), "with", "without"), categories=["without", "with"]
                )
            )
            comed_html += f"<h3>{_e(c[6:].replace('_', ' '))}</h3>" + _group_panel(
                summary, [g], ["without", "with"], f"pk_comed_{c[6:]}", names, ["C1"]
            )
    else:
        comed_html = "<p class='missing'>no co-medication in this population</p>"
    peak = man.get("peak_rss_bytes")
    prov = _table(
        pd.DataFrame(
            [
                ("patients", f"{n:,}"),
                ("patients per streamed chunk", f"{int(man.get('chunk_patients', n)):,}"),
                (
                    "memory estimate (checked before the run)",
                    f"{man.get('memory_estimate_bytes', float('nan')) / 1e9:.2f} GB",
                ),
                ("peak resident memory", f"{peak / 1e9:.2f} GB" if peak else "not recorded"),
                ("simulation time", f"{man['timings_s']['simulate']:.1f} s"),
                ("ketsim", man["versions"].get("ketsim")),
            ],
            columns=["what", "value"],
        ),
        {"what": "", "value": ""},
    )
    parts = [
        _section("run", "Run", run),
        _section(
            "bands",
            "Concentrations over time: median and 5–95% band",
            bands_html,
            f"Bands from {sample}; quantiles at every output time, across patients. The slow "
            "compartment carries the disease-modifying effect (MODEL.md §3).",
        ),
        _section(
            "genotype",
            "Cmax and AUC by CYP2B6 diplotype",
            geno_html,
            "Diplotypes ordered by CYP2B6 activity (in brackets, relative to *1/*1; MODEL.md §2). "
            "Boxes 25–75%, line median, whiskers 5–95% of patients; AUC (exact) from the first "
            f"to the last output time (0–{sc.output.end:g} h); Cmax is the largest concentration "
            f"on the output grid (every {sc.output.step:g} h), so a coarse grid misses peaks.",
        ),
        _section(
            "comedication",
            "Cmax and AUC by co-medication",
            comed_html,
            "Patients taking each co-medication against those not taking it (other "
            "co-medications as sampled). Boxes 25–75%, line median, whiskers 5–95%.",
        ),
        _section("provenance", "Provenance", prov),
    ]
    title = f"ketsim PK report: {sc.name}"
    nav = "".join(f'<a href="#{p}">{p}</a>' for p in PK_PANELS)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><nav>{nav}</nav>{''.join(parts)}"
        "<footer class='note'>Generated by ketsim from the run directory alone; all figures "
        "are embedded.</footer></body></html>"
    )


def write_pk_page(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``pk.html`` (or ``out``) for a `ketsim pk` run directory; returns its path."""
    path = Path(out) if out is not None else Path(run_dir) / "pk.html"
    write_text_atomic(path, render_pk_page(run_dir))
    return path
