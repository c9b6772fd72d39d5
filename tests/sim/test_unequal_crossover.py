"""Crossovers with unequal sequences (issue 17, item 3): an odd total is written as it is."""

from __future__ import annotations

import numpy as np
import pytest

from ketsim.analysis.analyses import analyse_trials
from ketsim.config.scenario import ScenarioError, parse_scenario
from ketsim.engine.summaries import total_patients
from ketsim.engine.variants import resize_scenario, size_of
from ketsim.sim.trial import simulate_trial


def _crossover(sizes):
    return {
        "name": "ab_ba",
        "arms": [
            {"name": "placebo", "treatment": "placebo", "regimens": ["0.5 mg/kg over 1h"]},
            {"name": "ketamine", "regimens": ["0.5 mg/kg over 1h"]},
        ],
        "design": {
            "type": "crossover",
            "crossover": {
                "sequences": [["placebo", "ketamine"], ["ketamine", "placebo"]],
                "n_per_sequence": sizes,
                "period_weeks": 2,
                "washout_weeks": 1,
            },
        },
        "endpoints": [{"name": "change_week1", "type": "change_from_baseline", "week": 1}],
        "analyses": [{"endpoint": "change_week1", "method": "crossover"}],
    }


def test_unequal_sequences_give_an_odd_total_and_analyse():
    sc = parse_scenario(_crossover([10, 9]))
    assert total_patients(sc) == 19
    res = simulate_trial(sc, seed=3, replicates=[0, 1])
    per_seq = res.patients.groupby(["replicate", "arm"], observed=True).size().unstack()
    assert sorted(per_seq.iloc[0].tolist()) == [9, 10]
    ana = analyse_trials(res.arrays, sc)
    assert ana.estimate.notna().all() and ana.n_treatment.iloc[0] == 19


def test_one_size_per_sequence_is_required():
    with pytest.raises(ScenarioError, match="one size per sequence"):
        parse_scenario(_crossover([10, 9, 8]))
    with pytest.raises(ScenarioError, match=r"1\.\.100000"):
        parse_scenario(_crossover([10, 0]))


def test_resizing_keeps_the_ratio_of_sequences():
    sc = parse_scenario(_crossover([10, 5]))
    assert size_of(sc) == ("n_per_sequence", 5)
    big = resize_scenario(sc, n=10)
    assert big.design.crossover.n_per_sequence == [20, 10]
    assert np.isclose(total_patients(big), 30)
