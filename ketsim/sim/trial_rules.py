"""The trial's decision rules, vectorised over all patients of every replicate in a batch.

Each function reads and updates the state arrays of a
:class:`~ketsim.sim.trial_model.TrialModel`; the model's clock calls them at its events:
segment entry (treatment, blinding), the EERW randomised withdrawal, staff checks (effects,
unblinding, titration, stopping), adverse events, weekly dropout and the end of a course.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ketsim.core.pd import adverse, placebo
from ketsim.sim.enrolment import (
    _allocate,
)
from ketsim.sim.trial_streams import (
    MAX_COURSES,
    TREATMENTS,
)

if TYPE_CHECKING:
    from ketsim.sim.trial_model import TrialModel


def enter_segments(m: TrialModel, t: float) -> None:
    """Patients whose group starts a segment at ``t`` take up its treatment and blinding."""
    tl = m.timeline
    for g, entry in enumerate(m.seg_entry):
        j = entry.get(t)
        if j is None:
            continue
        idx = m.members[g]
        sg = tl.groups[g].segments[j]
        kind = TREATMENTS.index(sg.treatment)
        m.drug[idx] = kind == 0
        m.active_placebo[idx] = kind == 2
        if sg.blinding == "open_label":
            m.belief[idx] = 1.0 if kind == 0 else 0.0
        else:
            m.belief[idx] = m.blinded_prior
        m.seg[idx] = j
        m.first_dose[idx] = m.seg_first_dose[g][j]
        # a new period: effects are felt (and reported) afresh
        m.felt_psy[idx] = False
        m.felt_nothing_applied[idx] = False
        m.nausea[idx] = False
        m.vomiting[idx] = False
        m.seg_checks[idx] = 0


def randomise_withdrawal(m: TrialModel, t: float) -> None:
    """EERW: at the end of the run-in, randomise responders; the others leave the trial."""
    sc, tl = m.scenario, m.timeline
    en = sc.design.enrichment
    nb = sc.trial.baseline_days
    d_end = round(t / 24.0)  # last run-in diary day
    win = nb + np.arange(d_end - en.window_days, d_end)
    run_in = np.nanmean(m._observed(win), axis=1)
    base = np.nanmean(m._observed(np.arange(nb)), axis=1)
    with np.errstate(invalid="ignore"):
        ok = run_in <= base * (1.0 - en.threshold_pct / 100.0)
    resp = m.in_study & m.on_treatment & ok
    start = 0
    gens = m._streams.take("randomisation", 2)
    for g, k in zip(gens, m.n_per, strict=True):
        ids = start + np.flatnonzero(resp[start : start + k])
        if ids.size:
            lab = _allocate(
                sc,
                ids.size,
                g,
                m.pop.take(ids),
                m.screening_score[ids],
                None,
                np.asarray(tl.ratio, dtype=float),
            )
            m.group[ids] = lab
            m.arm[ids] = lab
        start += k
    out = m.in_study & ~resp
    m.in_study[out] = False
    m.dropout_h[out] = t
    m.dropout_reason[out] = "not_randomised"
    m._log(out, "not_randomised")
    m._update_members()


def run_checks(m: TrialModel, k: int, t: float) -> None:
    prm, sw = m.params, m.scenario.switches
    for a, (s, idx) in enumerate(zip(m.schedules, m.members, strict=True)):
        if t not in m.checks[a]:
            continue
        alive = m.on_treatment[idx] & m.in_study[idx]
        live = idx[alive]
        if live.size == 0:
            continue
        ci = np.minimum(m.check_count[live], m.u_stop.shape[1] - 1)
        m.check_count[live] += 1
        m.seg_checks[live] += 1
        y = m.y
        ce = y["ce_fast"][live]
        if m.racemic and sw.r_ketamine_analgesia == "quarter":
            ce = ce + prm.r_conventional_potency * y["ce_fast_r"][live]
        inten = adverse.psychotomimetic_intensity(ce, m.tolerance[live], prm)
        thr = m.psy_threshold[live]
        # nocebo/background reports: fire at a patient's first check (Sigtermans placebo 18%)
        first = m.seg_checks[live] == 1
        seg = m.seg[live]
        bg = first & (m.u_background[live, seg] < prm.psy_background)
        felt = (inten > thr) | bg
        intolerable = inten > thr * prm.psy_intolerable_factor
        new = felt & ~m.felt_psy[live]
        record_adverse_events(m, live[new], "psychotomimetic", inten[new])
        m.felt_psy[live] |= felt
        record_adverse_events(m, live[intolerable], "intolerable", inten[intolerable])
        m.intolerable_ever[live] |= intolerable
        # nausea: hazard on the S-ketamine AUC accrued since the last check + background
        auc = y["auc"][live]
        d_auc = np.maximum(auc - m.auc_at_check[live], 0.0)
        m.auc_at_check[live] = auc
        p_n = -np.expm1(-m.nausea_lambda * d_auc)
        if np.any(first):
            p_n = np.where(first, 1 - (1 - p_n) * (1 - prm.nausea_background), p_n)
        nz = (m.u_nausea[live, ci] < p_n) & ~m.nausea[live]
        record_adverse_events(m, live[nz], "nausea")
        m.nausea[live] |= nz
        vm = nz & (m.u_vomit[live] < prm.vomiting_given_nausea)
        record_adverse_events(m, live[vm], "vomiting")
        m.vomiting[live] |= vm
        # functional unblinding
        if sw.functional_unblinding:
            in_window_end = any(abs(t - w1) < 1e-9 for _, w1 in s.infusion_windows) or (
                t - 0.5 in s.bolus_times
            )
            # active placebo (midazolam) patients felt sedation: not "nothing"
            nothing = (
                ~m.felt_psy[live]
                & ~m.active_placebo[live]
                & in_window_end
                & ~m.felt_nothing_applied[live]
            )
            sedation = m.active_placebo[live] & first
            m.belief[live] = placebo.belief_after_effects(
                m.belief[live], new, nothing, sedation, prm
            )
            m.felt_nothing_applied[live] |= nothing
        # titration
        wi = s.window_at(t)
        if wi >= 0:
            win = s.windows[wi]
            ends = abs(t - win.end_h) < 1e-9
            # rows of ``live`` in the group's compiled schedule (members' rows, filtered)
            mp = m.pos[a]
            pos = np.flatnonzero(alive) if mp is None else mp[alive]
            if not ends:
                relief = 1.0 - m.pain[live] / m.pop.baseline_pain[live]
                lvl = m.level[live]
                hi, lo, step = win.max_mg_h[pos], win.min_mg_h[pos], win.step_mg_h[pos]
                up = (relief < prm.titration_target_relief) & ~intolerable
                up &= lvl < hi - 1e-12
                down = intolerable & (lvl > lo + 1e-12)
                new_lvl = np.where(up, np.minimum(lvl + step, hi), lvl)
                new_lvl = np.where(down, np.maximum(lvl - step, lo), new_lvl)
                m.level[live] = new_lvl
            else:
                m.end_rate[live] = m.level[live]
        # stopping the infusion on intolerable effects
        stop = intolerable & (m.u_stop[live, ci] < prm.stop_on_intolerable)
        if np.any(stop):
            ids = live[stop]
            m.on_treatment[ids] = False
            m.discontinued_h[ids] = t
            record_adverse_events(m, ids, "discontinued", name="discontinued_intolerable")
            leave = m.u_follow[ids] >= prm.followup_after_stop
            m.in_study[ids[leave]] = False
            m.dropout_h[ids[leave]] = t
            m.dropout_reason[ids[leave]] = "adverse_event"


def record_adverse_events(
    m: TrialModel, ids: np.ndarray, event: str, value: np.ndarray | float = np.nan, name: str = ""
) -> None:
    """Log an adverse event of patients ``ids`` (ascending; ``value`` one per patient or a
    scalar) and record it against their current segments.

    Indices rather than a patients-long mask: the checks touch a few patients of one group
    per call, and building and scanning full masks was most of their cost.
    """
    if ids.size:
        m._log_ids(ids, name or f"ae_{event}", value)
        m.ae_seg[event][ids, np.maximum(m.seg[ids], 0)] = True


def weekly_dropout(m: TrialModel, week: int, t: float) -> None:
    prm = m.params
    alive = m.in_study.copy()
    ltfu = alive & (m.u_ltfu[:, week] < prm.loss_to_follow_up_per_week)
    treated_done = t > m.first_dose + 24.0 * 7
    relief = 1.0 - m.pain / m.pop.baseline_pain
    loe = (
        alive
        & ~ltfu
        & treated_done
        & (relief < 0.1)
        & (m.u_loe[:, week] < prm.lack_of_effect_dropout_per_week)
    )
    for mask, reason in ((ltfu, "lost_to_follow_up"), (loe, "lack_of_effect")):
        m.in_study[mask] = False
        m.dropout_h[mask] = t
        m.dropout_reason[mask] = reason
        m._log(mask, f"dropout_{reason}")


def end_course(m: TrialModel, ids: np.ndarray, t: float) -> None:
    """Liver injury at the end of an infusion course (exposure from the exact AUC state).

    Priming is an exponentially decaying sum of earlier courses' relative exposures, kept as
    one accumulator per patient and read at the start of each course (vectorised).
    """
    prm = m.params
    hl = prm.liver_priming_half_life_days * 24.0
    auc_course = m.y["auc"][ids] - m.course_start_auc[ids]
    p_l = adverse.liver_injury_probability(auc_course, m.priming_at_start[ids], prm)
    c = np.minimum(m.n_courses[ids], MAX_COURSES - 1)
    hit = (m.u_liver[ids, c] < p_l) & ~m.liver[ids]
    record_adverse_events(m, ids[hit], "liver_injury")
    m.liver[ids[hit]] = True
    decayed = m.prime_mass[ids] * 0.5 ** ((t - m.prime_t[ids]) / hl)
    m.prime_mass[ids] = decayed + auc_course / adverse.REFERENCE_COURSE_AUC_NG_H_ML
    m.prime_t[ids] = t
    m.n_courses[ids] += 1
