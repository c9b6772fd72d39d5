"""Design comparison pieces and the sample-size normal-approximation cross-check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ketsim.config.scenario import parse_scenario
from ketsim.engine.compare import (
    design_dir,
    design_names,
    pooled_events,
    recruitment_weeks,
    schedule_weeks,
)
from ketsim.engine.sample_size_check import normal_cross_check, z_sample_size


def _two_arm(n_t: int = 10, n_c: int = 10, **extra) -> object:
    data = {
        "name": "two_arm",
        "arms": [
            {"name": "ketamine", "n": n_t, "regimens": ["20 mg/h for 4 h"]},
            {"name": "placebo", "n": n_c, "treatment": "placebo", "regimens": ["20 mg/h for 4 h"]},
        ],
        "trial": {"weeks": 2, "baseline_days": 7},
        "endpoints": [
            {"name": "y", "type": "weekly_mean", "week": 1},
            {"name": "resp", "type": "responder", "week": 1},
        ],
        "analyses": [
            {"endpoint": "y", "method": "t_test"},
            {"endpoint": "resp", "method": "fisher"},
        ],
        **extra,
    }
    return parse_scenario(data)


def test_z_sample_size_is_the_textbook_number():
    # d = 0.5 SD, two-sided 5%, 80% power: 2 (1.95996 + 0.84162)^2 / 0.25 = 62.79 per arm
    assert z_sample_size(0.5, 1.0, 1.0, 0.05, 2, 0.8) == pytest.approx(62.79, abs=0.01)
    # 2:1 allocation (treatment arm twice the smallest): var term 1/2 + 1 instead of 2
    assert z_sample_size(0.5, 1.0, 1.0, 0.05, 2, 0.8, 2.0, 1.0) == pytest.approx(
        62.79 * 0.75, abs=0.01
    )


def test_cross_check_uses_the_simulated_means_and_sds():
    sc = _two_arm(n_t=20, n_c=10, statistics={"alpha": 0.025, "sides": 1})
    ep = pd.DataFrame(
        {
            "replicate": [0, 0, 1, 1, 0, 0, 1, 1],
            "endpoint": ["y"] * 4 + ["resp"] * 4,
            "arm": ["ketamine", "placebo"] * 4,
            "statistic": ["mean"] * 4 + ["proportion"] * 4,
            "n": [20, 10] * 4,
            "value": [3.0, 5.0, 3.4, 5.2, 0.5, 0.2, 0.6, 0.2],
            "sd": [2.0, 1.0, 2.0, 3.0, np.nan, np.nan, np.nan, np.nan],
        }
    )
    c = normal_cross_check(sc, 0, "ketamine", ep, 0.9)
    d = 3.2 - 5.1
    var = (4.0 / 2.0) + (1.0 + 9.0) / 2.0  # sd_t^2 / r_t + mean of the control variances / r_c
    z = sps.norm.ppf(1 - 0.025) + sps.norm.ppf(0.9)
    assert c.effect == pytest.approx(d)
    assert c.n == pytest.approx(z**2 * var / d**2)
    assert c.power(c.n) == pytest.approx(0.9, abs=1e-3)
    # a proportion: SD sqrt(p (1 - p)) of the mean proportion
    b = normal_cross_check(sc, 1, "ketamine", ep, 0.8)
    p_t, p_c = 0.55, 0.2
    var = p_t * (1 - p_t) / 2.0 + p_c * (1 - p_c)
    z = sps.norm.ppf(1 - 0.025) + sps.norm.ppf(0.8)
    assert b.n == pytest.approx(z**2 * var / (p_t - p_c) ** 2)


def test_cross_check_says_why_not_for_a_crossover():
    from ketsim.config.scenario import load_scenario

    sc = load_scenario("scenarios/designs/pickering_style_crossover.yaml")
    c = normal_cross_check(sc, 0, "ketamine_0.5", pd.DataFrame(), 0.8)
    assert np.isnan(c.n) and "parallel" in c.reason


def test_design_names_are_unique_and_safe_as_directories():
    a, b = _two_arm(), _two_arm()
    assert design_names([a, b], ["x/a.yaml", "y/b.yaml"]) == ["a", "b"]
    assert design_names([a, b], ["x/a.yaml", "y/a.yaml"]) == ["a", "a-2"]
    c = parse_scenario({**_two_arm().model_dump(mode="json"), "name": "other"})
    assert design_names([a, c], ["a.yaml", "c.yaml"]) == ["two_arm", "other"]
    assert design_dir("dose 2/x") == "designs/dose_2_x"


def test_pooled_events_weight_arms_by_size_within_each_replicate():
    trial = pd.DataFrame(
        {
            "replicate": [0, 0, 1, 1],
            "group": ["a", "b", "a", "b"],
            "n": [10, 30, 20, 20],
            **{e: [0.0] * 4 for e in ("nausea", "liver_injury", "discontinued", "dropout")},
            "psychotomimetic": [1.0, 0.0, 0.5, 0.1],
        }
    )
    ev = pooled_events(trial)
    assert ev["expected_n"] == 40.0
    assert ev["psychotomimetic"] == pytest.approx((10 / 40 + (10 + 2) / 40) / 2)
    assert ev["dropout"] == 0.0


def test_duration_is_recruitment_plus_one_patients_schedule():
    sc = _two_arm(design={"recruitment": {"patients_per_week": 4.0}})
    # 7 baseline diary days + 2 diary weeks; no screening threshold: no screening diary
    assert schedule_weeks(sc) == pytest.approx(1.0 + 2.0)
    # N Poisson arrivals at rate 4/week: the last comes after N / 4 weeks on average
    assert recruitment_weeks(sc, 20) == pytest.approx(5.0)
    assert recruitment_weeks(_two_arm(), 20) == 0.0
