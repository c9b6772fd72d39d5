"""Comparator drugs and background therapy in a trial batch: midazolam (active placebo) and
lidocaine arms, background gabapentinoids and opioids, MgSO4 as an adjunct infusion.

A comparator arm's nominal doses (what the blinded staff set on its schedule, titration
included) times the arm's ``comparator.dose_per_mg`` go into the drug's own exact linear PK
(:mod:`ketsim.core.pk.comparator_pk`, stepped with the same :class:`~ketsim.core.pk.propagate.
PKCursor` as ketamine). At a staff check the effect-site concentration gives a felt intensity; a
patient feels the drug (midazolam: sedation; lidocaine: CNS effects) when it crosses the
patient's perception threshold (:mod:`ketsim.core.pd.comparators`), which moves the belief of
being on drug up. Lidocaine's effect site also gives acute relief.

Background therapy (:mod:`ketsim.core.pd.background`): a patient's co-medication
(``population.comedication``) scales ketamine's acute relief and midazolam's felt-sedation EC50;
an arm's MgSO4 adjunct acts while the arm's infusion runs (a factor on ketamine's acute relief, its
own relief, a felt flush that moves the belief).

Only patients whose group ever gives a comparator are propagated, and the random draws (PK
variability and perception thresholds, one population stream) are made only when a scenario has
a comparator arm or an adjunct, so trials without one are unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ketsim.core.pd.background import (
    BACKGROUND_MEDICATIONS,
    BackgroundEffect,
    background_effect,
    patient_factor,
)
from ketsim.core.pd.comparators import ArmComparator, comparator_relief, felt_intensity
from ketsim.core.pk.comparator_pk import COMPARATOR_PK, comparator_system
from ketsim.core.pk.propagate import PKCursor, Propagator
from ketsim.sim.enrolment import StreamBank, draw_rows
from ketsim.sim.trial_tables import TREATMENTS

__all__ = [
    "K_COMPARATOR",
    "ComparatorState",
    "background_effects",
    "comparator_state",
]

#: population stream key of the comparator draws (CL, V1, perception threshold and adjunct
#: felt deviates)
K_COMPARATOR = 19


class ComparatorState:
    """PK cursors and felt effects of the comparator drugs of a trial batch.

    Parameters
    ----------
    comparators : the comparator of each scenario arm
        (:func:`~ketsim.core.pd.comparators.arm_comparators`).
    segment_arms : per timeline group, the scenario arm of each segment (-1: run-in/extension).
    group : each patient's timeline group (None: propagate everyone, as in EERW, whose groups
        change at randomisation).
    weight_kg : body weights.
    times : the event grid (its steps are exponentiated up front).
    bank, n_per : the batch's streams and patients per replicate.
    comedication : co-medication name -> the patients taking it.
    background : background medication name -> its effect.
    adjuncts : the MgSO4 adjunct of each scenario arm (None: none).
    """

    def __init__(
        self,
        comparators: tuple[ArmComparator | None, ...],
        segment_arms: list[list[int]],
        group: np.ndarray | None,
        weight_kg: np.ndarray,
        times: np.ndarray,
        bank: StreamBank,
        n_per: list[int],
        comedication: dict[str, np.ndarray] | None = None,
        background: dict[str, BackgroundEffect] | None = None,
        adjuncts: tuple[BackgroundEffect | None, ...] = (),
    ) -> None:
        n = weight_kg.size
        self.n = n
        self.comparators = comparators
        self.treatment_code = np.full(n, TREATMENTS.index("placebo"))
        self.arm = np.full(n, -1)  # arm of the comparator segment in force (-1: none)
        self.scale = np.zeros(n)
        self.felt = np.zeros(n, bool)  # felt in the current segment
        self.cursors: dict[str, tuple[np.ndarray, PKCursor]] = {}
        on, bg = comedication or {}, background or {}
        # static per patient (None: 1 for everyone)
        self.base_factor = patient_factor(on, bg, "ketamine_acute_factor", n)
        self.ketamine_factor = self.base_factor  # times an adjunct's factor while it runs
        self.sedation_factor = patient_factor(on, bg, "sedation_ec50_factor", n)
        self.adjuncts = adjuncts if any(a is not None for a in adjuncts) else ()
        self.seg_arm = np.full(n, -1)  # scenario arm of the segment in force
        self.adjunct_on = np.zeros(n, bool)
        drugs = {c.drug for c in comparators if c is not None}
        if not drugs and not self.adjuncts:
            return
        # (P, 4) standard normals: CL, V1, the log perception threshold, adjunct felt
        self.eta = draw_rows(bank.take("population", K_COMPARATOR), n_per, (4,), "standard_normal")
        steps, counts = np.unique(np.diff(times), return_counts=True)
        for drug in sorted(drugs):
            gives = [c is not None and c.drug == drug for c in comparators]
            uses = np.array([any(a >= 0 and gives[a] for a in arms) for arms in segment_arms])
            rows = np.arange(n) if group is None else np.flatnonzero(uses[group])
            if rows.size == 0:
                continue
            prop = Propagator(
                comparator_system(COMPARATOR_PK[drug], weight_kg[rows], self.eta[rows])
            )
            prop.prepare(steps[np.argsort(-counts, kind="stable")])
            self.cursors[drug] = (rows, PKCursor(prop, float(times[0])))

    def pain_terms(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(comparator and adjunct relief, factor on ketamine's acute relief) for
        :func:`~ketsim.sim.trial_pd.expected_pain` (None: absent)."""
        rel = self.relief()
        if self.adjuncts and np.any(self.adjunct_on):
            own = self._adjunct_value("relief")
            rel = own if rel is None else 1.0 - (1.0 - rel) * (1.0 - own)
        return rel, self.ketamine_factor

    def _adjunct_value(
        self, field: str, rows: np.ndarray | None = None, default: float = 0.0
    ) -> np.ndarray:
        """``field`` of the adjunct running for each patient (``default`` where none runs)."""
        rows = np.arange(self.n) if rows is None else rows
        vals = np.array([np.nan if a is None else getattr(a, field) for a in self.adjuncts])
        arm = self.seg_arm[rows]
        v = vals[np.maximum(arm, 0)]
        has = (arm >= 0) & self.adjunct_on[rows] & ~np.isnan(v)
        return np.where(has, v, default)

    @property
    def active(self) -> bool:
        """Whether any patient can receive a comparator or an adjunct."""
        return bool(self.cursors) or bool(self.adjuncts)

    def enter(self, idx: np.ndarray, treatment: str, arm: int) -> None:
        """Patients ``idx`` enter a segment of ``treatment`` (scenario arm ``arm``, -1: none)."""
        self.treatment_code[idx] = TREATMENTS.index(treatment)
        cmp = self.comparators[arm] if arm >= 0 else None
        self.arm[idx] = arm if cmp is not None else -1
        self.seg_arm[idx] = arm
        self.scale[idx] = cmp.dose_per_mg if cmp is not None else 0.0
        self.felt[idx] = False

    def advance(self, t: float) -> None:
        """Propagate every comparator's PK exactly to ``t``."""
        for _, cur in self.cursors.values():
            cur.advance(t)

    def set_inputs(
        self, nominal_rates: np.ndarray, nominal_boluses: np.ndarray | None, active: np.ndarray
    ) -> None:
        """From now on infuse the comparator arms' nominal rates (mg/h, all infusion routes,
        times the dose scale; ``active``: treated and in study); give their nominal boluses.
        An arm's adjunct runs while its nominal infusion rate is positive."""
        if self.adjuncts:
            self.adjunct_on = (nominal_rates.sum(axis=1) > 0) & active
            f = self._adjunct_value("ketamine_acute_factor", default=1.0)
            self.ketamine_factor = f if self.base_factor is None else f * self.base_factor
        for drug, (rows, cur) in self.cursors.items():
            on = self._on(drug, rows) * active[rows]
            rates = nominal_rates[rows].sum(axis=1, keepdims=True) * on[:, None]
            bol = None
            if nominal_boluses is not None:
                bol = nominal_boluses[rows].sum(axis=1, keepdims=True) * on[:, None]
            cur.set_inputs(rates, bol)

    def _on(self, drug: str, rows: np.ndarray) -> np.ndarray:
        """Dose scale of ``rows`` for ``drug`` (0 when their segment gives another treatment)."""
        arm = self.arm[rows]
        is_drug = np.array([c is not None and c.drug == drug for c in self.comparators])
        return np.where((arm >= 0) & is_drug[np.maximum(arm, 0)], self.scale[rows], 0.0)

    def concentrations(self, drug: str) -> tuple[np.ndarray, np.ndarray]:
        """Plasma and effect-site concentrations (ng/mL) of ``drug`` of every patient (0 when
        the patient never receives it)."""
        cp, ce = np.zeros(self.n), np.zeros(self.n)
        if drug in self.cursors:
            rows, cur = self.cursors[drug]
            y = cur.outputs()
            cp[rows], ce[rows] = y[:, 0], y[:, 1]
        return cp, ce

    def relief(self) -> np.ndarray | None:
        """Acute relief (fraction of pain) from the comparators now; None without any."""
        if not self.cursors:
            return None
        out = np.zeros(self.n)
        for drug, (rows, cur) in self.cursors.items():
            ce = cur.outputs()[:, 1]
            for a in self._arms_of(drug):
                m = self.arm[rows] == a
                out[rows[m]] = comparator_relief(ce[m], self.comparators[a].pd)
        return out

    def _arms_of(self, drug: str) -> list[int]:
        return [i for i, c in enumerate(self.comparators) if c is not None and c.drug == drug]

    def check(
        self, live: np.ndarray, t: float, log: list | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Felt comparator effects of the checked patients ``live`` at ``t``.

        Returns
        -------
        felt : felt in the segment so far (this check included): not "nothing".
        new : felt for the first time in the segment at this check.
        up : each patient's belief step when newly felt.
        """
        up = np.zeros(live.size)
        new = np.zeros(live.size, bool)
        if self.cursors:
            for drug, (rows, cur) in self.cursors.items():
                pos = np.searchsorted(rows, live)
                pos = np.minimum(pos, rows.size - 1)
                has = rows[pos] == live
                ce = np.zeros(live.size)
                ce[has] = cur.outputs()[pos[has], 1]
                for a in self._arms_of(drug):
                    pd = self.comparators[a].pd
                    m = has & (self.arm[live] == a)
                    if not np.any(m):
                        continue
                    ec50 = pd.felt_ec50_ng_ml
                    if drug == "midazolam" and self.sedation_factor is not None:
                        ec50 = ec50 * self.sedation_factor[live[m]]  # a sedating background
                    inten = felt_intensity(ce[m], ec50, pd.felt_gamma)
                    thr = pd.perception_threshold * np.exp(
                        pd.perception_sd_log * self.eta[live[m], 2]
                    )
                    new[m] = (inten > thr) & ~self.felt[live[m]]
                    up[m] = pd.belief_up
                    ids = live[m][new[m]]
                    if log is not None and ids.size:
                        name = "ae_sedation" if drug == "midazolam" else "ae_lidocaine_cns"
                        log.append((ids, np.full(ids.size, t), name, inten[new[m]]))
        if self.adjuncts:
            # a running adjunct (MgSO4: a warm flush) is felt by a fixed fraction of patients
            p = self._adjunct_value("felt_probability", live)
            adj = (special.ndtr(self.eta[live, 3]) < p) & ~self.felt[live] & ~new
            new |= adj
            up = np.where(adj, self._adjunct_value("belief_up", live), up)
            ids = live[adj]
            if log is not None and ids.size:
                log.append((ids, np.full(ids.size, t), "ae_mgso4_flush", np.full(ids.size, np.nan)))
        self.felt[live] |= new
        return self.felt[live], new, up


def comparator_state(model) -> ComparatorState:
    """The :class:`ComparatorState` of a :class:`~ketsim.sim.trial_model.TrialModel` at setup
    (after its event grid is compiled)."""
    tl = model.timeline
    seg_arms = [[sg.arm for sg in g.segments] for g in tl.groups]
    return ComparatorState(
        model.plan.comparators,
        seg_arms,
        None if tl.type == "enrichment" else model.group,
        model.pop.weight_kg,
        model.times,
        model._streams,
        model.n_per,
        model.pop.comedication,
        background_effects(model.plan.enrolment.population),
        model.plan.adjuncts,
    )


def background_effects(spec) -> dict[str, BackgroundEffect]:
    """The background medications' effects of a population spec (defaults and its overrides)."""
    over = spec.background_effects
    return {k: background_effect(k, over.get(k)) for k in BACKGROUND_MEDICATIONS}
