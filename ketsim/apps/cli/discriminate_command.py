"""``ketsim discriminate A.yaml [B.yaml ...]``: which design tells the lasting-effect hypotheses
apart (:mod:`ketsim.engine.discriminate`)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from ketsim.apps.cli.engine_commands import (
    _csv_out,
    _engine_args,
    _engine_call,
    _run_options,
    _say,
)
from ketsim.apps.common import EXIT_OK, EXIT_USAGE, _load

__all__ = ["add_discriminate_parser"]

EXAMPLES = (
    "examples:\n"
    "  ketsim discriminate scenarios/designs/discriminate_4h_2weeks.yaml "
    "scenarios/designs/discriminate_100h_12weeks.yaml --replicates 200 --jobs 2\n"
    "  ketsim discriminate A.yaml B.yaml --hypotheses dahan,sustained_blockade --weights 0.3,0.7\n"
)


def add_discriminate_parser(sub) -> None:
    """Register the ``discriminate`` subcommand on the ``ketsim`` sub-parsers."""
    from ketsim.core.pd.parameters import LASTING_EFFECTS

    p = sub.add_parser(
        "discriminate",
        help="which design tells the lasting-effect hypotheses apart (and its power under each)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", help="candidate designs (scenarios with analyses)")
    # the engine's options, as for power (--replicates: trials per design x hypothesis)
    _engine_args(p, 400)
    p.add_argument(
        "--hypotheses",
        default=",".join(LASTING_EFFECTS),
        help=f"comma-separated lasting-effect hypotheses (default {','.join(LASTING_EFFECTS)})",
    )
    p.add_argument("--weights", help="comma-separated prior weights, one per hypothesis")
    p.add_argument("--threshold", type=float, default=0.9, help="decisive posterior (0.9)")
    p.set_defaults(func=_cmd_discriminate)


def _parse_lists(args) -> tuple[tuple[str, ...], dict[str, float] | None, str | None]:
    from ketsim.core.pd.parameters import LASTING_EFFECTS

    hyps = tuple(h.strip() for h in args.hypotheses.split(",") if h.strip())
    bad = [h for h in hyps if h not in LASTING_EFFECTS]
    if bad or len(hyps) < 2:
        allowed = ", ".join(LASTING_EFFECTS)
        return hyps, None, f"--hypotheses: need at least two of {allowed} (got {args.hypotheses})"
    if args.weights is None:
        return hyps, None, None
    try:
        w = [float(x) for x in args.weights.split(",")]
    except ValueError:
        return hyps, None, f"--weights: numbers separated by commas (got {args.weights})"
    if len(w) != len(hyps) or min(w) < 0 or sum(w) <= 0:
        return hyps, None, f"--weights: {len(hyps)} non-negative numbers, not all 0"
    return hyps, dict(zip(hyps, w, strict=True)), None


def _cmd_discriminate(args) -> int:
    from ketsim.apps.report.discriminate_page import render_discrimination
    from ketsim.engine.discriminate import (
        confusion_table,
        discriminate_designs,
        summary_table,
    )
    from ketsim.storage.files import write_text_atomic

    hyps, weights, problem = _parse_lists(args)
    if problem:
        print(f"ketsim discriminate: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not 0.5 <= args.threshold < 1.0:
        print("ketsim discriminate: --threshold must lie in [0.5, 1)", file=sys.stderr)
        return EXIT_USAGE
    designs = []
    for f in args.files:
        sc = _load(f)
        if sc is None:
            return EXIT_USAGE
        if not sc.analyses:
            print(f"{f}: analyses: none declared (each design needs analyses)", file=sys.stderr)
            return EXIT_USAGE
        designs.append(sc)
    out = Path(args.out or Path(args.runs_dir) / f"discriminate-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    res, rc = _engine_call(
        "discriminate",
        discriminate_designs,
        designs=designs,
        hypotheses=hyps,
        replicates=args.replicates,
        seed=args.seed,
        out=out,
        opts=_run_options(args),
        weights=weights,
        threshold=args.threshold,
    )
    if res is None:
        return rc
    summary = summary_table(res)
    out.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out / "discriminate.csv", index=False)
    confusion_table(res).to_csv(out / "confusion.csv", index=False)
    import pandas as pd

    preds = pd.concat([r.predictions.assign(design=r.name) for r in res], ignore_index=True)
    preds.to_csv(out / "predictions.csv", index=False)
    files = "discriminate.csv, confusion.csv, predictions.csv"
    if not args.no_report:
        page = render_discrimination(res, args.replicates, res[0].entropy)
        write_text_atomic(out / "discriminate.html", page)
        files += ", discriminate.html"
    if not args.quiet:
        cols = ["design", "accuracy", "accuracy_se", "decisive", "decisive_se", "chance"]
        if args.format == "csv":
            _csv_out(summary)
        else:
            print(summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        _say(
            args,
            f"accuracy: P(the most probable hypothesis given one trial's estimates is the one that "
            f"generated it); decisive: P(its posterior >= {args.threshold:g}). "
            f"{args.replicates} trials per design x hypothesis ({', '.join(hyps)}), "
            f"seed {res[0].entropy}.",
        )
        _say(args, f"wrote {out}/{files}")
    return EXIT_OK
