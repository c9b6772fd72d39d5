"""The sustained-blockade memory reads the fast effect site between grid points by linear
interpolation; the extra grid points after dosing changes (FAST_RESOLUTION_H) must make that
converge: against a 5-min grid over the same two hours, the memory after short and titrated
infusions differs by under 2% (or 2 min of blockade)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from ketsim.config.scenario import parse_scenario
from ketsim.core.seeds import root_entropy
from ketsim.sim import trial_model
from ketsim.sim.trial_model import TrialModel

DENSE = tuple(np.arange(1, 25) / 12.0)  # every 5 min for 2 h


def _scenario(reg: dict, weeks: int = 1) -> dict:
    return {
        "name": "grid",
        "drug": "S-ketamine",
        "population": {"indication": "crps1"},
        "arms": [{"name": "k", "n": 30, "treatment": "ketamine", "regimens": [reg]}],
        "trial": {"weeks": weeks, "baseline_days": 2, "start_hour": 8, "diary_hour": 20},
        "switches": {"lasting_effect": "sustained_blockade"},
        "pd": {"blockade_threshold_ng_ml": 80.0},
    }


def _memory(data: dict, offsets, monkeypatch) -> np.ndarray:
    monkeypatch.setattr(trial_model, "FAST_RESOLUTION_H", offsets)
    m = TrialModel(parse_scenario(data, "t"), root_entropy(4, None), [0])
    m.run_model()
    return m.blockade_memory


@pytest.mark.parametrize(
    "reg",
    [
        {"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": "1 h"},
        {"route": "iv_infusion", "rate": "0.25 mg/kg/h", "duration": "3 h"},
        {"route": "iv_bolus", "amount": "0.3 mg/kg"},
    ],
)
def test_blockade_memory_converges_on_the_fine_grid(reg, monkeypatch):
    data = _scenario(reg)
    coarse = _memory(data, trial_model.FAST_RESOLUTION_H, monkeypatch)
    dense = _memory(data, DENSE, monkeypatch)
    assert dense.max() > 0.05  # the threshold is crossed: the test is not vacuous
    # within 2% or 2 min of blockade: crossing times resolved to about a minute
    np.testing.assert_allclose(coarse, dense, rtol=0.02, atol=2 / 60)


def test_without_the_fine_grid_a_short_infusion_is_misjudged(monkeypatch):
    # the reason the grid exists: with only the trial's own events the memory is far off
    data = _scenario({"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": "1 h"})
    none = _memory(data, (), monkeypatch)
    dense = _memory(data, DENSE, monkeypatch)
    assert np.abs(none - dense).max() > 0.1 * dense.max()


def test_titrated_sigtermans_memory_converges(monkeypatch):
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    data = yaml.safe_load((root / "scenarios/published/sigtermans2009.yaml").read_text())
    for k in ("expected", "endpoints", "analyses"):
        data.pop(k, None)
    data["arms"] = data["arms"][:1]
    data["arms"][0]["n"] = 20
    data["trial"]["weeks"] = 1
    data["switches"] = {"lasting_effect": "sustained_blockade"}
    coarse = _memory(data, trial_model.FAST_RESOLUTION_H, monkeypatch)
    dense = _memory(data, DENSE, monkeypatch)
    # As above, within 2% or 2 min of blockade, for all but at most one patient: titration is
    # path dependent (a step up happens when relief at a check is below the target), so a
    # patient whose relief sits at the target can take a different step when the memory, and
    # with it the lasting relief, differs by minutes; that patient's path then diverges. The
    # cohort's total memory must still agree within 3%.
    close = np.isclose(coarse, dense, rtol=0.02, atol=2 / 60)
    assert close.sum() >= close.size - 1, (coarse, dense)
    assert abs(coarse.sum() - dense.sum()) <= 0.03 * dense.sum()
