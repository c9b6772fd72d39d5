"""Gaussian discrimination between hypotheses: analytic accuracies and its invariants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ketsim.core.stats.discrimination import discriminate, gaussian_log_density


def test_log_density_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + np.eye(3)
    mean = np.array([1.0, -2.0, 0.5])
    x = rng.normal(size=(5, 3))
    ref = stats.multivariate_normal(mean, cov).logpdf(x)
    np.testing.assert_allclose(gaussian_log_density(x, mean, cov), ref, rtol=1e-12)


@pytest.mark.parametrize("d", [0.5, 1.0, 2.0])
def test_two_normals_accuracy_is_phi_of_half_the_separation(d):
    """N(0,1) vs N(d,1), equal priors: the MAP rule is x > d/2, correct with P = Phi(d/2).

    Fitted (not known) means and variances, so the tolerance is 4 MC SEs plus a small allowance
    for the fitted boundary (n = 20,000 per hypothesis: both are ~0.005)."""
    rng = np.random.default_rng(7)
    n = 20_000
    res = discriminate({"a": rng.normal(0, 1, (n, 1)), "b": rng.normal(d, 1, (n, 1))})
    expected = stats.norm.cdf(d / 2)
    assert abs(res.accuracy - expected) <= 4 * res.accuracy_se + 0.005
    # decisive at 0.9: posterior of the truth >= 0.9 <=> likelihood ratio >= 9
    # <=> x > d/2 + ln 9 / d (under b), so P = Phi(d/2 - ln 9 / d)
    dec = stats.norm.cdf(d / 2 - np.log(9) / d)
    assert abs(res.decisive - dec) <= 4 * res.decisive_se + 0.005
    np.testing.assert_allclose(res.confusion.sum(axis=1), 1.0)


def test_identical_hypotheses_cannot_be_told_apart():
    rng = np.random.default_rng(3)
    x = {h: rng.normal(size=(4000, 2)) for h in ("a", "b", "c")}
    res = discriminate(x)
    assert abs(res.accuracy - 1 / 3) <= 4 * res.accuracy_se + 0.01
    assert res.decisive < 0.01


def test_a_second_statistic_adds_information():
    """Two hypotheses equal in the first statistic and different in the second."""
    rng = np.random.default_rng(5)
    n = 3000
    a = np.column_stack([rng.normal(0, 1, n), rng.normal(0, 1, n)])
    b = np.column_stack([rng.normal(0, 1, n), rng.normal(3, 1, n)])
    one = discriminate({"a": a[:, :1], "b": b[:, :1]})
    two = discriminate({"a": a, "b": b})
    assert two.accuracy > one.accuracy + 0.3


def test_failed_fits_are_dropped_and_too_few_rows_refused():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(50, 1))
    a[::5] = np.nan
    res = discriminate({"a": a, "b": rng.normal(5, 1, (50, 1))})
    assert res.n.tolist() == [40, 50]
    with pytest.raises(ValueError, match="complete trials"):
        discriminate({"a": a[:3], "b": a[:3]})


def test_prior_weights_shift_the_map_rule():
    rng = np.random.default_rng(9)
    x = {"a": rng.normal(0, 1, (4000, 1)), "b": rng.normal(0.5, 1, (4000, 1))}
    even = discriminate(x)
    tilted = discriminate(x, weights={"a": 0.9, "b": 0.1})
    assert tilted.confusion[0, 0] > even.confusion[0, 0]
    assert tilted.confusion[1, 1] < even.confusion[1, 1]
