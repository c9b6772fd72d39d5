"""Command line: ``ketsim scenario validate|show``, ``ketsim pk``, ``ketsim simulate``,
``ketsim bench pk``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ketsim.apps.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    _fail,
    _load,
    load_trial_scenario,
)
from ketsim.config.scenario import ScenarioError, dump_scenario
from ketsim.core.seeds import given_entropy


def _cmd_validate(args) -> int:
    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    what = []
    if sc.regimens is not None:
        what.append(f"{len(sc.regimens)} regimen(s)")
    if sc.arms is not None:
        what.append(f"{len(sc.arms)} arm(s): " + ", ".join(f"{a.name} n={a.n}" for a in sc.arms))
    print(f"{args.file}: OK (scenario '{sc.name}', {'; '.join(what)})")
    return EXIT_OK


def _cmd_show(args) -> int:
    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    if args.resolved:
        sys.stdout.write(dump_scenario(sc))
    else:
        import yaml

        data = sc.model_dump(mode="json", exclude_unset=True)
        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return EXIT_OK


def _cmd_pk(args) -> int:
    import pandas as pd

    from ketsim.sim.pk_study import simulate_pk
    from ketsim.storage.files import (
        versions,
        write_json_atomic,
        write_parquet_atomic,
        write_text_atomic,
    )

    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-pk"
    t0 = time.perf_counter()
    res = simulate_pk(sc, seed=args.seed)
    t_sim = time.perf_counter() - t0
    summary = res.summary()
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(out / "concentrations.parquet", res.to_frame())
        write_parquet_atomic(out / "summary.parquet", summary)
        write_parquet_atomic(out / "patients.parquet", res.population.to_frame())
        write_text_atomic(out / "scenario.resolved.yaml", dump_scenario(sc))
        write_json_atomic(
            out / "manifest.json",
            {
                "command": "pk",
                "argv": sys.argv,
                "scenario": sc.name,
                "seed_entropy": res.entropy,
                "patients": res.population.n,
                "output_times": int(res.times.size),
                "versions": versions(),
                "timings_s": {"simulate": t_sim, "total": time.perf_counter() - t0},
                "files": [
                    "concentrations.parquet",
                    "summary.parquet",
                    "patients.parquet",
                    "scenario.resolved.yaml",
                ],
            },
        )
    except OSError as err:
        print(f"ketsim pk: cannot write to {out}: {err.strerror or err}", file=sys.stderr)
        return EXIT_ERROR
    if not args.quiet:
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            cols = [c for c in summary.columns if c != "patient"]
            shown = summary.head(args.rows)
            print(
                f"scenario {sc.name}: {res.population.n} patients, seed {res.entropy}, "
                f"{res.times.size} output times, simulated in {t_sim:.2f} s"
            )
            print(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            if len(summary) > args.rows:
                print(f"... {len(summary) - args.rows} more patients; population:")
                print(
                    summary[cols]
                    .describe(percentiles=[0.05, 0.5, 0.95])
                    .T[["mean", "std", "5%", "50%", "95%"]]
                    .to_string(float_format=lambda v: f"{v:.4g}")
                )
        print(
            f"wrote {out}/concentrations.parquet, summary.parquet, patients.parquet, manifest.json"
        )
    return EXIT_OK


def _cmd_simulate(args) -> int:
    from ketsim.sim.trial import simulate_trial
    from ketsim.storage.files import (
        versions,
        write_json_atomic,
        write_parquet_atomic,
        write_text_atomic,
    )

    sc = load_trial_scenario(args.file, "simulate")
    if sc is None:
        return EXIT_USAGE
    out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-trial"
    t0 = time.perf_counter()
    try:
        res = simulate_trial(sc, seed=args.seed, replicates=[args.replicate])
    except ValueError as err:
        print(f"ketsim simulate: {args.file}: {err}", file=sys.stderr)
        return EXIT_ERROR
    t_sim = time.perf_counter() - t0
    summary = res.summary()
    files = ["patients.parquet", "diary.parquet", "events.parquet", "summary.csv"]
    analyses = endpoints = None
    if sc.endpoints:
        from ketsim.analysis.analyses import analyse_trials, endpoint_summaries

        endpoints = endpoint_summaries(res.arrays, sc)
        analyses = analyse_trials(res.arrays, sc)
        files += ["endpoints.csv", "analyses.csv"]
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(out / "patients.parquet", res.patients)
        write_parquet_atomic(out / "diary.parquet", res.diary)
        write_parquet_atomic(out / "events.parquet", res.events)
        write_text_atomic(out / "summary.csv", summary.to_csv(index=False))
        if endpoints is not None:
            write_text_atomic(out / "endpoints.csv", endpoints.to_csv(index=False))
            write_text_atomic(out / "analyses.csv", analyses.to_csv(index=False))
        write_text_atomic(out / "scenario.resolved.yaml", dump_scenario(sc))
        write_json_atomic(
            out / "manifest.json",
            {
                "command": "simulate",
                "argv": sys.argv,
                "scenario": sc.name,
                "seed_entropy": res.entropy,
                "replicate": args.replicate,
                "patients": len(res.patients),
                "versions": versions(),
                "timings_s": {"simulate": t_sim, "total": time.perf_counter() - t0},
                "files": [*files, "scenario.resolved.yaml"],
            },
        )
    except OSError as err:
        print(f"ketsim simulate: cannot write to {out}: {err.strerror or err}", file=sys.stderr)
        return EXIT_ERROR
    if not args.quiet:
        print(
            f"scenario {sc.name}: replicate {args.replicate}, seed {res.entropy}, "
            f"{len(res.patients)} patients, simulated in {t_sim:.2f} s"
        )
        print(format_trial_summary(summary))
        if endpoints is not None:
            print()
            print(format_endpoints(endpoints))
        if analyses is not None and len(analyses):
            print()
            print(format_analyses(analyses))
        if sc.design.type == "crossover":
            from ketsim.analysis.endpoints import carryover_diagnostic

            print()
            print("carry-over diagnostic (start of each period, by the previous period's arm):")
            print(carryover_diagnostic(res.arrays).round(3).to_string(index=False))
        print(f"wrote {out}/" + ", ".join(files) + ", manifest.json")
    return EXIT_OK


def format_trial_summary(summary) -> str:
    """Per-arm text table: weekly mean NRS, AE incidences, dropouts, end rates."""
    weeks = [c for c in summary.columns if c.startswith("week")]
    lines = ["mean daily NRS by week (week 0 = baseline):"]
    lines.append(f"{'arm':<14}" + "".join(f"{w[4:]:>6}" for w in weeks))
    for _, r in summary.iterrows():
        lines.append(f"{r['arm']:<14}" + "".join(f"{r[w]:>6.2f}" for w in weeks))
    lines.append("")
    head = (
        f"{'arm':<14}{'n':>5}{'psychotomimetic':>17}{'nausea':>8}{'liver':>7}"
        f"{'stopped':>9}{'dropout':>9}{'end rate mg/h/70kg':>20}"
    )
    lines.append(head)
    for _, r in summary.iterrows():
        rate = r["end_rate_mg_h_70kg"]
        lines.append(
            f"{r['arm']:<14}{int(r['n']):>5}{r['psychotomimetic_pct']:>16.0f}%"
            f"{r['nausea_pct']:>7.0f}%{r['liver_injury_pct']:>6.0f}%{r['discontinued_pct']:>8.0f}%"
            f"{r['dropout_pct']:>8.0f}%{'' if rate != rate else f'{rate:.1f}':>20}"
        )
    return "\n".join(lines)


def format_endpoints(table) -> str:
    """Per endpoint and arm: units and mean (continuous), proportion (binary) or events."""
    lines = ["endpoints by arm:"]
    lines.append(f"{'endpoint':<22}{'arm':<14}{'n':>5}{'value':>10}{'sd':>8}  statistic")
    for _, r in table.iterrows():
        v = r["value"]
        val = f"{100 * v:.1f}%" if r["statistic"] in ("proportion", "events") else f"{v:.2f}"
        sd = "" if r["sd"] != r["sd"] else f"{r['sd']:.2f}"
        lines.append(
            f"{r['endpoint']:<22}{r['arm']:<14}{int(r['n']):>5}{val:>10}{sd:>8}  {r['statistic']}"
        )
    return "\n".join(lines)


def format_analyses(table) -> str:
    """One line per analysis and comparison: estimate, CI, p-value (adjusted) and decision."""
    lines = ["analyses (estimate = treatment - control; log OR / log HR for logistic / log-rank):"]
    lines.append(
        f"{'endpoint':<18}{'method':<11}{'strategy':<17}{'comparison':<22}{'estimate':>9}"
        f"{'CI':>20}{'p':>9}{'p adj':>9}  decision"
    )
    for _, r in table.iterrows():
        ci = f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
        pct = f"{100 * r['conf_level']:.0f}%"
        comp = f"{r['comparison']} v {r['control']}"
        dec = "reject H0" if r["reject"] else "not rejected"
        if not r["converged"]:
            dec += " (fit failed)"
        lines.append(
            f"{r['endpoint']:<18}{r['method']:<11}{r['strategy']:<17}{comp:<22}"
            f"{r['estimate']:>9.3f}{pct + ' ' + ci:>20}{r['p_value']:>9.4f}{r['p_adjusted']:>9.4f}"
            f"  {dec} ({r['alternative']}, alpha {r['alpha']:g})"
        )
    return "\n".join(lines)


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
    if args.replicate is not None:
        # one replicate alone: the same rows as in the full run's replicates table
        seed = given_entropy(args.seed, sc.seed)
        if seed is None:
            return _fail(["seed: --replicate needs --seed (or a seed in the scenario)"], args.file)
        from ketsim.engine.variants import null_scenario

        sim = null_scenario(sc) if args.null else sc
        rows = simulate_chunk(sim, seed, [args.replicate])["analyses"]
        print(f"scenario {sc.name}: replicate {args.replicate} of seed {seed}")
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
        print(
            f"scenario {sc.name}: {args.replicates} replicates ({how}) in {t['wall_s']:.1f} s, "
            f"seed {res.entropy}, {args.jobs} job(s), backend {args.backend}"
        )
        print(format_power(res.power))
        print(f"wrote {res.store.path}/power.csv, power.parquet, replicates.parquet, manifest.json")
        if report:
            print(f"report: {report}")
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
        print(f"{args.file}: no 'sweep:' in this scenario; running it as one cell", file=sys.stderr)
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
        print(
            f"scenario {base.name}: {len(cells)} cells x {args.replicates} replicates "
            f"({t['replicates_simulated']} simulated, {t['replicates_reused']} reused) in "
            f"{t['wall_s']:.1f} s, seed {res.entropy} (common random numbers across cells)"
        )
        print(format_sweep(res, axes))
        print(f"wrote {res.store.path}/" + ", ".join(files) + ", manifest.json")
    report = _write_report(res.store.path, args)
    if report and not args.quiet:
        print(f"report: {report}")
    return EXIT_OK


def format_sweep(res, axes: list[str]) -> str:
    """Power per cell (one column per analysis) and, over two axes, response surfaces."""
    import pandas as pd

    lines = []
    p = res.power
    if len(p):
        p = p.assign(what=p["endpoint"] + " " + p["method"] + " " + p["comparison"])
        wide = p.pivot_table(index="cell", columns="what", values="power", sort=False)
        tab = res.cells.set_index("cell").join(wide)
        lines.append("power by cell:")
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            lines.append(tab.to_string(float_format=lambda v: f"{v:.3f}"))
    e = res.endpoints
    if len(axes) >= 2 and len(e):
        x, y = axes[:2]
        lines.append("")
        lines.append(f"response surfaces (mean over replicates; rows {x}, columns {y}):")
        for (ep, arm), g in e.groupby(["endpoint", "arm"], sort=False):
            piv = g.pivot_table(index=x, columns=y, values="value", sort=False)
            lines.append(f"-- {ep}, arm {arm} ({g['statistic'].iloc[0]})")
            lines.append(piv.to_string(float_format=lambda v: f"{v:.2f}"))
    return "\n".join(lines)


def _cmd_samplesize(args) -> int:
    from ketsim.engine.sample_size import search_sample_size

    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    if not sc.arms or not sc.analyses:
        return _fail(["analyses: none declared (a sample-size search needs one)"], args.file)
    res, rc = _engine_call(
        "samplesize",
        search_sample_size,
        sc=sc,
        target=args.target,
        analysis=args.analysis,
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
    if not args.quiet:
        print(
            f"scenario {sc.name}: {res.analysis}, {res.comparison} v its control; target power "
            f"{res.target:g}; {args.replicates} replicates per size, seed {res.entropy}"
        )
        print(res.points.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if res.n_observed is None:
            print(f"target not reached up to {res.unit} = {args.n_max}")
        else:
            print(f"smallest evaluated {res.unit} with power >= {res.target:g}: {res.n_observed}")
        if res.n_fit == res.n_fit:
            print(
                f"probit fit power = Phi(a + b sqrt(n)): {res.unit} = {res.n_fit:.1f} "
                f"(95% interval {res.n_fit_low:.1f} to {res.n_fit_high:.1f})"
            )
        print(f"wrote {res.store.path}/samplesize_points.csv, samplesize.json, manifest.json")
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

    try:
        path = write_report(args.run_dir, out=args.out, target=args.target)
    except FileNotFoundError as err:
        print(f"ketsim report: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioError as err:
        return _fail(err.problems, f"{args.run_dir}/scenario.resolved.yaml")
    print(f"wrote {path}")
    return EXIT_OK


def format_power(table) -> str:
    """One line per analysis and comparison: power (or type-I error) with its MC SE and CI."""
    if table.empty:
        return "no analyses"
    null = (table["hypothesis"] == "null").all()
    what = "type-I error" if null else "power"
    comps = [f"{r['comparison']} v {r['control']}" for _, r in table.iterrows()]
    we = max(9, *(len(e) for e in table["endpoint"])) + 1
    wm = max(7, *(len(m) for m in table["method"])) + 1
    ws = max(9, *(len(m) for m in table["strategy"])) + 1
    wc = max(11, *(len(c) for c in comps)) + 1
    head = "(Monte Carlo SE; 95% Wilson interval); estimate mean (SD), bias vs true effect (SE):"
    lines = [f"{what} {head}"]
    lines.append(
        f"{'endpoint':<{we}}{'method':<{wm}}{'strategy':<{ws}}{'comparison':<{wc}}{what:>14}"
        f"{'95% CI':>16}{'estimate':>18}{'true':>9}{'bias':>17}"
    )
    for comp, (_, r) in zip(comps, table.iterrows(), strict=True):
        pw = f"{r['power']:.3f} ({r['mc_se']:.3f})"
        ci = f"[{r['wilson_low']:.3f}, {r['wilson_high']:.3f}]"
        est = f"{r['mean_estimate']:.3f} ({r['sd_estimate']:.3f})"
        tr = "" if r["true_effect"] != r["true_effect"] else f"{r['true_effect']:.3f}"
        bias = "" if r["bias"] != r["bias"] else f"{r['bias']:+.3f} ({r['bias_mc_se']:.3f})"
        lines.append(
            f"{r['endpoint']:<{we}}{r['method']:<{wm}}{r['strategy']:<{ws}}{comp:<{wc}}{pw:>14}"
            f"{ci:>16}{est:>18}{tr:>9}{bias:>17}"
        )
    return "\n".join(lines)


def _cmd_bench(args) -> int:
    from ketsim.apps.bench import bench_pk, bench_trial

    if args.what == "trial":
        r = bench_trial(replicates=args.replicates, jobs=args.jobs, chunk_size=args.chunk_size)
        if args.json:
            print(json.dumps(r))
        else:
            print(
                f"{r['workload']}:\n  {r['replicates']} trials on {r['jobs']} job(s) in "
                f"{r['seconds']:.2f} s -> {r['trials_per_s']:.0f} trials/s "
                f"(one process: {r['single_process_trials_per_s']:.0f} trials/s; "
                f"{r['analyses_per_trial']} analyses per trial)"
            )
        return EXIT_OK
    if args.what != "pk":
        print(
            f"ketsim bench: unknown benchmark {args.what!r}; available: pk, trial",
            file=sys.stderr,
        )
        return EXIT_USAGE
    r = bench_pk(patients=args.patients, repeats=args.repeats)
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"{r['workload']}: {r['patients']} patients x {r['output_times']} times "
            f"in {r['seconds']:.3f} s -> {r['subjects_per_s']:,.0f} subjects/s"
        )
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
    p.add_argument("--no-report", action="store_true", help="do not write report.html")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ketsim", description="Virtual ketamine trials for chronic pain."
    )
    sub = p.add_subparsers(dest="command", required=True)

    sc = sub.add_parser("scenario", help="check or print a scenario file")
    scs = sc.add_subparsers(dest="action", required=True)
    v = scs.add_parser("validate", help="exit 0 if FILE is a valid scenario, 2 with problems")
    v.add_argument("file")
    v.set_defaults(func=_cmd_validate)
    s = scs.add_parser("show", help="print a scenario")
    s.add_argument("file")
    s.add_argument("--resolved", action="store_true", help="fill in every default")
    s.set_defaults(func=_cmd_show)

    pk = sub.add_parser("pk", help="population PK of a scenario -> parquet tables")
    pk.add_argument("file")
    pk.add_argument("--out", help="output directory (default runs/<scenario>-pk)")
    pk.add_argument("--seed", type=int, help="root seed (default: the scenario's, else random)")
    pk.add_argument("--rows", type=int, default=20, help="patients to print (default 20)")
    pk.add_argument("--quiet", action="store_true")
    pk.set_defaults(func=_cmd_pk)

    sim = sub.add_parser("simulate", help="one replicate of a scenario's trial -> parquet tables")
    sim.add_argument("file")
    sim.add_argument("--out", help="output directory (default runs/<scenario>-trial)")
    sim.add_argument("--seed", type=int, help="root seed (default: the scenario's, else random)")
    sim.add_argument("--replicate", type=int, default=0, help="replicate index (default 0)")
    sim.add_argument("--quiet", action="store_true")
    sim.set_defaults(func=_cmd_simulate)

    pw = sub.add_parser("power", help="Monte Carlo power of a scenario's analyses -> run store")
    pw.add_argument("file")
    _engine_args(pw, replicates=1000)
    pw.add_argument(
        "--null",
        action="store_true",
        help="run on the null (every arm gets the control's treatment): type-I error",
    )
    pw.add_argument(
        "--truth-patients",
        type=int,
        default=20_000,
        help="patients in the large trial giving the true effects for bias (0: skip)",
    )
    pw.add_argument(
        "--replicate", type=int, help="re-run this one replicate alone and print its analyses"
    )
    pw.add_argument(
        "--aux-replicates",
        type=int,
        default=200,
        help="replicates of each power-curve size and switch-sensitivity scenario for the "
        "report (default 200; 0: none)",
    )
    pw.set_defaults(func=_cmd_power)

    sw = sub.add_parser("sweep", help="power and endpoints over every cell of a scenario's sweep")
    sw.add_argument("file")
    _engine_args(sw, replicates=200)
    sw.add_argument(
        "--truth-patients",
        type=int,
        default=0,
        help="per-cell true-effect trial size for bias (default 0: skip)",
    )
    sw.set_defaults(func=_cmd_sweep)

    ss = sub.add_parser("samplesize", help="smallest n reaching a target power")
    ss.add_argument("file")
    _engine_args(ss, replicates=400)
    ss.add_argument("--target", type=float, default=0.8, help="target power (default 0.8)")
    ss.add_argument("--analysis", type=int, default=0, help="index into analyses (default 0)")
    ss.add_argument("--comparison", help="compared arm (default: the analysis' first)")
    ss.add_argument("--n-min", type=int, default=4, help="smallest size tried (default 4)")
    ss.add_argument("--n-max", type=int, default=2000, help="largest size tried (default 2000)")
    ss.set_defaults(func=_cmd_samplesize)

    from ketsim.apps.published_checks import add_validate_parser

    add_validate_parser(sub)

    from ketsim.apps.interchange import add_interchange_parsers

    add_interchange_parsers(sub)

    from ketsim.apps.explore_cli import add_explore_parser

    add_explore_parser(sub)

    rp = sub.add_parser("report", help="(re)write the HTML report of a power or sweep run")
    rp.add_argument("run_dir")
    rp.add_argument("--out", help="output file (default RUN_DIR/report.html)")
    rp.add_argument("--target", type=float, default=0.8, help="target power line (default 0.8)")
    rp.set_defaults(func=_cmd_report)

    b = sub.add_parser("bench", help="performance benchmarks")
    b.add_argument("what", help="pk (population PK) or trial (Monte Carlo trials/s)")
    b.add_argument("--json", action="store_true", help="one JSON line")
    b.add_argument("--patients", type=int, default=10_000, help="pk: patients")
    b.add_argument("--repeats", type=int, default=3, help="pk: repeats (best is kept)")
    b.add_argument("--replicates", type=int, default=1000, help="trial: replicate trials")
    b.add_argument("--jobs", type=int, default=2, help="trial: worker processes (default 2)")
    b.add_argument("--chunk-size", type=int, help="trial: replicates per chunk")
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "seed", None) is not None and args.seed < 0:
        parser.error("--seed must be >= 0")
    rep = getattr(args, "replicate", 0)
    if rep is not None and rep < 0:
        parser.error("--replicate must be >= 0")
    for name in ("replicates", "jobs", "chunk_size"):
        v = getattr(args, name, None)
        if v is not None and v < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("truth_patients", "aux_replicates"):
        if getattr(args, name, 0) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
