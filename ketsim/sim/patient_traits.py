"""What each patient of a trial batch brings, drawn at setup: PD traits and behaviour uniforms.

The traits (ketamine and placebo responders, the psychotomimetic threshold, the C50 of the
desensitizing drive) come from the population stream (keys 15+), on normal scores of the
population attributes against the indication's distributions (:func:`beta_score`,
:func:`lognormal_score`). The behaviour uniforms (background reports, stopping, nausea, vomiting,
liver injury, dropout, follow-up) are pre-drawn per replicate, so batching does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ketsim.config.scenario import PopulationSpec
from ketsim.core.dose import DoseDistribution
from ketsim.core.pd import placebo, sensitization
from ketsim.core.pd.background import background_effect
from ketsim.core.pd.parameters import PDParameters
from ketsim.core.seeds import streams
from ketsim.sim.compile import compile_dosing, dose_distributions
from ketsim.sim.design import Timeline
from ketsim.sim.enrolment import (
    B_BACKGROUND,
    B_FOLLOW,
    B_LIVER,
    B_LOE,
    B_LTFU,
    B_NAUSEA,
    B_STOP,
    B_VOMIT,
    K_DOSE,
    K_PLACEBO,
    K_PSY_THRESHOLD,
    K_RESPONDER,
    K_SLOW_C50,
    StreamBank,
    draw_rows,
)
from ketsim.sim.population import Population

__all__ = [
    "BehaviourUniforms",
    "PatientTraits",
    "beta_score",
    "draw_behaviour_uniforms",
    "draw_dose_uniforms",
    "draw_patient_traits",
    "lognormal_score",
]


def beta_score(x: np.ndarray, spec) -> np.ndarray:
    """Normal score Φ⁻¹(F(x)) of a beta-distributed attribute (0 when the spec has sd 0)."""
    if spec.sd == 0:
        return np.zeros(np.shape(x))
    a, b = spec.ab()
    return special.ndtri(np.clip(special.betainc(a, b, x), 1e-15, 1 - 1e-15))


def lognormal_score(x: np.ndarray, spec) -> np.ndarray:
    """Normal score of a truncated log-normal attribute (0 when the spec has sd_log 0)."""
    if spec.sd_log == 0:
        return np.zeros(np.shape(x))
    mu = np.log(spec.median)
    lo, hi = (special.ndtr((np.log(v) - mu) / spec.sd_log) for v in (spec.min, spec.max))
    u = (special.ndtr((np.log(x) - mu) / spec.sd_log) - lo) / (hi - lo)
    return special.ndtri(np.clip(u, 1e-15, 1 - 1e-15))


@dataclass(frozen=True)
class PatientTraits:
    """PD traits of the patients of a batch (one entry per patient).

    Attributes
    ----------
    responder : ketamine responder (desensitization by the drug).
    placebo_responder : placebo responder.
    psy_threshold : intensity threshold of felt psychotomimetic effects.
    slow_c50 : C50 of the desensitizing drive (ng/mL).
    """

    responder: np.ndarray
    placebo_responder: np.ndarray
    psy_threshold: np.ndarray
    slow_c50: np.ndarray


def draw_patient_traits(
    pop: Population,
    spec: PopulationSpec,
    params: PDParameters,
    bank: StreamBank,
    n_per: list[int],
) -> PatientTraits:
    """PD traits of the batch's patients from each replicate's population stream (keys 15+).

    Parameters
    ----------
    pop : the enrolled patients.
    spec : the population spec (distributions of the attributes the traits are scored on).
    params : PD parameters.
    bank : the batch's streams.
    n_per : patients of each replicate (rows are replicate-major).

    Returns
    -------
    PatientTraits
        The traits.
    """
    prm = params

    def trait(key: int) -> np.ndarray:
        gens = bank.take("population", key)
        return draw_rows(gens, n_per, (), "standard_normal")

    # normal scores against the indication's distributions: exactly standard normal in the
    # reference population, so the marginal responder probabilities hold there
    z_s = beta_score(pop.sensitization, spec.sensitization)
    z_d = lognormal_score(pop.disease_duration_years, spec.disease_duration_years)
    responder = sensitization.ketamine_responders(z_s, z_d, trait(K_RESPONDER), prm)
    z_e = beta_score(pop.expectancy, spec.expectancy)
    placebo_responder = placebo.placebo_responders(z_e, trait(K_PLACEBO), prm)
    thr = prm.psy_threshold_median * np.exp(prm.psy_threshold_sd_log * trait(K_PSY_THRESHOLD))
    thr = np.where(pop.depression, thr * prm.depression_threshold_factor, thr)
    comed = pop.comedication
    if "benzodiazepine" in comed:
        thr = np.where(comed["benzodiazepine"], thr * prm.benzodiazepine_threshold_factor, thr)
    if "clonidine" in comed:
        thr = np.where(comed["clonidine"], thr * prm.clonidine_threshold_factor, thr)
    # background analgesics (ketsim.core.pd.background; factor 1 by default, L)
    for name, over in spec.background_effects.items():
        f = background_effect(name, over).psy_threshold_factor
        if name in comed and f != 1.0:
            thr = np.where(comed[name], thr * f, thr)
    sd_c50 = np.sqrt(np.log1p(prm.slow_c50_cv**2))
    slow_c50 = prm.slow_c50_ng_ml * np.exp(sd_c50 * trait(K_SLOW_C50))
    return PatientTraits(responder, placebo_responder, thr, slow_c50)


@dataclass(frozen=True)
class BehaviourUniforms:
    """Pre-drawn uniforms of the patients' behaviour (rows are patients).

    Attributes
    ----------
    background : (P, segments) background psychotomimetic report at a segment's first check.
    stop : (P, checks) stopping treatment on intolerable effects, per check.
    nausea : (P, checks) nausea, per check.
    vomit : (P,) vomiting given nausea.
    liver : (P, courses) liver injury, per infusion course.
    ltfu : (P, weeks) loss to follow-up, per week.
    loe : (P, weeks) dropout for lack of effect, per week.
    follow : (P,) followed up after treatment stopped.
    """

    background: np.ndarray
    stop: np.ndarray
    nausea: np.ndarray
    vomit: np.ndarray
    liver: np.ndarray
    ltfu: np.ndarray
    loe: np.ndarray
    follow: np.ndarray


def draw_behaviour_uniforms(
    bank: StreamBank,
    n_per: list[int],
    n_seg: int,
    n_checks: int,
    n_courses: int,
    weeks: int,
) -> BehaviourUniforms:
    """Behaviour uniforms of the batch's patients from each replicate's behaviour stream.

    Parameters
    ----------
    bank : the batch's streams.
    n_per : patients of each replicate (rows are replicate-major).
    n_seg, n_checks, n_courses, weeks : columns of the per-segment, per-check, per-course and
        per-week uniforms.

    Returns
    -------
    BehaviourUniforms
        The uniforms.
    """

    def beh(key: int, shape: tuple[int, ...]) -> np.ndarray:
        gens = bank.take("behaviour", key)
        return draw_rows(gens, n_per, shape, "random")

    return BehaviourUniforms(
        background=beh(B_BACKGROUND, (n_seg,)),
        stop=beh(B_STOP, (n_checks,)),
        nausea=beh(B_NAUSEA, (n_checks,)),
        vomit=beh(B_VOMIT, ()),
        liver=beh(B_LIVER, (n_courses,)),
        ltfu=beh(B_LTFU, (weeks,)),
        loe=beh(B_LOE, (weeks,)),
        follow=beh(B_FOLLOW, ()),
    )


def draw_dose_uniforms(
    tl: Timeline, bank: StreamBank, n_per: list[int]
) -> dict[DoseDistribution, np.ndarray]:
    """Each patient's uniform of every dose distribution, drawn once per patient.

    Distribution ``j`` (:func:`ketsim.sim.compile.dose_distributions` of the timeline's regimens,
    in order of appearance) draws from population stream ``(K_DOSE, j)`` of each replicate, so a
    patient's dose depends neither on the batching nor on the other distributions. Scenarios
    without distributions draw nothing (their other streams are untouched).

    Parameters
    ----------
    tl : the compiled timeline (its regimens name the distributions).
    bank : the batch's streams (its entropy and replicates).
    n_per : patients of each replicate (rows are replicate-major).

    Returns
    -------
    dict
        Distribution -> (P,) uniforms in [0, 1).
    """
    regs = compile_dosing([r for g in tl.groups for sg in g.segments for r in sg.regimens])
    out = {}
    for j, d in enumerate(dose_distributions(regs)):
        gens = streams(bank.entropy, [(r, "population", K_DOSE, j) for r in bank.replicates])
        out[d] = draw_rows(gens, n_per, (), "random")
    return out
