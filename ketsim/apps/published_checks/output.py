"""Published-trial checks: the text table, ``validation.csv`` / ``validation.html`` and the
``ketsim validate`` command.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ketsim.config.scenario import (
    ScenarioError,
)

if TYPE_CHECKING:
    pass
from ketsim import __version__
from ketsim.apps.published_checks.judging import (
    ValidationRun,
    validate_paths,
)
from ketsim.apps.published_checks.summaries import (
    DEFAULT_REPLICATES,
)
from ketsim.storage.files import write_text_atomic


# -- output ---------------------------------------------------------------------------------------
def _num(x: Any, se: Any = None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    s = f"{x:.4g}"
    if se is not None and not (isinstance(se, float) and math.isnan(se)) and se > 0:
        s += f" ± {se:.2g}"
    return s


#: the verdict words of the result column and what they mean (printed below the table)
VERDICTS: dict[str, str] = {
    "PASS": "the simulated value meets the acceptance, more than 2 Monte Carlo SEs inside it",
    "PASS?": "meets the acceptance, but within 2 Monte Carlo SEs of a bound: more replicates "
    "could turn it into FAIL",
    "FAIL": "the simulated value misses the acceptance by more than 2 Monte Carlo SEs (or "
    "could not be computed)",
    "FAIL?": "misses the acceptance, but within 2 Monte Carlo SEs of a bound: more replicates "
    "could turn it into PASS",
}


def format_legend() -> str:
    """One line per verdict word of the result column: what it means."""
    w = max(len(k) for k in VERDICTS)
    return "\n".join(f"{k.ljust(w)}  {text}" for k, text in VERDICTS.items())


def _result(row: pd.Series) -> str:
    r = "PASS" if row["passed"] else "FAIL"
    return r if row["decisive"] else f"{r}?"


def _check_label(row: pd.Series) -> str:
    w = row["week"]
    return f"{row['check']} [week {int(w)}]" if not pd.isna(w) else str(row["check"])


def format_table(table: pd.DataFrame) -> str:
    """Plain-text table: scenario, check, published, simulated ± MC SE, acceptance, result.

    ``FAIL?``/``PASS?`` mark results within 2 Monte Carlo SEs of an acceptance bound.
    """
    if table.empty:
        return "(no checks)"
    head = ["scenario", "check", "published", "simulated ± MC SE", "acceptance", "unit", "result"]
    body = [
        [
            str(r["scenario"]),
            _check_label(r),
            str(r["published_text"]),
            _num(r["simulated"], r["mc_se"]),
            str(r["tolerance"]),
            str(r["unit"]),
            _result(r),
        ]
        for _, r in table.iterrows()
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)) for b in body]
    n_pass = int(table["passed"].sum())
    lines.append(f"{n_pass} of {len(table)} checks passed")
    return "\n".join(lines)


def render_html(run: ValidationRun, title: str = "ketsim validation") -> str:
    """A self-contained HTML page of the validation table (every text cell escaped)."""

    esc = html.escape
    t = run.table
    cols = [
        ("scenario", "scenario"),
        ("check", "check"),
        ("selector", "what"),
        ("published_text", "published"),
        ("simulated", "simulated ± MC SE"),
        ("tolerance", "acceptance"),
        ("unit", "unit"),
        ("result", "result"),
        ("source", "source"),
        ("note", "note"),
    ]
    rows = []
    for _, r in t.iterrows():
        cells = []
        for key, _label in cols:
            if key == "check":
                v = _check_label(r)
            elif key == "simulated":
                v = _num(r["simulated"], r["mc_se"])
            elif key == "result":
                v = _result(r)
            else:
                v = "" if pd.isna(r[key]) else str(r[key])
            cells.append(f"<td>{esc(v)}</td>")
        cls = "pass" if r["passed"] else "fail"
        rows.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
    n_pass = int(t["passed"].sum()) if len(t) else 0
    skipped = "".join(f"<li>{esc(f)}: {esc(why)}</li>" for f, why in run.skipped)
    legend = "".join(f"<dt>{esc(k)}</dt><dd>{esc(x)}</dd>" for k, x in VERDICTS.items())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    head = "".join(f"<th>{esc(label)}</th>" for _, label in cols)
    scen = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(x))}</td>"
            for x in (
                d["name"],
                d["file"],
                d["reference"],
                d["description"],
                d["seed"],
                f"{d['seconds']:.1f}",
            )
        )
        + "</tr>"
        for d in run.scenarios
    )
    scen_head = "".join(
        f"<th>{h}</th>" for h in ("scenario", "file", "reference", "description", "seed", "seconds")
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
tr.pass td {{ background: #e6f4e6; }}
tr.fail td {{ background: #f8dcdc; }}
dl.legend {{ display: grid; grid-template-columns: max-content auto; gap: 0.1em 1em; }}
dl.legend dt {{ font-weight: bold; }}
dl.legend dd {{ margin: 0; }}
</style></head><body>
<h1>{esc(title)}</h1>
<p>{n_pass} of {len(t)} checks passed; {run.replicates} replicates per scenario;
{run.elapsed_s:.1f} s; ketsim {esc(__version__)}; {esc(stamp)}.</p>
<h2>Scenarios</h2>
<table><thead><tr>{scen_head}</tr></thead><tbody>{scen}</tbody></table>
<h2>Checks</h2>
<dl class="legend">{legend}</dl>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(rows)}
</tbody></table>
{f"<h2>Skipped</h2><ul>{skipped}</ul>" if skipped else ""}
</body></html>
"""


def default_out_dir(base: str | Path = "runs") -> Path:
    """``runs/validation-<UTC time>/``."""
    return Path(base) / f"validation-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def write_outputs(run: ValidationRun, out: str | Path) -> list[Path]:
    """Write ``validation.csv`` and ``validation.html`` into ``out``; returns the paths."""

    out = Path(out)
    csv = out / "validation.csv"
    page = out / "validation.html"
    write_text_atomic(csv, run.table.to_csv(index=False))
    write_text_atomic(page, render_html(run))
    return [csv, page]


# -- command line ---------------------------------------------------------------------------------
def add_validate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``ketsim validate [PATHS...]`` to an argparse sub-parser set (``func`` = handler)."""
    p = subparsers.add_parser(
        "validate",
        help="simulate scenarios and compare them with their published 'expected:' results",
        description="Exit 0 if every check passes, 1 if any fails, 2 on bad input.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        default=["scenarios/published"],
        help="scenario files or directories (default scenarios/published)",
    )
    p.add_argument(
        "--replicates",
        type=int,
        default=DEFAULT_REPLICATES,
        help=f"replicate trials / PK studies per scenario (default {DEFAULT_REPLICATES})",
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--seed", type=int, help="root seed for every scenario (default: each one's)")
    p.add_argument("--out", help="output directory (default runs/validation-<UTC time>)")
    p.add_argument("--quiet", action="store_true", help="no table on stdout")
    p.set_defaults(func=cmd_validate)
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    """Handler of ``ketsim validate``: 0 all pass, 1 any fail (or output error), 2 bad input."""
    for name, low in (("replicates", 1), ("jobs", 1), ("seed", 0)):
        v = getattr(args, name, None)
        if v is not None and v < low:
            print(f"ketsim validate: --{name} must be >= {low}", file=sys.stderr)
            return 2
    try:
        run = validate_paths(args.paths, replicates=args.replicates, seed=args.seed, jobs=args.jobs)
    except ScenarioError as err:
        src = "" if err.source == "validate" else f"{err.source}: "
        for line in err.problems:
            print(f"{src}{line}", file=sys.stderr)
        return 2
    except ValueError as err:  # a check that cannot be computed for this scenario
        print(f"ketsim validate: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        print(f"ketsim validate: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nketsim validate: interrupted", file=sys.stderr)
        return 130
    for f, why in run.skipped:
        print(f"skipped {f}: {why}", file=sys.stderr)
    if run.table.empty:
        print("ketsim validate: no scenario with an 'expected:' section", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else default_out_dir()
    try:
        files = write_outputs(run, out)
    except OSError as err:
        print(f"ketsim validate: cannot write to {out}: {err.strerror or err}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(format_table(run.table))
        print(format_legend())
        print(f"{run.replicates} replicates, {run.elapsed_s:.1f} s; wrote {files[0]}, {files[1]}")
    return 0 if run.all_passed else 1
