"""The batch speed-ups change no number: batched seeding, population transforms, exponentials.

Every fast path here claims to be *bitwise* what the plain code computes: the vectorised seed hash
against ``numpy.random.SeedSequence``, the stacked population transforms against per-replicate
sampling and ``scipy.stats.truncnorm.rvs``, the shared Padé evaluations and chunking of the matrix
exponential against ``expm_batched`` one step at a time, the drug-free PK short cut against full
propagation, and a replicate's trial against the same replicate in other batches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from scipy import stats

from ketsim.analysis.analyses import analyse_trials
from ketsim.config.scenario import Distribution, PopulationSpec, load_scenario
from ketsim.core.pk import expm as expm_mod
from ketsim.core.pk.expm import expm_batched, expm_multiple
from ketsim.core.pk.model import N_ETA, Covariates, build_system, individual_parameters
from ketsim.core.pk.propagate import Propagator
from ketsim.core.seeds import PURPOSES, stream, streams
from ketsim.sim.population import GENE_ALLELES, _allele_cdf, sample_population, sample_populations
from ketsim.sim.trial_model import TrialModel
from ketsim.sim.trial_tables import trial_arrays

SIG = "scenarios/published/sigtermans2009.yaml"
CROSSOVER = "scenarios/designs/pickering_style_crossover.yaml"
EERW = "scenarios/designs/eerw_ketamine_infusion.yaml"


# ---------------------------------------------------------------------------------------------
# seeds
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entropy", [0, 1, 2**32 - 1, 2**32, 2**64 + 5, 2**127 + 98765, 2**200 + 3])
def test_streams_match_stream(entropy):
    """streams() gives each key exactly the generator stream() gives it (state and draws)."""
    rng = np.random.default_rng(entropy % 1000)
    keys = [
        (int(rng.integers(0, 5000)), PURPOSES[rng.integers(4)], *map(int, rng.integers(0, 60, k)))
        for k in rng.integers(0, 3, 40)
    ]
    # mixed key lengths and multi-word key elements (>= 2^32) in one call
    keys += [(3, "population"), (2**33, "behaviour", 1), (0, "measurement", 2**40, 7)]
    for g, key in zip(streams(entropy, keys), keys, strict=True):
        ref = stream(entropy, *key)
        assert g.bit_generator.state == ref.bit_generator.state, key
        assert_array_equal(g.standard_normal(7), ref.standard_normal(7))


def test_streams_spawn_and_errors():
    """The stand-in seed sequence still spawns like the real one; bad purposes are refused."""
    g = streams(5, [(2, "behaviour", 4)])[0]
    assert_array_equal(g.spawn(2)[1].random(3), stream(5, 2, "behaviour", 4).spawn(2)[1].random(3))
    assert streams(5, []) == []
    with pytest.raises(ValueError, match="unknown purpose"):
        streams(5, [(0, "nonsense")])


# ---------------------------------------------------------------------------------------------
# population
# ---------------------------------------------------------------------------------------------
SPECS = [
    PopulationSpec(n=40),
    PopulationSpec(
        n=33,
        ancestry={"european": 0.3, "african": 0.5, "east_asian": 0.2},
        comedication={"rifampicin": 0.3, "benzodiazepine": 0.5},
    ),
    PopulationSpec(n=9, cyp2b6="*6/*6"),
    PopulationSpec(n=12, weight_kg=Distribution(mean=70, sd=0, min=40, max=100)),
    PopulationSpec(n=5, typical=True),
]


def _frame(pop) -> pd.DataFrame:
    df = pop.to_frame().drop(columns=["patient"])
    for j in range(pop.eta_pk.shape[1]):
        df[f"eta{j}"] = pop.eta_pk[:, j]
    return df.reset_index(drop=True)


@pytest.mark.parametrize("spec", SPECS, ids=range(len(SPECS)))
def test_sample_populations_is_stacked_sample_population(spec):
    """A batch of replicates is bitwise the per-replicate populations, stacked."""
    reps = [4, 0, 11]
    batch = _frame(sample_populations(spec, 21, reps))
    alone = pd.concat([_frame(sample_population(spec, 21, r)) for r in reps], ignore_index=True)
    pd.testing.assert_frame_equal(batch, alone, check_exact=True)


@pytest.mark.parametrize("replicate", [0, 7])
def test_truncated_normals_are_scipy_draws(replicate):
    """Age, weight and baseline pain are bitwise truncnorm.rvs on their own streams."""
    spec = PopulationSpec(n=300)
    pop = sample_population(spec, 13, replicate)
    for attr, key in (("age_years", 1), ("weight_kg", 2), ("baseline_pain", 8)):
        d = getattr(spec, attr)
        a, b = (d.min - d.mean) / d.sd, (d.max - d.mean) / d.sd
        ref = stats.truncnorm.rvs(
            a,
            b,
            loc=d.mean,
            scale=d.sd,
            size=300,
            random_state=stream(13, replicate, "population", key),
        )
        assert_array_equal(getattr(pop, attr), ref, err_msg=attr)
    d = spec.disease_duration_years
    mu = np.log(d.median)
    a, b = (np.log(d.min) - mu) / d.sd_log, (np.log(d.max) - mu) / d.sd_log
    ref = np.exp(
        stats.truncnorm.rvs(
            a,
            b,
            loc=mu,
            scale=d.sd_log,
            size=300,
            random_state=stream(13, replicate, "population", 7),
        )
    )
    assert_array_equal(pop.disease_duration_years, ref)


def test_diplotype_labels_are_the_string_concatenation():
    """The label table gives what joining the sorted allele names gives, for every gene."""
    pop = sample_population(
        PopulationSpec(n=4000, ancestry={"european": 0.3, "african": 0.7}), entropy=2
    )
    for gene, key in (("cyp2b6", 4), ("cyp3a4", 12), ("cyp3a5", 13), ("cyp2c9", 14)):
        u = stream(2, 0, "population", key).random((4000, 2))
        cum = _allele_cdf(gene)
        a = (u[:, :, None] > cum[pop.ancestry][:, None, :]).sum(axis=2)
        names = np.array(GENE_ALLELES[gene])
        lo, hi = a.min(axis=1), a.max(axis=1)
        ref = np.char.add(np.char.add(names[lo], "/"), names[hi]).astype(object)
        assert_array_equal(getattr(pop, gene), ref, err_msg=gene)


# ---------------------------------------------------------------------------------------------
# matrix exponentials
# ---------------------------------------------------------------------------------------------
def _aug(p: int = 40) -> np.ndarray:
    rng = np.random.default_rng(31)
    ip = individual_parameters(Covariates.typical(p), eta=rng.standard_normal((p, N_ETA)))
    sysm = build_system(ip, ("iv", "subcutaneous"), ("iv", "oral"), with_auc=True)
    return Propagator(sysm).A_aug


def test_expm_multiple_is_expm_batched_per_step():
    """Shared Padé steps (t, 2t, 4t, ...) and separate ones give bitwise expm_batched(A t)."""
    A = _aug()
    ts = [24.0, 2.0, 8.0, 0.5, 1e-3, 3.0, 6.0, 0.0, 1e-300]
    for t, e in zip(ts, expm_multiple(A, ts), strict=True):
        assert_array_equal(e, expm_batched(A * t), err_msg=str(t))
    # random stacks whose norms straddle the s = 0 clamp, where the scaled matrices differ
    rng = np.random.default_rng(4)
    B = rng.standard_normal((300, 5, 5)) * np.logspace(-6, 0.5, 300)[:, None, None]
    ts = [0.25, 0.5, 1.0, 4.0, 3.0, 12.0]
    for t, e in zip(ts, expm_multiple(B, ts), strict=True):
        assert_array_equal(e, expm_batched(B * t), err_msg=str(t))


def test_expm_does_not_depend_on_chunking(monkeypatch):
    """A matrix's exponential is bitwise the same alone, in a stack, and for any chunk size."""
    A = _aug(37) * 8.0
    ref = expm_batched(A)
    for chunk in (1, 5, 16, 1000):
        monkeypatch.setattr(expm_mod, "CHUNK", chunk)
        assert_array_equal(expm_batched(A), ref)
        assert_array_equal(expm_multiple(A / 8.0, [8.0, 2.0])[0], ref)
    for i in (0, 17, 36):
        assert_array_equal(expm_batched(A[i]), ref[i])


def test_propagator_prepare_and_outputs_fast_path():
    """prepare() caches the on-demand exponentials; selected outputs equal the full product."""
    rng = np.random.default_rng(1)
    ip = individual_parameters(Covariates.typical(40), eta=rng.standard_normal((40, N_ETA)))
    p1 = Propagator(build_system(ip, ("iv", "subcutaneous"), ("iv", "oral"), with_auc=True))
    p2 = Propagator(build_system(ip, ("iv", "subcutaneous"), ("iv", "oral"), with_auc=True))
    p1.prepare([2.0, 8.0, 24.0, 8.0, 0.0])
    assert sorted(p1._phi) == [2.0, 8.0, 24.0]
    for dt in (2.0, 8.0, 24.0):
        assert_array_equal(p1.phi(dt), p2.phi(dt))
    assert p1._out_cols is not None
    z = rng.random((40, p1.A_aug.shape[1])) * 50.0
    assert_array_equal(p1.outputs(z), np.einsum("pom,pm->po", p1.C_aug, z))


# ---------------------------------------------------------------------------------------------
# whole trials
# ---------------------------------------------------------------------------------------------
def _rows(ta, r: int) -> np.ndarray:
    return np.flatnonzero(ta.replicate == r)


def _assert_same_replicates(a, b, reps) -> None:
    """Bitwise equality of every per-patient array of replicates ``reps`` in two TrialArrays."""
    for r in reps:
        ia, ib = _rows(a, r), _rows(b, r)
        assert ia.size == ib.size > 0
        for name in ("nrs", "expected_nrs", "baseline", "dropout_day", "discontinued_day"):
            x, y = getattr(a, name)[ia], getattr(b, name)[ib]
            assert x.tobytes() == y.tobytes(), (name, r)
        for name in ("group", "arm", "segment_arm", "in_study", "dropout_reason"):
            assert_array_equal(getattr(a, name)[ia], getattr(b, name)[ib], err_msg=name)
        for k in a.ae:
            assert_array_equal(a.ae[k][ia], b.ae[k][ib], err_msg=k)


def _analyses(ta, sc, r: int) -> pd.DataFrame:
    df = analyse_trials(ta, sc)
    return df[df["replicate"] == r].reset_index(drop=True)


@pytest.mark.parametrize("path", [SIG, CROSSOVER, EERW])
def test_replicates_do_not_depend_on_batch(path):
    """0..11 in one batch, as [0..4] + [5..11], and replicate 7 alone: bitwise the same rows."""
    sc = load_scenario(path)

    def run(reps):
        m = TrialModel(sc, 1, reps, with_agents=False)
        m.run_model()
        return trial_arrays(m)

    whole = run(list(range(12)))
    first, second = run(list(range(5))), run(list(range(5, 12)))
    alone = run([7])
    _assert_same_replicates(whole, first, range(5))
    _assert_same_replicates(whole, second, range(5, 12))
    _assert_same_replicates(whole, alone, [7])
    # the analyses too (MMRM buckets replicates by missing-data pattern count and Fisher sums
    # its padded support left to right for exactly this reason)
    for ta, reps in ((first, range(5)), (second, range(5, 12)), (alone, [7])):
        for r in reps:
            got, ref = _analyses(ta, sc, r), _analyses(whole, sc, r)
            pd.testing.assert_frame_equal(got, ref, check_exact=True)


def test_drug_free_patients_skip_pk_without_changing_results(monkeypatch):
    """Placebo-arm patients are not propagated, and nothing else changes (bitwise)."""
    sc = load_scenario(SIG)
    m = TrialModel(sc, 3, [0, 1], with_agents=False)
    assert m.pk_rows is not None and 0 < m.pk_rows.size < m.n
    m.run_model()
    ta = trial_arrays(m)
    # the same model with every patient propagated
    monkeypatch.setattr(TrialModel, "_drug_free_pk_shortcut", False)
    full = TrialModel(sc, 3, [0, 1], with_agents=False)
    assert full.pk_rows is None
    full.run_model()
    tb = trial_arrays(full)
    _assert_same_replicates(ta, tb, [0, 1])
    for k in m.y:
        assert m.y[k].tobytes() == full.y[k].tobytes(), k
    drug_free = np.setdiff1d(np.arange(m.n), m.pk_rows)
    assert not full.pk["S"].z[drug_free].any()
    for k, v in m.cv_max.items():
        assert_array_equal(v, full.cv_max[k], err_msg=k)
    assert len(m.events_log) == len(full.events_log)
    for (ia, ta_, ea, va), (ib, tb_, eb, vb) in zip(m.events_log, full.events_log, strict=True):
        assert ea == eb
        assert_array_equal(ia, ib)
        assert_array_equal(ta_, tb_)
        assert va.tobytes() == vb.tobytes(), ea
