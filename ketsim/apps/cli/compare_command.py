"""``ketsim compare A.yaml B.yaml ...``: named designs side by side with common random numbers."""

from __future__ import annotations

import argparse

import pandas as pd

from ketsim.apps.common import EXIT_OK, EXIT_USAGE, _load


def format_compare(table: pd.DataFrame) -> str:
    """The comparison as a fixed-width text table: one line per design x primary comparison."""
    head = (
        f"{'design':<{_w(table['design'], 6)}} {'comparison':<{_w(_comp(table), 10)}} "
        f"{'power (MC SE)':>15} {'exp. n':>7} {'weeks':>6} {'psych%':>7} {'nausea%':>8} "
        f"{'drop%':>6} {'bias (MC SE)':>17}"
    )
    lines = [head]
    wd, wc = _w(table["design"], 6), _w(_comp(table), 10)
    for (_, r), comp in zip(table.iterrows(), _comp(table), strict=True):
        bias = "" if r["bias"] != r["bias"] else f"{r['bias']:+.3f} ({r['bias_mc_se']:.3f})"
        lines.append(
            f"{r['design']:<{wd}} {comp:<{wc}} {r['power']:>7.3f} ({r['mc_se']:.3f}) "
            f"{r['expected_n']:>7.1f} {r['expected_duration_weeks']:>6.1f} "
            f"{100 * r['psychotomimetic']:>7.1f} {100 * r['nausea']:>8.1f} "
            f"{100 * r['dropout']:>6.1f} {bias:>17}"
        )
    analyses = dict(zip(table["design"], table["analysis"], strict=True))
    lines.append("primary analyses: " + "; ".join(f"{d}: {a}" for d, a in analyses.items()))
    return "\n".join(lines)


def _comp(table: pd.DataFrame) -> list[str]:
    return [f"{c} v {k}" for c, k in zip(table["comparison"], table["control"], strict=True)]


def _w(values, least: int) -> int:
    return max(least, *(len(str(v)) for v in values))


def _cmd_compare(args) -> int:
    from ketsim.apps.cli.engine_commands import _engine_call, _run_options, _write_report
    from ketsim.apps.report.compare_page import write_compare_page
    from ketsim.engine.compare import compare_designs

    scenarios = []
    for f in args.files:
        sc = _load(f)
        if sc is None:
            return EXIT_USAGE
        scenarios.append(sc)
    res, rc = _engine_call(
        "compare",
        compare_designs,
        scenarios=scenarios,
        files=args.files,
        replicates=args.replicates,
        seed=args.seed,
        truth_patients=args.truth_patients,
        out=args.out,
        runs_dir=args.runs_dir,
        opts=_run_options(args),
    )
    if res is None:
        return rc
    if not args.no_report:
        for d in res.designs:
            _write_report(d.result.store.path, args)
    page = write_compare_page(
        res.path / "compare.html", res.table, res.arms, res.entropy, args.target
    )
    if not args.quiet:
        print(
            f"{len(res.designs)} designs x {args.replicates} replicates, seed {res.entropy} for "
            "all (common random numbers); power of each design's primary analysis:"
        )
        print(format_compare(res.table))
        print(f"wrote {res.path}/compare.csv, compare_arms.csv, compare.json")
        print(f"report: {page}")
    return EXIT_OK


def add_compare_parser(sub, engine_args) -> None:
    """Register ``ketsim compare`` (``engine_args`` adds the shared execution options)."""
    cp = sub.add_parser(
        "compare",
        help="designs side by side with common random numbers: power, n, duration, AEs, bias",
        epilog="examples:\n  ketsim compare a.yaml b.yaml --replicates 500 --seed 1 --out runs/ab",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cp.add_argument("files", nargs="+", metavar="FILE", help="scenario files (the designs)")
    engine_args(cp, replicates=500)
    cp.add_argument(
        "--truth-patients",
        type=int,
        default=None,
        help="per-design true-effect trial size for bias (0: skip; default as in ketsim power)",
    )
    cp.add_argument("--target", type=float, default=0.8, help="target power line (default 0.8)")
    cp.set_defaults(func=_cmd_compare)
