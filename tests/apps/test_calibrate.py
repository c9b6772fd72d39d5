"""``ketsim calibrate``: parameter table, discrepancies, and recovery of known parameters from
targets the model itself generated."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ketsim.apps.calibrate.parameters import UNCERTAIN, UncertainParameter, parameters_for
from ketsim.apps.calibrate.targets import Target, TargetSet, discrepancy
from ketsim.core.pd.parameters import LASTING_EFFECTS, PDParameters

pyabc = pytest.importorskip("pyabc")

from ketsim.apps.calibrate.abc_fit import (  # noqa: E402 - needs pyabc
    FitSettings,
    OrderedSampler,
    default_min_epsilon,
    particle_seed,
    replicates_at,
)
from ketsim.apps.calibrate.run import calibrate, weighted_quantile  # noqa: E402

HYP = "sustained_blockade"
TRUE_NONRESPONDER_RELIEF = 0.30
REG = [{"route": "iv_infusion", "rate": "0.3 mg/kg/h", "duration": "1 h"}]


def _scenario(expected: list[dict]) -> dict:
    """A tiny 1-week trial, 10 per arm; day-1 change from baseline drives the targets."""
    return {
        "name": "tiny",
        "drug": "S-ketamine",
        "parameter_set": "noppers2011",
        "population": {"indication": "crps1"},
        "arms": [
            {"name": "ketamine", "n": 10, "treatment": "ketamine", "regimens": REG},
            {"name": "placebo", "n": 10, "treatment": "placebo", "regimens": REG},
        ],
        "trial": {"weeks": 1, "baseline_days": 3, "start_hour": 8, "diary_hour": 20},
        "expected": expected,
    }


def _target(arm: str, value: float, se: float) -> dict:
    return {
        "name": arm,
        "quantity": "arm_mean",
        "arm": arm,
        "measure": "day",
        "day": 1,
        "scale": "change_from_baseline",
        "value": value,
        "se": se,
        "tolerance": {"k_se": 2},
        "source": "synthetic: the model at the true value",
    }


PARAM = UncertainParameter(
    "placebo_relief_nonresponder", "shared", 0.0, 0.6, "linear", "test prior", "L"
)


@pytest.fixture(scope="module")
def synthetic() -> TargetSet:
    """Targets simulated at the true value with 200 replicates and another seed than the fit's;
    published SEs those of one 10-patient arm (about 0.25 and 0.35 NRS)."""
    gen = TargetSet.from_mappings(
        [_scenario([_target("placebo", 0, 1), _target("ketamine", 0, 1)])]
    )
    x = gen.simulate(HYP, {PARAM.name: TRUE_NONRESPONDER_RELIEF}, 200, entropy=999)
    return TargetSet.from_mappings(
        [
            _scenario(
                [
                    _target("placebo", x["tiny/placebo"], 0.25),
                    _target("ketamine", x["tiny/ketamine"], 0.35),
                ]
            )
        ]
    )


SETTINGS = FitSettings(HYP, population=20, generations=4, replicates=(4, 8))
#: a smaller fit for the jobs comparison (worker start-up dominates it)
SMALL = FitSettings(HYP, population=8, generations=2, replicates=(2, 4))


@pytest.fixture(scope="module")
def fit(synthetic, tmp_path_factory):
    out = tmp_path_factory.mktemp("cal") / "run1"
    return calibrate(synthetic, [PARAM], SETTINGS, seed=5, jobs=1, out=out)


# -- the table --------------------------------------------------------------------------------
def test_every_uncertain_parameter_is_a_pd_field_with_its_default_inside_the_prior():
    for p in UNCERTAIN:
        assert p.confidence in ("H", "M", "L") and p.source
        for h in LASTING_EFFECTS:
            if p.hypothesis in (h, "shared"):
                assert p.low <= p.default(h) <= p.high, (p.name, h)
    assert PDParameters().blockade_threshold_ng_ml == parameters_for(HYP)[0].default(HYP)


def test_parameters_for_selects_hypothesis_and_rejects_foreign_names():
    names = [p.name for p in parameters_for("dahan")]
    assert "slow_gamma" in names and "placebo_relief" in names
    assert "blockade_gamma" not in names
    with pytest.raises(ValueError, match="not an uncertain parameter"):
        parameters_for("dahan", ["blockade_gamma"])
    p = parameters_for(HYP, ["blockade_m50_h"])[0]
    assert p.to_natural(p.to_internal(0.6)) == pytest.approx(0.6)
    assert p.internal_bounds == pytest.approx((-1.0, 1.0))


# -- discrepancies ----------------------------------------------------------------------------
def test_discrepancy_combines_published_and_monte_carlo_se():
    t = Target("s/x", "s", "point", 2.0, 0.3, 1.4, 2.6)
    assert discrepancy(t, 2.5, 0.4) == pytest.approx(0.5 / 0.5)
    b = Target("s/f", "s", "bound", 0.85, 0.05, 0.85, math.inf)
    assert discrepancy(b, 0.9, 0.03) == 0.0
    assert discrepancy(b, 0.75, 0.0) == pytest.approx(2.0)
    z = Target("s/p", "s", "z", 0.05, 1.0, 0.0, 1.0, sides=2)
    assert discrepancy(z, 0.05, 0.0) == pytest.approx(0.0, abs=1e-12)
    assert discrepancy(z, 2 * (1 - 0.9986501019683699), 0.0) == pytest.approx(3.0 - 1.959964, 1e-5)
    assert discrepancy(t, math.nan, 0.1) == 10.0


def test_default_min_epsilon_is_the_chi_95_point():
    # chi-square 95% points: 3.841 (1 df), 5.991 (2 df), 18.307 (10 df)
    for k, q in ((1, 3.841459), (2, 5.991465), (10, 18.307038)):
        assert default_min_epsilon(k) ** 2 == pytest.approx(q, rel=1e-6)


def test_replicate_schedule_doubles_to_the_cap():
    assert [replicates_at(t, (5, 20)) for t in (-1, 0, 1, 2, 3)] == [5, 5, 10, 20, 20]


def test_weighted_quantile_of_equal_weights_is_the_midpoint_quantile():
    x = np.arange(1.0, 11.0)
    assert weighted_quantile(x, np.ones(10), 0.5)[0] == pytest.approx(5.5)
    assert weighted_quantile(x, np.r_[np.zeros(9), 1.0], 0.5)[0] == 10.0


# -- the sampler: independent of the number of workers -----------------------------------------
def test_particle_seeds_follow_the_seed_tree():
    a, b = particle_seed(7, 0, 3), particle_seed(7, 0, 4)
    assert a.dtype == np.uint32 and a.size == 4 and not np.array_equal(a, b)
    assert np.array_equal(a, particle_seed(7, 0, 3))
    assert not np.array_equal(particle_seed(7, -1, 3), particle_seed(7, 0, 3))


class _P:
    def __init__(self, v):
        self.accepted, self.value, self.preliminary = v < 0.3, v, False


def _draw():
    return _P(float(np.random.uniform()))  # noqa: NPY002 - as pyabc draws


def test_ordered_sampler_keeps_the_index_order_prefix():
    one = OrderedSampler(11, jobs=1)
    s = one.sample_until_n_accepted(5, _draw, 0)
    ref = []
    for i in range(200):
        np.random.seed(particle_seed(11, 0, i))  # noqa: NPY002
        ref.append(float(np.random.uniform()))  # noqa: NPY002
        if sum(v < 0.3 for v in ref) == 5:
            break
    assert [p.value for p in s.all_particles] == [v for v in ref if v < 0.3]
    assert one.nr_evaluations_ == len(ref)


# -- recovery from synthetic targets -----------------------------------------------------------
def test_calibration_recovers_the_true_parameter(fit):
    post = fit.posterior
    w = post["weight"].to_numpy()
    x = post[PARAM.name].to_numpy()
    assert w.sum() == pytest.approx(1.0)
    lo, med, hi = weighted_quantile(x, w, [0.025, 0.5, 0.975])
    sd = math.sqrt(np.sum(w * (x - np.sum(w * x)) ** 2))
    # the data inform the parameter: the posterior is narrower than the U(0, 0.6) prior
    assert sd < 0.6 / math.sqrt(12) * 0.7
    assert lo <= TRUE_NONRESPONDER_RELIEF <= hi
    # the median within 2 posterior SDs of the truth
    assert abs(med - TRUE_NONRESPONDER_RELIEF) <= 2 * sd
    g = fit.generations
    assert g.epsilon.is_monotonic_decreasing and (g.acceptance_rate > 0).all()
    assert (g.ess > 1).all() and (g.ess <= SETTINGS.population + 1e-9).all()
    ppc = fit.ppc.set_index("target")
    assert set(ppc.index) == {"tiny/placebo", "tiny/ketamine"}
    assert (ppc.p_inside > 0.5).all()


def test_run_directory_is_complete_and_resumes_to_the_same_posterior(fit, synthetic):
    d = fit.path
    for f in (
        "manifest.json",
        "posterior.parquet",
        "populations.parquet",
        "predictive.parquet",
        "generations.csv",
        "parameters.csv",
        "ppc.csv",
        "calibration.html",
        "abc.db",
    ):
        assert (d / f).is_file(), f
    html = (d / "calibration.html").read_text()
    assert "Posterior-predictive check" in html and "data:image/png;base64" in html
    again = calibrate(synthetic, [PARAM], SETTINGS, seed=5, jobs=1, out=d, page=False)
    assert again.resumed
    pd.testing.assert_frame_equal(again.posterior, fit.posterior)


def test_same_fit_with_one_and_two_jobs(synthetic, tmp_path):
    one = calibrate(synthetic, [PARAM], SMALL, seed=8, jobs=1, out=tmp_path / "a", page=False)
    two = calibrate(synthetic, [PARAM], SMALL, seed=8, jobs=2, out=tmp_path / "b", page=False)
    pd.testing.assert_frame_equal(two.posterior, one.posterior)
    pd.testing.assert_frame_equal(two.generations, one.generations)
    assert len(one.generations) == 2


def test_simulated_targets_are_those_of_ketsim_validate():
    from ketsim.apps.published_checks import validate_scenario

    ts = TargetSet.from_files(["scenarios/published/dahan2011.yaml"])
    ts = TargetSet.from_mappings(
        [
            _scenario([_target("placebo", -1.0, 0.3), _target("ketamine", -2.0, 0.3)]),
            ts.data[ts.names[0]],
        ]
    )
    x = ts.simulate(HYP, {PARAM.name: 0.2}, 6, entropy=42)
    for name in ts.names:
        df = validate_scenario(ts.scenario(name, HYP, {PARAM.name: 0.2}), replicates=6, seed=42)
        keys = [t.key for t in ts.targets if t.scenario == name]
        np.testing.assert_array_equal([x[k] for k in keys], df["simulated"].to_numpy(float))
        np.testing.assert_array_equal([x[k + "|se"] for k in keys], df["mc_se"].to_numpy(float))


def test_cli_rejects_a_parameter_the_hypothesis_does_not_declare(capsys):
    from ketsim.apps.cli import main

    assert main(["calibrate", "--hypothesis", "dahan", "--parameters", "blockade_gamma"]) == 2
    assert "not an uncertain parameter of dahan" in capsys.readouterr().err
    assert main(["calibrate", "--hypothesis", "dahan", "--population", "1"]) == 2


def test_a_run_interrupted_mid_way_resumes_to_the_uninterrupted_posterior(
    synthetic, tmp_path, monkeypatch
):
    s = FitSettings(HYP, population=6, generations=3, replicates=(1, 4), min_epsilon=1.9)
    ref = calibrate(synthetic, [PARAM], s, seed=3, out=tmp_path / "ref", page=False)
    assert len(ref.generations) == 3
    orig = OrderedSampler.sample_until_n_accepted

    def dies_at_generation_2(self, *a, **kw):
        if kw.get("t", a[2] if len(a) > 2 else None) == 2:
            raise KeyboardInterrupt
        return orig(self, *a, **kw)

    monkeypatch.setattr(OrderedSampler, "sample_until_n_accepted", dies_at_generation_2)
    with pytest.raises(KeyboardInterrupt):
        calibrate(synthetic, [PARAM], s, seed=3, out=tmp_path / "cut", page=False)
    monkeypatch.setattr(OrderedSampler, "sample_until_n_accepted", orig)
    again = calibrate(synthetic, [PARAM], s, seed=3, out=tmp_path / "cut", page=False)
    assert again.resumed
    pd.testing.assert_frame_equal(again.posterior, ref.posterior)
    pd.testing.assert_frame_equal(again.generations, ref.generations)


def test_particle_evaluation_leaves_the_callers_global_generators_alone():
    import random

    import numpy as np

    from ketsim.apps.calibrate.abc_fit import _evaluate

    np.random.seed(123)  # noqa: NPY002 - the state under test
    random.seed(123)
    before = (np.random.get_state()[1].copy(), random.getstate())  # noqa: NPY002
    draws = _evaluate(lambda: (np.random.random(), random.random()), 7, 0, 0, 3)  # noqa: NPY002
    assert len(set(draws)) == 3  # each particle its own seed
    assert np.array_equal(np.random.get_state()[1], before[0])  # noqa: NPY002
    assert random.getstate() == before[1]
    assert _evaluate(lambda: (np.random.random(), random.random()), 7, 0, 0, 3) == draws  # noqa: NPY002
