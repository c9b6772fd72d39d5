"""``ketsim calibrate SCENARIOS... --hypothesis H [--out DIR]``: the command.

The parser is cheap to build (``ketsim --help``); the handler imports the fit (pyabc, the
simulator) when it runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ketsim.core.pd.parameters import LASTING_EFFECTS

__all__ = ["add_calibrate_parser", "cmd_calibrate"]


def _pair(text: str) -> tuple[int, int]:
    a, _, b = text.partition(",")
    lo = int(a)
    return lo, int(b) if b else lo


def add_calibrate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``ketsim calibrate`` to an argparse sub-parser set (``func`` = handler)."""
    p = subparsers.add_parser(
        "calibrate",
        help="fit uncertain parameters to scenarios' 'expected:' targets (ABC-SMC, pyabc)",
        description=(
            "Fit a hypothesis' uncertain parameters (ketsim.apps.calibrate.parameters) to the "
            "published targets of the scenarios by ABC-SMC. Writes a resumable run directory "
            "with the posterior ensemble, diagnostics and calibration.html. Exit 0 on success, "
            "2 on bad input."
        ),
        epilog=(
            "examples:\n"
            "  ketsim calibrate --hypothesis sustained_blockade --jobs 2\n"
            "  ketsim calibrate scenarios/published/sigtermans2009.yaml --hypothesis dahan "
            "--population 40 --replicates 5,20\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "paths",
        nargs="*",
        default=["scenarios/published"],
        help="scenario files or directories (default scenarios/published)",
    )
    p.add_argument(
        "--hypothesis", required=True, choices=LASTING_EFFECTS, help="lasting-effect model"
    )
    p.add_argument(
        "--parameters",
        help="comma-separated subset of the hypothesis' uncertain parameters (default all)",
    )
    p.add_argument("--population", type=int, default=100, help="particles (default 100)")
    p.add_argument("--generations", type=int, default=6, help="most generations (default 6)")
    p.add_argument(
        "--replicates",
        dest="replicate_schedule",  # not `replicates`: the top-level parser checks that as int
        type=_pair,
        default=(10, 40),
        metavar="R0[,RMAX]",
        help="replicates per target in generation 0, doubling up to RMAX (default 10,40)",
    )
    p.add_argument(
        "--min-epsilon",
        type=float,
        help="stop at this chi distance (default the 95%% point of chi with K = #targets df)",
    )
    p.add_argument(
        "--max-evaluations", type=int, default=20000, help="most simulations (default 20000)"
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--seed", type=int, help="root seed (default: fresh, recorded)")
    p.add_argument("--out", help="run directory (default runs/<hypothesis>-calibrate-<UTC>-...)")
    p.add_argument("--base", default="runs", help="parent of new run directories (default runs)")
    p.add_argument("--verbose", action="store_true", help="pyabc's log of every generation")
    p.set_defaults(func=cmd_calibrate)
    return p


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Handler of ``ketsim calibrate``: 0 done, 2 bad input (or pyabc missing)."""
    for name, low in (("population", 2), ("generations", 1), ("jobs", 1), ("max_evaluations", 1)):
        if getattr(args, name) < low:
            print(f"ketsim calibrate: --{name.replace('_', '-')} must be >= {low}", file=sys.stderr)
            return 2
    if args.seed is not None and args.seed < 0:
        print("ketsim calibrate: --seed must be >= 0", file=sys.stderr)
        return 2
    try:
        import pyabc  # noqa: F401 - an optional dependency: say how to get it
    except ImportError:
        print('ketsim calibrate needs pyabc: pip install "ketsim[calibrate]"', file=sys.stderr)
        return 2
    from ketsim.apps.calibrate.abc_fit import FitSettings
    from ketsim.apps.calibrate.parameters import parameters_for
    from ketsim.apps.calibrate.run import calibrate
    from ketsim.apps.calibrate.targets import TargetSet
    from ketsim.apps.published_checks import scenario_files
    from ketsim.config.scenario import ScenarioError
    from ketsim.storage.store import StoreError

    try:
        names = [s.strip() for s in args.parameters.split(",")] if args.parameters else None
        params = parameters_for(args.hypothesis, names)
        targets = TargetSet.from_files(scenario_files(args.paths))
        settings = FitSettings(
            args.hypothesis,
            population=args.population,
            generations=args.generations,
            replicates=tuple(args.replicate_schedule),
            min_epsilon=args.min_epsilon,
            max_evaluations=args.max_evaluations,
        )
        res = calibrate(
            targets,
            params,
            settings,
            seed=args.seed,
            jobs=args.jobs,
            out=args.out,
            base=args.base,
            verbose=args.verbose,
            argv=sys.argv,
        )
    except ScenarioError as err:
        for line in err.problems:
            print(f"{err.source}: {line}", file=sys.stderr)
        return 2
    except (ValueError, StoreError) as err:
        print(f"ketsim calibrate: {err}", file=sys.stderr)
        return 2
    g = res.generations
    print(
        f"{args.hypothesis}: {len(g)} generations, {int(g.evaluations.sum())} simulations, "
        f"final epsilon {g.epsilon.iloc[-1]:.3g}, ESS {g.ess.iloc[-1]:.0f}, "
        f"{res.elapsed_s:.0f} s{' (resumed)' if res.resumed else ''}"
    )
    cols = ["parameter", "default", "median", "q025", "q975", "sd_ratio"]
    print(res.parameters[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    ppc = res.ppc
    print(
        f"targets with the posterior-predictive median inside: "
        f"{int(((ppc['median'] >= ppc.lower) & (ppc['median'] <= ppc.upper)).sum())} of {len(ppc)}"
    )
    print(f"run directory: {res.path}")
    return 0
