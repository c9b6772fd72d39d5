"""``ketsim bench pk|trial|power``: benchmarks (performance goals live there, never in tests)."""

from __future__ import annotations

import json
import sys

from ketsim.apps.common import (
    EXIT_OK,
    EXIT_USAGE,
)


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
    if args.what == "power":
        from ketsim.apps.bench_power import bench_power, format_bench_power

        r = bench_power(
            replicates=args.replicates,
            jobs=args.jobs,
            repeats=args.repeats,
            scenario=args.scenario,
            against=args.against,
        )
        print(json.dumps(r) if args.json else format_bench_power(r))
        return EXIT_OK
    if args.what != "pk":
        print(
            f"ketsim bench: unknown benchmark {args.what!r}; available: pk, trial, power",
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
