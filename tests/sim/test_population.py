"""Virtual population: Hardy–Weinberg genotypes, streams and chunk invariance."""

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from ketsim.config.scenario import BetaSpec, PopulationSpec, RegimenSpec
from ketsim.core.pk.model import individual_parameters
from ketsim.core.seeds import stream
from ketsim.sim.compile import compile_dosing
from ketsim.sim.pk_study import simulate_concentrations
from ketsim.sim.population import (
    ALLELE_FREQUENCIES,
    GENE_ALLELE_FREQUENCIES,
    GENE_ALLELES,
    REFERENCE_DIPLOTYPES,
    Population,
    sample_population,
)


@pytest.mark.parametrize("ancestry", ["european", "african"])
def test_cyp2b6_hardy_weinberg(ancestry):
    """Diplotype counts fit Hardy–Weinberg expectations (chi-square, p > 0.001).

    The test compares multinomial counts with their exact expectation, so under a correct sampler
    it fails with probability 0.001 per seed; the seed is fixed, so the test is deterministic.
    """
    n = 20000
    pop = sample_population(PopulationSpec(n=n, ancestry={ancestry: 1.0}), entropy=11)
    f = ALLELE_FREQUENCIES[ancestry]
    q = {"*1": 1 - f["*6"] - f["*18"], "*6": f["*6"], "*18": f["*18"]}
    labels, expected = [], []
    alleles = [a for a in ("*1", "*6", "*18") if q[a] > 0]
    for i, a in enumerate(alleles):
        for b in alleles[i:]:
            labels.append(f"{a}/{b}")
            expected.append(n * q[a] * q[b] * (1 if a == b else 2))
    observed = [np.sum(pop.cyp2b6 == lab) for lab in labels]
    assert sum(observed) == n
    _, p = stats.chisquare(observed, expected)
    assert p > 0.001


def test_streams_are_independent_per_attribute():
    """Changing the co-medication spec does not reshuffle weights or genotypes."""
    a = sample_population(PopulationSpec(n=100), entropy=3)
    b = sample_population(PopulationSpec(n=100, comedication={"rifampicin": 0.5}), entropy=3)
    np.testing.assert_array_equal(a.weight_kg, b.weight_kg)
    np.testing.assert_array_equal(a.cyp2b6, b.cyp2b6)
    np.testing.assert_array_equal(a.eta_pk, b.eta_pk)


def test_results_identical_for_any_chunk_size():
    """Population PK is bitwise identical whatever the patient chunk size."""
    pop = sample_population(PopulationSpec(n=37), entropy=9)
    reg = [
        RegimenSpec(route="iv_infusion", rate="0.3 mg/kg/h", duration="10 h"),
        RegimenSpec(route="oral", amount="10 mg", start="12 h"),
    ]
    t = np.arange(0.0, 48.0, 0.5)
    ref = simulate_concentrations(
        pop.pk_covariates(), pop.eta_pk, compile_dosing(reg), t, chunk=1024
    )["S"]
    for chunk in (1, 5, 16):
        out = simulate_concentrations(
            pop.pk_covariates(), pop.eta_pk, compile_dosing(reg), t, chunk=chunk
        )["S"]
        np.testing.assert_array_equal(out, ref)


# --------------------------------------------------------------------------------------------
# Disease attributes, CYP3A4/5 and CYP2C9 genotypes, take/concat, genotype switch
# --------------------------------------------------------------------------------------------


def _assert_same_population(a: Population, b: Population) -> None:
    """Every field of two populations is identical (arrays bitwise, dicts key by key)."""
    for f in fields(Population):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, dict):
            assert x.keys() == y.keys(), f.name
            for k in x:
                np.testing.assert_array_equal(x[k], y[k], err_msg=f"{f.name}[{k}]")
        elif isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, f.name
            np.testing.assert_array_equal(x, y, err_msg=f.name)
        else:
            assert x == y, f.name


def _hw_table(gene: str, ancestry: str, n: int) -> tuple[list[str], list[float]]:
    """Diplotype labels and their exact Hardy–Weinberg expected counts."""
    f = GENE_ALLELE_FREQUENCIES[gene][ancestry]
    alleles = GENE_ALLELES[gene]
    q = {a: f[a] for a in alleles[1:]}
    q[alleles[0]] = 1.0 - sum(q.values())
    present = [a for a in alleles if q[a] > 0]
    labels, expected = [], []
    for i, a in enumerate(present):
        for b in present[i:]:
            labels.append(f"{a}/{b}")
            expected.append(n * q[a] * q[b] * (1 if a == b else 2))
    return labels, expected


def _pool_small_cells(
    observed: list[int], expected: list[float], min_expected: float = 5.0
) -> tuple[list[int], list[float]]:
    """Merge the rarest cells until every expected count is >= ``min_expected``.

    The chi-square approximation needs expected counts of about 5 or more; merging cells keeps the
    test exact in its expectations (no parameter is estimated) and only lowers the degrees of
    freedom.
    """
    cells = sorted(zip(expected, observed, strict=True))
    while len(cells) > 2 and cells[0][0] < min_expected:
        (e0, o0), (e1, o1) = cells[0], cells[1]
        cells = sorted([(e0 + e1, o0 + o1), *cells[2:]])
    return [o for _, o in cells], [e for e, _ in cells]


@pytest.mark.parametrize(
    ("gene", "ancestry"),
    [
        ("cyp3a5", "european"),
        ("cyp3a5", "african"),
        ("cyp2c9", "european"),
        ("cyp2c9", "african"),
        ("cyp3a4", "european"),
    ],
)
def test_new_genes_hardy_weinberg(gene, ancestry):
    """CYP3A5/CYP2C9/CYP3A4 diplotype counts fit Hardy–Weinberg expectations (p > 0.001).

    Expected counts are exact (the published allele frequencies in ``GENE_ALLELE_FREQUENCIES``,
    nothing estimated), so the test checks the frequency table, the ancestry row used and the
    independence of the two alleles at once. Why p > 0.001 with a fixed seed is a sound test:

    * deterministic: the seed (entropy 11, replicate 0, the gene's own stream) fixes every draw,
      so the statistic, and the verdict, are the same on every run and every machine;
    * meaningful: under a correct sampler the p-value is uniform over seeds, so only one seed in a
      thousand would fail, while with n = 100 000 any real error (wrong ancestry row, a dropped or
      duplicated allele, non-independent alleles, label order "*3/*1") shifts some genotype
      frequency by far more than its Monte Carlo SE (~0.1-0.2 percentage points) and drives p
      below 1e-10. A change that re-draws the numbers re-rolls a 1-in-1000 false alarm only.
    """
    n = 100_000
    pop = sample_population(PopulationSpec(n=n, ancestry={ancestry: 1.0}), entropy=11)
    labels, expected = _hw_table(gene, ancestry, n)
    geno = getattr(pop, gene)
    observed = [int(np.sum(geno == lab)) for lab in labels]
    assert sum(observed) == n, "a diplotype with a zero-frequency allele was drawn"
    obs, exp = _pool_small_cells(observed, expected)
    _, p = stats.chisquare(obs, exp)
    assert p > 0.001


def test_diplotypes_follow_ancestry_row():
    """East Asians carry no CYP2C9*2 or CYP3A4*22 (frequency 0 in the table)."""
    pop = sample_population(PopulationSpec(n=20_000, ancestry={"east_asian": 1.0}), entropy=4)
    assert not any("*2" in d.split("/") for d in pop.cyp2c9)
    assert np.all(pop.cyp3a4 == "*1/*1")
    assert set(np.unique(pop.cyp3a5.astype(str))) == {"*1/*1", "*1/*3", "*3/*3"}


def test_marginal_moments_match_spec():
    """Sample moments of the disease attributes match their distributions within 4 Monte Carlo SE.

    Truncated distributions are compared with the moments of the truncated law (``median`` and
    ``mean`` in the spec are those of the untruncated parent, as for weight and age).
    """
    n = 40_000
    spec = PopulationSpec(n=n)  # CRPS-1 defaults
    pop = sample_population(spec, entropy=21)
    z = 4.0

    # beta attributes: mean (SE = sd/sqrt(n)) and variance (SE = sqrt((mu4 - sd^4)/n))
    for name in ("sensitization", "expectancy"):
        b: BetaSpec = getattr(spec, name)
        x = getattr(pop, name)
        a_, b_ = b.ab()
        kurt = float(stats.beta.stats(a_, b_, moments="k"))  # excess kurtosis
        mu4 = (kurt + 3.0) * b.sd**4
        assert abs(x.mean() - b.mean) < z * b.sd / np.sqrt(n), name
        assert abs(x.var() - b.sd**2) < z * np.sqrt((mu4 - b.sd**4) / n), name

    # log-normal duration: sample median of log(duration) vs the truncated-normal median;
    # asymptotic SE of a median = sqrt(1/4 n) / density at the median
    d = spec.disease_duration_years
    mu = np.log(d.median)
    law = stats.truncnorm(
        (np.log(d.min) - mu) / d.sd_log, (np.log(d.max) - mu) / d.sd_log, loc=mu, scale=d.sd_log
    )
    m = law.median()
    se = np.sqrt(0.25 / n) / law.pdf(m)
    assert abs(np.median(np.log(pop.disease_duration_years)) - m) < z * se

    # truncated-normal baseline pain: mean and SE from the truncated law
    bp = spec.baseline_pain
    law = stats.truncnorm(
        (bp.min - bp.mean) / bp.sd, (bp.max - bp.mean) / bp.sd, loc=bp.mean, scale=bp.sd
    )
    assert abs(pop.baseline_pain.mean() - law.mean()) < z * law.std() / np.sqrt(n)

    # depression: binomial proportion
    p = spec.depression_prevalence
    assert pop.depression.dtype == bool
    assert abs(pop.depression.mean() - p) < z * np.sqrt(p * (1 - p) / n)
    assert np.all(pop.indication == spec.indication)


def test_untruncated_lognormal_median_is_spec_median():
    """With bounds far in the tails the sample median is the spec median (4 Monte Carlo SE)."""
    n = 40_000
    spec = PopulationSpec(
        n=n, disease_duration_years={"median": 5.0, "sd_log": 0.8, "min": 1e-4, "max": 1e4}
    )
    x = np.log(sample_population(spec, entropy=8).disease_duration_years)
    se = np.sqrt(0.25 / n) / stats.norm.pdf(0.0, scale=0.8)
    assert abs(np.median(x) - np.log(5.0)) < 4 * se


def test_truncation_bounds_respected():
    """Draws stay inside tight [min, max] bounds; beta attributes inside [0, 1]."""
    spec = PopulationSpec(
        n=20_000,
        baseline_pain={"mean": 9.0, "sd": 2.5, "min": 4.0, "max": 10.0},
        disease_duration_years={"median": 7.4, "sd_log": 1.5, "min": 1.0, "max": 20.0},
        sensitization={"mean": 0.95, "sd": 0.1},
        expectancy={"mean": 0.05, "sd": 0.1},
    )
    pop = sample_population(spec, entropy=5)
    assert pop.baseline_pain.min() >= 4.0 and pop.baseline_pain.max() <= 10.0
    assert pop.disease_duration_years.min() >= 1.0 and pop.disease_duration_years.max() <= 20.0
    for x in (pop.sensitization, pop.expectancy):
        assert np.all((x >= 0.0) & (x <= 1.0))
    # the bounds bite: a sizeable share of the untruncated law lies outside them
    assert pop.baseline_pain.max() > 9.9 and pop.disease_duration_years.max() > 19.0


def test_sd_zero_puts_everyone_at_the_centre():
    spec = PopulationSpec(
        n=50,
        sensitization={"mean": 0.7, "sd": 0.0},
        expectancy={"mean": 0.4, "sd": 0.0},
        disease_duration_years={"median": 3.0, "sd_log": 0.0, "min": 0.5, "max": 10.0},
        baseline_pain={"mean": 6.0, "sd": 0.0, "min": 0.0, "max": 10.0},
    )
    pop = sample_population(spec, entropy=2)
    assert np.all(pop.sensitization == 0.7) and np.all(pop.expectancy == 0.4)
    assert np.all(pop.disease_duration_years == 3.0) and np.all(pop.baseline_pain == 6.0)


def test_typical_population_new_attributes():
    """``typical`` gives central values and reference genotypes, so every multiplier is 1."""
    spec = PopulationSpec(n=4, typical=True, indication="fibromyalgia")
    pop = sample_population(spec, entropy=1)
    assert np.all(pop.disease_duration_years == spec.disease_duration_years.median)
    assert np.all(pop.baseline_pain == spec.baseline_pain.mean)
    assert np.all(pop.sensitization == spec.sensitization.mean)
    assert np.all(pop.expectancy == spec.expectancy.mean)
    assert not pop.depression.any()
    assert pop.indication == "fibromyalgia"
    for gene in ("cyp2b6", "cyp3a4", "cyp3a5", "cyp2c9"):
        assert np.all(getattr(pop, gene) == REFERENCE_DIPLOTYPES[gene])
    for effect in ("null", "assumed"):
        cov = pop.pk_covariates(cyp3a_cyp2c9_effect=effect)
        for k in ("cyp2b6_activity", "cyp3a_liver_mult", "cyp3a_gut_mult", "other_mult"):
            np.testing.assert_array_equal(getattr(cov, k), 1.0)


def test_take_concat_round_trip():
    """Slices, index arrays and boolean masks split a population that ``concat`` puts back."""
    pop = sample_population(
        PopulationSpec(
            n=41, ancestry={"european": 0.5, "african": 0.5}, comedication={"rifampicin": 0.3}
        ),
        entropy=13,
    )
    _assert_same_population(
        Population.concat([pop.take(slice(0, 17)), pop.take(slice(17, None))]), pop
    )
    _assert_same_population(Population.concat([pop.take(np.arange(pop.n))]), pop)
    mask = pop.female.copy()
    order = np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])
    _assert_same_population(Population.concat([pop.take(mask), pop.take(~mask)]), pop.take(order))
    assert pop.take(5).n == 1 and pop.take(5).cyp2c9[0] == pop.cyp2c9[5]
    rev = pop.take(np.arange(pop.n)[::-1])
    np.testing.assert_array_equal(rev.eta_pk, pop.eta_pk[::-1])
    # batching replicates: the frame of the stack is the stack of the frames
    pop2 = sample_population(
        PopulationSpec(
            n=9, ancestry={"european": 0.5, "african": 0.5}, comedication={"rifampicin": 0.3}
        ),
        entropy=13,
        replicate=1,
    )
    both = Population.concat([pop, pop2])
    assert both.n == 50
    expected = pd.concat([pop.to_frame(), pop2.to_frame()], ignore_index=True)
    expected["patient"] = np.arange(50)
    pd.testing.assert_frame_equal(both.to_frame(), expected)


def test_concat_rejects_mismatched_populations():
    a = sample_population(PopulationSpec(n=3), entropy=1)
    b = sample_population(PopulationSpec(n=3, indication="fibromyalgia"), entropy=1)
    c = sample_population(PopulationSpec(n=3, comedication={"rifampicin": 0.5}), entropy=1)
    with pytest.raises(ValueError, match="indication"):
        Population.concat([a, b])
    with pytest.raises(ValueError, match="co-medication"):
        Population.concat([a, c])
    with pytest.raises(ValueError):
        Population.concat([])


def test_to_frame_has_new_columns():
    df = sample_population(PopulationSpec(n=6), entropy=3).to_frame()
    for col in (
        "indication",
        "disease_duration_years",
        "baseline_pain",
        "sensitization",
        "depression",
        "expectancy",
        "cyp3a4",
        "cyp3a5",
        "cyp2c9",
    ):
        assert col in df.columns
    assert len(df) == 6


def test_new_spec_fields_do_not_reshuffle_existing_attributes():
    """Changing the disease fields leaves PK attributes and genotypes bitwise unchanged."""
    a = sample_population(PopulationSpec(n=200), entropy=3)
    b = sample_population(
        PopulationSpec(
            n=200,
            disease_duration_years={"median": 2.0, "sd_log": 0.5, "min": 0.1, "max": 30.0},
            baseline_pain={"mean": 5.0, "sd": 1.0, "min": 0.0, "max": 10.0},
            sensitization={"mean": 0.3, "sd": 0.1},
            depression_prevalence=0.9,
            expectancy={"mean": 0.7, "sd": 0.1},
        ),
        entropy=3,
    )
    for name in ("female", "age_years", "weight_kg", "ancestry", "cyp2b6", "eta_pk"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in ("cyp3a4", "cyp3a5", "cyp2c9"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert not np.array_equal(a.sensitization, b.sensitization)
    # and the other way round: co-medication does not move the disease attributes
    c = sample_population(PopulationSpec(n=200, comedication={"clonidine": 0.4}), entropy=3)
    for name in ("disease_duration_years", "baseline_pain", "sensitization", "depression"):
        np.testing.assert_array_equal(getattr(a, name), getattr(c, name), err_msg=name)


def test_legacy_streams_reproduced():
    """Weight, CYP2B6 and PK etas are still the draws of their original streams (keys 2, 4, 6)."""
    spec = PopulationSpec(n=500, ancestry={"european": 0.4, "african": 0.6})
    pop = sample_population(spec, entropy=77, replicate=2)

    def rng(k: int) -> np.random.Generator:
        return stream(77, 2, "population", k)

    w = spec.weight_kg
    weight = stats.truncnorm.rvs(
        (w.min - w.mean) / w.sd,
        (w.max - w.mean) / w.sd,
        loc=w.mean,
        scale=w.sd,
        size=500,
        random_state=rng(2),
    )
    np.testing.assert_array_equal(pop.weight_kg, weight)
    np.testing.assert_array_equal(pop.eta_pk[:, :4], rng(6).standard_normal((500, 4)))
    # the absorption etas (added later) come from their own stream, key 41
    np.testing.assert_array_equal(pop.eta_pk[:, 4:], rng(41).standard_normal((500, 2)))
    # the original CYP2B6 sampler, written out
    f = ALLELE_FREQUENCIES
    p = np.array([[1 - v["*6"] - v["*18"], v["*6"], v["*18"]] for v in f.values()])
    cum = np.cumsum(p[pop.ancestry], axis=1)
    a = (rng(4).random((500, 2))[:, :, None] > cum[:, None, :]).sum(axis=2)
    names = np.array(["*1", "*6", "*18"])
    legacy = [f"{names[min(x)]}/{names[max(x)]}" for x in a]
    np.testing.assert_array_equal(pop.cyp2b6, legacy)


def _genotyped(cyp3a4: list[str], cyp3a5: list[str], cyp2c9: list[str]) -> Population:
    pop = sample_population(PopulationSpec(n=len(cyp3a4), typical=True), entropy=0)
    pop.cyp3a4 = np.array(cyp3a4, dtype=object)
    pop.cyp3a5 = np.array(cyp3a5, dtype=object)
    pop.cyp2c9 = np.array(cyp2c9, dtype=object)
    return pop


def test_cyp3a_cyp2c9_switch_direction():
    """'null' leaves every genotype multiplier at 1; 'assumed' moves them the expected way."""
    pop = _genotyped(
        ["*1/*1", "*1/*22", "*22/*22", "*1/*1", "*1/*1", "*1/*1", "*1/*1", "*1/*22"],
        ["*3/*3", "*3/*3", "*3/*3", "*1/*3", "*1/*1", "*3/*6", "*3/*3", "*1/*3"],
        ["*1/*1", "*1/*1", "*1/*1", "*1/*1", "*1/*1", "*1/*2", "*3/*3", "*2/*3"],
    )
    null = pop.pk_covariates()
    for k in ("cyp3a_liver_mult", "cyp3a_gut_mult", "other_mult"):
        np.testing.assert_array_equal(getattr(null, k), 1.0)
    cov = pop.pk_covariates(cyp3a_cyp2c9_effect="assumed")
    np.testing.assert_allclose(
        cov.cyp3a_liver_mult, [1.0, 0.7, 0.49, 1.15, 1.3, 1.0, 1.0, 0.7 * 1.15]
    )
    np.testing.assert_allclose(cov.cyp3a_gut_mult, [1.0, 1.0, 1.0, 1.15, 1.3, 1.0, 1.0, 1.15])
    np.testing.assert_allclose(cov.other_mult, [1, 1, 1, 1, 1, 0.85, 0.2, 0.45])
    # and the clearance follows: lower for *22 and CYP2C9 variants, higher for CYP3A5 expressers
    cl0 = individual_parameters(null).cl
    cl1 = individual_parameters(cov).cl
    assert cl1[0] == cl0[0]
    assert cl1[2] < cl1[1] < cl0[1]
    assert cl1[4] > cl1[3] > cl0[3]
    assert cl1[6] < cl1[5] < cl0[5]
    with pytest.raises(ValueError):
        pop.pk_covariates(cyp3a_cyp2c9_effect="in_vitro")


def test_assumed_switch_keeps_comedication_multipliers():
    """Genotype effects multiply, not replace, the co-medication multipliers."""
    pop = sample_population(
        PopulationSpec(n=300, ancestry={"african": 1.0}, comedication={"clarithromycin": 0.5}),
        entropy=6,
    )
    null, assumed = pop.pk_covariates(), pop.pk_covariates("assumed")
    on = pop.comedication["clarithromycin"]
    assert on.any() and (~on).any()
    n1 = np.array([d.split("/").count("*1") for d in pop.cyp3a5])
    np.testing.assert_allclose(assumed.cyp3a_gut_mult, null.cyp3a_gut_mult * (1 + 0.15 * n1))
    assert np.all(assumed.cyp3a_liver_mult[(n1 > 0) & on] > null.cyp3a_liver_mult[(n1 > 0) & on])
    np.testing.assert_array_equal(assumed.cyp2b6_activity, null.cyp2b6_activity)
    np.testing.assert_array_equal(assumed.nk_clearance_mult, null.nk_clearance_mult)
