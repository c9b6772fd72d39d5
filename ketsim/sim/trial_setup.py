"""Setting up a trial batch: enrolment, patient traits, PK systems, schedules and diary noise.

Called once by :class:`~ketsim.sim.trial_model.TrialModel`; the functions fill the model's
patients-first state arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ketsim.core.pd import adverse, diary, placebo, sensitization
from ketsim.core.pk.model import build_system, individual_parameters
from ketsim.core.pk.propagate import PKCursor, Propagator
from ketsim.core.resources import check_memory
from ketsim.sim.design import (
    compile_timeline,
)
from ketsim.sim.enrolment import (
    _beta_score,
    _lognormal_score,
    _screen_and_allocate,
)
from ketsim.sim.pk_study import pk_switches
from ketsim.sim.regimen import ArmSchedule, check_times, compile_arm, routes_used
from ketsim.sim.trial_streams import (
    _B_BACKGROUND,
    _B_FOLLOW,
    _B_LIVER,
    _B_LOE,
    _B_LTFU,
    _B_NAUSEA,
    _B_STOP,
    _B_VOMIT,
    _K_PLACEBO,
    _K_PSY_THRESHOLD,
    _K_RESPONDER,
    _K_SLOW_C50,
    _M_EPS,
    _M_FLUCT,
    _M_MISS_P,
    _M_MISS_U,
    _M_SCREEN,
    AE_EVENTS,
    MAX_COURSES,
    TREATMENTS,
    _draw_rows,
    _stack,
    _StreamBank,
)

if TYPE_CHECKING:
    from ketsim.sim.trial_model import TrialModel


# -- setup ---------------------------------------------------------------------------------
def setup_model(m: TrialModel) -> None:
    sc, prm, ent = m.scenario, m.params, m.entropy
    arms = sc.arms
    m.timeline = tl = compile_timeline(sc)
    # every stream of the batch drawn from at setup (and EERW's re-randomisation), seeded
    # in one call
    pairs = [("measurement", k) for k in (_M_SCREEN, _M_FLUCT, _M_EPS, _M_MISS_P, _M_MISS_U)]
    pairs += [("randomisation", 0), ("randomisation", 1)]
    pairs += [("population", k) for k in (_K_RESPONDER, _K_PLACEBO, _K_PSY_THRESHOLD)]
    pairs += [("population", _K_SLOW_C50)]
    pairs += [("behaviour", k) for k in range(_B_FOLLOW + 1)]
    if tl.type == "enrichment":
        pairs.append(("randomisation", 2))
    m._streams = _StreamBank(ent, m.replicates, pairs)
    enr = _screen_and_allocate(sc, tl, m._streams, prm)
    m.pop = enr.pop
    n_per = enr.n_per
    m.n_per = n_per
    m.n = n = int(sum(n_per))
    m.replicate = np.repeat(m.replicates, n_per)
    m.patient = np.concatenate([np.arange(k) for k in n_per])
    m.group = enr.group
    m.arm = enr.arm
    m.enrolment_day = enr.enrolment_day
    m.screening_score = enr.screening_score
    fluct0 = enr.fluct0
    m.arm_names = [a.name for a in arms]
    m.group_names = [g.name for g in tl.groups]
    pop = m.pop

    # -- patient traits (population stream, keys 15+) --------------------------------------
    def trait(key: int) -> np.ndarray:
        gens = m._streams.take("population", key)
        return _draw_rows(gens, n_per, (), "standard_normal")

    spec = sc.population
    # normal scores against the indication's distributions: exactly standard normal in the
    # reference population, so the marginal responder probabilities hold there
    z_s = _beta_score(pop.sensitization, spec.sensitization)
    z_d = _lognormal_score(pop.disease_duration_years, spec.disease_duration_years)
    m.responder = sensitization.ketamine_responders(z_s, z_d, trait(_K_RESPONDER), prm)
    z_e = _beta_score(pop.expectancy, spec.expectancy)
    m.placebo_responder = placebo.placebo_responders(z_e, trait(_K_PLACEBO), prm)
    thr = prm.psy_threshold_median * np.exp(prm.psy_threshold_sd_log * trait(_K_PSY_THRESHOLD))
    thr = np.where(pop.depression, thr * prm.depression_threshold_factor, thr)
    comed = pop.comedication
    if "benzodiazepine" in comed:
        thr = np.where(comed["benzodiazepine"], thr * prm.benzodiazepine_threshold_factor, thr)
    if "clonidine" in comed:
        thr = np.where(comed["clonidine"], thr * prm.clonidine_threshold_factor, thr)
    m.psy_threshold = thr
    sd_c50 = np.sqrt(np.log1p(prm.slow_c50_cv**2))
    m.slow_c50 = prm.slow_c50_ng_ml * np.exp(sd_c50 * trait(_K_SLOW_C50))

    # -- belief of being on drug: set when a patient enters a segment ------------------------
    # blinded prior = the chance of being on ketamine the patient was told of (allocation
    # weights of the ketamine arms; a crossover gives every arm once)
    weights = np.ones(len(arms)) if tl.type == "crossover" else np.asarray(tl.ratio, dtype=float)
    on_k = np.array([a.treatment == "ketamine" for a in arms])
    m.blinded_prior = float(weights[on_k].sum() / weights.sum())
    m.belief = np.zeros(n)
    m.drug = np.zeros(n, bool)
    m.active_placebo = np.zeros(n, bool)
    m.seg = np.full(n, -1)
    m.first_dose = np.full(n, np.inf)

    # -- schedules, one per timeline group -------------------------------------------------
    all_regs = [r for g in tl.groups for sg in g.segments for r in sg.regimens]
    m.routes = routes_used(all_regs)
    if "iv" not in m.routes[0]:
        m.routes = (("iv", *m.routes[0]), m.routes[1])
    m.racemic = sc.drug == "racemic"
    frac = 0.5 if m.racemic else 1.0
    # EERW patients change group at randomisation: compile every group for everyone
    compile_all = tl.type == "enrichment"
    m.sched_members = [
        np.arange(n) if compile_all else np.flatnonzero(m.group == g) for g in range(len(tl.groups))
    ]
    m.schedules: list[ArmSchedule] = [
        compile_arm(
            [r for sg in g.segments for r in sg.regimens], pop.weight_kg[mem], m.routes, frac
        )
        for g, mem in zip(tl.groups, m.sched_members, strict=True)
    ]
    m._update_members()
    m.n_seg = max(len(g.segments) for g in tl.groups)
    m.seg_entry = [{float(sg.start_h): j for j, sg in enumerate(g.segments)} for g in tl.groups]
    m.seg_first_dose = []
    for g in tl.groups:
        fd = []
        for sg in g.segments:
            starts = [t for r in sg.regimens for t in r.start_times()]
            fd.append(min(starts) if starts else sg.start_h)
        m.seg_first_dose.append(fd)
    tr = sc.trial
    first_diary = (tr.diary_hour - tr.start_hour) % 24.0
    n_days = 7 * tl.weeks
    # ~160 B per patient-day measured in the model's state (Sigtermans, 91 days: 14.7 KB per
    # patient); tables and noise arrays about double it
    check_memory(
        400.0 * m.n * (n_days + tr.baseline_days),
        f"a trial batch of {m.n:,} patients x {n_days + tr.baseline_days:,} diary days",
        "use fewer patients or weeks",
    )
    m.diary_times = first_diary + 24.0 * np.arange(n_days)
    pts: set[float] = {0.0, *m.diary_times.tolist()}
    for e in m.seg_entry:
        pts.update(e)
    pts.add(float(tl.randomised_start_h))
    m.checks: list[set[float]] = []
    for sch in m.schedules:
        pts.update(sch.plan.times.tolist())
        for a, b in sch.titrated_windows:
            pts.update((a, b))
        c = set(check_times(sch, tr.start_hour))
        m.checks.append(c)
        pts.update(c)
    t_end = float(m.diary_times[-1])
    m.times = np.array(sorted(t for t in pts if 0.0 <= t <= t_end))
    m.diary_index = {float(t): d for d, t in enumerate(m.diary_times)}
    # per group, row of its fixed plan in force from each event time on (-1: before the plan)
    m.plan_row = [np.searchsorted(sch.plan.times, m.times, side="right") - 1 for sch in m.schedules]
    m.level = np.zeros(n)
    m.weight = pop.weight_kg

    # -- PK systems ------------------------------------------------------------------------
    # PK inputs are gated by ``drug``, so a patient whose timeline group never gives ketamine
    # keeps an exactly zero PK state (Φ·0 = 0) and zero outputs: only the other patients are
    # propagated (``pk_rows``; None = everyone), e.g. a placebo arm costs no PK work. Groups
    # are fixed from allocation on, except in EERW (everyone starts on ketamine there).
    m.pk_rows: np.ndarray | None = None
    if m._drug_free_pk_shortcut and tl.type != "enrichment":
        # the rule of _enter_segments: drug = (treatment is TREATMENTS[0], ketamine)
        ket = np.array(
            [any(TREATMENTS.index(sg.treatment) == 0 for sg in g.segments) for g in tl.groups]
        )
        if not ket[m.group].all():
            m.pk_rows = np.flatnonzero(ket[m.group])
    pk_pop = pop if m.pk_rows is None else pop.take(m.pk_rows)
    cov = pk_pop.pk_covariates(sc.switches.cyp3a_cyp2c9_effect)
    sw = pk_switches(sc)
    systems = ("S", "R") if m.racemic else ("S",)
    m.props = {}
    for e in systems:
        ip = individual_parameters(
            cov, sc.parameter_set, sw, pk_pop.eta_pk, enantiomer=e, racemic=m.racemic
        )
        m.props[e] = Propagator(build_system(ip, *m.routes, with_auc=True))
    # every step of the event grid, exponentiated up front in one pass (same bits as on demand)
    steps, counts = np.unique(np.diff(m.times), return_counts=True)
    for p in m.props.values():
        p.prepare(steps[np.argsort(-counts, kind="stable")])
    # the PK state of each enantiomer system, advanced event to event through the same cursor
    # API that population PK runs use (core.pk.propagate.PKCursor)
    m.pk = {e: PKCursor(p, float(m.times[0])) for e, p in m.props.items()}

    # -- dynamic state ---------------------------------------------------------------------
    m.on_treatment = np.ones(n, bool)
    m.in_study = np.ones(n, bool)
    m.tolerance = np.zeros(n)
    m.sens_state = pop.sensitization.copy()  # at the set point before treatment
    # per-segment flags (reset when a patient enters a segment) and per-segment AE records
    m.felt_psy = np.zeros(n, bool)
    m.felt_nothing_applied = np.zeros(n, bool)
    m.nausea = np.zeros(n, bool)
    m.vomiting = np.zeros(n, bool)
    m.seg_checks = np.zeros(n, int)
    m.ae_seg = {k: np.zeros((n, m.n_seg), bool) for k in AE_EVENTS}
    m.intolerable_ever = np.zeros(n, bool)
    m.liver = np.zeros(n, bool)
    m.discontinued_h = np.full(n, np.nan)
    m.dropout_h = np.full(n, np.nan)
    m.dropout_reason = np.full(n, "", dtype=object)
    m.end_rate = np.full(n, np.nan)
    m.auc_at_check = np.zeros(n)
    m.course_start_auc = np.full(n, np.nan)
    m.priming_at_start = np.zeros(n)
    m.prime_mass = np.zeros(n)  # decaying sum of earlier courses' AUC / reference AUC
    m.prime_t = np.zeros(n)  # time of the accumulator's last update
    m.n_courses = np.zeros(n, int)
    m.cv_max = {k: np.zeros(n) for k in ("cardiac_output_pct", "heart_rate_pct", "map_pct")}
    m.prev_rates = np.zeros((n, len(m.routes[0])))
    m.prev_nominal = np.zeros((n, len(m.routes[0])))
    m.y = m._outputs()
    m._sens_cache: tuple[dict[str, np.ndarray], np.ndarray] | None = None
    m.pain = pop.baseline_pain.copy()
    m.mu_diary = np.full((n, n_days), np.nan)
    m.fluct0 = fluct0
    draw_diary_noise(m, n_days)

    # -- pre-drawn behaviour uniforms (per replicate, so batching does not matter) ----------
    n_checks = max(1, max(len(c) for c in m.checks))
    weeks = tl.weeks

    def beh(key: int, shape: tuple[int, ...]) -> np.ndarray:
        gens = m._streams.take("behaviour", key)
        return _draw_rows(gens, n_per, shape, "random")

    m.u_background = beh(_B_BACKGROUND, (m.n_seg,))
    m.u_stop = beh(_B_STOP, (n_checks,))
    m.u_nausea = beh(_B_NAUSEA, (n_checks,))
    m.u_vomit = beh(_B_VOMIT, ())
    m.u_liver = beh(_B_LIVER, (MAX_COURSES,))
    m.u_ltfu = beh(_B_LTFU, (weeks,))
    m.u_loe = beh(_B_LOE, (weeks,))
    m.u_follow = beh(_B_FOLLOW, ())
    m.check_count = np.zeros(n, int)
    m.nausea_lambda = adverse.nausea_hazard_per_auc(prm)


def draw_diary_noise(m: TrialModel, n_days: int) -> None:
    """Measurement noise of every diary day, drawn up front (it does not depend on the state).

    Drawing it here lets a design act on observed diaries during the trial (EERW run-in).
    """
    prm, sc = m.params, m.scenario
    nb = sc.trial.baseline_days
    D = nb + n_days

    def gens(key: int) -> list[np.random.Generator]:
        return m._streams.take("measurement", key)

    def meas(key: int, fn) -> np.ndarray:
        return _stack([fn(g, k) for g, k in zip(gens(key), m.n_per, strict=True)])

    # fluctuation continues the screening-day value (screening is the day before baseline)
    zf = _draw_rows(gens(_M_FLUCT), m.n_per, (D,), "standard_normal")
    m.noise_fluct = diary.ou_path(zf, prm.fluctuation_sd, prm.fluctuation_days, start=m.fluct0)
    m.noise_eps = _draw_rows(gens(_M_EPS), m.n_per, (D,), "standard_normal")
    m.noise_eps *= diary.daily_noise_sd(sc.population.baseline_pain.sd, prm)
    # missing days: beta-distributed propensity per patient
    mean, sd = prm.diary_missing_mean, prm.diary_missing_sd
    m.missing = np.zeros((m.n, D), bool)
    if mean > 0:
        kk = mean * (1 - mean) / sd**2 - 1 if sd > 0 else np.inf
        if np.isfinite(kk):
            prop = meas(_M_MISS_P, lambda g, k: g.beta(mean * kk, (1 - mean) * kk, k))
        else:
            prop = np.full(m.n, mean)
        m.missing = _draw_rows(gens(_M_MISS_U), m.n_per, (D,), "random") < prop[:, None]
