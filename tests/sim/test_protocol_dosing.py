"""Dosing as protocols write it, in the simulation: capped per-kg rates, per-patient dose
distributions drawn from the seed tree, escalation schedules in the events table, and
multiplicative titration at assessment times."""

from __future__ import annotations

import numpy as np
import pytest
from pandas.testing import assert_frame_equal

from ketsim.config.scenario import TitratedRegimenSpec, TitrationSpec, parse_scenario
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.compile import compile_dosing
from ketsim.sim.regimen import build_plan, check_times, compile_arm
from ketsim.sim.trial import simulate_trial
from ketsim.sim.trial_rules import titrated_level


def _trial(regimens, n=6, weeks=1, **over):
    data = {
        "name": "protocol_dosing",
        "arms": [{"name": "ket", "n": n, "regimens": regimens}],
        "trial": {"weeks": weeks},
    }
    data.update(over)
    return parse_scenario(data)


def _rates(res):
    """Per patient: the (time, mg/h) of every change of the infusion rate, and the weights."""
    ev = res.events
    ev = ev[ev.event == "rate_mg_h"]
    w = res.patients.set_index(["replicate", "patient"])["weight_kg"]
    return ev, w


def test_capped_per_kg_rate_in_a_trial():
    """0.35 mg/kg/h (max 25 mg/h): every patient at min(0.35 w, 25) mg/h, the heavy ones capped."""
    res = simulate_trial(_trial(["0.35 mg/kg/h (max 25 mg/h) over 4h"], n=40), seed=4)
    ev, w = _rates(res)
    on = ev[ev.time_h == 0.0].set_index(["replicate", "patient"])["value"]
    expect = np.minimum(0.35 * w.loc[on.index].to_numpy(), 25.0)
    np.testing.assert_allclose(on.to_numpy(), expect, rtol=1e-14)
    heavy = w.loc[on.index].to_numpy() > 25.0 / 0.35
    assert heavy.any() and (on.to_numpy()[heavy] == 25.0).all()
    assert (ev[ev.time_h == 4.0]["value"] == 0.0).all()


def test_escalation_rate_over_time_in_the_events_table():
    """100 -> 300 -> 500 mg/24 h, daily steps, in one 3-day SC infusion."""
    reg = {
        "route": "subcutaneous_infusion",
        "rate": "100 mg/24h",
        "duration": "3 days",
        "escalation": [
            {"after": "1 day", "rate": "300 mg/24h"},
            {"after": "2 days", "rate": "500 mg/24h"},
        ],
    }
    res = simulate_trial(_trial([reg], n=6), seed=2)
    ev, _ = _rates(res)
    stop = res.patients.set_index("patient")["discontinued_h"]
    full = 0
    for p, g in ev.groupby("patient"):
        # a patient stopped on intolerable effects leaves the schedule at that check
        end = 72.0 if np.isnan(stop[p]) else stop[p]
        steps = [t for t in (0.0, 24.0, 48.0) if t < end]
        assert g.time_h.tolist() == [*steps, end]
        expect = [100 / 24, 300 / 24, 500 / 24][: len(steps)]
        np.testing.assert_allclose(g.value, [*expect, 0.0], rtol=1e-14)
        full += end == 72.0
    assert full >= 3


def test_escalation_of_repeated_infusions_and_boluses():
    """Steps count from the regimen's start: daily 4-h infusions double from day 3; a weekly
    oral dose rises from the third week; a running infusion splits at a step."""
    inf = TitratedRegimenSpec.model_validate(
        {
            "route": "iv_infusion",
            "rate": "0.1 mg/kg/h",
            "max": "10 mg/h",
            "duration": 4,
            "repeats": 4,
            "interval": 24,
            "escalation": [{"after": 46, "rate": "0.2 mg/kg/h"}],
        }
    )
    oral = TitratedRegimenSpec.model_validate(
        {
            "route": "oral",
            "amount": "25 mg",
            "repeats": 3,
            "interval": 168,
            "escalation": [{"after": 336, "amount": "50 mg"}],
        }
    )
    plan, _, _ = build_plan(compile_dosing([inf, oral]), np.array([40.0, 70.0]))
    at = {float(t): plan.rates[i, :, 0].tolist() for i, t in enumerate(plan.times)}
    assert at[0.0] == at[24.0] == [4.0, 7.0]
    assert at[48.0] == at[72.0] == [8.0, 10.0]  # 0.2 mg/kg/h, capped at 10 mg/h
    bol = {float(t): plan.boluses[i, 0, 0] for i, t in enumerate(plan.times)}
    assert (bol[0.0], bol[168.0], bol[336.0]) == (25.0, 25.0, 50.0)
    # a step inside a running infusion: 4 mg/h from 0 to 2 h, then 8 mg/h until 4 h
    one = TitratedRegimenSpec.model_validate(
        {
            "route": "iv_infusion",
            "rate": "4 mg/h",
            "duration": 4,
            "escalation": [{"after": 2, "rate": "8 mg/h"}],
        }
    )
    plan, _, _ = build_plan(compile_dosing([one]), np.array([70.0]))
    assert plan.times.tolist() == [0.0, 2.0, 4.0]
    assert plan.rates[:, 0, 0].tolist() == [4.0, 8.0, 0.0]


RANGE = "0.1-0.3 mg/kg/h over 4h daily x3"


@pytest.fixture(scope="module")
def ranged():
    sc = _trial([RANGE], n=150)
    return sc, simulate_trial(sc, seed=11, replicates=[0, 1])


def test_dose_distribution_bounds_mean_and_once_per_patient(ranged):
    _, res = ranged
    ev, w = _rates(res)
    on = ev[ev.value > 0]
    per_kg = (
        on.value.to_numpy() / w.loc[list(zip(on.replicate, on.patient, strict=True))].to_numpy()
    )
    assert per_kg.min() >= 0.1 and per_kg.max() <= 0.3
    # drawn once: every infusion of a patient runs at the same rate
    assert (on.groupby(["replicate", "patient"]).value.nunique() == 1).all()
    first = on.groupby(["replicate", "patient"]).value.first() / w
    # uniform(0.1, 0.3): mean 0.2, sd 0.0577; 300 patients -> se 0.0033 (5 se tolerance)
    assert first.mean() == pytest.approx(0.2, abs=0.017)
    assert first.std() == pytest.approx(0.2 / np.sqrt(12), rel=0.15)


def test_dose_distribution_is_deterministic_and_batch_free(ranged):
    sc, res = ranged
    again = simulate_trial(sc, seed=11, replicates=[1])
    both = res.events[res.events.replicate == 1].reset_index(drop=True)
    assert_frame_equal(both, again.events.reset_index(drop=True), check_categorical=False)
    other = simulate_trial(sc, seed=12, replicates=[1])
    a = both[both.event == "rate_mg_h"].value.to_numpy()
    b = other.events[other.events.event == "rate_mg_h"].value.to_numpy()
    assert a.size != b.size or not np.array_equal(a, b)


def test_a_one_value_distribution_changes_nothing_else():
    """A 'choice' of one rate gives the fixed rate's tables to the bit: the dose draws come from
    their own stream and leave every other stream (and so every other number) untouched."""
    fixed = simulate_trial(_trial(["0.35 mg/kg/h over 4h daily x3"], n=5), seed=3)
    reg = {
        "route": "iv_infusion",
        "rate": {"distribution": "choice", "values": ["0.35 mg/kg/h"]},
        "duration": 4,
        "repeats": 3,
        "interval": 24,
    }
    drawn = simulate_trial(_trial([reg], n=5), seed=3)
    for name in ("patients", "diary", "events"):
        assert_frame_equal(getattr(fixed, name), getattr(drawn, name), check_categorical=False)


def test_multiplicative_titration_doubles_below_the_condition():
    level = np.array([10.0, 10.0, 10.0, 40.0])
    pain = np.array([6.0, 2.0, 6.0, 6.0])  # relief 0.25, 0.75, 0.25, 0.25 of baseline 8
    intolerable = np.array([False, False, True, False])
    new = titrated_level(
        level,
        pain,
        np.full(4, 8.0),
        intolerable,
        max_mg_h=np.full(4, 60.0),
        min_mg_h=np.full(4, 4.0),
        step_mg_h=np.full(4, 1.0),
        params=PDParameters(),
        target_relief=0.5,
        factor=2.0,
    )
    # doubled below 50% relief; kept above it; halved when intolerable; doubling capped at 60
    np.testing.assert_array_equal(new, [20.0, 10.0, 5.0, 60.0])


def test_titration_at_assessment_times_in_a_trial():
    """Double the rate at 24 h and 48 h while relief < 100% (always): 5, 10, 20 mg/h."""
    reg = {
        "route": "iv_infusion",
        "rate": "5 mg/h",
        "duration": "72 h",
        "titration": {
            "factor": 2,
            "target_relief": 1.0,
            "checks": ["24 h", "48 h"],
            "min_rate": "5 mg/h",
            "max_rate": "80 mg/h",
        },
    }
    sc = _trial([reg], n=4)
    sched = compile_arm(sc.arms[0].regimens, np.array([70.0]), (("iv",), ()))
    assert check_times(sched, sc.trial.start_hour) == [24.0, 48.0, 72.0]
    res = simulate_trial(sc, seed=5)
    ev, _ = _rates(res)
    ever_intolerable = set(
        res.events[res.events.event.str.contains("intolerable")].patient.tolist()
    )
    for p, g in ev.groupby("patient"):
        if p in ever_intolerable:
            continue
        assert g.time_h.tolist() == [0.0, 24.0, 48.0, 72.0]
        assert g.value.tolist() == [5.0, 10.0, 20.0, 0.0]


def test_titration_bounds_take_the_regimen_cap():
    """A per-kg titration with a regimen cap: start, floor and ceiling capped per patient."""
    reg = TitratedRegimenSpec.model_validate(
        {
            "route": "iv_infusion",
            "rate": "0.1 mg/kg/h",
            "max": "10 mg/h",
            "duration": 10,
            "titration": TitrationSpec(
                step="0.05 mg/kg/h", min_rate="0.1 mg/kg/h", max_rate="0.2 mg/kg/h"
            ),
        }
    )
    (win,) = compile_arm([reg], np.array([50.0, 120.0]), (("iv",), ())).windows
    assert win.start_mg_h.tolist() == [5.0, 10.0]
    assert win.max_mg_h.tolist() == [10.0, 10.0]
    assert win.step_mg_h.tolist() == pytest.approx([2.5, 6.0], rel=1e-15)


def test_population_pk_draws_doses_once_whatever_the_chunks():
    """A PK study with a per-patient dose: the same concentrations for any chunk size, and the
    Cmax of a short infusion proportional to the dose drawn (same patients, two dose ranges)."""
    from ketsim.sim.pk_study import simulate_pk

    def sc(rate):
        return parse_scenario(
            {
                "name": "pk_range",
                "regimens": [{"route": "iv_infusion", "rate": rate, "duration": 1}],
                "population": {"n": 7},
                "output": {"end": 2, "step": 0.5},
            }
        )

    a = simulate_pk(sc("0.1-0.3 mg/kg/h"), seed=9)
    b = simulate_pk(sc("0.1-0.3 mg/kg/h"), seed=9, chunk=3)
    np.testing.assert_array_equal(a.conc["S"], b.conc["S"])
    # doubling both bounds doubles every patient's rate: linear PK doubles Cmax
    c = simulate_pk(sc("0.2-0.6 mg/kg/h"), seed=9)
    ratio = c.summary()["ketamine_cmax_ng_ml"] / a.summary()["ketamine_cmax_ng_ml"]
    np.testing.assert_allclose(ratio, 2.0, rtol=1e-9)
    cmax = a.summary()["ketamine_cmax_ng_ml"]
    assert cmax.nunique() == 7


def test_readme_examples_validate_and_simulate():
    """Every regimen of the README's "Dosing as protocols write it" block, each in its own arm."""
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text.split("**Dosing as protocols write it.**", 1)[1]
    regimens = yaml.safe_load(re.search(r"```yaml\n(.*?)```", block, re.S).group(1))["regimens"]
    assert len(regimens) == 6
    arms = [{"name": f"a{i}", "n": 2, "regimens": [r]} for i, r in enumerate(regimens)]
    res = simulate_trial(
        parse_scenario({"name": "readme", "arms": arms, "trial": {"weeks": 1}}), seed=1
    )
    assert set(res.patients.arm) == {a["name"] for a in arms}
