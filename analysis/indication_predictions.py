"""Predicted responder differences per indication for a multi-day subcutaneous course.

Usage::

    python analysis/indication_predictions.py [--replicates 40] [--indication NAME ...]

A prediction, not a calibration: no value of the model is set from it (MODEL.md §4 lists the only
calibration targets). The design mirrors the top step of the escalation in the cancer-pain trial
that the issue discusses: racemic ketamine by continuous subcutaneous infusion at 500 mg/24 h
(20.8 mg/h) for 5 days against saline, 30 vs 30, 3 baseline diary days; a responder has a mean
NRS at least 2 points below baseline on days 3-5 (during the infusion) or days 11-14 (a week
after it). ``cancer+s`` runs the cancer indication under
``switches.cancer_disease_modification: sensitization``. All indications share the seeds.
README "Indications" quotes the output.
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd

from ketsim.config.scenario import parse_scenario
from ketsim.sim.trial import simulate_trial

DEFAULT = (
    "crps1",
    "fibromyalgia",
    "neuropathic",
    "spinal_cord_injury",
    "ischaemic_limb",
    "cancer",
    "cancer+s",
)


def responder_difference(indication: str, replicates: int) -> dict[str, float]:
    """Ketamine and placebo responder fractions (>= 2-point fall) in two windows."""
    switch = "none"
    if indication.endswith("+s"):
        indication, switch = indication[:-2], "sensitization"
    reg = [{"route": "subcutaneous_infusion", "rate": "20.8 mg/h", "duration": "120 h"}]
    data = {
        "name": "sc_course",
        "drug": "racemic",
        "parameter_set": "noppers2011",
        "population": {"indication": indication},
        "arms": [
            {"name": "ketamine", "n": 30, "treatment": "ketamine", "regimens": reg},
            {"name": "placebo", "n": 30, "treatment": "placebo", "regimens": reg},
        ],
        "trial": {"weeks": 2, "baseline_days": 3},
        "switches": {"cancer_disease_modification": switch},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # patients with every baseline day missing
        d = simulate_trial(
            parse_scenario(data, "sc"), seed=13, replicates=list(range(replicates))
        ).diary
    keys = ["replicate", "arm", "patient"]
    base = d[d.day <= 0].groupby(keys, observed=True)["nrs"].mean()
    out = {"indication": indication, "switch": switch}
    for label, (a, b) in {"days 3-5": (3, 5), "days 11-14": (11, 14)}.items():
        w = d[d.day.between(a, b)].groupby(keys, observed=True)["nrs"].mean()
        r = ((base - w) >= 2).groupby(level="arm", observed=True).mean()
        out[f"{label} ketamine"] = r["ketamine"]
        out[f"{label} placebo"] = r["placebo"]
        out[f"{label} difference"] = r["ketamine"] - r["placebo"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--indication", nargs="*", default=list(DEFAULT))
    a = ap.parse_args()
    rows = [responder_difference(i, a.replicates) for i in a.indication]
    print(pd.DataFrame(rows).round(2).to_string(index=False))


if __name__ == "__main__":
    main()
