"""Command line: ``ketsim scenario validate|show``, ``ketsim pk``, ``ketsim simulate``,
``ketsim bench pk``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ketsim.scenario import ScenarioError, dump_scenario, load_scenario

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _fail(problems: list[str], source: str) -> int:
    for line in problems:
        print(f"{source}: {line}", file=sys.stderr)
    return EXIT_USAGE


def _load(path: str):
    """The validated scenario, or None after printing one line per problem to stderr."""
    try:
        return load_scenario(path)
    except ScenarioError as err:
        _fail(err.problems, path)
        return None


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

    from ketsim.io import versions, write_json_atomic, write_parquet_atomic, write_text_atomic
    from ketsim.pk.simulate import simulate_pk

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
    from ketsim.io import versions, write_json_atomic, write_parquet_atomic, write_text_atomic
    from ketsim.trial import simulate_trial

    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    if not sc.arms:
        return _fail(["arms: required key is missing ('ketsim simulate' runs a trial)"], args.file)
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
        from ketsim.analyses import analyse_trials, endpoint_summaries

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
            from ketsim.endpoints import carryover_diagnostic

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


def _cmd_bench(args) -> int:
    from ketsim.bench import bench_pk

    if args.what != "pk":
        print(f"ketsim bench: unknown benchmark {args.what!r}; available: pk", file=sys.stderr)
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

    b = sub.add_parser("bench", help="performance benchmarks")
    b.add_argument("what", help="pk")
    b.add_argument("--json", action="store_true", help="one JSON line")
    b.add_argument("--patients", type=int, default=10_000)
    b.add_argument("--repeats", type=int, default=3)
    b.set_defaults(func=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "seed", None) is not None and args.seed < 0:
        parser.error("--seed must be >= 0")
    if getattr(args, "replicate", 0) < 0:
        parser.error("--replicate must be >= 0")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
