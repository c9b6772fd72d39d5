"""Virtual patients as patients-first arrays (schema v0: the PK covariates).

Demographics, CYP2B6 diplotypes drawn under Hardy–Weinberg from ancestry-specific allele
frequencies, co-medication, and the standard-normal deviates of the PK IIV. Every attribute has its
own random stream (``ketsim.seeds``), so adding an attribute never reshuffles the others.

References
----------
.. [Matimba2008] Matimba A, Oluka MN, Ebeshi BU, et al. Establishment of a biobank and
   pharmacogenetics database of African populations. Eur J Hum Genet 2008;16:780-3 (Table 1
   compilation of CYP2B6*6 frequencies).
.. [Mehlotra2007] Mehlotra RK, Bockarie MJ, Zimmerman PA. CYP2B6 983T>C polymorphism is prevalent in
   West Africa but absent in Papua New Guinea. Br J Clin Pharmacol 2007;64:391-5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ketsim.pk.model import N_ETA, Covariates
from ketsim.pk.parameters import COMEDICATIONS, CYP2B6_DIPLOTYPE_ACTIVITY
from ketsim.scenario import Distribution, PopulationSpec
from ketsim.seeds import stream

__all__ = ["ALLELE_FREQUENCIES", "Population", "sample_population"]

#: CYP2B6 allele frequencies by ancestry: q(*6) mid-points of the ranges in MODEL.md §1
#: (Matimba 2008, H: European 0.21-0.28, East Asian 0.14-0.21, African 0.34-0.47);
#: *18 ~0.05 in Africans only (Mehlotra 2007; MODEL.md §1, M).
ALLELE_FREQUENCIES: dict[str, dict[str, float]] = {
    "european": {"*6": 0.245, "*18": 0.0},
    "east_asian": {"*6": 0.175, "*18": 0.0},
    "african": {"*6": 0.405, "*18": 0.05},
}
ANCESTRIES = tuple(ALLELE_FREQUENCIES)
_ALLELES = ("*1", "*6", "*18")
# attribute sub-keys of the population stream: fixed forever, append new ones at the end
_SEX, _AGE, _WEIGHT, _ANCESTRY, _CYP2B6, _COMED, _ETA = range(7)


@dataclass
class Population:
    """Patients-first arrays describing ``n`` virtual patients."""

    female: np.ndarray
    age_years: np.ndarray
    weight_kg: np.ndarray
    ancestry: np.ndarray  # index into ANCESTRIES
    cyp2b6: np.ndarray  # diplotype labels, e.g. "*1/*6"
    comedication: dict[str, np.ndarray]  # name -> bool array
    eta_pk: np.ndarray  # (n, N_ETA) standard normals for the PK IIV

    @property
    def n(self) -> int:
        return self.weight_kg.shape[0]

    def pk_covariates(self) -> Covariates:
        """Covariates for :func:`ketsim.pk.model.individual_parameters`."""
        n = self.n
        mult = {k: np.ones(n) for k in ("cyp2b6", "cyp3a_liver", "cyp3a_gut", "nk_clearance")}
        for name, on in self.comedication.items():
            c = COMEDICATIONS[name]
            for k in mult:
                mult[k] = np.where(on, mult[k] * getattr(c, k), mult[k])
        act = np.array([CYP2B6_DIPLOTYPE_ACTIVITY[d] for d in self.cyp2b6]) if n else np.ones(0)
        return Covariates(
            weight_kg=self.weight_kg,
            female=self.female,
            cyp2b6_activity=act,
            cyp2b6_mult=mult["cyp2b6"],
            cyp3a_liver_mult=mult["cyp3a_liver"],
            cyp3a_gut_mult=mult["cyp3a_gut"],
            nk_clearance_mult=mult["nk_clearance"],
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per patient."""
        df = pd.DataFrame(
            {
                "patient": np.arange(self.n),
                "female": self.female,
                "age_years": self.age_years,
                "weight_kg": self.weight_kg,
                "ancestry": np.asarray(ANCESTRIES)[self.ancestry],
                "cyp2b6": self.cyp2b6,
            }
        )
        for name, on in self.comedication.items():
            df[f"comed_{name}"] = on
        return df


def _truncnorm(d: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    if d.sd == 0:
        return np.full(n, d.mean)
    a, b = (d.min - d.mean) / d.sd, (d.max - d.mean) / d.sd
    return stats.truncnorm.rvs(a, b, loc=d.mean, scale=d.sd, size=n, random_state=rng)


def _diplotypes(ancestry: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two alleles drawn independently per patient: Hardy–Weinberg diplotype frequencies."""
    n = ancestry.size
    p = np.array([[1 - f["*6"] - f["*18"], f["*6"], f["*18"]] for f in ALLELE_FREQUENCIES.values()])
    cum = np.cumsum(p[ancestry], axis=1)  # (n, 3)
    u = rng.random((n, 2))
    a = (u[:, :, None] > cum[:, None, :]).sum(axis=2)  # allele index of each draw
    lo, hi = np.minimum(a[:, 0], a[:, 1]), np.maximum(a[:, 0], a[:, 1])
    names = np.array(_ALLELES)
    return np.char.add(np.char.add(names[lo], "/"), names[hi]).astype(object)


def sample_population(spec: PopulationSpec, entropy: int, replicate: int = 0) -> Population:
    """Draw ``spec.n`` patients from the population stream of one replicate."""
    n = spec.n

    def rng(attr: int) -> np.random.Generator:
        return stream(entropy, replicate, "population", attr)

    if spec.typical:
        return Population(
            female=np.zeros(n, bool),
            age_years=np.full(n, 40.0),
            weight_kg=np.full(n, 70.0),
            ancestry=np.zeros(n, int),
            cyp2b6=np.full(n, "*1/*1", dtype=object),
            comedication={k: np.zeros(n, bool) for k in spec.comedication},
            eta_pk=np.zeros((n, N_ETA)),
        )
    female = rng(_SEX).random(n) < spec.female_fraction
    age = _truncnorm(spec.age_years, n, rng(_AGE))
    weight = _truncnorm(spec.weight_kg, n, rng(_WEIGHT))
    mix = np.array([spec.ancestry.get(a, 0.0) for a in ANCESTRIES])
    ancestry = rng(_ANCESTRY).choice(len(ANCESTRIES), size=n, p=mix / mix.sum())
    if spec.cyp2b6 == "hardy_weinberg":
        cyp = _diplotypes(ancestry, rng(_CYP2B6))
    else:
        cyp = np.full(n, spec.cyp2b6, dtype=object)
    r = rng(_COMED)
    comed = {k: r.random(n) < frac for k, frac in spec.comedication.items()}
    eta = rng(_ETA).standard_normal((n, N_ETA))
    return Population(female, age, weight, ancestry, cyp, comed, eta)
