"""The ``ketsim`` argument parser (one sub-parser per noun) and :func:`main`."""

from __future__ import annotations

import argparse

from ketsim.apps.cli.bench_command import (
    _cmd_bench,
)
from ketsim.apps.cli.discriminate_command import add_discriminate_parser
from ketsim.apps.cli.engine_commands import (
    _cmd_power,
    _cmd_report,
    _cmd_samplesize,
    _cmd_sweep,
    _engine_args,
)
from ketsim.apps.cli.init_command import TEMPLATES, _cmd_init
from ketsim.apps.cli.scenario_commands import (
    _cmd_pk,
    _cmd_schema,
    _cmd_show,
    _cmd_simulate,
    _cmd_validate,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ketsim", description="Virtual ketamine trials for chronic pain."
    )
    sub = p.add_subparsers(dest="command", required=True)

    ini = sub.add_parser(
        "init",
        help="write a commented starting scenario for a common design",
        epilog="examples:\n  ketsim init                      # list the templates\n"
        "  ketsim init daily_sessions --out my_trial.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ini.add_argument("template", nargs="?", choices=list(TEMPLATES), metavar="TEMPLATE")
    ini.add_argument("--out", help="file to write (default TEMPLATE.yaml)")
    ini.add_argument("--force", action="store_true", help="overwrite an existing file")
    ini.set_defaults(func=_cmd_init)

    sc = sub.add_parser("scenario", help="check or print a scenario file")
    scs = sc.add_subparsers(dest="action", required=True)
    v = scs.add_parser("validate", help="exit 0 if FILE is a valid scenario, 2 with problems")
    v.add_argument("file")
    v.set_defaults(func=_cmd_validate)
    s = scs.add_parser("show", help="print a scenario")
    s.add_argument("file")
    s.add_argument("--resolved", action="store_true", help="fill in every default")
    s.set_defaults(func=_cmd_show)
    js = scs.add_parser(
        "schema",
        help="print the JSON Schema of scenario files (for editor completion and checking)",
    )
    js.add_argument("--out", help="write it to this file instead of standard output")
    js.set_defaults(func=_cmd_schema)

    pk = sub.add_parser("pk", help="population PK of a scenario -> parquet tables")
    pk.add_argument("file")
    pk.add_argument("--out", help="output directory (default runs/<scenario>-pk-<UTC time>)")
    pk.add_argument("--force", action="store_true", help="overwrite a run already in --out")
    pk.add_argument("--seed", type=int, help="root seed (default: the scenario's, else random)")
    pk.add_argument("--rows", type=int, default=20, help="patients to print (default 20)")
    pk.add_argument(
        "--chunk-memory-mb",
        type=float,
        default=256.0,
        help="memory for one streamed chunk of patients, MB (default 256)",
    )
    pk.add_argument("--no-report", action="store_true", help="do not write pk.html")
    pk.add_argument("--quiet", action="store_true")
    pk.set_defaults(func=_cmd_pk)

    sim = sub.add_parser("simulate", help="one replicate of a scenario's trial -> parquet tables")
    sim.add_argument("file")
    sim.add_argument("--out", help="output directory (default runs/<scenario>-trial-<UTC time>)")
    sim.add_argument("--force", action="store_true", help="overwrite a run already in --out")
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
        default=None,
        help="patients in the large trial giving the true effects for bias (0: skip; default: "
        "n x replicates / 2, sized from the MC error, announced in the output)",
    )
    pw.add_argument(
        "--replicate", type=int, help="re-run this one replicate alone and print its analyses"
    )
    pw.add_argument(
        "--aux-replicates",
        type=int,
        default=None,
        help="replicates of each power-curve size and switch-sensitivity scenario for the "
        "report (default max(50, replicates / 10); 0: none)",
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

    ss = sub.add_parser(
        "samplesize",
        help="smallest n reaching a target power (fitted curve, z-formula check, samplesize.html)",
    )
    ss.add_argument("file")
    _engine_args(ss, replicates=400)
    ss.add_argument(
        "--target",
        type=float,
        default=None,
        help="target power (default: the scenario's statistics.target_power, 0.8)",
    )
    ss.add_argument(
        "--analysis",
        default=None,
        help="the analysis: its 0-based index, its endpoint's name, or its label (default: "
        "the primary analysis)",
    )
    ss.add_argument("--comparison", help="compared arm (default: the analysis' first)")
    ss.add_argument("--n-min", type=int, default=4, help="smallest size tried (default 4)")
    ss.add_argument("--n-max", type=int, default=2000, help="largest size tried (default 2000)")
    ss.set_defaults(func=_cmd_samplesize)

    from ketsim.apps.cli.compare_command import add_compare_parser

    add_compare_parser(sub, _engine_args)

    from ketsim.apps.published_checks import add_validate_parser

    add_validate_parser(sub)

    from ketsim.apps.calibrate.cli import add_calibrate_parser

    add_calibrate_parser(sub)

    from ketsim.apps.interchange import add_interchange_parsers

    add_interchange_parsers(sub)

    from ketsim.apps.explore_cli import add_explore_parser

    add_explore_parser(sub)

    rp = sub.add_parser(
        "report",
        help="(re)write the HTML report of a power, sweep or samplesize run, or the PK page of a "
        "pk run",
    )
    rp.add_argument("run_dir")
    rp.add_argument(
        "--out", help="output file (default RUN_DIR/report.html; RUN_DIR/pk.html for a pk run)"
    )
    rp.add_argument(
        "--target",
        type=float,
        default=None,
        help="target power line (default: the scenario's statistics.target_power, 0.8)",
    )
    rp.set_defaults(func=_cmd_report)

    add_discriminate_parser(sub)

    b = sub.add_parser("bench", help="performance benchmarks")
    b.add_argument(
        "what",
        help="pk (population PK), trial (Monte Carlo trials/s) or power (the quickstart "
        "command end to end)",
    )
    b.add_argument("--json", action="store_true", help="one JSON line")
    b.add_argument("--patients", type=int, default=10_000, help="pk: patients")
    b.add_argument("--repeats", type=int, default=3, help="pk: repeats (best is kept)")
    b.add_argument("--replicates", type=int, default=1000, help="trial: replicate trials")
    b.add_argument("--jobs", type=int, default=2, help="trial: worker processes (default 2)")
    b.add_argument("--chunk-size", type=int, help="trial: replicates per chunk")
    b.add_argument("--scenario", help="power: scenario file (default the Sigtermans 2009 one)")
    b.add_argument(
        "--against",
        help="power: source checkout of another ketsim version, timed in the same session",
    )
    b.set_defaults(func=_cmd_bench)
    from ketsim.apps.cli.examples import add_examples

    add_examples(p)
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
        if (getattr(args, name, 0) or 0) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    return args.func(args)
