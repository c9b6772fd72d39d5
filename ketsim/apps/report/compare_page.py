"""The HTML page of a design comparison (``ketsim compare``): power of each design's primary
analysis with its interval, then size, duration, adverse events, dropouts and bias side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ketsim.apps.report.html_parts import _CSS, _e, _plt, _png, _section, _table
from ketsim.storage.files import write_text_atomic

_EVENT_WORDS = {
    "psychotomimetic": "psychotomimetic AE",
    "nausea": "nausea",
    "liver_injury": "liver injury",
    "discontinued": "stopped treatment",
    "dropout": "dropped out",
}


def _power_plot(t: pd.DataFrame, target: float | None) -> str:
    """Dot plot: each design's primary power with its 95% Wilson interval, one row per design x
    comparison, in the order the designs were given."""
    plt = _plt()
    labels = [
        f"{d}\n{a.rsplit(' (', 1)[0]}\n{c} v {k}"
        for d, a, c, k in zip(
            t["design"], t["analysis"], t["comparison"], t["control"], strict=True
        )
    ]
    y = np.arange(len(t))[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.75 * len(t) + 1.0))
    err = np.vstack([t["power"] - t["wilson_low"], t["wilson_high"] - t["power"]])
    ax.errorbar(t["power"], y, xerr=err, fmt="o", color="tab:blue", capsize=3)
    for yi, p in zip(y, t["power"], strict=True):
        ax.annotate(
            f"{p:.2f}", (p, yi), xytext=(0, 6), textcoords="offset points", ha="center", fontsize=8
        )
    if target is not None:
        ax.axvline(target, color="k", ls="--", lw=0.8)
        ax.text(target, y.max() + 0.45, f"target {target:g}", fontsize=8, ha="center")
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(t) - 0.3)
    ax.set_xlabel("power of the primary analysis (95% Wilson interval)")
    return _png(fig, "compare-power")


def render_compare(
    table: pd.DataFrame,
    arms: pd.DataFrame,
    entropy: int,
    target: float | None = 0.8,
    base: Path | None = None,
) -> str:
    """The comparison page as one HTML string (links to each design's report are relative to
    ``base``, the page's directory)."""
    t = table.reset_index(drop=True)
    t = t.assign(
        comparison_=t["comparison"] + " v " + t["control"],
        power_=[
            f"{p:.3f} ± {se:.3f} ({a:.2f}–{b:.2f})"
            for p, se, a, b in zip(
                t["power"], t["mc_se"], t["wilson_low"], t["wilson_high"], strict=True
            )
        ],
        size_=[
            f"{s} {u.replace('_', ' ').replace('n ', '')} ({ty})"
            for s, u, ty in zip(t["size"], t["unit"], t["design_type"], strict=True)
        ],
        n_=[f"{v:.1f}" for v in t["expected_n"]],
        weeks_=[
            f"{d:.1f} ({r:.1f} + {s:.1f})" if r > 0 else f"{d:.1f}"
            for d, r, s in zip(
                t["expected_duration_weeks"],
                t["recruitment_weeks"],
                t["schedule_weeks"],
                strict=True,
            )
        ],
        bias_=[
            "" if b != b else f"{b:+.3f} ± {se:.3f}"
            for b, se in zip(t["bias"], t["bias_mc_se"], strict=True)
        ],
        **{f"{e}_pct": [f"{100 * v:.1f}" for v in t[e]] for e in _EVENT_WORDS},
    )
    reps = ", ".join(sorted({str(int(r)) for r in t["replicates"]}))
    top = t[t["power"] == t["power"].max()]
    best = ", ".join(
        f"<b>{_e(d)}</b> ({_e(c)}: {p:.3f} ± {se:.3f} MC SE)"
        for d, c, p, se in zip(
            top["design"], top["comparison_"], top["power"], top["mc_se"], strict=True
        )
    )
    best = ("Highest power: " if len(top) == 1 else "Highest power, tied: ") + best
    lead = (
        f"<p class='lead'>{len(set(t['design']))} designs, {reps} simulated trials each, one "
        f"seed ({entropy}) for all: replicate r of every design draws its patients from the same "
        f"random numbers, so the differences below are not noise between independent runs where "
        f"designs share population and arm sizes. {best}.</p>"
    )
    plot = _section(
        "compare-power",
        "Power of the primary analysis",
        _power_plot(t, target),
        "Share of simulated trials rejecting H0 in each design's primary analysis "
        "(multiplicity-adjusted p below alpha); bars are 95% Wilson intervals of that share.",
    )
    cols = {
        "design": "design",
        "size_": "size",
        "analysis": "primary analysis",
        "comparison_": "comparison",
        "power_": "power ± MC SE (95% Wilson)",
        "n_": "expected n enrolled",
        "weeks_": "expected duration, weeks (recruitment + schedule)",
        "psychotomimetic_pct": "psychotomimetic AE %",
        "nausea_pct": "nausea %",
        "dropout_pct": "dropout %",
        "bias_": "bias ± MC SE",
    }
    tab = _section(
        "compare-table",
        "Designs side by side",
        _table(t, cols),
        "Expected n: patients enrolled per simulated trial (mean over replicates). Duration: "
        "expected recruitment time (n / recruitment rate; 0 when everyone starts at once) plus "
        "one patient's schedule (screening, baseline and diary weeks). AE and dropout %: share of "
        "all enrolled patients, all arms together. Bias: mean estimate − the design's true "
        "effect (the same analysis in one large simulated trial; blank when not computed). "
        "Estimates of different endpoints or methods are on different scales (see "
        "compare.csv, column scale).",
    )
    a = arms.assign(**{f"{e}_pct": 100 * arms[e] for e in _EVENT_WORDS})
    arm_cols = {"design": "design", "group": "arm (sequence in a crossover)", "mean_n": "mean n"}
    arm_cols.update({f"{e}_pct": f"{w} %" for e, w in _EVENT_WORDS.items()})
    per_arm = _section(
        "compare-arms",
        "Adverse events and dropouts by arm",
        _table(a, arm_cols, digits=1),
        "Share of each arm's patients with the event at least once, mean over simulated trials.",
    )
    links = []
    for d, run_dir in dict(zip(t["design"], t["run_dir"], strict=True)).items():
        rep = Path(run_dir) / "report.html"  # run_dir is relative to the page's directory
        href = rep.as_posix()
        if base is not None:
            rep = base / rep
        what = f"<a href='{_e(href)}'>{_e(d)}</a>" if rep.is_file() else _e(d)
        links.append(f"<li>{what}: run directory {_e(run_dir)}</li>")
    runs = _section(
        "compare-runs",
        "Each design's full power report",
        f"<ul>{''.join(links)}</ul>",
        "Every analysis, weekly pain, responders and provenance of one design; its power equals "
        "`ketsim power FILE --seed SEED --replicates R`.",
    )
    title = "ketsim design comparison"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>{lead}{plot}{tab}{per_arm}{runs}"
        "<footer class='note'>Generated by ketsim compare; all figures are embedded.</footer>"
        "</body></html>"
    )


def write_compare_page(
    path: str | Path,
    table: pd.DataFrame,
    arms: pd.DataFrame,
    entropy: int,
    target: float | None = 0.8,
) -> Path:
    """Write the comparison page to ``path`` (``compare.html``); returns the path."""
    path = Path(path)
    write_text_atomic(path, render_compare(table, arms, entropy, target, base=path.parent))
    return path
