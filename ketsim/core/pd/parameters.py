"""Pharmacodynamic, behavioural and measurement parameters, each with its source.

Confidence as in MODEL.md: H read from the paper, M secondary, L assumption. Values marked
"calibrated" are L parameters set so that the default model reproduces a calibration target
listed in MODEL.md §4 (the only trials the model may be tuned to); the calibration is reported in
the slow validation suite (``tests/validation``).

Every field can be overridden per scenario (``pd: {name: value}``).

References
----------
.. [Olofsen2012] Olofsen E, Noppers I, Niesters M, et al. Estimation of the contribution of
   norketamine to ketamine-induced acute pain relief and neurocognitive impairment in healthy
   volunteers. Anesthesiology 2012;117:353-64.
.. [Olofsen2022] Olofsen E, Kamp J, Henthorn TK, et al. Ketamine psychedelic and antinociceptive
   effects are connected. Anesthesiology 2022;136:792-801.
.. [Dahan2011] Dahan A, Olofsen E, Sigtermans M, et al. Population pharmacokinetic-pharmacodynamic
   modeling of ketamine-induced pain relief of chronic pain. Eur J Pain 2011;15:258-67.
.. [Simons2022b] Simons P, Olofsen E, van Velzen M, et al. S-ketamine oral thin film, part 2:
   population pharmacodynamics. Front Pain Res 2022;3:946487.
.. [Sigtermans2009] Sigtermans MJ, et al. Pain 2009;145:304-11 (CRPS-1 trial).
.. [Sigtermans2009a] Sigtermans M, Dahan A, Mooren R, et al. S(+)-ketamine effect on experimental
   pain and cardiac output: a population pharmacokinetic-pharmacodynamic modeling study in healthy
   volunteers. Anesthesiology 2009;111:892-903.
.. [Langsjo2005] Långsjö JW, Maksimow A, Salmi E, et al. S-ketamine anesthesia increases cerebral
   blood flow in excess of the metabolic needs in humans. Anesthesiology 2005;103:258-68.
.. [Noppers2011pain] Noppers IM, Niesters M, Aarts LPHJ, et al. Drug-induced liver injury following
   a repeated course of ketamine treatment for chronic pain in CRPS type 1 patients: a report of 3
   cases. Pain 2011;152:2173-8.
.. [Stoker2019] Stoker AD, et al. J Pain Res 2019;12:3413-21.
.. [Gitlin2020] Gitlin J, Chamadia S, Locascio JJ, et al. Dissociative and analgesic properties of
   ketamine are independent. Anesthesiology 2020;133:1021-8.
.. [Heapy2014] Heapy A, Dziura J, Buta E, et al. Using multiple daily pain ratings to improve
   reliability and assay sensitivity: how many is enough? J Pain 2014;15:1360-5.
.. [Pollo2001] Pollo A, Amanzio M, Arslanian A, et al. Response expectancies in placebo analgesia
   and their clinical relevance. Pain 2001;93:77-84.
.. [Mbizvo2015] Mbizvo GK, Nolan SJ, Nurmikko TJ, Goebel A. Placebo responses in long-standing
   complex regional pain syndrome: a systematic review and meta-analysis. J Pain 2015;16:99-115.
.. [Rabben2001] Rabben T, Øye I. Interindividual differences in the analgesic response to
   ketamine in chronic orofacial pain. Eur J Pain 2001;5:233-40.
.. [Bosma2018] Bosma RL, Cheng JC, Rogachov A, et al. Brain dynamics and temporal summation of pain
   predicts neuropathic pain relief from ketamine infusion. Anesthesiology 2018;129:1015-24.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

# per-indication efficacy and placebo defaults live in their own module (cited there)
from ketsim.core.pd.indication_pd import (
    CANCER_DISEASE_MODIFICATION_PD,
    CANCER_DISEASE_MODIFICATIONS,
    INDICATION_PD,
)

__all__ = [
    "CANCER_DISEASE_MODIFICATIONS",
    "DEFAULT_LASTING_EFFECT",
    "HYPOTHESIS_PD",
    "INDICATION_PD",
    "LASTING_EFFECTS",
    "PDParameters",
    "check_pd",
    "pd_parameter_table",
    "resolve_pd",
]


@dataclass(frozen=True)
class PDParameters:
    """All PD, behaviour and measurement constants (units in the names)."""

    # -- acute analgesia on the fast effect site (MODEL.md §3.1) -------------------------------
    acute_c50_ng_ml: float = 121.0  # Olofsen 2022: 0.51 nmol/mL antinociception (H)
    # Steepness (L): not retrieved from Olofsen 2022 or Sigtermans 2009 ("sigmoid Emax");
    # PARAMETERS.md gives gamma ~1-2. 2 is the value of {1, 1.5, 2} that best fits Noppers 2010's
    # "about 50% during the infusion ... dissipates rapidly after it ends" (MODEL.md §4b): 78%
    # of the acute relief is gone 1 h after a 2-h 0.3 mg/kg/h infusion (gamma 1: 48%), and the
    # short-infusion relief row is closest to 0.50; the other §4 targets do not move
    # (Sigtermans end rate 19.0 vs 19.1 mg/h/70 kg).
    acute_gamma: float = 2.0
    acute_emax: float = 1.0  # L: full relief at saturating concentrations
    # Share of acute_emax that latent ketamine non-responders get. Dahan 2011 (M for this
    # reading): the 33% non-responder class of the mixture model shows no analgesic effect from
    # ketamine, so titrating them to high concentrations cannot make them respond. Of the values
    # {0, 0.25, 0.5, 1}, 0 also fits the §4b short-infusion relief target best (0.50; 0.25:
    # 0.53, 1: 0.61, at placebo_relief_nonresponder 0.15); other §4 targets do not move.
    acute_emax_nonresponder: float = 0.0
    # Norketamine on acute analgesia, in S-ketamine-equivalent ng/mL per ng/mL of S-norketamine.
    # Antagonist (Olofsen 2012, H for the numbers): +1.5 cm VAS at 50 ng/mL S-NK against -3.8 cm
    # at 100 ng/mL S-K -> -(1.5/50)/(3.8/100) = -0.789. Conventional: +1/3 potency (M).
    nk_antagonist_potency: float = -(1.5 / 50.0) / (3.8 / 100.0)
    nk_conventional_potency: float = 1.0 / 3.0
    r_conventional_potency: float = 0.25  # MODEL.md §3.1 switch: R ~ 1/4 of S (M)

    # -- lasting analgesia: sensitization (MODEL.md §3.2) ---------------------------------------
    slow_c50_ng_ml: float = 10.5  # Dahan 2011: C50 on the slow compartment, 10.5 ± 4.8 (H)
    slow_gamma: float = 0.5  # L: form not retrieved; see the calibration note below
    slow_c50_cv: float = 0.3  # L: between-patient CV of the slow C50 (spreads relapse times)
    responder_probability: float = 0.67  # Dahan 2011: 67 ± 10% responders on ketamine (H)
    # Latent responsiveness loads on the standardised sensitization index (+) and log disease
    # duration (-): direction from Bosma 2018 (temporal summation) and Rabben 2001 (shorter
    # history), magnitudes L. The marginal responder probability stays 0.67 in the reference
    # population of the indication.
    responder_loading_sensitization: float = 0.4
    responder_loading_duration: float = -0.4
    # Turnover of the sensitization state towards its drug-modulated target. 0 = instantaneous
    # (the default: all delay sits in Dahan's slow compartment, so the model *is* Dahan's);
    # > 0 adds a genuine turnover lag (L).
    sensitization_half_life_days: float = 0.0
    # sustained_blockade hypothesis (MODEL.md §5; switches.lasting_effect): memory grows while the
    # fast effect site is at or above the threshold and recovers with Dahan's slow turnover.
    # Calibrated (L) by analysis/calibrate_lasting.py to MODEL.md §4 and §4b (R = 100 per grid
    # point, the chosen point checked at R = 400). The threshold sits just under the effect-site
    # plateau of the §4b 0.3 mg/kg/h infusions, so a 1-h infusion barely crosses it and a
    # 10-h one holds it for most of its length; the curve is steep in it (at 90 ng/mL
    # P(lasting after a 1-h infusion) rises from ~0.15-0.2 to ~0.45).
    blockade_threshold_ng_ml: float = 110.0  # L, calibrated
    blockade_m50_h: float = 0.6  # L, calibrated: memory (h of blockade) for half the drive
    blockade_gamma: float = 3.0  # L, calibrated
    blockade_recovery_half_life_days: float = 10.9  # Dahan 2011: slow-compartment t1/2 (H)

    # -- natural history (ketsim.core.pd.progression) -----------------------------------------
    # Relative rise per week of the untreated pain from disease progression (cancer pain), from
    # the start of treatment, capped at NRS 10. L: no source; 0 = stable pain in every
    # indication by default (README "Indications"). Ketamine does not change it.
    pain_progression_per_week: float = 0.0

    # -- placebo and expectancy (MODEL.md §3.3) -----------------------------------------------
    placebo_responder_probability: float = 0.23  # Dahan 2011: 23 ± 9% placebo responders (H)
    placebo_loading_expectancy: float = 0.5  # L: prior expectancy raises the chance
    # Relief fraction of a placebo responder at belief 0.5 (blinded, 1:1); calibrated (L) to the
    # Sigtermans 2009 placebo-arm week-1 NRS 5.45 (insensitive: the 0.95 cap and the fade).
    placebo_relief: float = 0.8
    # Relief of a placebo non-responder at belief 0.5 (L): non-specific response; calibrated with
    # placebo_relief jointly to three targets under the 2-day CRPS fade below: the Sigtermans 2009
    # week-1 NRS, placebo 5.45 ± 2·0.48 and ketamine 2.68 ± 2·0.51, and Noppers 2010's ~50%
    # relief during a short infusion (± 0.15). 0.25 is the minimax of the scaled deviations over
    # {0.15, 0.25, 0.35} (placebo 5.99: 0.56 of the band; relief 0.56: 0.38; ketamine 2.80: 0.12;
    # 0.15 leaves the placebo row at 0.74, 0.35 the relief row at 0.75) — with latent ketamine
    # non-responders getting no acute effect (acute_emax_nonresponder). Frisaldi 2023 reports a
    # mean placebo change of -1.54 NRS (~25% of a baseline ~6.5) in neuropathic pain.
    placebo_relief_nonresponder: float = 0.25
    # Fade of the placebo response after the first administration of a treatment period
    # (MODEL.md §3.3, §5). Default = long-standing CRPS: Mbizvo 2015 (H for the finding) found a
    # placebo response 15-30 min after the intervention and none at 1 week; half-life 2 days
    # (value L) leaves 9% a week after it. Other indications: INDICATION_PD (indication_pd.py).
    placebo_half_life_days: float = 2.0
    # Expectancy follows the belief of being on drug through a first-order lag (L): a belief
    # update (unblinding at a check, "felt nothing" at the infusion stop) moves pain smoothly,
    # and the expectancy raised by feeling the drug builds up over hours, after the drug's
    # acute effect (t1/2ke0 ~8 min, Olofsen 2022) has gone.
    expectancy_half_life_h: float = 6.0
    # Belief of being on drug: the placebo effect scales with belief / 0.5, so open label (belief
    # 1) doubles it: Pollo 2001 (H) -34% vs -16% rescue analgesic, open vs blinded (ratio ~2).
    belief_reference: float = 0.5
    unblinding_up: float = 0.7  # L: feeling dissociation moves belief 70% of the way to 1
    unblinding_down: float = 0.4  # L: feeling nothing by the end of infusion: belief x (1-0.4)
    midazolam_belief_up: float = 0.4  # L: active placebo (sedation, no dissociation)

    # -- adverse events (MODEL.md §3.4) --------------------------------------------------------
    psy_c50_ng_ml: float = 71.0  # Simons 2022 part 2: drug high C50 0.3 nmol/mL (H)
    psy_gamma: float = 2.0  # L
    # Perception threshold on the intensity scale [0, 1]: log-normal across patients (L),
    # calibrated to Sigtermans 2009 (76% psychotomimetic; end rate 22.2 mg/h/70 kg).
    psy_threshold_median: float = 0.5
    psy_threshold_sd_log: float = 0.5
    psy_intolerable_factor: float = 1.8  # L: intolerable at 1.8x the perception threshold
    # Background (nocebo) reports of psychotomimetic effects: 18% on placebo over one 100-h
    # infusion (Sigtermans 2009, H). The background of any treatment scales with its exposure in
    # reference units x = s * sessions + (1 - s) * hours / ae_background_reference_hours, and
    # P = 1 - (1 - p_ref)^x, so one 100-h session reproduces p_ref exactly. The per-session share
    # s is L: MODEL.md/PARAMETERS.md have no placebo AE rate of short saline infusions; 0.1 gives a
    # 2-h saline infusion 2.3% (psychotomimetic) and a session the hazard of ~11 h of infusion.
    psy_background: float = 0.18
    ae_background_reference_hours: float = 100.0
    ae_background_session_share: float = 0.1
    tolerance_max: float = 1.0  # L: full tolerance doubles the psychotomimetic C50
    tolerance_half_life_days: float = 1.5  # PARAMETERS.md §6: tolerance t1/2 ~1-2 days (L)
    # Stoker 2019 (M): psychotomimetic AEs 10.3% with vs 37.3% without depression: threshold
    # multiplier (L) that gives about that ratio at the Stoker exposure.
    depression_threshold_factor: float = 2.0
    # Gitlin 2020 (H): midazolam lowers dissociation (CADSS -10.3); threshold multiplier (L).
    benzodiazepine_threshold_factor: float = 1.5
    clonidine_threshold_factor: float = 1.3  # L
    # Nausea: P(nausea over a reference course) (L: the unverified 63%/47% of PARAMETERS.md §6),
    # reference course = 100 h at 20 mg/h/70 kg; background on placebo over one 100-h infusion (L),
    # scaled with exposure as psy_background.
    nausea_reference_probability: float = 0.63
    vomiting_given_nausea: float = 0.47 / 0.63
    nausea_background: float = 0.10
    # Cardiovascular, Emax on plasma S-ketamine: cardiac output +40-50% over 40-320 ng/mL
    # (Sigtermans 2009a, H) -> Emax 60%, EC50 100 ng/mL (L fit: +17% at 40, +46% at 320);
    # HR up to +43.5% and MAP up to +27% over 159-1959 ng/mL (Långsjö 2005, H) -> Emax/EC50 (L).
    co_emax_pct: float = 60.0
    co_ec50_ng_ml: float = 100.0
    hr_emax_pct: float = 50.0
    hr_ec50_ng_ml: float = 300.0
    map_emax_pct: float = 30.0
    map_ec50_ng_ml: float = 250.0
    # Liver injury: P for one reference course ~0-5% (PARAMETERS.md §6, L: 0.01); 3 of 6 on a
    # second 100-h course 16 days later (Noppers 2011 Pain, H); priming decays, t1/2 L.
    liver_single_course_probability: float = 0.01
    liver_repeat_course_probability: float = 0.5
    liver_repeat_gap_days: float = 16.0
    liver_priming_half_life_days: float = 30.0
    # Infusions (sessions) less than this many days apart (end to next start) form one liver
    # course whose AUC adds up over its sessions (7 d: L). Daily 4-h infusions are one course, as
    # Lee 2025 (PARAMETERS.md §6) saw no LFT abnormality in 52 CRPS patients on them (ten primed
    # re-exposures would predict many); any gap below Noppers 2011's 16 days keeps its second
    # 100-h course a re-exposure; 7 d also joins weekend breaks and weekly sessions into a course.
    liver_course_gap_days: float = 7.0

    # -- titration and dropout (MODEL.md §3.5) -------------------------------------------------
    # Step up while relief from baseline is below this fraction (L).
    titration_target_relief: float = 0.9
    # Probability that an intolerable check stops the infusion; calibrated (L) to 2 of 30
    # stopping on days 3-4 (Sigtermans 2009, H).
    stop_on_intolerable: float = 0.02
    followup_after_stop: float = 0.5  # L: chance a discontinued patient keeps the diary
    lack_of_effect_dropout_per_week: float = 0.01  # L, weekly, when relief < 10% after treatment
    loss_to_follow_up_per_week: float = 0.005  # L

    # -- diary measurement (MODEL.md §3.5) -----------------------------------------------------
    diary_icc_single_day: float = 0.65  # Heapy 2014 (H): single-day ICC with the patient mean
    # Slow within-patient fluctuation (flares), Ornstein-Uhlenbeck: SD and correlation time (L;
    # PARAMETERS.md §7: week-to-week correlation 0.7-0.85 -> exp(-7/30) = 0.79).
    fluctuation_sd: float = 0.8
    fluctuation_days: float = 30.0
    diary_missing_mean: float = 0.05  # L: mean fraction of missing diary days
    diary_missing_sd: float = 0.05  # L: between-patient spread (beta)


_PROBABILITIES = (
    "responder_probability",
    "placebo_responder_probability",
    "psy_background",
    "ae_background_session_share",
    "nausea_reference_probability",
    "vomiting_given_nausea",
    "nausea_background",
    "liver_single_course_probability",
    "liver_repeat_course_probability",
    "stop_on_intolerable",
    "followup_after_stop",
    "lack_of_effect_dropout_per_week",
    "loss_to_follow_up_per_week",
    "diary_missing_mean",
    "unblinding_up",
    "unblinding_down",
    "midazolam_belief_up",
    "titration_target_relief",
    "acute_emax_nonresponder",
)
_NON_NEGATIVE = (
    "acute_gamma",
    "acute_emax",
    "slow_c50_cv",
    "sensitization_half_life_days",
    "pain_progression_per_week",
    "placebo_relief",
    "placebo_relief_nonresponder",
    "psy_threshold_sd_log",
    "tolerance_max",
    "fluctuation_sd",
    "diary_missing_sd",
)


#: the named lasting-effect hypotheses (MODEL.md §5)
LASTING_EFFECTS = ("dahan", "sustained_blockade", "delayed_peak")

#: PD parameters each hypothesis brings (under any ``pd:`` override of the scenario). The values
#: are calibrated (L) jointly to MODEL.md §4 (Sigtermans 2009, Dahan 2011) and §4b (Noppers 2010);
#: ``tests/validation/test_lasting_hypotheses.py`` prints each hypothesis' fit.
HYPOTHESIS_PD: dict[str, dict[str, Any]] = {
    # Dahan 2011's model with the PDParameters defaults: the calibration grid over slow_gamma
    # {0.5, 1, 2} x slow_c50_cv {0.3, 0.6} is best at the defaults (0.5, 0.3); no point meets
    # the §4b duration targets (README "Lasting-effect hypotheses").
    "dahan": {},
    # its own parameters (blockade_*) are calibrated in PDParameters (no other hypothesis uses them)
    "sustained_blockade": {},
    # Orhurhu 2019's delayed peak (MODEL.md §5) through a finite sensitization turnover behind
    # Dahan's slow compartment. Half-life 1 day (L) is the best point of the calibration grid
    # over {1, 3, 7} days x slow_gamma {0.5, 1, 2}; it puts the maximum ketamine - placebo
    # difference after a 5-h 0.35 mg/kg infusion on day ~6 (3 days: day ~11).
    "delayed_peak": {"sensitization_half_life_days": 1.0},
}

#: the default lasting-effect hypothesis: the only one of the three that meets every MODEL.md §4
#: and §4b target with one parameter set (README "Lasting-effect hypotheses").
DEFAULT_LASTING_EFFECT = "sustained_blockade"


def check_pd(p: PDParameters) -> list[str]:
    """Problems with a parameter set, one ``name: message`` string each (empty if valid)."""
    bad = []
    for f in fields(p):
        v = getattr(p, f.name)
        if f.name in _PROBABILITIES:
            if not 0.0 <= v <= 1.0:
                bad.append(f"{f.name}: must lie in [0, 1] (got {v})")
        elif f.name in _NON_NEGATIVE:
            if not v >= 0.0:
                bad.append(f"{f.name}: must be >= 0 (got {v})")
        elif f.name not in ("nk_antagonist_potency", "nk_conventional_potency"):
            if f.name.startswith("responder_loading") or f.name == "placebo_loading_expectancy":
                if not -1.0 <= v <= 1.0:
                    bad.append(f"{f.name}: must lie in [-1, 1] (got {v})")
            elif not v > 0.0:
                bad.append(f"{f.name}: must be > 0 (got {v})")
    ls, ld = p.responder_loading_sensitization, p.responder_loading_duration
    if ls * ls + ld * ld > 1.0:
        bad.append("responder_loading_sensitization² + responder_loading_duration² must be <= 1")
    if p.diary_missing_mean > 0 and p.diary_missing_sd**2 >= p.diary_missing_mean * (
        1 - p.diary_missing_mean
    ):
        bad.append("diary_missing_sd: too large for a beta with that mean")
    if not 0.0 < p.diary_icc_single_day < 1.0:
        bad.append("diary_icc_single_day: must lie in (0, 1)")
    return bad


def resolve_pd(
    overrides: dict[str, Any] | None = None,
    lasting_effect: str = DEFAULT_LASTING_EFFECT,
    indication: str | None = None,
    cancer_disease_modification: str = "none",
) -> PDParameters:
    """Defaults, then the hypothesis' and the indication's PD defaults, then ``overrides``.

    Parameters
    ----------
    overrides : the scenario's ``pd:`` section (name -> value).
    lasting_effect : one of :data:`LASTING_EFFECTS` (``switches.lasting_effect``); its calibrated
        parameters come from :data:`HYPOTHESIS_PD`.
    indication : the population's indication (None: the CRPS-1 defaults), :data:`INDICATION_PD`.
    cancer_disease_modification : ``switches.cancer_disease_modification``, one of
        :data:`CANCER_DISEASE_MODIFICATIONS`; applied over the cancer indication's defaults
        (:data:`~ketsim.core.pd.indication_pd.CANCER_DISEASE_MODIFICATION_PD`), ignored for the
        others.

    Returns
    -------
    PDParameters
        The resolved parameters.

    Raises
    ------
    ValueError
        If a name is unknown or a value is out of range (one ``name: message`` line each).
    """
    if indication is not None and indication not in INDICATION_PD:
        raise ValueError(f"unknown indication {indication!r}")
    if cancer_disease_modification not in CANCER_DISEASE_MODIFICATION_PD:
        raise ValueError(f"unknown cancer_disease_modification {cancer_disease_modification!r}")
    ind = indication or "crps1"
    values = {
        **HYPOTHESIS_PD[lasting_effect],
        **INDICATION_PD[ind],
        **(CANCER_DISEASE_MODIFICATION_PD[cancer_disease_modification] if ind == "cancer" else {}),
        **(overrides or {}),
    }
    try:
        p = replace(PDParameters(), **values)
    except TypeError as err:
        raise ValueError(str(err)) from None
    bad = check_pd(p)
    if bad:
        raise ValueError("; ".join(bad))
    return p


def pd_parameter_table() -> list[tuple[str, float]]:
    """(name, default) of every PD parameter, for docs and reports."""
    d = PDParameters()
    return [(f.name, getattr(d, f.name)) for f in fields(d)]
