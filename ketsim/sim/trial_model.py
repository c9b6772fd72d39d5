"""The trial model: a mesa ``Model`` that is the clock of a batch of replicate trials.

State lives in patients-first numpy arrays owned by :class:`TrialModel`; the mesa
:class:`~ketsim.sim.agents.PatientAgent` objects are views onto one row each. The model's clock
jumps
from event to event (dose and rate changes, staff checks, daily diary times) and every decision is
a vectorised rule over all patients of every replicate in the batch:

1. propagate the linear PK exactly to the next event (one matrix exponential per distinct step);
2. update the PD states (tolerance, sensitization) exactly over the step;
3. at a check: psychotomimetic effects, nausea, functional unblinding, titration, stopping;
4. at a diary time: record each patient's expected pain (noise is added afterwards);
5. set the inputs for the next interval.

Random numbers come from the seed tree (:mod:`ketsim.core.seeds`): replicate ``r`` draws its own
population, allocation, behaviour and measurement streams, so a replicate's tables do not depend on
which other replicates share its batch.
"""

from __future__ import annotations

import mesa
import numpy as np

from ketsim.config.scenario import Scenario
from ketsim.core.pd import acute, adverse, diary, placebo, sensitization
from ketsim.core.pd.parameters import resolve_pd
from ketsim.sim.agents import PatientAgent
from ketsim.sim.dose_recorder import DoseRecorder
from ketsim.sim.trial_rules import (
    end_course,
    enter_segments,
    randomise_withdrawal,
    run_checks,
    weekly_dropout,
)
from ketsim.sim.trial_setup import (
    setup_model,
)
from ketsim.sim.trial_tables import (
    TrialResult,
    result_tables,
)


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
        time (:class:`DoseRecorder`; off by default: the Monte Carlo engine does not need them).
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
        if not scenario.arms:
            raise ValueError(f"scenario '{scenario.name}' has no 'arms': nothing to simulate")
        self.scenario = scenario
        self.entropy = int(entropy)
        self.replicates = tuple(int(r) for r in replicates)
        self.params = resolve_pd(scenario.pd)
        setup_model(self)
        # None when off: the step tests one attribute and does nothing else
        self.recorder: DoseRecorder | None = DoseRecorder(self) if record_doses else None
        self.events_log: list[tuple[np.ndarray, ...]] = []
        self.k = 0  # index of the next event
        self.time_h = float(self.times[0])
        self.running = True
        if with_agents:
            PatientAgent.create_agents(self, self.n, index=list(range(self.n)))

    # -- helpers -------------------------------------------------------------------------------
    def _update_members(self) -> None:
        """Current patients of each group and their rows in the group's compiled schedule."""
        self.members = [np.flatnonzero(self.group == g) for g in range(len(self.schedules))]
        self.pos: list[np.ndarray | None] = []
        for mem, sm in zip(self.members, self.sched_members, strict=True):
            same = mem.size == sm.size and np.array_equal(mem, sm)
            self.pos.append(None if same else np.searchsorted(sm, mem))

    def _rows(self, g: int, arr: np.ndarray) -> np.ndarray:
        """Rows of a group's compiled per-patient array for its current members."""
        p = self.pos[g]
        return arr if p is None else arr[p]

    def _expected(self) -> np.ndarray:
        """Expected pain ``(P, D)`` in every diary column (baseline columns first)."""
        nb = self.scenario.trial.baseline_days
        base = np.repeat(self.pop.baseline_pain[:, None], nb, axis=1)
        return np.concatenate([base, self.mu_diary], axis=1)

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
        nb = self.scenario.trial.baseline_days
        n_cols = self.noise_fluct.shape[1]
        if cols.size == n_cols and np.array_equal(cols, np.arange(n_cols)):
            # every column: no column gathers. The result is laid out column-major, as the
            # gathers of the general path lay it out (the arrays built on it stay the same).
            mu = self._expected() if expected is None else expected
            obs = diary.observe_nrs(mu, self.noise_fluct, self.noise_eps)
            obs = np.asfortranarray(obs).astype(float)
            obs[self.missing] = np.nan
            return obs
        mu = np.where(
            cols[None, :] < nb,
            self.pop.baseline_pain[:, None],
            self.mu_diary[:, np.maximum(cols - nb, 0)],
        )
        obs = diary.observe_nrs(mu, self.noise_fluct[:, cols], self.noise_eps[:, cols]).astype(
            float
        )
        obs[self.missing[:, cols]] = np.nan
        return obs

    def _outputs(self) -> dict[str, np.ndarray]:
        y = {e: c.outputs() for e, c in self.pk.items()}
        if self.pk_rows is not None:  # scatter into zeros: the others' outputs are exactly 0
            for e, v in y.items():
                full = np.zeros((self.n, v.shape[1]))
                full[self.pk_rows] = v
                y[e] = full
        s = y["S"]
        out = {
            "cp": s[:, 0],
            "nk": s[:, 1],
            "ce_fast": s[:, 2],
            "ce_slow": s[:, 3],
            "auc": s[:, 4],
        }
        if "R" in y:
            out["cp_r"], out["nk_r"], out["ce_fast_r"] = y["R"][:, 0], y["R"][:, 1], y["R"][:, 2]
        return out

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
        f = sensitization.sensitization_target(
            self.pop.sensitization,
            self.responder,
            sensitization.desensitizing_drive(y["ce_slow"], self.slow_c50, self.params),
        )
        self._sens_cache = (y, f)
        return f

    def _pain(self, t: float) -> np.ndarray:
        """Expected pain (NRS scale) of every patient at time ``t`` from the current state."""
        prm, sw = self.params, self.scenario.switches
        y = self.y
        c_eq = acute.analgesic_concentration(
            y["ce_fast"],
            y["nk"] + (y.get("nk_r", 0.0)),
            y.get("ce_fast_r"),
            norketamine=sw.norketamine_analgesia,
            r_ketamine=sw.r_ketamine_analgesia,
            params=prm,
        )
        a = acute.acute_relief(c_eq, prm)
        plc = placebo.placebo_relief(self.placebo_responder, self.belief, t - self.first_dose, prm)
        b = self.pop.baseline_pain
        return b * (1.0 - self.pop.sensitization + self.sens_state) * (1.0 - a) * (1.0 - plc)

    def _rates_for_interval(self, k: int) -> np.ndarray:
        """Infusion rates (P, n_inf) from event ``k`` until the next event."""
        t = self.times[k]
        rates = np.zeros((self.n, len(self.routes[0])))
        for g, (sch, idx) in enumerate(zip(self.schedules, self.members, strict=True)):
            if idx.size == 0:
                continue
            row = self.plan_row[g][k]
            if row >= 0:
                rates[idx] = self._rows(g, sch.plan.rates[row])
            w = sch.infusing_window(t)
            if w >= 0:
                win = sch.windows[w]
                if win.resets and t == win.start_h:
                    self.level[idx] = self._rows(g, win.start_mg_h)
                rates[idx, win.route] += self.level[idx]
        return rates

    def _boluses_at(self, k: int) -> np.ndarray | None:
        t = self.times[k]
        out = None
        for g, (sch, idx) in enumerate(zip(self.schedules, self.members, strict=True)):
            row = self.plan_row[g][k]
            if idx.size and row >= 0 and sch.plan.times[row] == t and sch.plan.boluses.shape[2]:
                b = sch.plan.boluses[row]
                if np.any(b):
                    if out is None:
                        out = np.zeros((self.n, b.shape[1]))
                    out[idx] = self._rows(g, b)
        return out

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
            self.y = self._outputs()
            exposed = y_prev["ce_fast"] > 1.0
            self.tolerance = adverse.tolerance_step(self.tolerance, exposed, dt, prm)
            # the target at the start of the step is the previous step's end target (same
            # outputs, same arithmetic): reuse it
            f0 = self._sens_target(y_prev)
            f1 = self._sens_target(self.y)
            half = prm.sensitization_half_life_days
            kk = np.inf if half == 0 else np.log(2.0) / (24.0 * half)
            self.sens_state = sensitization.sensitization_step(self.sens_state, f0, f1, dt, kk)
            cv = adverse.cardiovascular(self.y["cp"], prm)
            for key, v in cv.items():
                self.cv_max[key] = np.maximum(self.cv_max[key], v)
        self.time_h = t
        if self.timeline.type == "enrichment" and t == self.timeline.randomised_start_h:
            randomise_withdrawal(self, t)
        enter_segments(self, t)
        self.pain = self._pain(t)
        run_checks(self, k, t)
        if t in self.diary_index:
            d = self.diary_index[t]
            self.mu_diary[:, d] = self.pain
            if d % 7 == 6:
                weekly_dropout(self, d // 7, t)
        self._set_inputs(k, t)
        if self.recorder is not None:
            self.recorder.observe(t)
        self.k += 1
        if self.k >= self.times.size:
            self.running = False

    def _set_inputs(self, k: int, t: float) -> None:
        rates = self._rates_for_interval(k)
        active = self.on_treatment & self.in_study
        rates *= active[:, None]
        # the nominal rate is what the (blinded) staff set: placebo arms run saline at it
        changed = np.any(rates != self.prev_nominal, axis=1)
        if np.any(changed):
            self._log(changed, "rate_mg_h", rates.sum(axis=1))
        self.prev_nominal = rates.copy()
        rates *= self.drug[:, None]
        # infusion courses, for liver injury: a course starts when the total rate leaves 0
        on_now = rates.sum(axis=1) > 0
        on_before = self.prev_rates.sum(axis=1) > 0
        auc = self.y["auc"]
        start = on_now & ~on_before
        self.course_start_auc[start] = auc[start]
        hl = self.params.liver_priming_half_life_days * 24.0
        self.priming_at_start[start] = self.prime_mass[start] * 0.5 ** (
            (t - self.prime_t[start]) / hl
        )
        end = on_before & ~on_now
        if np.any(end):
            end_course(self, np.flatnonzero(end), t)
        self.prev_rates = rates
        if self.recorder is not None:
            self.recorder.infusions(t, rates)
        bol = self._boluses_at(k)
        rows = self.pk_rows
        pk_rates = rates if rows is None else rates[rows]
        pk_amounts = None
        if bol is not None:
            amounts = bol * (active & self.drug)[:, None]
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
        return result_tables(self)
