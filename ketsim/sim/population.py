"""Virtual patients as patients-first arrays (MODEL.md §1).

Demographics; CYP2B6, CYP3A4, CYP3A5 and CYP2C9 diplotypes drawn under Hardy–Weinberg from
ancestry-specific allele frequencies; co-medication; the standard-normal deviates of the PK IIV;
and the disease attributes the PD model needs (disease duration, true baseline pain,
central-sensitization index, depression, prior expectancy). Every attribute has its own random
stream (``ketsim.core.seeds``), so adding an attribute never reshuffles the others.

Confidence marks follow MODEL.md: H = read from the paper's abstract or table, M = secondary
source, L = assumption (exposed as a switch).

References
----------
.. [Matimba2008] Matimba A, Oluka MN, Ebeshi BU, et al. Establishment of a biobank and
   pharmacogenetics database of African populations. Eur J Hum Genet 2008;16:780-3 (Table 1
   compilation of CYP2B6*6 frequencies).
.. [Mehlotra2007] Mehlotra RK, Bockarie MJ, Zimmerman PA. CYP2B6 983T>C polymorphism is prevalent in
   West Africa but absent in Papua New Guinea. Br J Clin Pharmacol 2007;64:391-5.
.. [Zhou2017] Zhou Y, Ingelman-Sundberg M, Lauschke VM. Worldwide distribution of cytochrome P450
   alleles: a meta-analysis of population-scale sequencing projects. Clin Pharmacol Ther
   2017;102:688-700 (Table 5: CYP3A4/CYP3A5 allele frequencies from 1000 Genomes/ExAC, by
   superpopulation EUR, AFR, EAS).
.. [Elens2011] Elens L, van Schaik RH, Panin N, et al. Effect of a new functional CYP3A4
   polymorphism on calcineurin inhibitors' dose requirements and trough blood levels in stable
   renal transplant patients. Pharmacogenomics 2011;12:1383-96 (CYP3A4*22, rs35599367; carriers
   need ~33% lower tacrolimus doses).
.. [Wang2011] Wang D, Guo Y, Wrighton SA, Cooke GE, Sadee W. Intronic polymorphism in CYP3A4
   affects hepatic expression and response to statin drugs. Pharmacogenomics J 2011;11:274-86
   (CYP3A4*22 T allele: lower hepatic CYP3A4 mRNA and activity, in vitro / liver bank).
.. [Birdwell2015] Birdwell KA, Decker B, Barbarino JM, et al. Clinical Pharmacogenetics
   Implementation Consortium (CPIC) guidelines for CYP3A5 genotype and tacrolimus dosing. Clin
   Pharmacol Ther 2015;98:19-24 (frequency table; *3, *6, *7 are non-functional).
.. [Theken2020] Theken KN, Lee CR, Gong L, et al. CPIC guideline for CYP2C9 and nonsteroidal
   anti-inflammatory drugs. Clin Pharmacol Ther 2020;108:191-200 (CYP2C9 frequency table;
   *2 decreased, *3 no/decreased function; activity values *1 1, *2 0.5, *3 0).
.. [CespedesGarro2015] Céspedes-Garro C, Fricke-Galindo I, Naranjo MEG, et al. Worldwide
   interethnic variability and geographical distribution of CYP2C9 genotypes and phenotypes.
   Expert Opin Drug Metab Toxicol 2015;11:1893-905 (*2 ~14% in Caucasians, <1% in Africans and
   East Asians).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import pandas as pd

from ketsim.config.scenario import BetaSpec, Distribution, LogNormalSpec, PopulationSpec
from ketsim.core.distributions import truncnorm_ppf
from ketsim.core.pk.model import ETA_KA, N_ETA, Covariates
from ketsim.core.pk.parameters import COMEDICATIONS, CYP2B6_DIPLOTYPE_ACTIVITY
from ketsim.core.seeds import streams

__all__ = [
    "ALLELE_FREQUENCIES",
    "ANCESTRIES",
    "CYP2C9_ALLELE_ACTIVITY",
    "CYP3A4_22_ACTIVITY_PER_ALLELE",
    "CYP3A5_GAIN_PER_EXPRESSER_ALLELE",
    "GENE_ALLELES",
    "GENE_ALLELE_FREQUENCIES",
    "Population",
    "sample_population",
    "sample_populations",
]

# ------------------------------------------------------------------------------------------------
# Allele frequencies. Each table maps ancestry -> variant allele -> frequency; the reference allele
# (first in GENE_ALLELES) takes the remainder. "african" follows the same convention as CYP2B6
# (continental / African-American ranges pooled); see each comment.
# ------------------------------------------------------------------------------------------------

#: CYP2B6 allele frequencies by ancestry: q(*6) mid-points of the ranges in MODEL.md §1
#: (Matimba 2008, H: European 0.21-0.28, East Asian 0.14-0.21, African 0.34-0.47);
#: *18 ~0.05 in Africans only (Mehlotra 2007; MODEL.md §1, M).
ALLELE_FREQUENCIES: dict[str, dict[str, float]] = {
    "european": {"*6": 0.245, "*18": 0.0},
    "east_asian": {"*6": 0.175, "*18": 0.0},
    "african": {"*6": 0.405, "*18": 0.05},
}
ANCESTRIES = tuple(ALLELE_FREQUENCIES)

#: CYP3A4*22 (rs35599367, intron 6, decreased expression): EUR 0.050, AFR <0.001, EAS 0
#: (Zhou 2017 Table 5, 1000 Genomes; Ensembl: 1/1322 African alleles; M). Elens 2011 reports
#: 5-7% in Caucasians (M).
_CYP3A4_FREQUENCIES: dict[str, dict[str, float]] = {
    "european": {"*22": 0.050},
    "east_asian": {"*22": 0.0},
    "african": {"*22": 0.0008},
}

#: CYP3A5 non-functional alleles (Zhou 2017 Table 5, 1000 Genomes, M; CPIC tacrolimus guideline,
#: Birdwell 2015: *3, *6, *7 are all non-expresser alleles). *3: EUR 0.943, EAS 0.713, AFR 0.180;
#: *6: EUR 0.003, AFR 0.154; *7: AFR 0.103 -> functional *1: EUR 0.054, EAS 0.287, AFR 0.563.
#: *6 and *7 are drawn explicitly because in Africans they are as common as *3: lumping them into
#: *1 would overstate CYP3A5 expressers (90% instead of ~81%). African-American cohorts (CPIC) have
#: a higher *3 frequency (~0.3) through European admixture.
_CYP3A5_FREQUENCIES: dict[str, dict[str, float]] = {
    "european": {"*3": 0.943, "*6": 0.003, "*7": 0.0},
    "east_asian": {"*3": 0.713, "*6": 0.0, "*7": 0.0},
    "african": {"*3": 0.180, "*6": 0.154, "*7": 0.103},
}

#: CYP2C9 decreased-function alleles (CPIC NSAID guideline frequency table, Theken 2020, M):
#: *2 European 0.13, East Asian ~0 (Chinese 0.003, Japanese/Korean 0.000), African 0.03
#: (African-American; continental Africans <0.01, Céspedes-Garro 2015); *3 European 0.07,
#: East Asian 0.04 (Chinese 0.035, Korean 0.046), African 0.01.
_CYP2C9_FREQUENCIES: dict[str, dict[str, float]] = {
    "european": {"*2": 0.13, "*3": 0.07},
    "east_asian": {"*2": 0.0, "*3": 0.04},
    "african": {"*2": 0.03, "*3": 0.01},
}

#: gene -> alleles, reference (wild-type) allele first; diplotype labels list the lower index first.
GENE_ALLELES: dict[str, tuple[str, ...]] = {
    "cyp2b6": ("*1", "*6", "*18"),
    "cyp3a4": ("*1", "*22"),
    "cyp3a5": ("*1", "*3", "*6", "*7"),
    "cyp2c9": ("*1", "*2", "*3"),
}
#: gene -> ancestry -> variant allele -> frequency (CYP2B6 is :data:`ALLELE_FREQUENCIES`).
GENE_ALLELE_FREQUENCIES: dict[str, dict[str, dict[str, float]]] = {
    "cyp2b6": ALLELE_FREQUENCIES,
    "cyp3a4": _CYP3A4_FREQUENCIES,
    "cyp3a5": _CYP3A5_FREQUENCIES,
    "cyp2c9": _CYP2C9_FREQUENCIES,
}
#: the diplotype that leaves every PK multiplier at 1 (the typical patient). For CYP3A5 this is
#: the non-expresser *3/*3: the model's CYP3A activity is calibrated on mostly European cohorts,
#: where ~89% are *3/*3, so expressers are the ones that deviate.
REFERENCE_DIPLOTYPES: dict[str, str] = {
    "cyp2b6": "*1/*1",
    "cyp3a4": "*1/*1",
    "cyp3a5": "*3/*3",
    "cyp2c9": "*1/*1",
}

# ------------------------------------------------------------------------------------------------
# Genotype effects under the switch cyp3a_cyp2c9_effect = "assumed". Their in-vivo effect on
# ketamine is not established (MODEL.md §1: "decreased-function alleles as switches", L); the
# default "null" ignores them.
# ------------------------------------------------------------------------------------------------

#: CYP3A4*22: hepatic CYP3A activity x0.7 per *22 allele (L). *22 lowers hepatic CYP3A4 mRNA and
#: activity (Wang 2011, in vitro / liver bank) and carriers need ~33% less tacrolimus (Elens 2011);
#: no ketamine data, so the tacrolimus carrier effect is borrowed. Applied to the liver only.
CYP3A4_22_ACTIVITY_PER_ALLELE = 0.7
#: CYP3A5 expressers: hepatic and gut CYP3A activity x(1 + 0.15 per functional *1 allele) (L).
#: CYP3A5 adds to CYP3A4 where expressed; ketamine's CYP3A share (fm ~0.3, Hijazi 2002) is mostly
#: CYP3A4, so only a modest gain is assumed. Reference: non-expressers (*3/*3) = 1.
CYP3A5_GAIN_PER_EXPRESSER_ALLELE = 0.15
#: CYP2C9 allele activities (L), relative to *1: CYP2C9.2 ~0.7, CYP2C9.3 ~0.2 (typical in-vitro
#: intrinsic-clearance fractions of the variant proteins; CPIC rates *2 decreased, *3 no/decreased
#: function, Theken 2020). A diplotype's multiplier of the 'other' pathway (fm_other) is the mean of
#: its two allele activities (gene dose: each allele makes half the enzyme), e.g. *1/*3 -> 0.6,
#: *3/*3 -> 0.2, *2/*3 -> 0.45; Hijazi 2002 rates CYP2C9 a minor ketamine pathway.
CYP2C9_ALLELE_ACTIVITY: dict[str, float] = {"*1": 1.0, "*2": 0.7, "*3": 0.2}

GenotypeEffect = Literal["null", "assumed"]

# attribute sub-keys of the population stream: fixed forever, append new ones at the end.
# Keys 15-40 are reserved for the PD code.
_SEX, _AGE, _WEIGHT, _ANCESTRY, _CYP2B6, _COMED, _ETA = range(7)
_DURATION, _BASELINE_PAIN, _SENSITIZATION, _DEPRESSION, _EXPECTANCY = range(7, 12)
_CYP3A4, _CYP3A5, _CYP2C9 = range(12, 15)
# absorption IIV (eta columns ETA_KA, ETA_F_MUCOSAL): its own stream, so that adding it kept every
# earlier draw unchanged
_ETA_ABSORPTION = 41


@dataclass
class Population:
    """Patients-first arrays describing ``n`` virtual patients.

    Attributes
    ----------
    female, age_years, weight_kg : demographics.
    ancestry : index into :data:`ANCESTRIES`.
    cyp2b6, cyp3a4, cyp3a5, cyp2c9 : diplotype labels (object arrays), e.g. ``"*1/*6"``; alleles
        in :data:`GENE_ALLELES` order.
    comedication : co-medication name -> bool array.
    eta_pk : ``(n, N_ETA)`` standard normals for the PK IIV.
    disease_duration_years : time since diagnosis, years.
    baseline_pain : true mean NRS (0-10) before treatment.
    sensitization : central-sensitization index in [0, 1].
    depression : depression comorbidity.
    expectancy : prior expectancy of relief in [0, 1].
    indication : the indication shared by all patients (a key of ``ketsim.config.indications``).
    """

    female: np.ndarray
    age_years: np.ndarray
    weight_kg: np.ndarray
    ancestry: np.ndarray  # index into ANCESTRIES
    cyp2b6: np.ndarray  # diplotype labels, e.g. "*1/*6"
    comedication: dict[str, np.ndarray]  # name -> bool array
    eta_pk: np.ndarray  # (n, N_ETA) standard normals for the PK IIV
    disease_duration_years: np.ndarray
    baseline_pain: np.ndarray  # true mean NRS
    sensitization: np.ndarray  # index in [0, 1]
    depression: np.ndarray  # bool
    expectancy: np.ndarray  # prior, [0, 1]
    cyp3a4: np.ndarray  # "*1/*22", ...
    cyp3a5: np.ndarray  # "*1/*3", ...
    cyp2c9: np.ndarray  # "*2/*3", ...
    indication: str

    @property
    def n(self) -> int:
        """Number of patients."""
        return self.weight_kg.shape[0]

    def take(self, idx: Any) -> Population:
        """The sub-population selected by ``idx``.

        Parameters
        ----------
        idx : int array, slice, boolean mask of length ``n``, or a single int; any index numpy
            accepts on the patient axis. Basic slices return views (numpy semantics).

        Returns
        -------
        Population
            Patients in the order of ``idx``; ``indication`` is kept.
        """
        if isinstance(idx, int | np.integer):
            idx = np.array([idx])

        def sub(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                return v[idx]
            if isinstance(v, dict):
                return {k: a[idx] for k, a in v.items()}
            return v

        return Population(**{f.name: sub(getattr(self, f.name)) for f in fields(self)})

    @classmethod
    def concat(cls, pops: Sequence[Population]) -> Population:
        """Stack populations patient-wise (e.g. screened candidates, or batched replicates).

        Parameters
        ----------
        pops : one or more populations with the same ``indication`` and co-medication names.

        Returns
        -------
        Population
            ``pops[0]``'s patients, then ``pops[1]``'s, and so on.
        """
        pops = list(pops)
        if not pops:
            raise ValueError("concat needs at least one population")
        first = pops[0]
        for p in pops[1:]:
            if p.indication != first.indication:
                raise ValueError(
                    f"cannot concat indications {first.indication!r} and {p.indication!r}"
                )
            if set(p.comedication) != set(first.comedication):
                raise ValueError(
                    "cannot concat populations with different co-medications: "
                    f"{sorted(first.comedication)} vs {sorted(p.comedication)}"
                )
        out: dict[str, Any] = {}
        for f in fields(cls):
            v = getattr(first, f.name)
            if isinstance(v, np.ndarray):
                out[f.name] = np.concatenate([getattr(p, f.name) for p in pops], axis=0)
            elif isinstance(v, dict):
                out[f.name] = {k: np.concatenate([getattr(p, f.name)[k] for p in pops]) for k in v}
            else:
                out[f.name] = v
        return cls(**out)

    def pk_covariates(self, cyp3a_cyp2c9_effect: GenotypeEffect = "null") -> Covariates:
        """Covariates for :func:`ketsim.core.pk.model.individual_parameters`.

        Parameters
        ----------
        cyp3a_cyp2c9_effect : ``"null"`` (default) ignores CYP3A4/5 and CYP2C9 genotypes;
            ``"assumed"`` applies the assumed (L) effects: hepatic CYP3A x
            :data:`CYP3A4_22_ACTIVITY_PER_ALLELE` per CYP3A4*22 allele; hepatic and gut CYP3A x
            (1 + :data:`CYP3A5_GAIN_PER_EXPRESSER_ALLELE` per CYP3A5*1 allele); the 'other'
            pathway (``other_mult``) x the mean :data:`CYP2C9_ALLELE_ACTIVITY` of the two CYP2C9
            alleles. Co-medication multipliers apply in both cases.

        Returns
        -------
        Covariates
        """
        if cyp3a_cyp2c9_effect not in ("null", "assumed"):
            raise ValueError(
                f"cyp3a_cyp2c9_effect must be 'null' or 'assumed' (got {cyp3a_cyp2c9_effect!r})"
            )
        n = self.n
        mult = {k: np.ones(n) for k in ("cyp2b6", "cyp3a_liver", "cyp3a_gut", "nk_clearance")}
        for name, on in self.comedication.items():
            c = COMEDICATIONS[name]
            for k in mult:
                mult[k] = np.where(on, mult[k] * getattr(c, k), mult[k])
        act = _map_labels(self.cyp2b6, CYP2B6_DIPLOTYPE_ACTIVITY.__getitem__)
        other = np.ones(n)
        if cyp3a_cyp2c9_effect == "assumed":
            n22 = _map_labels(self.cyp3a4, lambda d: _alleles(d).count("*22"))
            n3a5 = _map_labels(self.cyp3a5, lambda d: _alleles(d).count("*1"))
            expresser = 1.0 + CYP3A5_GAIN_PER_EXPRESSER_ALLELE * n3a5
            mult["cyp3a_liver"] = mult["cyp3a_liver"] * CYP3A4_22_ACTIVITY_PER_ALLELE**n22
            mult["cyp3a_liver"] = mult["cyp3a_liver"] * expresser
            mult["cyp3a_gut"] = mult["cyp3a_gut"] * expresser
            other = _map_labels(
                self.cyp2c9,
                lambda d: float(np.mean([CYP2C9_ALLELE_ACTIVITY[a] for a in _alleles(d)])),
            )
        return Covariates(
            weight_kg=self.weight_kg,
            female=self.female,
            cyp2b6_activity=act,
            cyp2b6_mult=mult["cyp2b6"],
            cyp3a_liver_mult=mult["cyp3a_liver"],
            cyp3a_gut_mult=mult["cyp3a_gut"],
            nk_clearance_mult=mult["nk_clearance"],
            other_mult=other,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per patient (``patient`` numbers rows 0..n-1)."""
        df = pd.DataFrame(
            {
                "patient": np.arange(self.n),
                "indication": np.full(self.n, self.indication, dtype=object),
                "female": self.female,
                "age_years": self.age_years,
                "weight_kg": self.weight_kg,
                "ancestry": np.asarray(ANCESTRIES)[self.ancestry],
                "cyp2b6": self.cyp2b6,
                "cyp3a4": self.cyp3a4,
                "cyp3a5": self.cyp3a5,
                "cyp2c9": self.cyp2c9,
                "disease_duration_years": self.disease_duration_years,
                "baseline_pain": self.baseline_pain,
                "sensitization": self.sensitization,
                "depression": self.depression,
                "expectancy": self.expectancy,
            }
        )
        for name, on in self.comedication.items():
            df[f"comed_{name}"] = on
        return df


def _alleles(diplotype: str) -> list[str]:
    return diplotype.split("/")


def _map_labels(labels: np.ndarray, fn: Callable[[str], float]) -> np.ndarray:
    """``fn`` of each label as a float array, evaluated once per distinct label."""
    codes, uniques = pd.factorize(np.asarray(labels, dtype=object))
    values = np.array([fn(u) for u in uniques], dtype=float)
    return values[codes] if codes.size else np.ones(0)


def _truncnorm_ppf(d: Distribution, u: np.ndarray) -> np.ndarray:
    """Normal(mean, sd) truncated to [min, max] at uniforms ``u``; everyone at the mean if sd = 0.

    ``scipy.stats.truncnorm.rvs(a, b, loc, scale, random_state=rng)`` is the inverse CDF at
    ``rng.uniform(size=n)``, evaluated elementwise; so the same uniforms through
    ``truncnorm.ppf`` give the same draws bit for bit (tested), and the uniforms of many
    replicates can be transformed in one call. (The one exception, ``u == 0`` exactly, has
    probability 2^-53 per draw: ``ppf`` returns the lower end of the support, ``rvs`` the inverse
    CDF at 0, equal to it up to rounding.)
    """
    if d.sd == 0:
        return np.full(u.shape, d.mean)
    a, b = (d.min - d.mean) / d.sd, (d.max - d.mean) / d.sd
    return truncnorm_ppf(u, a, b, loc=d.mean, scale=d.sd)


def _trunclognormal_ppf(d: LogNormalSpec, u: np.ndarray) -> np.ndarray:
    """Log-normal(median, sd_log) truncated to [min, max] at uniforms ``u`` (see
    :func:`_truncnorm_ppf`); everyone at the median when sd_log = 0.

    ``median`` is that of the untruncated distribution (as ``mean`` is for :func:`_truncnorm_ppf`).
    """
    if d.sd_log == 0:
        return np.full(u.shape, d.median)
    mu = np.log(d.median)
    a, b = (np.log(d.min) - mu) / d.sd_log, (np.log(d.max) - mu) / d.sd_log
    return np.exp(truncnorm_ppf(u, a, b, loc=mu, scale=d.sd_log))


def _beta(d: BetaSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Beta with the given mean and SD; everyone at the mean when sd = 0."""
    if d.sd == 0:
        return np.full(n, d.mean)
    a, b = d.ab()
    return rng.beta(a, b, size=n)


def _allele_cdf(gene: str) -> np.ndarray:
    """Cumulative allele frequencies ``(n_ancestries, n_alleles)`` of a gene, rows closed at 1."""
    alleles = GENE_ALLELES[gene]
    table = GENE_ALLELE_FREQUENCIES[gene]
    rows = []
    for anc in ANCESTRIES:
        f = table[anc]
        ref = 1.0
        for a in alleles[1:]:  # sequential subtraction keeps CYP2B6 draws bit-identical
            ref -= f[a]
        rows.append([ref, *(f[a] for a in alleles[1:])])
    p = np.array(rows)
    if np.any(p < -1e-12):
        raise ValueError(f"{gene}: variant allele frequencies sum above 1")
    cum = np.cumsum(p, axis=1)
    for i, row in enumerate(p):  # close each row at its last allele of positive frequency
        cum[i, np.flatnonzero(row > 0)[-1] :] = 1.0
    return cum


def _diplotype_labels(gene: str) -> np.ndarray:
    """Object array ``[i, j]`` -> label ``"a_i/a_j"`` (``i <= j``) of a gene's diplotypes."""
    names = GENE_ALLELES[gene]
    k = len(names)
    out = np.empty((k, k), dtype=object)
    for i in range(k):
        for j in range(k):
            lo, hi = min(i, j), max(i, j)
            out[i, j] = f"{names[lo]}/{names[hi]}"
    return out


def _diplotypes_from_uniforms(gene: str, ancestry: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Two alleles per patient from uniforms ``u (n, 2)``: Hardy–Weinberg diplotype frequencies.

    Parameters
    ----------
    gene : a key of :data:`GENE_ALLELES`.
    ancestry : index into :data:`ANCESTRIES` per patient.
    u : two uniforms per patient, drawn as ``rng.random((n, 2))`` from the gene's own stream
        (the computation is elementwise, so many replicates' draws can be stacked).

    Returns
    -------
    numpy.ndarray
        Object array of labels ``"a/b"`` with ``a`` before ``b`` in :data:`GENE_ALLELES` order.
    """
    cum = _allele_cdf(gene)
    a = (u[:, :, None] > cum[ancestry][:, None, :]).sum(axis=2)  # allele index of each draw
    return _diplotype_labels(gene)[a[:, 0], a[:, 1]]


def _typical_population(spec: PopulationSpec, n: int) -> Population:
    return Population(
        female=np.zeros(n, bool),
        age_years=np.full(n, 40.0),
        weight_kg=np.full(n, 70.0),
        ancestry=np.zeros(n, int),
        cyp2b6=np.full(n, REFERENCE_DIPLOTYPES["cyp2b6"], dtype=object),
        comedication={k: np.zeros(n, bool) for k in spec.comedication},
        eta_pk=np.zeros((n, N_ETA)),
        disease_duration_years=np.full(n, spec.disease_duration_years.median),
        baseline_pain=np.full(n, spec.baseline_pain.mean),
        sensitization=np.full(n, spec.sensitization.mean),
        depression=np.zeros(n, bool),
        expectancy=np.full(n, spec.expectancy.mean),
        cyp3a4=np.full(n, REFERENCE_DIPLOTYPES["cyp3a4"], dtype=object),
        cyp3a5=np.full(n, REFERENCE_DIPLOTYPES["cyp3a5"], dtype=object),
        cyp2c9=np.full(n, REFERENCE_DIPLOTYPES["cyp2c9"], dtype=object),
        indication=spec.indication,
    )


def sample_populations(spec: PopulationSpec, entropy: int, replicates: Sequence[int]) -> Population:
    """Draw ``spec.n`` patients for each of several replicates, stacked replicate by replicate.

    Every replicate draws from its own population streams exactly as :func:`sample_population`
    does (which calls this with one replicate), so its patients do not depend on which other
    replicates are sampled with it. Only the transforms of the draws (inverse CDFs, allele
    look-ups) are evaluated once for the whole batch; they are elementwise, hence per patient
    the same arithmetic whatever the batch.

    Parameters
    ----------
    spec : who the patients are.
    entropy : the run's root entropy (``ketsim.core.seeds``).
    replicates : replicate indices; the result holds ``spec.n`` patients of each, in this order.

    Returns
    -------
    Population
        ``len(replicates) * spec.n`` patients; see :func:`sample_population`.
    """
    n = spec.n
    reps = [int(r) for r in replicates]
    if spec.typical:
        return _typical_population(spec, n * len(reps))
    hw = spec.cyp2b6 == "hardy_weinberg"
    attrs = (_SEX, _AGE, _WEIGHT, _ANCESTRY, _CYP2B6, _COMED, _ETA, _DURATION, _BASELINE_PAIN)
    attrs += (_SENSITIZATION, _DEPRESSION, _EXPECTANCY, _CYP3A4, _CYP3A5, _CYP2C9, _ETA_ABSORPTION)
    gens = streams(entropy, [(r, "population", a) for r in reps for a in attrs])
    rngs = [
        dict(zip(attrs, gens[i * len(attrs) : (i + 1) * len(attrs)], strict=True))
        for i in range(len(reps))
    ]

    def draw(fn: Callable[[dict[int, np.random.Generator]], np.ndarray]) -> np.ndarray:
        # one replicate's draws per stream, stacked (a single replicate needs no copy)
        parts = [fn(g) for g in rngs]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    mix = np.array([spec.ancestry.get(a, 0.0) for a in ANCESTRIES])
    p_anc = mix / mix.sum()
    female = draw(lambda g: g[_SEX].random(n)) < spec.female_fraction
    age = _truncnorm_ppf(spec.age_years, draw(lambda g: g[_AGE].uniform(size=n)))
    weight = _truncnorm_ppf(spec.weight_kg, draw(lambda g: g[_WEIGHT].uniform(size=n)))
    ancestry = draw(lambda g: g[_ANCESTRY].choice(len(ANCESTRIES), size=n, p=p_anc))
    if hw:
        cyp = _diplotypes_from_uniforms(
            "cyp2b6", ancestry, draw(lambda g: g[_CYP2B6].random((n, 2)))
        )
    else:
        cyp = np.full(n * len(reps), spec.cyp2b6, dtype=object)

    def comed(g: dict[int, np.random.Generator]) -> np.ndarray:
        r = g[_COMED]  # one stream, drawn in the spec's order of co-medications
        return np.stack([r.random(n) for _ in spec.comedication], axis=1)

    names = list(spec.comedication)
    c = draw(comed) if names else np.zeros((n * len(reps), 0))
    comedication = {k: c[:, j] < spec.comedication[k] for j, k in enumerate(names)}
    eta = np.concatenate(
        [
            draw(lambda g: g[_ETA].standard_normal((n, ETA_KA))),
            draw(lambda g: g[_ETA_ABSORPTION].standard_normal((n, N_ETA - ETA_KA))),
        ],
        axis=1,
    )
    duration = _trunclognormal_ppf(
        spec.disease_duration_years, draw(lambda g: g[_DURATION].uniform(size=n))
    )
    baseline = _truncnorm_ppf(spec.baseline_pain, draw(lambda g: g[_BASELINE_PAIN].uniform(size=n)))
    return Population(
        female=female,
        age_years=age,
        weight_kg=weight,
        ancestry=ancestry,
        cyp2b6=cyp,
        comedication=comedication,
        eta_pk=eta,
        disease_duration_years=duration,
        baseline_pain=baseline,
        sensitization=draw(lambda g: _beta(spec.sensitization, n, g[_SENSITIZATION])),
        depression=draw(lambda g: g[_DEPRESSION].random(n)) < spec.depression_prevalence,
        expectancy=draw(lambda g: _beta(spec.expectancy, n, g[_EXPECTANCY])),
        cyp3a4=_diplotypes_from_uniforms(
            "cyp3a4", ancestry, draw(lambda g: g[_CYP3A4].random((n, 2)))
        ),
        cyp3a5=_diplotypes_from_uniforms(
            "cyp3a5", ancestry, draw(lambda g: g[_CYP3A5].random((n, 2)))
        ),
        cyp2c9=_diplotypes_from_uniforms(
            "cyp2c9", ancestry, draw(lambda g: g[_CYP2C9].random((n, 2)))
        ),
        indication=spec.indication,
    )


def sample_population(spec: PopulationSpec, entropy: int, replicate: int = 0) -> Population:
    """Draw ``spec.n`` patients from the population stream of one replicate.

    Parameters
    ----------
    spec : who the patients are.
    entropy, replicate : the run's root entropy and the replicate (``ketsim.core.seeds``).

    Returns
    -------
    Population
        With ``spec.typical`` every patient is the typical 70-kg 40-year-old European man with
        reference genotypes (:data:`REFERENCE_DIPLOTYPES`), no IIV, no co-medication or
        depression, and the central value of every disease attribute (duration median, baseline
        pain mean, sensitization and expectancy means).
    """
    return sample_populations(spec, entropy, [replicate])
