"""Per-indication defaults of the virtual population (MODEL.md §1, §5).

Each value carries its source and confidence (H: read from the paper, M: secondary, L: assumption).
Only CRPS-1 is anchored on a calibration trial (Sigtermans 2009); the other indications are
offered so that designers can explore them, and every number that is not from a listed source is
marked L and can be overridden in the scenario's ``population`` section. The efficacy and placebo
side of each indication (responder probability, acute Emax, placebo response and fade) is in
:data:`ketsim.core.pd.parameters.INDICATION_PD`; the ``sensitization`` mean here is the maximal
lasting effect (the share of pain the lasting effect can reverse). README "Indications" tabulates
both.

Papers cited only qualitatively below (no number is taken from them; citation details M, they are
not among the retrieved sources of PARAMETERS.md): Eide 1994 (PHN), Nikolajsen 1996 (phantom
pain), Curatolo 2001 (whiplash), Persson 1998 and Mitchell & Fallon 2002 (limb ischaemia).

References
----------
.. [Sigtermans2009] Sigtermans MJ, van Hilten JJ, Bauer MCR, et al. Ketamine produces effective and
   long-term pain relief in patients with Complex Regional Pain Syndrome Type 1. Pain
   2009;145:304-11.
.. [Noppers2011fm] Noppers I, Niesters M, Swartjes M, et al. Absence of long-term analgesic effect
   from a short-term S-ketamine infusion on fibromyalgia pain: a randomized, prospective, double
   blind, active placebo-controlled trial. Eur J Pain 2011;15:942-9.
.. [Frisaldi2023] Frisaldi E, Shaibani A, Vollert J, et al. Placebo response in painful diabetic
   neuropathy. Pain 2023;165:29.
.. [Stoker2019] Stoker AD, Rosenfeld DM, Buras MR, et al. Evaluation of clinical factors associated
   with adverse drug events in patients receiving sub-anesthetic ketamine infusions. J Pain Res
   2019;12:3413-21.
.. [Eide1994] Eide PK, Jørum E, Stubhaug A, et al. Relief of post-herpetic neuralgia with the
   N-methyl-D-aspartic acid receptor antagonist ketamine: a double-blind, cross-over comparison
   with morphine and placebo. Pain 1994;58:347-54.
.. [Nikolajsen1996] Nikolajsen L, Hansen CL, Nielsen J, et al. The effect of ketamine on phantom
   pain: a central neuropathic disorder maintained by peripheral input. Pain 1996;67:69-77.
.. [Curatolo2001] Curatolo M, Petersen-Felix S, Arendt-Nielsen L, et al. Central hypersensitivity
   in chronic pain after whiplash injury. Clin J Pain 2001;17:306-15.
.. [Persson1998] Persson J, Hasselström J, Wiklund B, et al. The analgesic effect of racemic
   ketamine in patients with chronic ischemic pain due to lower extremity arteriosclerosis
   obliterans. Acta Anaesthesiol Scand 1998;42:750-8.
.. [MitchellFallon2002] Mitchell AC, Fallon MT. A single infusion of intravenous ketamine improves
   pain relief in patients with critical limb ischaemia: results of a double blind randomised
   controlled trial. Pain 2002;97:275-81.
"""

from __future__ import annotations

from typing import Any

__all__ = ["INDICATIONS"]

#: indication -> population defaults, in the units of
#: :class:`ketsim.config.schema.population.PopulationSpec`.
INDICATIONS: dict[str, dict[str, Any]] = {
    "crps1": {
        # Sigtermans 2009 (H): 48 of 60 women, age 46 ± 12 y, weight 79 ± 19 kg.
        "female_fraction": 0.8,
        "age_years": {"mean": 46.0, "sd": 12.0, "min": 18.0, "max": 85.0},
        "weight_kg": {"mean": 79.0, "sd": 19.0, "min": 40.0, "max": 160.0},
        # Sigtermans 2009 (H): median disease duration 7.4 y (range 0.1-31.9); log-normal spread
        # sd_log 1.0 (L): ~93% of the parent distribution falls inside the published range; the
        # truncation at 32 y lowers the sampled median to ~6.8 y.
        "disease_duration_years": {"median": 7.4, "sd_log": 1.0, "min": 0.1, "max": 32.0},
        # MODEL.md §1: CRPS mean NRS ~7.2, between-patient SD ~1.5-2; the upper end (L) so that the
        # week-1 between-patient SD approaches Sigtermans 2009's 2.6-2.8 (MODEL.md §3.5).
        "baseline_pain": {"mean": 7.2, "sd": 2.0, "min": 0.0, "max": 10.0},
        # Central-sensitization index in [0, 1]: the share of pain that ketamine's lasting effect
        # can reverse (assumption, L; MODEL.md §1 "sensitization ... L: the structure below").
        "sensitization": {"mean": 0.8, "sd": 0.12},
        # Depression comorbidity (L): no prevalence for CRPS in MODEL.md; 0.3 is a mid-range
        # assumption. Its PD effect (psychotomimetic 10.3% vs 37.3%) is Stoker 2019 (M).
        "depression_prevalence": 0.3,
    },
    "fibromyalgia": {
        # Noppers 2011 fibromyalgia trial (active placebo): women only (M: design as reported);
        # age and weight L.
        "female_fraction": 1.0,
        "age_years": {"mean": 43.0, "sd": 11.0, "min": 18.0, "max": 85.0},
        "weight_kg": {"mean": 72.0, "sd": 15.0, "min": 40.0, "max": 160.0},
        "disease_duration_years": {"median": 8.0, "sd_log": 0.8, "min": 0.5, "max": 40.0},
        "baseline_pain": {"mean": 6.8, "sd": 1.5, "min": 0.0, "max": 10.0},
        # Fibromyalgia relief did not outlast a 30-min infusion (Noppers 2011): sensitization
        # share assumed lower (L).
        "sensitization": {"mean": 0.6, "sd": 0.15},
        "depression_prevalence": 0.4,  # L
    },
    "neuropathic": {
        # Generic peripheral neuropathic pain of mixed aetiology (the specific entries below are
        # postherpetic, diabetic_neuropathy, post_traumatic): all values L; its placebo response
        # is Arakawa 2015's peripheral pooled rate (INDICATION_PD).
        "female_fraction": 0.5,
        "age_years": {"mean": 60.0, "sd": 10.0, "min": 18.0, "max": 90.0},
        "weight_kg": {"mean": 85.0, "sd": 18.0, "min": 40.0, "max": 180.0},
        "disease_duration_years": {"median": 5.0, "sd_log": 0.8, "min": 0.5, "max": 40.0},
        "baseline_pain": {"mean": 6.5, "sd": 1.5, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.6, "sd": 0.15},
        "depression_prevalence": 0.3,
    },
    "postherpetic": {
        # Post-herpetic neuralgia: an older population (the condition follows shingles, whose
        # incidence rises with age); all demographic values L. Acute ketamine relief in PHN:
        # Eide 1994 (Pain 58:347), qualitative; placebo: INDICATION_PD (Arakawa 2015).
        "female_fraction": 0.6,
        "age_years": {"mean": 70.0, "sd": 9.0, "min": 40.0, "max": 95.0},
        "weight_kg": {"mean": 75.0, "sd": 15.0, "min": 40.0, "max": 160.0},
        "disease_duration_years": {"median": 2.0, "sd_log": 0.8, "min": 0.25, "max": 30.0},
        "baseline_pain": {"mean": 6.0, "sd": 1.5, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.6, "sd": 0.15},  # L, as the generic neuropathic entry
        "depression_prevalence": 0.3,  # L
    },
    "diabetic_neuropathy": {
        # Painful diabetic peripheral neuropathy: all values L (type 2 diabetes: older, heavier);
        # placebo response from Frisaldi 2023 / Arakawa 2015 (INDICATION_PD).
        "female_fraction": 0.45,
        "age_years": {"mean": 61.0, "sd": 10.0, "min": 18.0, "max": 90.0},
        "weight_kg": {"mean": 92.0, "sd": 19.0, "min": 45.0, "max": 200.0},
        "disease_duration_years": {"median": 5.0, "sd_log": 0.8, "min": 0.5, "max": 40.0},
        "baseline_pain": {"mean": 6.5, "sd": 1.5, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.6, "sd": 0.15},  # L
        "depression_prevalence": 0.3,  # L
    },
    "spinal_cord_injury": {
        # Central neuropathic pain after spinal cord injury: mostly young men (L); weight L.
        "female_fraction": 0.2,
        "age_years": {"mean": 45.0, "sd": 13.0, "min": 18.0, "max": 85.0},
        "weight_kg": {"mean": 78.0, "sd": 16.0, "min": 40.0, "max": 160.0},
        "disease_duration_years": {"median": 8.0, "sd_log": 0.9, "min": 0.5, "max": 50.0},
        "baseline_pain": {"mean": 6.5, "sd": 1.6, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.6, "sd": 0.15},  # L
        "depression_prevalence": 0.35,  # L
    },
    "phantom_limb": {
        # Phantom limb pain after amputation: mostly men (trauma, vascular disease), all L.
        # Acute ketamine relief: Nikolajsen 1996 (Pain 67:69), qualitative.
        "female_fraction": 0.3,
        "age_years": {"mean": 55.0, "sd": 14.0, "min": 18.0, "max": 90.0},
        "weight_kg": {"mean": 80.0, "sd": 17.0, "min": 40.0, "max": 160.0},
        "disease_duration_years": {"median": 6.0, "sd_log": 1.0, "min": 0.25, "max": 50.0},
        "baseline_pain": {"mean": 6.0, "sd": 1.7, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.6, "sd": 0.15},  # L
        "depression_prevalence": 0.3,  # L
    },
    "post_traumatic": {
        # Post-traumatic neuropathic pain and chronic whiplash-associated pain (central
        # hypersensitivity after whiplash: Curatolo 2001, Clin J Pain 17:306, qualitative);
        # demographics L (whiplash cohorts are mostly women).
        "female_fraction": 0.6,
        "age_years": {"mean": 42.0, "sd": 12.0, "min": 18.0, "max": 85.0},
        "weight_kg": {"mean": 75.0, "sd": 16.0, "min": 40.0, "max": 160.0},
        "disease_duration_years": {"median": 4.0, "sd_log": 0.9, "min": 0.5, "max": 40.0},
        "baseline_pain": {"mean": 6.5, "sd": 1.5, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.6, "sd": 0.15},  # L
        "depression_prevalence": 0.35,  # L
    },
    "ischaemic_limb": {
        # Chronic (critical) limb ischaemia pain: older, mostly men, all L. Ketamine trials:
        # Persson 1998 (Acta Anaesthesiol Scand 42:750), Mitchell & Fallon 2002 (Pain 97:275).
        # Pain is mixed ischaemic-nociceptive and neuropathic: a smaller share that the lasting
        # effect can reverse (L).
        "female_fraction": 0.4,
        "age_years": {"mean": 70.0, "sd": 10.0, "min": 40.0, "max": 95.0},
        "weight_kg": {"mean": 76.0, "sd": 15.0, "min": 40.0, "max": 160.0},
        "disease_duration_years": {"median": 2.0, "sd_log": 0.8, "min": 0.1, "max": 30.0},
        "baseline_pain": {"mean": 7.0, "sd": 1.5, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.4, "sd": 0.15},
        "depression_prevalence": 0.3,  # L
    },
    "cancer": {
        # Cancer pain on opioids (ketamine as an adjuvant): all values L. Pain is largely
        # tumour-driven nociceptive pain; the sensitization share (L) only matters when
        # switches.cancer_disease_modification lets ketamine's lasting effect act (default
        # "none": Bell 2017 Cochrane, insufficient evidence; INDICATION_PD).
        "female_fraction": 0.5,
        "age_years": {"mean": 62.0, "sd": 12.0, "min": 18.0, "max": 95.0},
        "weight_kg": {"mean": 70.0, "sd": 15.0, "min": 35.0, "max": 160.0},
        "disease_duration_years": {"median": 1.5, "sd_log": 0.8, "min": 0.1, "max": 20.0},
        "baseline_pain": {"mean": 6.5, "sd": 1.6, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.3, "sd": 0.12},
        "depression_prevalence": 0.3,  # L
    },
}
