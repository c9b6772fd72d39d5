"""Commands on one scenario: ``ketsim scenario validate|show``, ``ketsim pk`` and
``ketsim simulate``.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ketsim.apps.cli.formatting import (
    format_analyses,
    format_endpoints,
    format_trial_summary,
)
from ketsim.apps.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    _load,
    load_trial_scenario,
)
from ketsim.config.scenario import dump_scenario


def _output_dir(args, name: str, kind: str) -> Path | None:
    """Where ``pk`` / ``simulate`` write: ``--out``, else a new timestamped run directory.

    An earlier run is never overwritten silently: a ``--out`` that already holds a run
    (``manifest.json``) is refused unless ``--force``.
    """
    if args.out is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = Path("runs") / f"{name}-{kind}-{stamp}"
        k = 1
        while out.exists():  # two runs in the same second
            k += 1
            out = Path("runs") / f"{name}-{kind}-{stamp}.{k}"
        return out
    out = Path(args.out)
    if (out / "manifest.json").is_file() and not getattr(args, "force", False):
        print(
            f"ketsim {kind if kind == 'pk' else 'simulate'}: {out} already holds a run; "
            "use --force to overwrite it or choose another --out",
            file=sys.stderr,
        )
        return None
    return out


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


def scenario_json_schema() -> str:
    """The scenario schema as JSON Schema text (draft 2020-12, from the pydantic models)."""
    import json

    from ketsim.config.scenario import SCHEMA_VERSION, Scenario

    schema = Scenario.model_json_schema()
    # the population's demographic fields are filled from its indication's defaults when left
    # out (a before-validator), so none of them is required of the author
    schema.get("$defs", {}).get("PopulationSpec", {}).pop("required", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"ketsim scenario (schema v{SCHEMA_VERSION})"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _cmd_schema(args) -> int:
    """The scenario schema as JSON Schema (draft 2020-12, from the pydantic models)."""
    text = scenario_json_schema()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_pk(args) -> int:
    import pandas as pd

    from ketsim.apps.pk_run import run_pk
    from ketsim.apps.report.pk_page import write_pk_page
    from ketsim.storage.files import write_json_atomic

    sc = _load(args.file)
    if sc is None:
        return EXIT_USAGE
    out = _output_dir(args, sc.name, "pk")
    if out is None:
        return EXIT_USAGE
    budget = args.chunk_memory_mb * 1e6
    try:
        plan, head, man = run_pk(
            sc, out, seed=args.seed, budget_bytes=budget, scenario_text=dump_scenario(sc)
        )
    except OSError as err:
        print(f"ketsim pk: cannot write to {out}: {err.strerror or err}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as err:  # e.g. ResourceLimitError: the estimate and how to lift it
        print(f"ketsim pk: {args.file}: {err}", file=sys.stderr)
        return EXIT_USAGE
    page = None
    if not args.no_report:
        page = write_pk_page(out)
        man["files"].append(page.name)
        write_json_atomic(out / "manifest.json", man)
    if not args.quiet:
        n, t_sim = plan.population.n, man["timings_s"]["simulate"]
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            print(
                f"scenario {sc.name}: {n} patients, seed {plan.entropy}, "
                f"{plan.times.size} output times, simulated in {t_sim:.2f} s "
                f"({plan.chunk:,} patients per chunk, peak memory "
                f"{man['peak_rss_bytes'] / 1e9:.2f} GB)"
            )
            print(head.head(args.rows).to_string(index=False, float_format=lambda v: f"{v:.4g}"))
            if n > args.rows:
                summary = pd.read_parquet(out / "summary.parquet")
                cols = [c for c in summary.columns if c != "patient"]
                print(f"... {n - args.rows} more patients; population:")
                print(
                    summary[cols]
                    .describe(percentiles=[0.05, 0.5, 0.95])
                    .T[["mean", "std", "5%", "50%", "95%"]]
                    .to_string(float_format=lambda v: f"{v:.4g}")
                )
        print(
            f"wrote {out}/concentrations.parquet, summary.parquet, patients.parquet, "
            "bands.parquet, manifest.json" + (", pk.html" if page else "")
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
    out = _output_dir(args, sc.name, "trial")
    if out is None:
        return EXIT_USAGE
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
    if res.assessments is not None:
        files.append("assessments.parquet")
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(out / "patients.parquet", res.patients)
        write_parquet_atomic(out / "diary.parquet", res.diary)
        write_parquet_atomic(out / "events.parquet", res.events)
        if res.assessments is not None:
            write_parquet_atomic(out / "assessments.parquet", res.assessments)
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
