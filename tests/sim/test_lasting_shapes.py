"""Shapes the lasting-effect hypotheses are built to have (MODEL.md §3.2, §5).

Noise-free expected NRS of a ketamine and a saline arm sharing seeds, so the day-to-day shape
of the ketamine − placebo difference is not Monte Carlo noise: the patients are the same on
every day and the only thing that changes between days is the model's state.
"""

from __future__ import annotations

import pandas as pd
import pytest

from ketsim.config.scenario import parse_scenario
from ketsim.sim.trial import simulate_trial


def _difference_by_day(hypothesis: str, rate: str, duration: str) -> pd.Series:
    reg = [{"route": "iv_infusion", "rate": rate, "duration": duration}]
    data = {
        "name": "shape",
        "drug": "S-ketamine",
        "parameter_set": "noppers2011",
        "population": {"indication": "crps1"},
        "arms": [
            {"name": "k", "n": 150, "treatment": "ketamine", "regimens": reg},
            {"name": "p", "n": 150, "treatment": "placebo", "regimens": reg},
        ],
        "trial": {"weeks": 3, "baseline_days": 7},
        "switches": {"lasting_effect": hypothesis},
    }
    res = simulate_trial(parse_scenario(data, "shape"), seed=3, replicates=[0, 1])
    d = res.diary.groupby(["arm", "day"], observed=True)["expected_nrs"].mean().unstack(0)
    diff = d["k"] - d["p"]
    return diff.loc[1:] - diff.loc[:0].mean()  # change relative to the baseline-week imbalance


def test_delayed_peak_peaks_between_48_h_and_2_weeks():
    """Orhurhu 2019 (MODEL.md §5): a ~5-h, ~0.35 mg/kg infusion peaks 48 h to 2 weeks after."""
    diff = _difference_by_day("delayed_peak", "0.07 mg/kg/h", "5 h")
    peak = int(diff.idxmin())
    assert 2 <= peak <= 14, diff.round(3).to_dict()
    # and the peak is a real rise, not a plateau of the day-1 value
    assert diff.loc[peak] < diff.loc[1] - 0.2


def test_dahan_peaks_the_day_after():
    """Without a turnover lag the slow compartment peaks within hours of the stop."""
    diff = _difference_by_day("dahan", "0.07 mg/kg/h", "5 h")
    assert int(diff.idxmin()) <= 2


@pytest.mark.parametrize("duration", ["1 h", "30 h"])
def test_sustained_blockade_needs_a_long_infusion(duration):
    """The threshold hypothesis: a 1-h 0.3 mg/kg/h infusion leaves nothing two weeks on (its
    early difference is the unblinded ketamine arm's expectancy, fading with the 2-day placebo
    half-life); a 30-h one holds the memory above its m50 for weeks (recovery t½ 10.9 d)."""
    diff = _difference_by_day("sustained_blockade", "0.3 mg/kg/h", duration)
    weeks_later = diff.loc[10:14].mean()
    if duration == "1 h":
        assert weeks_later > -0.15
        assert diff.loc[2] < diff.loc[10]  # what there is fades
    else:
        assert weeks_later < -2.0
