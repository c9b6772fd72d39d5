"""Per-indication efficacy and placebo defaults of the PD model (MODEL.md §5 "Indication").

Each indication (a key of :data:`ketsim.config.indications.INDICATIONS`, whose ``sensitization``
mean is the maximal lasting effect) brings the PD parameters that differ from the CRPS-1 defaults
of :class:`ketsim.core.pd.parameters.PDParameters`; a scenario's ``pd:`` overrides them in turn
(:func:`ketsim.core.pd.parameters.resolve_pd`). CRPS-1 brings nothing: it is the calibrated
reference (MODEL.md §4).

What the evidence says, and how it is encoded (confidence H/M/L as in MODEL.md):

* **Lasting effect.** Cohen 2018's consensus guidelines give CRPS moderate evidence for effects up
  to 12 weeks and other conditions short-term or no benefit; Orhurhu 2019 (MODEL.md §5) found no
  difference between pain conditions. The weaker grading is encoded as a smaller lasting
  responder probability (0.45 in neuropathic and ischaemic pain, 0.30 in fibromyalgia, against
  Dahan 2011's 0.67 in CRPS): all L. It is a smaller effect, not a shorter one — whether the
  weaker evidence reflects a smaller effect or the shorter infusions studied outside CRPS is not
  settled; ``pd: {responder_probability: 0.67}`` gives the Orhurhu reading.
* **Cancer pain.** Bell 2017 (Cochrane) found insufficient evidence for ketamine as an adjuvant to
  opioids, so by default (``switches.cancer_disease_modification: none``) ketamine has no lasting,
  disease-modifying effect in cancer pain (responder probability 0) and a halved acute Emax (L).
  The alternative ``sensitization`` lets the lasting effect act on the cancer population's
  sensitization share (0.3, L) with the neuropathic responder probability (0.45, L): the reading
  of the smaller studies in cancer-related neuropathic pain that MODEL.md §5 mentions.
* **Acute effect.** Noppers 2010 pooled short-infusion RCTs across chronic pain conditions:
  about 50% relief during the infusion irrespective of dose (MODEL.md §4b); nothing in MODEL.md or
  PARAMETERS.md separates the conditions, so acute Emax stays 1.0 (L) everywhere except cancer.
* **Placebo.** Responder probabilities outside CRPS are Arakawa 2015's placebo 50%-responder
  rates by neuropathic pain type (peripheral 23%, central 14%, PHN 19%, painful diabetic
  neuropathy 26%, post-traumatic 15%; H for the numbers, M as a stand-in for Dahan's mixture
  probability, a different definition). Fade: CRPS 2 days (Mbizvo 2015); elsewhere 42 days (L;
  Frisaldi 2023 report a sustained change over trials of weeks to months, no time scale).
  The relief magnitudes (``placebo_relief``, ``placebo_relief_nonresponder``) are CRPS-calibrated
  and shared (L elsewhere).

References
----------
.. [Cohen2018] Cohen SP, Bhatia A, Buvanendran A, et al. Consensus guidelines on the use of
   intravenous ketamine infusions for chronic pain from the American Society of Regional
   Anesthesia and Pain Medicine, the American Academy of Pain Medicine, and the American Society
   of Anesthesiologists. Reg Anesth Pain Med 2018;43:521-46.
.. [Bell2017] Bell RF, Eccleston C, Kalso EA. Ketamine as an adjuvant to opioids for cancer pain.
   Cochrane Database Syst Rev 2017;6:CD003351.
.. [Orhurhu2019] Orhurhu V, Orhurhu MS, Bhatia A, Cohen SP. Ketamine infusions for chronic pain:
   a systematic review and meta-analysis of randomized controlled trials. Anesth Analg
   2019;129:241-54.
.. [Noppers2010] Noppers I, Niesters M, Aarts L, et al. Ketamine for the treatment of chronic
   non-cancer pain. Expert Opin Pharmacother 2010;11:2417-29.
.. [Arakawa2015] Arakawa A, Kaneko M, Narukawa M. An investigation of factors contributing to
   higher levels of placebo response in clinical trials in neuropathic pain: a systematic review
   and meta-analysis. Clin Drug Investig 2015;35:67-81.
.. [Frisaldi2023] Frisaldi E, et al. Placebo response in painful diabetic neuropathy. Pain
   2023;165:29.
.. [Mbizvo2015] Mbizvo GK, et al. J Pain 2015;16:99-115.
.. [Dahan2011] Dahan A, et al. Eur J Pain 2011;15:258-67.
"""

from __future__ import annotations

__all__ = [
    "CANCER_DISEASE_MODIFICATIONS",
    "CANCER_DISEASE_MODIFICATION_PD",
    "INDICATION_PD",
    "NON_CRPS_LASTING_RESPONDER_PROBABILITY",
]

#: Lasting responder probability outside CRPS where Cohen 2018 grade short-term benefit
#: (neuropathic, ischaemic): L, below Dahan 2011's 0.67 in CRPS (see the module docstring).
NON_CRPS_LASTING_RESPONDER_PROBABILITY = 0.45

#: placebo fade outside long-standing CRPS (L: Frisaldi 2023 give no time scale)
_SUSTAINED_PLACEBO_DAYS = 42.0

#: indication -> PD defaults that differ from the CRPS-1 defaults
INDICATION_PD: dict[str, dict[str, float]] = {
    # the calibrated reference: Dahan 2011 (responders 0.67, placebo 0.23), Mbizvo 2015 (fade)
    "crps1": {},
    "fibromyalgia": {
        # Cohen 2018: weak or no benefit; Noppers 2011 (fibromyalgia): no relief beyond a 30-min
        # infusion (a short infusion, so the lasting parameters are not identified: L).
        "responder_probability": 0.30,
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,  # L
        # placebo responders: no source in MODEL.md / PARAMETERS.md (L: the CRPS 0.23)
    },
    "neuropathic": {
        "responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY,  # L (Cohen 2018)
        "placebo_responder_probability": 0.23,  # Arakawa 2015: peripheral 23% (M)
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,
    },
    "postherpetic": {
        "responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY,  # L
        "placebo_responder_probability": 0.19,  # Arakawa 2015: PHN 19% (M)
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,
    },
    "diabetic_neuropathy": {
        "responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY,  # L
        # Arakawa 2015: pDPN 26% (M); Frisaldi 2023: 50% responders 25% on placebo (H)
        "placebo_responder_probability": 0.26,
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,
    },
    "spinal_cord_injury": {
        "responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY,  # L
        "placebo_responder_probability": 0.14,  # Arakawa 2015: central 14% (M)
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,
    },
    "phantom_limb": {
        "responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY,  # L
        # L: no phantom-pain rate in Arakawa 2015; amputation is a nerve injury, so their
        # post-traumatic 15%
        "placebo_responder_probability": 0.15,
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,
    },
    "post_traumatic": {
        "responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY,  # L
        # Arakawa 2015: post-traumatic neuropathic pain 15% (M; for whiplash L)
        "placebo_responder_probability": 0.15,
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,
    },
    "ischaemic_limb": {
        "responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY,  # L
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,  # L; placebo responders L (0.23)
    },
    "cancer": {
        # Bell 2017: insufficient evidence as an adjuvant to opioids. Under the default
        # switches.cancer_disease_modification "none" no patient has a lasting response
        # (CANCER_DISEASE_MODIFICATION_PD), and the acute effect on top of opioid-treated,
        # largely nociceptive pain is halved (L; 1.0 is the generic reading of Noppers 2010).
        "responder_probability": 0.0,
        "acute_emax": 0.5,
        "placebo_half_life_days": _SUSTAINED_PLACEBO_DAYS,  # L; placebo responders L (0.23)
    },
}

#: the values of ``switches.cancer_disease_modification``
CANCER_DISEASE_MODIFICATIONS = ("none", "sensitization")

#: ``switches.cancer_disease_modification`` -> PD parameters applied over the cancer
#: indication's (other indications ignore the switch): ``none`` keeps the Bell 2017 reading (no
#: lasting effect); ``sensitization`` lets the lasting effect reverse the cancer population's
#: sensitization share with the non-CRPS responder probability (L).
CANCER_DISEASE_MODIFICATION_PD: dict[str, dict[str, float]] = {
    "none": {},
    "sensitization": {"responder_probability": NON_CRPS_LASTING_RESPONDER_PROBABILITY},
}
