"""Compare two or more power runs side by side (e.g. two designs of the same question).

Usage::

    python analysis/compare_runs.py RUN_A RUN_B [RUN_C ...] [--out compare.html]

Reads each run through ketsim's public API (:func:`ketsim.apps.report.load_run`) and writes one
self-contained HTML page: the power of every analysis in every run (matched on endpoint, method,
strategy and comparison, with Monte Carlo SEs and Wilson intervals), the difference in power
between each run and the first with its Monte Carlo SE (independent runs; with a shared seed the
runs use common random numbers and the SE is conservative), and the mean weekly NRS of every arm
of every run in one figure. Prints the power table.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ketsim.apps.report import load_run

KEYS = ["endpoint", "method", "strategy", "comparison", "control"]


def compare(run_dirs: list[str]) -> tuple[pd.DataFrame, list]:
    """Power of every analysis in every run, wide: ``power[<run>]``, ``mc_se[<run>]``, ..."""
    runs = [load_run(d) for d in run_dirs]
    labels = []
    for r in runs:
        lab = f"{r.manifest.get('scenario')} ({Path(r.path).name})"
        labels.append(lab if lab not in labels else f"{lab} #{len(labels)}")
    frames = []
    for lab, r in zip(labels, runs, strict=True):
        p = r.table("power")
        if p is None:
            raise FileNotFoundError(f"{r.path}: no power table (is it a 'ketsim power' run?)")
        frames.append(p[[*KEYS, "power", "mc_se", "wilson_low", "wilson_high"]].assign(run=lab))
    long = pd.concat(frames, ignore_index=True)
    wide = long.pivot_table(
        index=KEYS,
        columns="run",
        values=["power", "mc_se", "wilson_low", "wilson_high"],
        sort=False,
    )
    first = labels[0]
    for lab in labels[1:]:
        wide[("difference", lab)] = wide[("power", lab)] - wide[("power", first)]
        wide[("difference_se", lab)] = np.sqrt(
            wide[("mc_se", lab)] ** 2 + wide[("mc_se", first)] ** 2
        )
    return wide, list(zip(labels, runs, strict=True))


def weekly_figure(runs) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    styles = ["-", "--", ":", "-."]
    for k, (lab, r) in enumerate(runs):
        w = r.table("weekly")
        if w is None:
            continue
        for grp, g in w.groupby("group", sort=False):
            g = g.sort_values("week")
            ax.plot(
                g["week"], g["mean_nrs"], styles[k % 4], marker="o", ms=2.5, label=f"{lab}: {grp}"
            )
    ax.set_xlabel("week (0 = baseline)")
    ax.set_ylabel("mean NRS")
    ax.set_ylim(0, 10)
    ax.legend(fontsize=6.5, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", default="compare.html")
    args = p.parse_args(argv)
    if len(args.run_dirs) < 2:
        print("compare_runs: give at least two run directories", file=sys.stderr)
        return 2
    try:
        wide, runs = compare(args.run_dirs)
    except FileNotFoundError as err:
        print(f"compare_runs: {err}", file=sys.stderr)
        return 2
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        print(wide["power"].round(3).to_string())
    fig = weekly_figure(runs)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    img = base64.b64encode(buf.getvalue()).decode("ascii")
    flat = wide.copy()
    flat.columns = [f"{a} | {b}" for a, b in flat.columns]
    table = flat.reset_index().to_html(index=False, float_format=lambda v: f"{v:.3f}", escape=True)
    title = "ketsim: " + " vs ".join(html.escape(lab) for lab, _ in runs)
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:sans-serif;max-width:1200px;margin:1em auto}"
        "table{border-collapse:collapse;font-size:0.75em}td,th{border:1px solid #ddd;"
        "padding:2px 5px}</style></head><body>"
        f"<h1>{title}</h1><h2>Power</h2>{table}"
        "<p>difference = power of the run minus power of the first run; difference_se = "
        "Monte Carlo SE of that difference (independent-runs formula).</p>"
        f"<h2>Mean weekly NRS</h2><img src='data:image/png;base64,{img}'></body></html>"
    )
    Path(args.out).write_text(page, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
