"""Multiplicity across analyses: per-hypothesis, disjunctive and conjunctive power of the declared
procedure on synthetic replicate p-values, and the scenario checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ketsim.config.scenario import ScenarioError, parse_scenario
from ketsim.engine.multiplicity import summarise_multiplicity


def _scenario(mult: dict, k: int = 3):
    return parse_scenario(
        {
            "name": "mult",
            "arms": [
                {"name": "treatment", "n": 20, "regimens": ["20 mg/h for 4 h"]},
                {
                    "name": "control",
                    "n": 20,
                    "treatment": "placebo",
                    "regimens": ["20 mg/h for 4 h"],
                },
            ],
            "trial": {"weeks": 3},
            "endpoints": [
                {"name": f"y{w}", "type": "change_from_baseline", "week": w} for w in (1, 2, 3)
            ],
            "analyses": [{"endpoint": f"y{w}", "method": "t_test"} for w in (1, 2, 3)][:k],
            "statistics": {"alpha": 0.05, "multiplicity": mult},
        }
    )


def _table(p: np.ndarray) -> pd.DataFrame:
    R, m = p.shape
    return pd.DataFrame(
        {
            "replicate": np.tile(np.arange(R), m),
            "analysis_id": np.repeat(np.arange(m), R),
            "analysis": np.repeat([f"y{j + 1} t_test" for j in range(m)], R),
            "comparison": "treatment",
            "p_adjusted": p.T.ravel(),
        }
    )


P = np.random.default_rng(8).uniform(0, 0.12, (5000, 3))


def test_fixed_sequence_power():
    out = summarise_multiplicity(_table(P), _scenario({"method": "fixed_sequence"}))
    ok = P <= 0.05
    chain = np.cumprod(ok, axis=1).astype(bool)
    np.testing.assert_allclose(out["power"][:3], chain.mean(axis=0))
    assert out.set_index("hypothesis").loc["any", "power"] == pytest.approx(ok[:, 0].mean())
    assert out.set_index("hypothesis").loc["all", "power"] == pytest.approx(chain[:, 2].mean())
    np.testing.assert_allclose(out["power_unadjusted"][:3], (P < 0.05).mean(axis=0))


def test_holm_and_hochberg_order():
    holm = summarise_multiplicity(_table(P), _scenario({"method": "holm"}))
    hoch = summarise_multiplicity(_table(P), _scenario({"method": "hochberg"}))
    bonf = summarise_multiplicity(_table(P), _scenario({"method": "bonferroni"}))
    # Bonferroni <= Holm <= Hochberg, hypothesis by hypothesis (each is uniformly more powerful)
    assert np.all(bonf["power"] <= holm["power"]) and np.all(holm["power"] <= hoch["power"])
    # the disjunctive power of Holm is that of Bonferroni: min p <= alpha / m
    any_b = (P.min(axis=1) <= 0.05 / 3).mean()
    assert holm["power"].iloc[3] == pytest.approx(any_b) == bonf["power"].iloc[3]


def test_graphical_with_holm_weights_equals_holm():
    g = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    graph = {"method": "graphical", "weights": [1 / 3] * 3, "transitions": g}
    a = summarise_multiplicity(_table(P), _scenario(graph))
    b = summarise_multiplicity(_table(P), _scenario({"method": "holm"}))
    np.testing.assert_allclose(a["power"], b["power"])


def test_familywise_error_under_the_null():
    rng = np.random.default_rng(9)
    R = 20000
    p0 = rng.uniform(size=(R, 3))
    graph = {
        "method": "graphical",
        "weights": [0.5, 0.5, 0],
        "transitions": [[0, 0, 1]] * 2 + [[0.5, 0.5, 0]],
    }
    out = summarise_multiplicity(_table(p0), _scenario(graph), "null")
    fwer = out.set_index("hypothesis").loc["any", "power"]
    # independent uniform p-values: a first rejection needs p1 or p2 <= alpha / 2, so the FWER
    # is exactly 1 - (1 - 0.025)^2 = 0.049375 (H3 is reached only after a rejection)
    exact = 1 - 0.975**2
    assert abs(fwer - exact) <= 4 * np.sqrt(exact * (1 - exact) / R)


def test_scenario_checks():
    with pytest.raises(ScenarioError):
        _scenario({"method": "graphical", "weights": [0.5, 0.5, 0]})  # no transitions
    with pytest.raises(ScenarioError):
        _scenario({"method": "fallback", "weights": [0.5, 0.5]})  # 3 analyses, 2 weights
    with pytest.raises(ScenarioError):
        _scenario({"method": "holm", "analyses": [0, 5]})
    with pytest.raises(ScenarioError):
        _scenario({"method": "holm"}, k=1)
