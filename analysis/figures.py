"""Regenerate the figures and the HTML report of a run directory.

Usage::

    python analysis/figures.py RUN_DIR [--out DIR] [--target 0.8] [--format png|pdf|svg]

Reads the run only through ketsim's public API (:func:`ketsim.apps.report.figures`,
:func:`ketsim.apps.report.write_report`); writes one file per report panel (``weekly.png``,
``power-curve.png``, ...) and ``report.html`` into ``DIR`` (default ``RUN_DIR/figures``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ketsim.apps.report import figures, write_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir")
    p.add_argument("--out", help="output directory (default RUN_DIR/figures)")
    p.add_argument("--target", type=float, default=0.8, help="target power line")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"))
    args = p.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.run_dir) / "figures"
    out.mkdir(parents=True, exist_ok=True)
    try:
        figs = figures(args.run_dir, target=args.target)
    except FileNotFoundError as err:
        print(f"figures: {err}", file=sys.stderr)
        return 2
    for name, fig in figs.items():
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
        fig.savefig(out / f"{stem}.{args.format}", bbox_inches="tight", dpi=150)
        plt.close(fig)
    write_report(args.run_dir, out=out / "report.html", target=args.target)
    print(f"wrote {len(figs)} figures and report.html to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
