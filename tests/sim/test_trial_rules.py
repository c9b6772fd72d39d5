"""The trial's plain rule functions and its compiled plan (the model applies their decisions)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ketsim.config.scenario import load_scenario
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.compile import TrialPlan, compile_trial
from ketsim.sim.trial_dosing import (
    course_changes,
    decayed_priming,
    group_members,
    liver_injury_at_course_end,
)
from ketsim.sim.trial_model import TrialModel
from ketsim.sim.trial_rules import (
    nausea_and_vomiting,
    psychotomimetic_effects,
    run_in_responders,
    segment_treatment,
    titrated_level,
    weekly_dropouts,
)

PRM = PDParameters()


def test_titration_steps_up_below_target_and_down_when_intolerable():
    level = np.array([1.0, 1.0, 1.0, 5.0])
    pain = np.array([6.0, 6.0, 1.0, 6.0])  # relief 0.25, 0.25, 0.875, 0.25 of baseline 8
    intolerable = np.array([False, True, False, False])
    new = titrated_level(
        level,
        pain,
        np.full(4, 8.0),
        intolerable,
        max_mg_h=np.full(4, 5.0),
        min_mg_h=np.full(4, 0.5),
        step_mg_h=np.full(4, 1.0),
        params=dataclasses.replace(PRM, titration_target_relief=0.5),
    )
    # up by a step; down (intolerable) clipped at the minimum; at target: kept; at the max: kept
    np.testing.assert_array_equal(new, [2.0, 0.5, 1.0, 5.0])


def test_psychotomimetic_new_only_once_per_segment():
    n = 3
    out = psychotomimetic_effects(
        ce_fast=np.array([0.0, 1e4, 1e4]),
        ce_fast_r=None,
        tolerance=np.zeros(n),
        threshold=np.full(n, 0.1),
        seg_exposure=np.ones(n),
        u_background=np.ones(n),
        felt_before=np.array([False, False, True]),
        params=PRM,
    )
    np.testing.assert_array_equal(out.felt, [False, True, True])
    np.testing.assert_array_equal(out.new, [False, True, False])


def test_nausea_needs_exposure_and_is_reported_once():
    nz, vm = nausea_and_vomiting(
        d_auc=np.array([0.0, 1e6, 1e6]),
        d_exposure=np.zeros(3),
        u_nausea=np.full(3, 0.5),
        u_vomit=np.zeros(3),
        had_nausea=np.array([False, False, True]),
        nausea_lambda=1.0,
        params=PRM,
    )
    np.testing.assert_array_equal(nz, [False, True, False])
    assert not (vm & ~nz).any()


def test_weekly_dropouts_are_disjoint_and_only_in_study():
    n = 4
    ltfu, loe = weekly_dropouts(
        in_study=np.array([True, True, True, False]),
        u_ltfu=np.array([0.0, 1.0, 1.0, 0.0]),
        u_loe=np.zeros(n),
        t=24.0 * 30,
        first_dose=np.zeros(n),
        pain=np.full(n, 8.0),
        baseline_pain=np.full(n, 8.0),
        params=dataclasses.replace(
            PRM, loss_to_follow_up_per_week=0.5, lack_of_effect_dropout_per_week=0.5
        ),
    )
    np.testing.assert_array_equal(ltfu, [True, False, False, False])
    np.testing.assert_array_equal(loe, [False, True, True, False])


def test_courses_start_and_end_when_the_total_rate_leaves_and_returns_to_zero():
    prev = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    now = np.array([[0.0, 3.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    start, end = course_changes(now, prev)
    np.testing.assert_array_equal(start, [True, False, False, False])
    np.testing.assert_array_equal(end, [False, True, False, False])
    np.testing.assert_allclose(decayed_priming(np.array([2.0]), np.array([0.0]), 10.0, 10.0), 1.0)


def test_liver_injury_reads_each_patients_course_uniform():
    u = np.ones((2, 64))
    u[0, 3] = 0.0  # patient 0's fourth course is certain
    hit = liver_injury_at_course_end(
        np.full(2, 1e9), np.zeros(2), np.array([3, 3]), u, np.zeros(2, bool), PRM
    )
    np.testing.assert_array_equal(hit, [True, False])


def test_run_in_responders_and_segment_treatment():
    resp = run_in_responders(
        np.array([4.0, 7.0, np.nan, 3.0]),
        np.full(4, 8.0),
        30.0,
        np.array([True, True, True, False]),
        np.ones(4, bool),
    )
    np.testing.assert_array_equal(resp, [True, False, False, False])
    assert segment_treatment("ketamine", "open_label", 0.5) == (True, False, 1.0)
    assert segment_treatment("active_placebo", "double_blind", 0.5) == (False, True, 0.5)


def test_group_members_positions_in_the_compiled_rows():
    members, pos = group_members(np.array([1, 0, 1, 1]), [np.array([1]), np.arange(4)])
    np.testing.assert_array_equal(members[1], [0, 2, 3])
    assert pos[0] is None
    np.testing.assert_array_equal(pos[1], [0, 2, 3])


def test_compiled_plan_is_frozen_and_the_model_runs_on_it():
    sc = load_scenario("scenarios/published/sigtermans2009.yaml")
    plan = compile_trial(sc)
    assert isinstance(plan, TrialPlan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.racemic = not plan.racemic  # type: ignore[misc]
    assert plan.arm_names == tuple(a.name for a in sc.arms)
    assert plan.enrolment.n == sum(a.n for a in sc.arms)
    m = TrialModel(sc, 5, (0,), with_agents=False)
    assert m.timeline is m.plan.timeline
    assert m.params == plan.pd
    assert (m.plan.enrolment, m.plan.diary, m.plan.pk) == (plan.enrolment, plan.diary, plan.pk)
