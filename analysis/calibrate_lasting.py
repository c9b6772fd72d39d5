"""Grid calibration of each lasting-effect hypothesis to the MODEL.md §4 / §4b targets.

Usage::

    python analysis/calibrate_lasting.py [--replicates 100] [--hypothesis H ...]

For every point of a small grid over a hypothesis' free (L) parameters it runs
:func:`ketsim.apps.lasting_table.fit_table` and scores the point by the shortfall of each target,
in units of the target's own scale (probabilities: 0.05; NRS: the published 2 SEM band), squared
and summed; a met target scores 0. Prints the best points. This is how the values in
``ketsim.core.pd.parameters.HYPOTHESIS_PD`` were chosen; the grid is coarse on purpose (the
targets are few and noisy), and ``ketsim calibrate`` (issue 16) is the place for a proper fit.
All points share the seeds (common random numbers), so differences between them are not noise.
"""

from __future__ import annotations

import argparse
import itertools

from ketsim.apps.lasting_table import LASTING_TARGETS, fit_table

GRIDS = {
    "dahan": {"slow_gamma": [0.5, 1.0, 2.0], "slow_c50_cv": [0.3, 0.6]},
    "delayed_peak": {
        "sensitization_half_life_days": [1.0, 3.0, 7.0],
        "slow_gamma": [0.5, 1.0, 2.0],
    },
    "sustained_blockade": {
        # refined around the best point of a first pass over [30, 60, 100] x [0.5, 1, 2] x [2, 4, 6]
        "blockade_threshold_ng_ml": [90.0, 110.0, 130.0],
        "blockade_m50_h": [0.6, 0.75],
        "blockade_gamma": [2.0, 3.0],
    },
}


def score(ft) -> float:
    """Sum of squared scaled shortfalls (0 when every target is met)."""
    total = 0.0
    for row in ft.itertuples():
        if row.passes:
            continue
        t = row.target
        if t.startswith("P(lasting"):
            h = float(t.split("after ")[1].split(" h")[0])
            _op, bound = LASTING_TARGETS[h]
            total += ((row.simulated - bound) / 0.05) ** 2
        elif "NRS" in t:
            centre = 2.68 if "ketamine" in t else 5.45
            total += ((abs(row.simulated - centre) - 1.0) / 0.5) ** 2
        elif t.startswith("relief during"):
            total += ((abs(row.simulated - 0.50) - 0.15) / 0.05) ** 2
        elif "significant" in t:
            total += ((0.5 - row.simulated) / 0.05) ** 2
        else:  # week-12 median p outside 0.01-0.35
            total += 4.0
    return total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hypothesis", action="append", choices=list(GRIDS))
    ap.add_argument("--replicates", type=int, default=100)
    args = ap.parse_args(argv)
    for h in args.hypothesis or list(GRIDS):
        grid = GRIDS[h]
        results = []
        for values in itertools.product(*grid.values()):
            over = dict(zip(grid, values, strict=True))
            ft = fit_table(h, over, args.replicates)
            results.append((score(ft), int(ft.passes.sum()), over))
            print(
                f"{h} {over}: met {int(ft.passes.sum())}/{len(ft)}, score {results[-1][0]:.1f}",
                flush=True,
            )
        results.sort(key=lambda r: r[0])
        print(f"\n## {h}: best")
        for s, met, over in results[:3]:
            print(f"  score {s:.1f}  met {met}  {over}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
