"""The power table labels every estimate's scale and flags failed fits and off-nominal coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketsim.engine.summaries import summarise_power


def _rows(method: str, est, lo, hi, reject) -> pd.DataFrame:
    n = len(est)
    return pd.DataFrame(
        {
            "replicate": np.arange(n),
            "analysis_id": 0,
            "analysis": "a",
            "endpoint": "y",
            "method": method,
            "strategy": "treatment_policy",
            "comparison": "k",
            "control": "p",
            "estimate": est,
            "se": 0.5,
            "ci_low": lo,
            "ci_high": hi,
            "conf_level": 0.95,
            "reject": reject,
            "alpha": 0.05,
            "alternative": "two-sided",
            "n_treatment": 10,
            "n_control": 10,
        }
    )


def _truth(value: float) -> pd.DataFrame:
    return pd.DataFrame(
        {"analysis_id": [0], "comparison": ["k"], "true_effect": [value], "true_effect_se": [0.0]}
    )


def test_failed_fits_above_one_percent_are_flagged():
    est = np.r_[np.full(97, 1.0), np.full(3, np.nan)]  # 3% failed
    rows = _rows("logistic", est, est - 1, est + 1, np.isfinite(est))
    p = summarise_power(rows, _truth(1.0)).iloc[0]
    assert p["failed"] == pytest.approx(0.03)
    assert "3.0% of fits failed" in p["flags"]
    assert p["scale"] == "log odds ratio"
    assert p["mean_ratio"] == pytest.approx(np.e) and p["true_ratio"] == pytest.approx(np.e)
    ok = summarise_power(
        _rows("logistic", np.ones(100), np.zeros(100), np.full(100, 2.0), np.ones(100, bool)),
        _truth(1.0),
    ).iloc[0]
    assert ok["flags"] == ""


def test_coverage_is_compared_with_its_nominal_level_within_mc_error():
    R = 400
    est = np.zeros(R)
    covered = np.arange(R) < int(0.80 * R)  # 80% coverage, nominal 95%: MC SE 0.011
    lo = np.where(covered, -1.0, 0.5)
    hi = np.where(covered, 1.0, 2.0)
    p = summarise_power(_rows("t_test", est, lo, hi, np.zeros(R, bool)), _truth(0.0)).iloc[0]
    assert p["coverage"] == pytest.approx(0.80)
    assert p["coverage_mc_se"] == pytest.approx(np.sqrt(0.95 * 0.05 / R))
    assert "CI coverage 0.800 below nominal 0.95" in p["flags"]
    assert p["scale"] == "difference in means" and np.isnan(p["mean_ratio"])
    # 94% is within 3 MC SE (0.033) of 95%: not flagged
    covered = np.arange(R) < int(0.94 * R)
    lo, hi = np.where(covered, -1.0, 0.5), np.where(covered, 1.0, 2.0)
    q = summarise_power(_rows("t_test", est, lo, hi, np.zeros(R, bool)), _truth(0.0)).iloc[0]
    assert q["flags"] == ""
