"""One simulated trial (or a batch of replicate trials) as a mesa ``Model``: the trial's clock.

:class:`TrialModel` runs on a compiled :class:`~ketsim.sim.compile.TrialPlan`. State lives in
patients-first numpy arrays owned by the model; the mesa :class:`~ketsim.sim.agents.PatientAgent`
objects are views onto one row each. The clock jumps from event to event (dose and rate changes,
staff checks, daily diary times) and at each event applies the decisions of vectorised rules over
all patients of every replicate in the batch:

1. propagate the linear PK exactly to the next event (:mod:`ketsim.sim.trial_pk`);
2. update the PD states (tolerance, sensitization) exactly over the step
   (:mod:`ketsim.sim.trial_pd`);
3. at a check: psychotomimetic effects, nausea, functional unblinding, titration, stopping
   (:mod:`ketsim.sim.trial_rules`);
4. at a diary time: record each patient's expected pain (noise is added afterwards,
   :mod:`ketsim.sim.diary_observation`) and, once a week, dropouts; at a session assessment
   (``assessments:``) the same for its readings (:mod:`ketsim.sim.assessments`);
5. set the inputs for the next interval (:mod:`ketsim.sim.trial_dosing`).

Setup draws the patients (:mod:`ketsim.sim.enrolment`, :mod:`ketsim.sim.patient_traits`) and
compiles their schedules and the event grid (:mod:`ketsim.sim.trial_schedule`).
"""

from __future__ import annotations

import mesa
import numpy as np

from ketsim.config.scenario import Scenario
from ketsim.core.pd import adverse, placebo, progression
from ketsim.core.resources import check_memory
from ketsim.sim.agents import PatientAgent
from ketsim.sim.assessments import session_assessments
from ketsim.sim.compile import compile_trial
from ketsim.sim.diary_observation import draw_diary_noise, expected_diary, observed_nrs
from ketsim.sim.dose_recorder import DoseRecorder
from ketsim.sim.enrolment import StreamBank, batch_stream_pairs, screen_and_allocate
from ketsim.sim.patient_traits import (
    draw_behaviour_uniforms,
    draw_dose_uniforms,
    draw_patient_traits,
)
from ketsim.sim.trial_adverse import BackgroundExposure, LiverCourses, session_starts
from ketsim.sim.trial_comparators import comparator_state
from ketsim.sim.trial_dosing import (
    MAX_COURSES,
    boluses_at,
    course_changes,
    group_members,
    interval_rates,
)
from ketsim.sim.trial_pd import (
    blockade_memory_step,
    cardiovascular_maxima,
    expected_pain,
    sensitization_target,
    tolerance_and_sensitization_step,
)
from ketsim.sim.trial_pk import drug_free_pk_rows, pk_cursors, pk_outputs
from ketsim.sim.trial_rules import (
    blinded_prior,
    check_row,
    ends_an_administration,
    leave_after_stop,
    nausea_and_vomiting,
    psychotomimetic_effects,
    randomise_withdrawal,
    segment_treatment,
    stopped_on_intolerable,
    titrated_level,
    unblinded_belief,
    weekly_dropouts,
)
from ketsim.sim.trial_schedule import FAST_RESOLUTION_H, compile_trial_schedule
from ketsim.sim.trial_tables import AE_EVENTS, TrialResult, build_tables

__all__ = ["TrialModel"]


class TrialModel(mesa.Model):
    """A trial of ``scenario`` for one or more replicates, stepped event to event.

    Parameters
    ----------
    scenario : a scenario with ``arms``.
    entropy : root seed of the seed tree.
    replicates : replicate indices simulated together in one batch.
    with_agents : create one :class:`~ketsim.sim.agents.PatientAgent` per patient (views on the
        arrays; the Monte Carlo engine turns them off).
    record_doses : record the doses as administered and the plasma concentrations at every model
        time (:class:`~ketsim.sim.dose_recorder.DoseRecorder`; off by default: the Monte Carlo
        engine does not need them).
    """

    #: skip the PK of patients whose group never gives ketamine (exactly zero; tests turn it off)
    _drug_free_pk_shortcut = True

    def __init__(
        self,
        scenario: Scenario,
        entropy: int,
        replicates: tuple[int, ...] | list[int] = (0,),
        with_agents: bool = True,
        record_doses: bool = False,
    ) -> None:
        # mesa's own generators are unused (all draws come from the seed tree); fix its seed so
        # that nothing depends on the global state.
        super().__init__(seed=0)
        self.plan = compile_trial(scenario)
        # the model runs on the compiled plan; the result tables also read the scenario
        self.scenario = scenario
        self.entropy = int(entropy)
        self.replicates = tuple(int(r) for r in replicates)
        self.params = self.plan.pd
        self._setup()
        # None when off: the step tests one attribute and does nothing else
        self.recorder: DoseRecorder | None = DoseRecorder(self) if record_doses else None
        self.events_log: list[tuple[np.ndarray, ...]] = []
        self.k = 0  # index of the next event
        self.time_h = float(self.times[0])
        self.running = True
        if with_agents:
            PatientAgent.create_agents(self, self.n, index=list(range(self.n)))

    # -- setup ---------------------------------------------------------------------------------
    def _setup(self) -> None:
        plan, prm = self.plan, self.params
        self.timeline = tl = plan.timeline
        # every stream of the batch drawn from at setup (and EERW's re-randomisation): one call
        self._streams = StreamBank(self.entropy, self.replicates, batch_stream_pairs(tl))
        enr = screen_and_allocate(plan.enrolment, tl, self._streams, prm)
        self.pop = pop = enr.pop
        self.n_per = n_per = enr.n_per
        self.n = n = int(sum(n_per))
        self.replicate = np.repeat(self.replicates, n_per)
        self.patient = np.concatenate([np.arange(k) for k in n_per])
        self.group = enr.group
        self.arm = enr.arm
        self.enrolment_day = enr.enrolment_day
        self.screening_score = enr.screening_score
        self.arm_names = list(plan.arm_names)
        self.group_names = [g.name for g in tl.groups]
        # refuse before the per-patient-day state is allocated: ~160 B per patient-day measured
        # (Sigtermans, 91 days: 14.7 KB per patient); tables and noise arrays about double it
        days = 7 * tl.weeks + plan.diary.baseline_days
        check_memory(
            400.0 * n * days,
            f"a trial batch of {n:,} patients x {days:,} diary days",
            "use fewer patients or weeks",
        )

        traits = draw_patient_traits(pop, plan.enrolment.population, prm, self._streams, n_per)
        self.responder = traits.responder
        self.placebo_responder = traits.placebo_responder
        self.psy_threshold = traits.psy_threshold
        self.slow_c50 = traits.slow_c50

        # -- belief of being on drug and the treatment: set when a patient enters a segment ------
        self.blinded_prior = blinded_prior(tl, list(plan.arm_treatments))
        self.belief = np.zeros(n)
        self.expectancy = np.zeros(n)  # follows belief through a lag (placebo.expectancy_step)
        self.placebo_hold = np.zeros(n)  # duration of the segment's first administration
        self.drug = np.zeros(n, bool)
        self.active_placebo = np.zeros(n, bool)
        self.seg = np.full(n, -1)
        self.first_dose = np.full(n, np.inf)

        # -- schedules (one per timeline group) and the event grid -----------------------------
        self.racemic = plan.racemic
        fine = FAST_RESOLUTION_H if plan.effects.lasting_effect == "sustained_blockade" else ()
        # session assessments (None without): their reading times join the event grid
        self.assess = session_assessments(self.scenario.assessments, tl)
        extra = () if self.assess is None else self.assess.times
        dose_u = draw_dose_uniforms(tl, self._streams, n_per)  # varying doses (or none)
        ts = compile_trial_schedule(
            plan.diary,
            tl,
            pop.weight_kg,
            self.group,
            self.racemic,
            fine,
            extra_times=extra,
            dose_u=dose_u,
        )
        self.routes, self.schedules, self.checks = ts.routes, ts.schedules, ts.checks
        self.sched_members = ts.sched_members
        self._update_members()
        self.n_seg, self.seg_entry, self.seg_first_dose = ts.n_seg, ts.seg_entry, ts.seg_first_dose
        self.seg_first_hold = ts.seg_first_hold
        self.diary_times, self.diary_index = ts.diary_times, ts.diary_index
        self.times, self.plan_row = ts.times, ts.plan_row
        self.level = np.zeros(n)
        self.weight = pop.weight_kg
        self.cmp = comparator_state(self)  # midazolam and lidocaine arms (trial_comparators)

        # -- PK systems (only of the patients who may get ketamine: ``pk_rows``, None = all) ----
        self.pk_rows = drug_free_pk_rows(tl, self.group) if self._drug_free_pk_shortcut else None
        pk_pop = pop if self.pk_rows is None else pop.take(self.pk_rows)
        self.props, self.pk = pk_cursors(plan.pk, pk_pop, self.routes, self.racemic, self.times)

        # -- dynamic state ---------------------------------------------------------------------
        self.on_treatment = np.ones(n, bool)
        self.in_study = np.ones(n, bool)
        self.tolerance = np.zeros(n)
        self.sens_state = pop.sensitization.copy()  # at the set point before treatment
        self.blockade_memory = np.zeros(n)  # h of sustained blockade (that hypothesis only)
        # per-segment flags (reset when a patient enters a segment) and per-segment AE records
        self.felt_psy = np.zeros(n, bool)
        self.felt_nothing_applied = np.zeros(n, bool)
        self.nausea = np.zeros(n, bool)
        self.vomiting = np.zeros(n, bool)
        self.seg_checks = np.zeros(n, int)
        self.ae_seg = {k: np.zeros((n, self.n_seg), bool) for k in AE_EVENTS}
        self.intolerable_ever = np.zeros(n, bool)
        self.discontinued_h = np.full(n, np.nan)
        self.dropout_h = np.full(n, np.nan)
        self.dropout_reason = np.full(n, "", dtype=object)
        self.end_rate = np.full(n, np.nan)
        self.auc_at_check = np.zeros(n)
        self.background = BackgroundExposure(n, prm)  # nocebo exposure: sessions, hours
        self.cv_max = {k: np.zeros(n) for k in ("cardiac_output_pct", "heart_rate_pct", "map_pct")}
        self.prev_rates = np.zeros((n, len(self.routes[0])))
        self.prev_nominal = np.zeros((n, len(self.routes[0])))
        self.y = self._outputs()
        self._sens_cache: tuple[dict[str, np.ndarray], np.ndarray] | None = None
        self.pain = pop.baseline_pain.copy()
        n_days = self.diary_times.size
        self.mu_diary = np.full((n, n_days), np.nan)
        self.fluct0 = enr.fluct0
        # measurement noise of every diary day, drawn up front (it does not depend on the state)
        self.noise = draw_diary_noise(
            self._streams,
            n_per,
            self.fluct0,
            plan.diary.baseline_days + n_days,
            prm,
            plan.enrolment.population.baseline_pain.sd,
        )
        if self.assess is not None:
            self.assess.setup(self, plan.enrolment.population.baseline_pain.sd)

        # -- pre-drawn behaviour uniforms (per replicate, so batching does not matter) ----------
        n_checks = max(1, max(len(c) for c in self.checks))
        self.u = draw_behaviour_uniforms(
            self._streams, n_per, self.n_seg, n_checks, MAX_COURSES, tl.weeks
        )
        self.check_count = np.zeros(n, int)
        self.nausea_lambda = adverse.nausea_hazard_per_auc(prm)
        self.courses = LiverCourses(n, prm, self.u.liver)  # drug sessions joined into courses
        self.liver = self.courses.injured

    # -- helpers -------------------------------------------------------------------------------
    def _update_members(self) -> None:
        """Current patients of each group and their rows in the group's compiled schedule."""
        self.members, self.pos = group_members(self.group, self.sched_members)

    def _expected(self) -> np.ndarray:
        """Expected pain ``(P, D)`` in every diary column (baseline columns first)."""
        nb = self.plan.diary.baseline_days
        return expected_diary(self.pop.baseline_pain, self.mu_diary, nb)

    def observed_nrs(self, cols: np.ndarray) -> np.ndarray:
        """Observed integer NRS ``(P, len(cols))`` (NaN = missed day) in diary columns ``cols``.

        Columns count the baseline days first; a column's value is final once the model has
        stepped past its diary time (the explorer reads them day by day).
        """
        return self._observed(np.asarray(cols))

    def _observed(self, cols: np.ndarray, expected: np.ndarray | None = None) -> np.ndarray:
        """Observed NRS (NaN = missing) in diary columns ``cols`` (baseline columns first).

        ``expected`` may pass :meth:`_expected` when ``cols`` is every column.
        """
        nb = self.plan.diary.baseline_days
        return observed_nrs(cols, self.pop.baseline_pain, self.mu_diary, self.noise, nb, expected)

    def _enter_segments(self, t: float) -> None:
        """Patients whose group starts a segment at ``t`` take up its treatment and blinding."""
        tl = self.timeline
        for g, entry in enumerate(self.seg_entry):
            j = entry.get(t)
            if j is None:
                continue
            idx = self.members[g]
            sg = tl.groups[g].segments[j]
            drug, active_placebo, belief = segment_treatment(
                sg.treatment, sg.blinding, self.blinded_prior
            )
            self.drug[idx] = drug
            self.active_placebo[idx] = active_placebo
            self.cmp.enter(idx, sg.treatment, sg.arm)
            self.belief[idx] = belief
            self.expectancy[idx] = belief  # entering with the prior: no lag to relax
            self.seg[idx] = j
            self.first_dose[idx] = self.seg_first_dose[g][j]
            self.placebo_hold[idx] = self.seg_first_hold[g][j]
            # a new period: effects are felt (and reported) afresh
            self.felt_psy[idx] = False
            self.felt_nothing_applied[idx] = False
            self.nausea[idx] = False
            self.vomiting[idx] = False
            self.seg_checks[idx] = 0
            self.background.enter_segment(idx)

    def _randomise_withdrawal(self, t: float) -> None:
        """EERW: at the end of the run-in, randomise responders; the others leave the trial."""
        randomise_withdrawal(self, t)

    def _outputs(self) -> dict[str, np.ndarray]:
        """Current PK outputs of every patient (:func:`~ketsim.sim.trial_pk.pk_outputs`)."""
        return pk_outputs(self.pk, self.pk_rows, self.n)

    def _log(self, mask: np.ndarray, event: str, value: np.ndarray | float = np.nan) -> None:
        idx = np.flatnonzero(mask)
        if idx.size:
            val = np.broadcast_to(np.asarray(value, dtype=float), mask.shape)[idx]
            self.events_log.append((idx, np.full(idx.size, self.time_h), event, val))

    def _log_ids(self, ids: np.ndarray, event: str, value: np.ndarray | float = np.nan) -> None:
        """:meth:`_log` for ascending patient indices, ``value`` given at those patients."""
        val = np.array(np.broadcast_to(np.asarray(value, dtype=float), ids.shape))
        self.events_log.append((ids, np.full(ids.size, self.time_h), event, val))

    def _sens_target(self, y: dict[str, np.ndarray]) -> np.ndarray:
        """Drug-modulated sensitization target at outputs ``y`` (cached for the latest ``y``)."""
        cached = self._sens_cache
        if cached is not None and cached[0] is y:
            return cached[1]
        f = sensitization_target(
            self.pop.sensitization,
            self.responder,
            y["ce_slow"],
            self.slow_c50,
            self.params,
            self.plan.effects.lasting_effect,
            self.blockade_memory,
        )
        self._sens_cache = (y, f)
        return f

    def _pain(self, t: float) -> np.ndarray:
        """Expected pain (NRS scale) of every patient at time ``t`` from the current state."""
        # disease progression raises the untreated pain (rate 0 by default: the baseline itself)
        b = progression.progressed_baseline(
            self.pop.baseline_pain, t, self.params.pain_progression_per_week
        )
        return expected_pain(
            self.y,
            b,
            self.pop.sensitization,
            self.sens_state,
            self.placebo_responder,
            self.expectancy,
            t - self.first_dose,
            self.params,
            self.plan.effects,
            self.placebo_hold,
            self.responder,
            self.cmp.pain_terms(),
        )

    def _leave(self, mask: np.ndarray, t: float, reason: str) -> None:
        """Patients ``mask`` (a mask or indices) leave the study at ``t`` for ``reason``."""
        self.in_study[mask] = False
        self.dropout_h[mask] = t
        self.dropout_reason[mask] = reason

    # -- the step ------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance to the next event time and apply every rule due there."""
        if not self.running:
            return
        k = self.k
        t = float(self.times[k])
        dt = t - self.time_h
        prm = self.params
        y_prev = self.y
        if dt > 0:
            for c in self.pk.values():
                c.advance(t)
            self.cmp.advance(t)
            self.y = self._outputs()
            # the target at the start of the step is the previous step's end target (same
            # outputs, same arithmetic): reuse it
            f0 = self._sens_target(y_prev)
            if self.plan.effects.lasting_effect == "sustained_blockade":
                self.blockade_memory = blockade_memory_step(
                    self.blockade_memory, y_prev["ce_fast"], self.y["ce_fast"], dt, prm
                )
            f1 = self._sens_target(self.y)
            self.tolerance, self.sens_state = tolerance_and_sensitization_step(
                self.tolerance, self.sens_state, y_prev["ce_fast"], f0, f1, dt, prm
            )
            self.cv_max = cardiovascular_maxima(self.cv_max, self.y["cp"], prm)
            # beliefs change only at events: the lag is exact over the step
            self.expectancy = placebo.expectancy_step(self.expectancy, self.belief, dt, prm)
            self.background.accrue(dt, self.prev_nominal)
        self.time_h = t
        if self.timeline.type == "enrichment" and t == self.timeline.randomised_start_h:
            self._randomise_withdrawal(t)
        self._enter_segments(t)
        self.pain = self._pain(t)
        for g in range(len(self.schedules)):
            if t in self.checks[g]:
                self._check_group(g, t)
        if t in self.diary_index:
            d = self.diary_index[t]
            self.mu_diary[:, d] = self.pain
            if d % 7 == 6:
                self._weekly_dropout(d // 7, t)
        if self.assess is not None:
            self.assess.record(t, self)
        self._set_inputs(k, t)
        if self.recorder is not None:
            self.recorder.observe(t)
        self.k += 1
        if self.k >= self.times.size:
            self.running = False

    def _check_group(self, g: int, t: float) -> None:
        """A staff check of group ``g``'s treated patients at ``t`` (rules: :mod:`.trial_rules`)."""
        prm, sw = self.params, self.plan.effects
        s, idx = self.schedules[g], self.members[g]
        alive = self.on_treatment[idx] & self.in_study[idx]
        live = idx[alive]
        if live.size == 0:
            return
        ci = check_row(self.check_count[live], self.u.stop.shape[1])
        self.check_count[live] += 1
        self.seg_checks[live] += 1
        y = self.y
        quarter_r = self.racemic and sw.r_ketamine_analgesia == "quarter"
        x_seg, dx = self.background.check(live)
        psy = psychotomimetic_effects(
            y["ce_fast"][live],
            y["ce_fast_r"][live] if quarter_r else None,
            self.tolerance[live],
            self.psy_threshold[live],
            x_seg,
            self.u.background[live, self.seg[live]],
            self.felt_psy[live],
            prm,
        )
        intolerable = psy.intolerable
        self._ae(live[psy.new], "psychotomimetic", psy.intensity[psy.new])
        self.felt_psy[live] |= psy.felt
        self._ae(live[intolerable], "intolerable", psy.intensity[intolerable])
        self.intolerable_ever[live] |= intolerable
        auc = y["auc"][live]
        d_auc = np.maximum(auc - self.auc_at_check[live], 0.0)
        self.auc_at_check[live] = auc
        nz, vm = nausea_and_vomiting(
            d_auc,
            dx,
            self.u.nausea[live, ci],
            self.u.vomit[live],
            self.nausea[live],
            self.nausea_lambda,
            prm,
        )
        self._ae(live[nz], "nausea")
        self.nausea[live] |= nz
        self._ae(live[vm], "vomiting")
        self.vomiting[live] |= vm
        felt_o, new_o, up_o = self.cmp.check(live, t, self.events_log)
        if sw.functional_unblinding:
            self.belief[live], nothing = unblinded_belief(
                self.belief[live],
                psy.new,
                self.felt_psy[live],
                felt_o,
                new_o,
                ends_an_administration(s, t),
                self.felt_nothing_applied[live],
                prm,
                up_o,
            )
            self.felt_nothing_applied[live] |= nothing
        wi = s.window_at(t)
        if wi >= 0:
            win = s.windows[wi]
            if abs(t - win.end_h) < 1e-9:
                self.end_rate[live] = self.level[live]
            else:
                # rows of ``live`` in the group's compiled schedule (members' rows, filtered)
                mp = self.pos[g]
                pos = np.flatnonzero(alive) if mp is None else mp[alive]
                self.level[live] = titrated_level(
                    self.level[live],
                    self.pain[live],
                    self.pop.baseline_pain[live],
                    intolerable,
                    win.max_mg_h[pos],
                    win.min_mg_h[pos],
                    win.step_mg_h[pos],
                    prm,
                    win.rule.target_relief,
                    win.rule.factor,
                )
        stop = stopped_on_intolerable(intolerable, self.u.stop[live, ci], prm)
        if np.any(stop):
            ids = live[stop]
            self.on_treatment[ids] = False
            self.discontinued_h[ids] = t
            self._ae(ids, "discontinued", name="discontinued_intolerable")
            self._leave(ids[leave_after_stop(self.u.follow[ids], prm)], t, "adverse_event")

    def _ae(
        self, ids: np.ndarray, event: str, value: np.ndarray | float = np.nan, name: str = ""
    ) -> None:
        """Log an adverse event of patients ``ids`` (ascending; ``value`` one per patient or a
        scalar) and record it against their current segments.

        Indices rather than a patients-long mask: the checks touch a few patients of one group
        per call, and building and scanning full masks was most of their cost.
        """
        if ids.size:
            self._log_ids(ids, name or f"ae_{event}", value)
            self.ae_seg[event][ids, np.maximum(self.seg[ids], 0)] = True

    def _weekly_dropout(self, week: int, t: float) -> None:
        ltfu, loe = weekly_dropouts(
            self.in_study,
            self.u.ltfu[:, week],
            self.u.loe[:, week],
            t,
            self.first_dose,
            self.pain,
            self.pop.baseline_pain,
            self.params,
        )
        for mask, reason in ((ltfu, "lost_to_follow_up"), (loe, "lack_of_effect")):
            self._leave(mask, t, reason)
            self._log(mask, f"dropout_{reason}")

    def _set_inputs(self, k: int, t: float) -> None:
        """PK inputs from event ``k`` at ``t`` on: rates and boluses after gating, sessions."""
        plan_rows = [int(r[k]) for r in self.plan_row]
        rates, self.level = interval_rates(
            self.schedules, self.members, self.pos, plan_rows, t, self.level, len(self.routes[0])
        )
        active = self.on_treatment & self.in_study
        rates *= active[:, None]
        bol = boluses_at(self.schedules, self.members, self.pos, plan_rows, t, self.n)
        nominal_bol = None if bol is None else bol * active[:, None]
        # sessions as the (blinded) staff give them, saline included: background AE exposure
        self.background.start(session_starts(rates, self.prev_nominal, nominal_bol))
        # the nominal rate is what the (blinded) staff set: placebo arms run saline at it
        changed = np.any(rates != self.prev_nominal, axis=1)
        if np.any(changed):
            self._log(changed, "rate_mg_h", rates.sum(axis=1))
        self.prev_nominal = rates.copy()
        rates *= self.drug[:, None]
        # drug infusion sessions join into liver courses (:mod:`ketsim.sim.trial_adverse`)
        start, end = course_changes(rates, self.prev_rates)
        final = k == self.times.size - 1
        ids, t_end, seg = self.courses.update(t, start, end, self.y["auc"], self.seg, final)
        if ids.size:  # logged at the course's end, against that session's segment
            self.events_log.append((ids, t_end, "ae_liver_injury", np.full(ids.size, np.nan)))
            self.ae_seg["liver_injury"][ids, np.maximum(seg, 0)] = True
        self.prev_rates = rates
        if self.recorder is not None:
            self.recorder.infusions(t, rates)
        self.cmp.set_inputs(self.prev_nominal, bol, active)
        rows = self.pk_rows
        pk_rates = rates if rows is None else rates[rows]
        pk_amounts = None
        if bol is not None:
            amounts = nominal_bol * self.drug[:, None]
            pk_amounts = amounts if rows is None else amounts[rows]
            self._log(amounts.sum(axis=1) > 0, "dose_mg", amounts.sum(axis=1))
            if self.recorder is not None:
                self.recorder.boluses(t, amounts)
        for c in self.pk.values():
            c.set_inputs(pk_rates, pk_amounts)

    # -- running -------------------------------------------------------------------------------
    def run_model(self) -> None:
        """Step until the last diary day."""
        while self.running:
            self.step()

    def result(self) -> TrialResult:
        """Tidy tables of the finished batch (adds diary noise and missing days)."""
        if self.running:
            self.run_model()
        return build_tables(self)
