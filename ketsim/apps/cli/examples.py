"""The ``examples:`` block at the end of every subcommand's ``--help``.

Kept apart from the parser so that adding a subcommand stays a small edit there: a subcommand
that declares its own epilog with ``examples:`` keeps it; the others get theirs from
:data:`EXAMPLES` (tests/apps/test_cli_usability.py checks that none is left without).
"""

from __future__ import annotations

import argparse
import textwrap

SIG = "scenarios/published/sigtermans2009.yaml"
SWEEP = "scenarios/designs/dose_duration_sweep.yaml"

#: subcommand path (as typed after ``ketsim``) -> example command lines with a short comment
EXAMPLES: dict[str, list[str]] = {
    "scenario": [
        f"ketsim scenario validate {SIG}",
        f"ketsim scenario show {SIG} --resolved",
        "ketsim scenario schema --out ketsim.schema.json",
    ],
    "scenario validate": [
        f"ketsim scenario validate {SIG}        # exit 0, or one line per problem and exit 2",
    ],
    "scenario show": [
        f"ketsim scenario show {SIG}",
        f"ketsim scenario show {SIG} --resolved   # every default filled in",
    ],
    "scenario schema": [
        "ketsim scenario schema --out ketsim.schema.json   # for editor completion",
    ],
    "pk": [
        "ketsim pk scenarios/examples/sigtermans_infusion_pk.yaml --out runs/pk --rows 5",
    ],
    "simulate": [
        f"ketsim simulate {SIG} --seed 1 --out runs/one-trial",
        f"ketsim simulate {SIG} --seed 1 --replicate 7   # replicate 7 of a power run, alone",
    ],
    "power": [
        f"ketsim power {SIG} --replicates 200 --jobs 2 --out runs/sig",
        f"ketsim power {SIG} --null --replicates 1000   # type-I error",
        f"ketsim power {SIG} --replicates 200 --format csv > power.csv",
        f"ketsim power {SIG} --seed 20090304 --replicate 3   # one replicate's analyses",
    ],
    "sweep": [
        f"ketsim sweep {SWEEP} --replicates 100 --jobs 2 --out runs/sweep",
        f"ketsim sweep {SWEEP} --replicates 50 --format csv > sweep_power.csv",
    ],
    "samplesize": [
        f"ketsim samplesize {SIG} --target 0.9 --replicates 400",
        f"ketsim samplesize {SIG} --analysis responder30_week1 --format csv",
    ],
    "validate": [
        "ketsim validate                                  # every published scenario",
        f"ketsim validate {SIG} --replicates 200",
    ],
    "export": [
        f"ketsim export {SIG} --seed 1 --out sig-nonmem.csv",
        "ketsim export runs/sig --replicate 3           # a replicate of a power run",
    ],
    "import-doses": [
        "ketsim import-doses doses.csv --out doses-regimens.yaml",
        "ketsim import-doses doses.csv --id 12 --out -   # one patient's regimens, printed",
    ],
    "explore": [
        f"ketsim explore {SIG}",
        f"ketsim explore {SIG} --port 0 --no-browser",
    ],
    "report": [
        "ketsim report runs/sig                      # rewrite runs/sig/report.html",
        "ketsim report runs/sweep --target 0.9 --out sweep-90.html",
    ],
    "bench": [
        "ketsim bench pk --patients 10000",
        "ketsim bench trial --replicates 1000 --jobs 2 --json",
        "ketsim bench power",
    ],
}


def _subparsers(p: argparse.ArgumentParser, prefix: str = ""):
    """(path, parser) of every subcommand under ``p``, depth first."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                yield path, sub, helps.get(name)
                yield from _subparsers(sub, path)


def add_examples(parser: argparse.ArgumentParser) -> None:
    """Append the ``examples:`` block of :data:`EXAMPLES` to each subcommand's help.

    A subcommand whose epilog already has an ``examples:`` block is left as it is.
    """
    for path, sub, help_ in _subparsers(parser):
        if sub.description is None and help_:
            # the one-line help of 'ketsim --help' also heads the subcommand's own --help
            sub.description = help_[0].upper() + help_[1:] + "."
        if "examples:" in (sub.epilog or "") or path not in EXAMPLES:
            continue
        block = "examples:\n" + "\n".join(f"  {line}" for line in EXAMPLES[path])
        sub.epilog = f"{sub.epilog}\n\n{block}" if sub.epilog else block
        # keep the examples' line breaks (argparse would refill them); the description keeps
        # its own paragraphs only if it has none to lose, so refill it by hand first
        if sub.description:
            sub.description = "\n".join(textwrap.wrap(" ".join(sub.description.split()), 78))
        sub.formatter_class = argparse.RawDescriptionHelpFormatter


def subcommand_paths(parser: argparse.ArgumentParser) -> list[str]:
    """Every subcommand path of ``parser`` (e.g. ``"scenario validate"``)."""
    return [path for path, _, _ in _subparsers(parser)]
