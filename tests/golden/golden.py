"""Golden tables: byte-level fingerprints of what a fixed seed produces, written from main before
the package was restructured (issue 14), so that a refactor can prove it changed no number.

Only the public API (``ketsim.__all__``) is used, so the same code runs before and after a move.
Each table is serialised as CSV with every float at full round-trip precision and hashed
(SHA-256); a change of one bit in one value changes the hash.

Regenerate (only when a change of numbers is intended, and say so in the commit)::

    python tests/golden/golden.py --write
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
FINGERPRINTS = HERE / "fingerprints.json"

#: racemic, several routes (SC infusions repeated at a non-binary interval, intranasal and oral
#: boluses, an IV bolus on top of an IV infusion): population PK only
RACEMIC_PK = """
name: golden-racemic-pk
drug: racemic
population: {n: 40, indication: neuropathic}
regimens:
  - {route: subcutaneous_infusion, rate: 0.1 mg/kg/h, duration: 24 h, repeats: 3, interval: 48 h}
  - {route: intranasal, amount: 25 mg, start: 3 h, repeats: 4, interval: 8.4 h}
  - {route: oral, amount: 0.5 mg/kg, start: 100 h, repeats: 3, interval: 12 h}
  - {route: iv_infusion, rate: 10 mg/h, start: 200 h, duration: 6 h}
  - {route: iv_bolus, amount: 5 mg, start: 202 h}
output: {step: 0.5 h, end: 2 weeks}
"""


def canonical_bytes(df: pd.DataFrame) -> bytes:
    """CSV bytes of a table, floats at round-trip precision (``repr``), categories as labels."""
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object)
    return out.to_csv(index=False, float_format="%.17g", lineterminator="\n").encode()


def fingerprint(df: pd.DataFrame) -> dict:
    return {
        "rows": len(df),
        "columns": [str(c) for c in df.columns],
        "sha256": hashlib.sha256(canonical_bytes(df)).hexdigest(),
    }


def _small(path: str, n: int) -> object:
    """A published/design scenario with ``n`` per arm (per sequence / enrolled) and no expected."""
    import ketsim

    data = yaml.safe_load((ROOT / path).read_text())
    data.pop("expected", None)
    data.pop("sweep", None)
    sc = ketsim.parse_scenario(data, path)
    return ketsim.resize_scenario(sc, n=n)


def trial_tables(path: str, n: int, seed: int, replicates: tuple[int, ...]) -> dict[str, dict]:
    import ketsim

    res = ketsim.simulate_trial(_small(path, n), seed=seed, replicates=replicates)
    return {
        "patients": fingerprint(res.patients),
        "diary": fingerprint(res.diary),
        "events": fingerprint(res.events),
    }


def pk_tables(seed: int) -> dict[str, dict]:
    import ketsim

    sc = ketsim.parse_scenario(yaml.safe_load(RACEMIC_PK), "golden racemic pk")
    res = ketsim.simulate_pk(sc, seed=seed)
    return {"concentrations": fingerprint(res.to_frame()), "summary": fingerprint(res.summary())}


def sweep_tables(seed: int) -> dict[str, dict]:
    import ketsim

    base, cells = ketsim.load_sweep(ROOT / "scenarios/designs/dose_duration_sweep.yaml")
    cells = cells[:: len(cells) // 3][:3]  # three cells, corners and middle
    with tempfile.TemporaryDirectory() as tmp:
        res = ketsim.estimate_sweep(
            base, cells, replicates=6, seed=seed, out=str(Path(tmp) / "run")
        )
        return {
            "power": fingerprint(res.power),
            "endpoints": fingerprint(res.endpoints),
            "trial": fingerprint(res.trial),
        }


#: name -> (function, arguments)
CASES = {
    "parallel_sigtermans2009": (
        trial_tables,
        ("scenarios/published/sigtermans2009.yaml", 12, 7, (0, 3)),
    ),
    "crossover_pickering": (
        trial_tables,
        ("scenarios/designs/pickering_style_crossover.yaml", 6, 11, (0, 1)),
    ),
    "enrichment_eerw": (
        trial_tables,
        ("scenarios/designs/eerw_ketamine_infusion.yaml", 24, 5, (0, 2)),
    ),
    "racemic_multiroute_pk": (pk_tables, (3,)),
    "sweep_dose_duration": (sweep_tables, (13,)),
}


def compute(name: str) -> dict[str, dict]:
    fn, args = CASES[name]
    return fn(*args)


def main(argv: list[str]) -> int:
    got = {name: compute(name) for name in CASES}
    if "--write" in argv:
        FINGERPRINTS.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {FINGERPRINTS}")
    else:
        print(json.dumps(got, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
