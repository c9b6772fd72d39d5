"""Per-indication defaults of the virtual population (MODEL.md §1).

Each value carries its source and confidence (H: read from the paper, M: secondary, L: assumption).
Only CRPS-1 is anchored on a calibration trial (Sigtermans 2009); the other indications are
offered so that designers can explore them, and every number that is not from a listed source is
marked L and can be overridden in the scenario's ``population`` section.

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
        # Peripheral neuropathic pain (e.g. painful diabetic neuropathy): all values L, except the
        # placebo response of the indication (Frisaldi 2023, used by the PD placebo model).
        "female_fraction": 0.5,
        "age_years": {"mean": 60.0, "sd": 10.0, "min": 18.0, "max": 90.0},
        "weight_kg": {"mean": 85.0, "sd": 18.0, "min": 40.0, "max": 180.0},
        "disease_duration_years": {"median": 5.0, "sd_log": 0.8, "min": 0.5, "max": 40.0},
        "baseline_pain": {"mean": 6.5, "sd": 1.5, "min": 0.0, "max": 10.0},
        "sensitization": {"mean": 0.6, "sd": 0.15},
        "depression_prevalence": 0.3,
    },
}
