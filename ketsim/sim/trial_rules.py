"""The trial's per-patient decision rules, as plain functions over arrays.

Each rule takes the arrays of the patients it decides for (and the model state it reads, passed
explicitly) and returns its decisions; :class:`~ketsim.sim.trial_model.TrialModel` applies them to
its state and logs the events. At a staff check, in order: psychotomimetic effects
(:func:`psychotomimetic_effects`), nausea and vomiting (:func:`nausea_and_vomiting`), functional
unblinding (:func:`unblinded_belief`), titration (:func:`titrated_level`) and stopping on
intolerable effects (:func:`stopped_on_intolerable`). Once a week: dropouts
(:func:`weekly_dropouts`); at the end of an EERW run-in: who is randomised
(:func:`run_in_responders`); at a segment's start: its treatment and blinding
(:func:`segment_treatment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ketsim.core.pd import adverse, placebo
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.design import Timeline
from ketsim.sim.enrolment import allocate_responders
from ketsim.sim.regimen import ArmSchedule
from ketsim.sim.trial_tables import TREATMENTS

if TYPE_CHECKING:
    from ketsim.sim.trial_model import TrialModel

__all__ = [
    "Psychotomimetic",
    "blinded_prior",
    "check_row",
    "ends_an_administration",
    "leave_after_stop",
    "nausea_and_vomiting",
    "psychotomimetic_effects",
    "randomise_withdrawal",
    "run_in_responders",
    "segment_treatment",
    "stopped_on_intolerable",
    "titrated_level",
    "unblinded_belief",
    "weekly_dropouts",
]


@dataclass(frozen=True)
class Psychotomimetic:
    """Psychotomimetic effects of the patients at a check (one entry per patient).

    Attributes
    ----------
    intensity : effect intensity in [0, 1).
    felt : effects felt (above the patient's threshold, or a background report).
    intolerable : intolerable effects (above the threshold times the intolerable factor).
    new : felt for the first time in the current segment.
    """

    intensity: np.ndarray
    felt: np.ndarray
    intolerable: np.ndarray
    new: np.ndarray


def check_row(check_count: np.ndarray, n_checks: int) -> np.ndarray:
    """Column of each patient's pre-drawn per-check uniforms (the last one is reused)."""
    return np.minimum(check_count, n_checks - 1)


def psychotomimetic_effects(
    ce_fast: np.ndarray,
    ce_fast_r: np.ndarray | None,
    tolerance: np.ndarray,
    threshold: np.ndarray,
    seg_exposure: np.ndarray,
    u_background: np.ndarray,
    felt_before: np.ndarray,
    params: PDParameters,
) -> Psychotomimetic:
    """Psychotomimetic effects at a check.

    Parameters
    ----------
    ce_fast : fast effect-site S-ketamine concentrations (ng/mL).
    ce_fast_r : fast effect-site R-ketamine concentrations when R-ketamine adds a quarter of its
        conventional potency (racemate, ``r_ketamine_analgesia == "quarter"``), else None.
    tolerance : tolerance states.
    threshold : each patient's intensity threshold of a felt effect.
    seg_exposure : background exposure of the patient's current segment so far (reference
        units, :func:`ketsim.core.pd.adverse.background_exposure`).
    u_background : the patient's background-report uniform of the current segment: a report
        fires at the first check where it falls below P(report over the exposure so far).
    felt_before : effects already felt in the current segment.
    params : PD parameters.

    Returns
    -------
    Psychotomimetic
        Intensity and the felt / intolerable / new masks.
    """
    ce = ce_fast
    if ce_fast_r is not None:
        ce = ce + params.r_conventional_potency * ce_fast_r
    inten = adverse.psychotomimetic_intensity(ce, tolerance, params)
    # nocebo/background reports (Sigtermans placebo 18% over one 100-h infusion), scaled with the
    # segment's exposure: one uniform against a rising probability is one time-to-report draw
    bg = u_background < adverse.background_probability(params.psy_background, seg_exposure)
    felt = (inten > threshold) | bg
    intolerable = inten > threshold * params.psy_intolerable_factor
    new = felt & ~felt_before
    return Psychotomimetic(inten, felt, intolerable, new)


def nausea_and_vomiting(
    d_auc: np.ndarray,
    d_exposure: np.ndarray,
    u_nausea: np.ndarray,
    u_vomit: np.ndarray,
    had_nausea: np.ndarray,
    nausea_lambda: float,
    params: PDParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """New nausea and vomiting at a check.

    Parameters
    ----------
    d_auc : S-ketamine AUC accrued since the patient's last check (ng·h/mL, >= 0).
    d_exposure : background exposure accrued since the patient's last check (reference units,
        :func:`ketsim.core.pd.adverse.background_exposure`).
    u_nausea, u_vomit : the patient's uniforms of this check (nausea) and of vomiting.
    had_nausea : nausea already reported in the current segment.
    nausea_lambda : nausea hazard per unit AUC.
    params : PD parameters.

    Returns
    -------
    nausea, vomiting : boolean masks of the new events.
    """
    # nausea: hazard on the S-ketamine AUC accrued since the last check + background hazard on
    # the exposure accrued since then (per-check uniforms: the hazards add up over checks)
    h_bg = adverse.background_hazard(params.nausea_background, d_exposure)
    p_n = -np.expm1(-(nausea_lambda * d_auc + h_bg))
    nz = (u_nausea < p_n) & ~had_nausea
    vm = nz & (u_vomit < params.vomiting_given_nausea)
    return nz, vm


def ends_an_administration(schedule: ArmSchedule, t: float) -> bool:
    """Whether ``t`` is the end of an infusion window or half an hour after a bolus."""
    return any(abs(t - w1) < 1e-9 for _, w1 in schedule.infusion_windows) or (
        t - 0.5 in schedule.bolus_times
    )


def unblinded_belief(
    belief: np.ndarray,
    new_psy: np.ndarray,
    felt_psy: np.ndarray,
    felt_other: np.ndarray,
    new_other: np.ndarray,
    at_end: bool,
    felt_nothing_applied: np.ndarray,
    params: PDParameters,
    other_up: np.ndarray | float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Functional unblinding: the belief of being on drug after what the patient felt.

    Parameters
    ----------
    belief : current beliefs.
    new_psy : psychotomimetic effects felt for the first time in the segment at this check.
    felt_psy : effects felt in the segment so far (this check included).
    felt_other : a comparator's effect felt in the segment so far, this check included
        (midazolam sedation, lidocaine CNS effects: simulated, :mod:`.trial_comparators`).
    new_other : the comparator's effect felt for the first time at this check.
    at_end : the check is at the end of an administration (:func:`ends_an_administration`).
    felt_nothing_applied : "felt nothing" already applied in the segment.
    params : PD parameters.
    other_up : belief step of a newly felt comparator effect (None: ``midazolam_belief_up``).

    Returns
    -------
    belief : the updated beliefs.
    nothing : patients to whom "felt nothing at the end" was applied now.
    """
    # a felt comparator effect is not "nothing"; one not felt (too low a dose) is
    nothing = ~felt_psy & ~felt_other & at_end & ~felt_nothing_applied
    b = placebo.belief_after_effects(belief, new_psy, nothing, new_other, params, other_up)
    return b, nothing


def titrated_level(
    level: np.ndarray,
    pain: np.ndarray,
    baseline_pain: np.ndarray,
    intolerable: np.ndarray,
    max_mg_h: np.ndarray,
    min_mg_h: np.ndarray,
    step_mg_h: np.ndarray,
    params: PDParameters,
    target_relief: float | None = None,
    factor: float | None = None,
) -> np.ndarray:
    """Titrated infusion levels: a step up below the target relief, a step down if intolerable.

    A step adds (subtracts) ``step_mg_h``, or, with a ``factor``, multiplies (divides) the level
    by it ("double the rate if relief < 50%").

    Parameters
    ----------
    level : current titrated levels (mg/h).
    pain, baseline_pain : expected pain now and at baseline.
    intolerable : intolerable psychotomimetic effects at this check.
    max_mg_h, min_mg_h, step_mg_h : the titration window's bounds and step per patient.
    params : PD parameters (``titration_target_relief``, used when the protocol states none).
    target_relief : the protocol's target relief (``titration.target_relief``), or None.
    factor : the protocol's multiplicative step (``titration.factor``), or None (additive).

    Returns
    -------
    np.ndarray
        The new levels.
    """
    relief = 1.0 - pain / baseline_pain
    target = params.titration_target_relief if target_relief is None else target_relief
    up = (relief < target) & ~intolerable
    up &= level < max_mg_h - 1e-12
    down = intolerable & (level > min_mg_h + 1e-12)
    if factor is None:
        higher, lower = level + step_mg_h, level - step_mg_h
    else:
        higher, lower = level * factor, level / factor
    new_lvl = np.where(up, np.minimum(higher, max_mg_h), level)
    return np.where(down, np.maximum(lower, min_mg_h), new_lvl)


def stopped_on_intolerable(
    intolerable: np.ndarray, u_stop: np.ndarray, params: PDParameters
) -> np.ndarray:
    """Patients whose treatment is stopped on intolerable effects at this check."""
    return intolerable & (u_stop < params.stop_on_intolerable)


def leave_after_stop(u_follow: np.ndarray, params: PDParameters) -> np.ndarray:
    """Of the patients whose treatment stopped, those who leave the study (not followed up)."""
    return u_follow >= params.followup_after_stop


def weekly_dropouts(
    in_study: np.ndarray,
    u_ltfu: np.ndarray,
    u_loe: np.ndarray,
    t: float,
    first_dose: np.ndarray,
    pain: np.ndarray,
    baseline_pain: np.ndarray,
    params: PDParameters,
) -> tuple[np.ndarray, np.ndarray]:
    """Dropouts at the end of a week: lost to follow-up and lack of effect.

    Parameters
    ----------
    in_study : patients in the study.
    u_ltfu, u_loe : the patients' uniforms of this week.
    t : time (h) of the week's last diary entry.
    first_dose : time (h) of each patient's first dose of the current segment.
    pain, baseline_pain : expected pain now and at baseline.
    params : PD parameters.

    Returns
    -------
    ltfu, loe : boolean masks of the patients lost to follow-up and leaving for lack of effect.
    """
    alive = in_study.copy()
    ltfu = alive & (u_ltfu < params.loss_to_follow_up_per_week)
    treated_done = t > first_dose + 24.0 * 7
    relief = 1.0 - pain / baseline_pain
    loe = (
        alive
        & ~ltfu
        & treated_done
        & (relief < 0.1)
        & (u_loe < params.lack_of_effect_dropout_per_week)
    )
    return ltfu, loe


def run_in_responders(
    run_in: np.ndarray,
    baseline: np.ndarray,
    threshold_pct: float,
    in_study: np.ndarray,
    on_treatment: np.ndarray,
) -> np.ndarray:
    """EERW: patients randomised at the end of the run-in (mean observed NRS over the run-in
    window at least ``threshold_pct`` percent below the baseline mean, still treated)."""
    with np.errstate(invalid="ignore"):
        ok = run_in <= baseline * (1.0 - threshold_pct / 100.0)
    return in_study & on_treatment & ok


def randomise_withdrawal(m: TrialModel, t: float) -> None:
    """EERW: at the end of the run-in (``t``), randomise the model's responders (by the observed
    diary, :func:`run_in_responders`); the others leave the trial."""
    tl = m.timeline
    en = m.plan.run_in
    nb = m.plan.diary.baseline_days
    d_end = round(t / 24.0)  # last run-in diary day
    win = nb + np.arange(d_end - en.window_days, d_end)
    run_in = np.nanmean(m._observed(win), axis=1)
    base = np.nanmean(m._observed(np.arange(nb)), axis=1)
    resp = run_in_responders(run_in, base, en.threshold_pct, m.in_study, m.on_treatment)
    gens = m._streams.take("randomisation", 2)
    ids, lab = allocate_responders(
        m.plan.enrolment, resp, gens, m.n_per, m.pop, m.screening_score, tl.ratio
    )
    m.group[ids] = lab
    m.arm[ids] = lab
    out = m.in_study & ~resp
    m._leave(out, t, "not_randomised")
    m._log(out, "not_randomised")
    m._update_members()


def segment_treatment(
    treatment: str, blinding: str, blinded_prior: float
) -> tuple[bool, bool, float]:
    """Treatment and belief of patients entering a segment.

    Returns
    -------
    drug : the segment gives ketamine.
    active_placebo : the segment gives an active placebo (midazolam).
    belief : the belief of being on drug (open label: known; blinded: ``blinded_prior``).
    """
    kind = TREATMENTS.index(treatment)
    if blinding == "open_label":
        belief = 1.0 if kind == 0 else 0.0
    else:
        belief = blinded_prior
    return kind == 0, kind == 2, belief


def blinded_prior(tl: Timeline, arm_treatments: list[str]) -> float:
    """The chance of being on ketamine a blinded patient was told of.

    The allocation weights of the ketamine arms over all weights; a crossover gives every arm once.
    """
    weights = (
        np.ones(len(arm_treatments))
        if tl.type == "crossover"
        else np.asarray(tl.ratio, dtype=float)
    )
    on_k = np.array([t == "ketamine" for t in arm_treatments])
    return float(weights[on_k].sum() / weights.sum())
