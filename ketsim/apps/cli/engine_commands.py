"""Monte Carlo commands: ``ketsim power``, ``ketsim sweep``, ``ketsim samplesize`` and
``ketsim report``, with their shared execution arguments (:func:`_engine_args`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ketsim.apps.cli.formatting import (
    format_analyses,
    format_group_sequential,
    format_multiplicity,
    format_power,
    format_samplesize,
    format_sweep,
    power_warnings,
)
from ketsim.apps.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    _fail,
    _load,
)
from ketsim.config.scenario import ScenarioError
from ketsim.core.seeds import given_entropy

#: the one-line message for a sweep file given to a single-design command
_SWEEP_FILE = (
    "sweep: this is a sweep file; 'ketsim {cmd}' runs one design: use 'ketsim sweep {file}' "
    "for every cell, or remove the 'sweep:' block to run the base design"
)


def _say(args, text: str) -> None:
    """A line of the command's report: standard output, or standard error under ``--format
    csv`` (so that standard output holds only the CSV table)."""
    print(text, file=sys.stderr if getattr(args, "format", "text") == "csv" else sys.stdout)


def _csv_out(table) -> None:
    """A table as CSV on standard output (``--format csv``)."""
    table.to_csv(sys.stdout, index=False)


def _run_options(args):
    from ketsim.engine.runs import RunOptions

    progress = False if args.quiet else None
    return RunOptions(
        jobs=args.jobs,
        backend=args.backend,
        scheduler=args.scheduler,
        chunk_size=args.chunk_size,
        progress=progress,
        argv=sys.argv,
    )


def _engine_call(cmd: str, fn, **kwargs):
    """``fn(**kwargs)`` with engine errors and Ctrl-C turned into messages; (result, exit code)."""
    from ketsim.storage.store import StoreError

    try:
        return fn(**kwargs), EXIT_OK
    except (StoreError, ValueError, RuntimeError, OSError) as err:
        print(f"ketsim {cmd}: {err}", file=sys.stderr)
        return None, EXIT_ERROR
    except KeyboardInterrupt:
        print(
            f"\nketsim {cmd}: interrupted; finished chunks are kept: run the same command again "
            "to resume",
            file=sys.stderr,
        )
        return None, 130


def _cmd_power(args) -> int:
    from ketsim.engine.chunks import simulate_chunk
    from ketsim.engine.power import estimate_power

    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    if not sc.arms or not sc.analyses:
        return _fail(
            ["analyses: none declared ('ketsim power' needs arms and analyses)"], args.file
        )
    if sc.sweep is not None:
        return _fail([_SWEEP_FILE.format(cmd="power", file=args.file)], args.file)
    if args.replicate is not None:
        # one replicate alone: the same rows as in the full run's replicates table
        seed = given_entropy(args.seed, sc.seed)
        if seed is None:
            return _fail(["seed: --replicate needs --seed (or a seed in the scenario)"], args.file)
        from ketsim.engine.variants import null_scenario

        sim = null_scenario(sc) if args.null else sc
        rows = simulate_chunk(sim, seed, [args.replicate])["analyses"]
        _say(args, f"scenario {sc.name}: replicate {args.replicate} of seed {seed}")
        if args.format == "csv":
            _csv_out(rows)
        else:
            print(format_analyses(rows))
        return EXIT_OK
    res, rc = _engine_call(
        "power",
        estimate_power,
        sc=sc,
        replicates=args.replicates,
        seed=args.seed,
        null=args.null,
        truth_patients=args.truth_patients,
        out=args.out,
        base=args.runs_dir,
        opts=_run_options(args),
        aux_replicates=args.aux_replicates,
    )
    if res is None:
        return rc
    report = _write_report(res.store.path, args)
    if not args.quiet:
        t = res.timings
        how = f"{t['replicates_simulated']} simulated"
        if t["replicates_reused"]:
            how += f", {t['replicates_reused']} reused from the interrupted run"
        _say(
            args,
            f"scenario {sc.name}: {args.replicates} replicates ({how}) in {t['wall_s']:.1f} s, "
            f"seed {res.entropy}, {args.jobs} job(s), backend {args.backend}",
        )
        if res.truth_plan is not None:
            _say(args, res.truth_plan.describe())
        if t.get("aux_cells"):
            _say(
                args,
                f"report extras: {t['aux_cells']} power-curve and sensitivity scenarios x "
                f"{t['aux_replicates']} replicates (common random numbers with the main run)",
            )
        if args.format == "csv":
            _csv_out(res.power)
        else:
            print(format_power(res.power, primary=sc.primary_analysis()))
        for line in power_warnings(res.power):
            _say(args, line)
        gs_text = format_group_sequential(res.group_sequential, res.group_sequential_summary)
        if gs_text:
            _say(args, gs_text)
            _say(args, f"wrote {res.store.path}/group_sequential.csv, group_sequential_summary.csv")
        mult_text = format_multiplicity(res.multiplicity)
        if mult_text:
            _say(args, mult_text)
            _say(args, f"wrote {res.store.path}/multiplicity.csv")
        _say(
            args,
            f"wrote {res.store.path}/power.csv, power.parquet, replicates.parquet, manifest.json",
        )
        if report:
            _say(args, f"report: {report}")
    elif args.format == "csv":
        _csv_out(res.power)
    return EXIT_OK


def _cmd_sweep(args) -> int:
    from ketsim.config.sweep import load_sweep, sweep_axes
    from ketsim.engine.summaries import surfaces
    from ketsim.engine.sweep import estimate_sweep

    try:
        base, cells = load_sweep(args.file)
    except ScenarioError as err:
        return _fail(err.problems, args.file)
    if not base.arms:
        return _fail(["arms: required key is missing ('ketsim sweep' runs trials)"], args.file)
    if base.sweep is None:
        return _fail(
            [
                "sweep: no 'sweep:' block, so there is nothing to sweep; add one (README, "
                "'Monte Carlo power, sweeps and sample size') or run this single design with "
                f"'ketsim power {args.file}'"
            ],
            args.file,
        )
    res, rc = _engine_call(
        "sweep",
        estimate_sweep,
        base=base,
        cells=cells,
        replicates=args.replicates,
        seed=args.seed,
        truth_patients=args.truth_patients,
        out=args.out,
        runs_dir=args.runs_dir,
        opts=_run_options(args),
    )
    if res is None:
        return rc
    axes = [a for a in sweep_axes(cells) if res.cells[a].nunique() > 1]
    files = ["sweep_power.csv", "sweep_endpoints.csv", "sweep_trial.csv", "replicates.parquet"]
    if len(axes) >= 2:
        surf = surfaces(res.power, res.endpoints, axes)
        res.store.write_table("surfaces", surf)
        files.append("surfaces.csv")
    if not args.quiet:
        t = res.timings
        _say(
            args,
            f"scenario {base.name}: {len(cells)} cells x {args.replicates} replicates "
            f"({t['replicates_simulated']} simulated, {t['replicates_reused']} reused) in "
            f"{t['wall_s']:.1f} s, seed {res.entropy} (common random numbers across cells)",
        )
        if args.format == "csv":
            _csv_out(res.power)
        else:
            print(format_sweep(res, axes, base))
        _say(args, f"wrote {res.store.path}/" + ", ".join(files) + ", manifest.json")
    report = _write_report(res.store.path, args)
    if report and not args.quiet:
        _say(args, f"report: {report}")
    if args.quiet and args.format == "csv":
        _csv_out(res.power)
    return EXIT_OK


def _cmd_samplesize(args) -> int:
    from ketsim.engine.sample_size import search_sample_size

    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    if not sc.arms or not sc.analyses:
        return _fail(["analyses: none declared (a sample-size search needs one)"], args.file)
    if sc.sweep is not None:
        return _fail([_SWEEP_FILE.format(cmd="samplesize", file=args.file)], args.file)
    from ketsim.analysis.analyses import find_analysis

    try:
        key = sc.primary_analysis() if args.analysis is None else args.analysis
        analysis = find_analysis(sc, key)
    except ValueError as err:
        print(f"ketsim samplesize: {err}", file=sys.stderr)
        return EXIT_USAGE
    res, rc = _engine_call(
        "samplesize",
        search_sample_size,
        sc=sc,
        target=args.target if args.target is not None else sc.statistics.target_power,
        analysis=analysis,
        comparison=args.comparison,
        replicates=args.replicates,
        n_min=args.n_min,
        n_max=args.n_max,
        seed=args.seed,
        out=args.out,
        runs_dir=args.runs_dir,
        opts=_run_options(args),
    )
    if res is None:
        return rc
    from ketsim.engine.sample_size_check import search_cross_check

    check = search_cross_check(sc, analysis, res)
    page = None
    if not args.no_report:
        try:
            from ketsim.apps.report.samplesize_page import write_samplesize_page

            page = write_samplesize_page(res.store.path)
        except (OSError, ImportError) as err:
            print(f"ketsim: samplesize.html not written: {err}", file=sys.stderr)
    if not args.quiet:
        if args.format == "csv":
            # only the table on standard output; the answer and the files on standard error
            _csv_out(res.points)
            _say(args, format_samplesize(sc, res, check, args))
        else:
            print(format_samplesize(sc, res, check, args))
        _say(args, f"wrote {res.store.path}/samplesize_points.csv, samplesize.json, manifest.json")
        if page:
            _say(args, f"report: {page}")
    elif args.format == "csv":
        _csv_out(res.points)
    return EXIT_OK


def _write_report(run_dir, args):
    """The run's HTML report (None with --no-report or when it cannot be written)."""
    if getattr(args, "no_report", False):
        return None
    try:
        from ketsim.apps.report import write_report

        return write_report(run_dir)
    except (OSError, ImportError) as err:
        print(f"ketsim: report not written: {err}", file=sys.stderr)
        return None


def _cmd_report(args) -> int:
    from ketsim.apps.report import write_report

    man = Path(args.run_dir) / "manifest.json"
    if man.is_file():
        m = json.loads(man.read_text(encoding="utf-8"))
        kind = m.get("kind") or m.get("command") or ""  # pk / simulate record "command"
        if kind == "samplesize":
            from ketsim.apps.report.samplesize_page import write_samplesize_page

            print(f"wrote {write_samplesize_page(args.run_dir, out=args.out)}")
            return EXIT_OK
        if kind == "pk":
            from ketsim.apps.report.pk_page import write_pk_page

            try:
                path = write_pk_page(args.run_dir, out=args.out)
            except FileNotFoundError as err:  # a pk run written before bands.parquet existed
                print(f"ketsim report: {args.run_dir}: {err}; re-run `ketsim pk`", file=sys.stderr)
                return EXIT_USAGE
            print(f"wrote {path}")
            return EXIT_OK
        if kind not in ("power", "sweep"):
            print(
                f"ketsim report: {args.run_dir} is a {kind or 'unknown'} run; reports cover "
                "power, sweep, samplesize and pk runs (ketsim power / sweep / samplesize / pk)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        path = write_report(args.run_dir, out=args.out, target=args.target)
    except FileNotFoundError as err:
        print(f"ketsim report: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioError as err:
        return _fail(err.problems, f"{args.run_dir}/scenario.resolved.yaml")
    print(f"wrote {path}")
    return EXIT_OK


def _engine_args(p: argparse.ArgumentParser, replicates: int) -> None:
    p.add_argument(
        "--replicates",
        type=int,
        default=replicates,
        help=f"replicate trials (default {replicates})",
    )
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--seed", type=int, help="root seed (default: the scenario's, else random)")
    p.add_argument("--out", help="run directory (default runs/<scenario>-<kind>-<time>-<hash>)")
    p.add_argument("--runs-dir", default="runs", help="where new run directories go (runs)")
    p.add_argument(
        "--backend", choices=("loky", "dask"), default="loky", help="parallel backend (loky)"
    )
    p.add_argument(
        "--scheduler", help="dask scheduler address (default: a LocalCluster of --jobs workers)"
    )
    p.add_argument(
        "--chunk-size", type=int, help="replicates per vectorised chunk (default: automatic)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    p.add_argument(
        "--format",
        choices=("text", "csv"),
        default="text",
        help="the result table as aligned text (default) or as CSV on standard output (the "
        "other lines then go to standard error)",
    )
    p.add_argument("--no-report", action="store_true", help="do not write report.html")
