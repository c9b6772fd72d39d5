"""Latent non-responders stay non-responders however the drug is titrated (issue 15, item 5).

An open-label single-arm cohort titrated to a high ceiling aiming at 90% relief is the setting
in which acute analgesia, titration and expectancy together could override the responder class
(Dahan 2011: 33% of CRPS patients have no analgesic effect from ketamine).
"""

from __future__ import annotations

import numpy as np
import pytest

from ketsim.config.scenario import parse_scenario
from ketsim.core.pd import acute
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.trial import simulate_trial


def test_nonresponder_acute_emax_share():
    p = PDParameters(acute_emax_nonresponder=0.25, acute_gamma=1.0)
    c = np.array([121.0, 121.0, 1e9])
    resp = np.array([True, False, False])
    r = acute.acute_relief(c, p, resp)
    np.testing.assert_allclose(r, [0.5, 0.125, 0.25 * 1e9 / (121.0 + 1e9)], rtol=1e-12)
    # no responder mask: everyone is treated as a responder (the PK-only paths)
    assert acute.acute_relief(121.0, p) == pytest.approx(0.5, rel=1e-15)


def _cohort(max_rate: str, target: float | None = None, hours: int = 72):
    titration = {"step": "5 mg/h", "max_rate": max_rate, "min_rate": "5 mg/h"}
    if target is not None:
        titration["target_relief"] = target
    reg = [
        {"route": "iv_infusion", "rate": "5 mg/h", "duration": f"{hours} h", "titration": titration}
    ]
    data = {
        "name": "open_titration",
        "drug": "S-ketamine",
        "population": {"indication": "crps1"},
        "arms": [
            {
                "name": "k",
                "n": 120,
                "treatment": "ketamine",
                "regimens": reg,
                "blinding": "open_label",
            }
        ],
        "trial": {"weeks": 1, "baseline_days": 7, "start_hour": 8, "diary_hour": 20},
    }
    return simulate_trial(parse_scenario(data, "open"), seed=17, replicates=[0, 1])


@pytest.mark.parametrize("ceiling", ["20 mg/h", "60 mg/h"])
def test_titration_does_not_turn_nonresponders_into_responders(ceiling):
    res = _cohort(ceiling)
    d, p = res.diary, res.patients
    base = d[d.day <= 0].groupby(["replicate", "patient"])["expected_nrs"].mean()
    day2 = d[d.day == 2].set_index(["replicate", "patient"])["expected_nrs"]  # during the infusion
    relief = (1.0 - day2 / base).rename("relief").reset_index()
    relief = relief.merge(p[["replicate", "patient", "ketamine_responder"]])
    relief = relief.merge(p[["replicate", "patient", "placebo_responder"]])
    nr = relief[~relief.ketamine_responder]
    r = relief[relief.ketamine_responder]
    assert len(nr) > 20 and len(r) > 40
    # the drug adds nothing for a latent non-responder, however high the ceiling: what is left
    # is their own open-label expectancy (Pollo 2001: twice the blinded placebo relief)
    prm = PDParameters()
    own = nr[~nr.placebo_responder].relief
    np.testing.assert_allclose(own, 2 * prm.placebo_relief_nonresponder, atol=1e-9)
    assert nr.relief.max() <= 0.95 + 1e-9  # the placebo cap (ketsim.core.pd.placebo)
    assert r.relief.mean() > nr.relief.mean() + 0.3


def test_protocol_states_its_titration_target():
    """A lower protocol target stops the rate rising earlier."""
    lo = _cohort("60 mg/h", target=0.3).patients.end_rate_mg_h_70kg.mean()
    hi = _cohort("60 mg/h", target=0.9).patients.end_rate_mg_h_70kg.mean()
    assert lo < hi
