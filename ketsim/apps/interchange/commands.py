"""The ``ketsim export`` and ``ketsim import-doses`` commands."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketsim.config.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
)

if TYPE_CHECKING:
    pass
import yaml

from ketsim import __version__
from ketsim.apps.common import load_trial_scenario
from ketsim.apps.interchange.codes import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    InterchangeError,
)
from ketsim.apps.interchange.dosing_import import (
    _import_file,
)
from ketsim.apps.interchange.export import (
    to_nonmem,
    write_nonmem,
)
from ketsim.apps.interchange.regimens import (
    regimen_dicts,
    total_mg,
)
from ketsim.engine.variants import null_scenario
from ketsim.sim.trial import simulate_trial
from ketsim.storage.files import write_text_atomic


# -- command line ---------------------------------------------------------------------------------
def _err(cmd: str, msg: str, code: int) -> int:
    print(f"ketsim {cmd}: {msg}", file=sys.stderr)
    return code


def add_interchange_parsers(subparsers: Any) -> None:
    """Add ``ketsim export`` and ``ketsim import-doses`` to an argparse sub-parser set."""
    ex = subparsers.add_parser(
        "export",
        help="simulate a scenario (or re-simulate a run) and export a NONMEM-style dataset",
        description=(
            "RUN_OR_SIM is a scenario YAML (one replicate is simulated) or a run directory of "
            "'ketsim simulate' or 'ketsim power' (its seed and replicate are re-simulated "
            "exactly). Writes the dataset as CSV and a .json sidecar describing its columns and "
            "codes. Exit 2 on bad input, 1 if the simulation or writing fails."
        ),
    )
    ex.add_argument("source", metavar="RUN_OR_SIM", help="scenario YAML or run directory")
    ex.add_argument(
        "--format", choices=("nonmem",), default="nonmem", help="dataset format (nonmem)"
    )
    ex.add_argument(
        "--out",
        help="CSV file (default runs/<scenario>-nonmem-r<R>.csv; for a run directory "
        "RUN_DIR/nonmem-r<R>.csv)",
    )
    ex.add_argument(
        "--replicate",
        type=int,
        help="replicate (default 0; a 'ketsim simulate' run: its own replicate)",
    )
    ex.add_argument(
        "--seed",
        type=int,
        help="root seed for a scenario file (default: the scenario's, else random)",
    )
    ex.add_argument("--no-nrs", action="store_true", help="leave out the pain diary (DVID 3)")
    ex.add_argument(
        "--after-dropout",
        action="store_true",
        help="keep concentration records after a patient left the study",
    )
    ex.add_argument("--quiet", action="store_true", help="print only the files written")
    ex.set_defaults(func=cmd_export)

    im = subparsers.add_parser(
        "import-doses",
        help="read NONMEM-style dose records into ketsim regimens (YAML)",
        description=(
            "Reads the dose records (EVID 1/4; AMT mg, RATE mg/h, TIME h, CMT) of FILE and "
            "writes them as ketsim regimens: a 'regimens:' mapping ID -> list, or with --id one "
            "'regimens:' list to paste into a scenario. Exit 2 on input ketsim cannot represent "
            "(the message names the row and column), 1 if the output cannot be written."
        ),
    )
    im.add_argument("file", metavar="FILE.csv", help="NONMEM-style dataset (CSV or whitespace)")
    im.add_argument(
        "--out",
        help="YAML file (default FILE's name with -regimens.yaml; '-': standard output)",
    )
    im.add_argument("--id", type=int, help="only this ID, written as a plain 'regimens:' list")
    im.set_defaults(func=cmd_import_doses)


@dataclass
class _Source:
    scenario: Scenario
    seed: int | None
    replicate: int
    out: Path
    meta: dict[str, Any]


def _from_run_dir(path: Path, args: argparse.Namespace) -> _Source | int:

    man_path = path / "manifest.json"
    try:
        man = json.loads(man_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return _err("export", f"{path}: not a ketsim run directory (no manifest.json)", EXIT_USAGE)
    except (OSError, ValueError) as err:
        return _err("export", f"{man_path}: cannot read: {err}", EXIT_USAGE)
    cmd = man.get("command") or man.get("kind")
    if cmd not in ("simulate", "power"):
        return _err(
            "export",
            f"{man_path}: a '{cmd}' run cannot be exported: use a run directory of 'ketsim "
            "simulate' or 'ketsim power', or the scenario file",
            EXIT_USAGE,
        )
    seed = man.get("seed_entropy")
    if not isinstance(seed, int):
        return _err("export", f"{man_path}: no integer seed_entropy recorded", EXIT_USAGE)
    if args.seed is not None and args.seed != seed:
        return _err(
            "export",
            f"--seed {args.seed}: {path} was run with seed {seed}; drop --seed (or export the "
            "scenario file with that seed)",
            EXIT_USAGE,
        )
    key = man.get("key") or {}
    if key.get("reference") is not None:
        return _err(
            "export", f"{man_path}: an engine-check run (reference model) has no trial", EXIT_USAGE
        )
    try:
        sc = load_scenario(path / "scenario.resolved.yaml")
    except ScenarioError as err:
        for line in err.problems:
            print(f"{err.source}: {line}", file=sys.stderr)
        return EXIT_USAGE
    rep = args.replicate
    if cmd == "simulate":
        rep = int(man.get("replicate", 0)) if rep is None else rep
    else:
        rep = 0 if rep is None else rep
        n_rep = man.get("replicates", key.get("replicates"))
        if isinstance(n_rep, int) and rep >= n_rep:
            return _err(
                "export",
                f"--replicate {rep}: the run has replicates 0-{n_rep - 1}",
                EXIT_USAGE,
            )
        if key.get("null"):
            sc = null_scenario(sc)
    ran = (man.get("versions") or {}).get("ketsim")
    if ran and ran != __version__:
        print(
            f"ketsim export: warning: {path} was run with ketsim {ran}, this is {__version__}; "
            "the re-simulated trial may differ",
            file=sys.stderr,
        )
    out = Path(args.out) if args.out else path / f"nonmem-r{rep}.csv"
    meta = {"run_directory": str(path), "run_command": cmd, "null": bool(key.get("null"))}
    return _Source(sc, seed, rep, out, meta)


def cmd_export(args: argparse.Namespace) -> int:
    """Handler of ``ketsim export``: 0 written, 1 simulation or write error, 2 bad input."""

    if getattr(args, "format", "nonmem") != "nonmem":
        return _err("export", f"--format {args.format}: only nonmem is supported", EXIT_USAGE)
    for name in ("replicate", "seed"):
        v = getattr(args, name, None)
        if v is not None and v < 0:
            return _err("export", f"--{name} must be >= 0", EXIT_USAGE)
    src = Path(args.source)
    if src.is_dir():
        got = _from_run_dir(src, args)
        if isinstance(got, int):
            return got
    else:
        if not src.exists():
            return _err("export", f"{src}: no such file or run directory", EXIT_USAGE)

        sc = load_trial_scenario(src, "export")
        if sc is None:
            return EXIT_USAGE
        rep = args.replicate or 0
        out = Path(args.out) if args.out else Path("runs") / f"{sc.name}-nonmem-r{rep}.csv"
        got = _Source(sc, args.seed, rep, out, {"scenario_file": str(src)})
    try:
        res = simulate_trial(
            got.scenario, seed=got.seed, replicates=[got.replicate], record_doses=True
        )
    except ValueError as err:
        return _err("export", f"{src}: {err}", EXIT_ERROR)
    df = to_nonmem(res, nrs=not args.no_nrs, after_dropout=args.after_dropout)
    try:
        csv_path, side = write_nonmem(df, got.out, meta=got.meta)
    except OSError as err:
        return _err("export", f"cannot write {got.out}: {err.strerror or err}", EXIT_ERROR)
    if not args.quiet:
        n_dose = int((df["EVID"] == 1).sum())
        n_obs = int((df["EVID"] == 0).sum())
        print(
            f"scenario {got.scenario.name}: replicate {got.replicate}, seed {res.entropy}: "
            f"{df['ID'].nunique()} IDs, {n_dose} dose records, {n_obs} observation records"
        )
    print(f"wrote {csv_path} and {side}")
    return EXIT_OK


_SUMMARY_IDS = 20  # IDs listed by ketsim import-doses (the YAML has them all)


def cmd_import_doses(args: argparse.Namespace) -> int:
    """Handler of ``ketsim import-doses``: 0 written, 1 write error, 2 bad input."""

    path = Path(args.file)
    try:
        imp = _import_file(path)
    except InterchangeError as err:
        return _err("import-doses", str(err), EXIT_USAGE)
    regs = imp.regimens
    if args.id is not None:
        if args.id not in regs:
            return _err("import-doses", f"{path}: ID {args.id} is not in the file", EXIT_USAGE)
        if not regs[args.id]:
            return _err("import-doses", f"{path}: ID {args.id} has no doses", EXIT_USAGE)
        data: dict[str, Any] = {"regimens": regimen_dicts(regs[args.id])}
        shown = {args.id: regs[args.id]}
    else:
        data = {"regimens": {k: regimen_dicts(v) for k, v in regs.items() if v}}
        shown = regs
    head = (
        f"# regimens read by ketsim import-doses from {path.name} "
        "(AMT mg, RATE mg/h, TIME h; whole drug)\n"
    )
    text = head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    to_stdout = args.out == "-"
    out = None if to_stdout else Path(args.out or path.with_name(f"{path.stem}-regimens.yaml"))
    lines = [
        f"{path}: {imp.rows} rows, {imp.dose_records} dose records"
        + (f" ({imp.zero_dose_records} with AMT 0 skipped)" if imp.zero_dose_records else "")
        + f", {len(regs)} IDs"
    ]
    for n_shown, (id_, rs) in enumerate(shown.items()):
        if n_shown == _SUMMARY_IDS:
            lines.append(f"  ... {len(shown) - n_shown} more IDs")
            break
        if not rs:
            lines.append(f"  ID {id_}: no doses")
            continue
        routes = ", ".join(dict.fromkeys(r.route for r in rs))
        first = min(r.start for r in rs)
        lines.append(
            f"  ID {id_}: {len(rs)} regimen(s), {routes}, {total_mg(rs):.6g} mg from {first:g} h"
        )
    if to_stdout:
        print("\n".join(lines), file=sys.stderr)
        sys.stdout.write(text)
        return EXIT_OK
    try:
        write_text_atomic(out, text)
    except OSError as err:
        return _err("import-doses", f"cannot write {out}: {err.strerror or err}", EXIT_ERROR)
    print("\n".join(lines))
    print(f"wrote {out}")
    return EXIT_OK
