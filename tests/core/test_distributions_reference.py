"""ketsim.core.distributions against scipy.stats: the same bits on every branch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ketsim.core import distributions as kd

RNG = np.random.default_rng(20261207)
Q = np.concatenate([RNG.random(20_000), [0.0, 1.0, 1e-300, 1 - 1e-16, 0.5]])


def test_t_functions_are_bit_identical():
    x = RNG.normal(0, 4, Q.size)
    df = RNG.uniform(0.5, 500, Q.size)
    assert np.array_equal(kd.t_sf(x, df), stats.t.sf(x, df))
    assert np.array_equal(kd.t_cdf(x, df), stats.t.cdf(x, df))
    qq = np.clip(Q, 1e-12, 1 - 1e-12)
    assert np.array_equal(kd.t_isf(qq, df), stats.t.isf(qq, df))


def test_normal_and_beta_quantiles_are_bit_identical():
    assert np.array_equal(kd.norm_ppf(Q), stats.norm.ppf(Q))
    a, b = RNG.integers(1, 200, Q.size) + 0.0, RNG.integers(1, 200, Q.size) + 0.0
    assert np.array_equal(kd.beta_ppf(Q, a, b), stats.beta.ppf(Q, a, b))


@pytest.mark.parametrize(
    ("a", "b"),
    [(-2.0, 2.0), (-1.9, 4.3), (0.5, 3.0), (-6.0, -1.0), (-40.0, -30.0), (30.0, 40.0), (-0.1, 0.1)],
)
def test_truncnorm_quantile_is_bit_identical_on_every_branch(a, b):
    got = kd.truncnorm_ppf(Q, a, b, loc=46.0, scale=12.0)
    want = stats.truncnorm.ppf(Q, a, b, loc=46.0, scale=12.0)
    assert np.array_equal(got, want, equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-8, 8),
    st.floats(0.01, 10),
    st.floats(1e-6, 1 - 1e-6),
    st.floats(-50, 50),
    st.floats(0.01, 50),
)
def test_truncnorm_quantile_matches_for_any_bounds(a, width, q, loc, scale):
    b = a + width
    got = kd.truncnorm_ppf(np.array([q]), a, b, loc=loc, scale=scale)
    want = stats.truncnorm.ppf(np.array([q]), a, b, loc=loc, scale=scale)
    assert np.array_equal(got, want)
