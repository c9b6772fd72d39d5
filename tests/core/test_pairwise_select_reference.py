"""Pairwise-difference order statistics by selection against sorting the differences."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ketsim.core.stats import pairwise_select
from ketsim.core.stats.pairwise_select import select_differences


def _brute(x, y, ranks):
    return np.sort(np.subtract.outer(x, y).ravel())[ranks]


@settings(max_examples=60, deadline=None)
@given(
    x=st.lists(st.integers(0, 10), min_size=1, max_size=40),
    y=st.lists(st.integers(0, 10), min_size=1, max_size=40),
    data=st.data(),
)
def test_tied_integer_scores_match_sorting(x, y, data):
    """Heavy ties (NRS-like scores): the selected values are those of the sorted differences."""
    x, y = np.array(x, float), np.array(y, float)
    ranks = data.draw(st.lists(st.integers(0, x.size * y.size - 1), min_size=1, max_size=4))
    expected = _brute(x, y, ranks)
    np.testing.assert_array_equal(select_differences(x, y, ranks), expected)
    with pytest.MonkeyPatch.context() as mp:  # force the pivot steps on small inputs too
        mp.setattr(pairwise_select, "_GATHER", 2)
        np.testing.assert_array_equal(select_differences(x, y, ranks), expected)


@pytest.mark.parametrize("m,n", [(300, 257), (1, 5000), (4000, 3)])
def test_continuous_values_bit_identical_beyond_the_gather_threshold(m, n, monkeypatch):
    """With a small gather threshold the pivot steps run; results stay bit-identical."""
    monkeypatch.setattr(pairwise_select, "_GATHER", 64)
    rng = np.random.default_rng(m * 7 + n)
    x = rng.normal(3.0, 1.7, m) * 1e-3 + rng.normal(size=m)
    y = rng.standard_t(3, n)
    M = m * n
    ranks = [0, (M - 1) // 2, M // 2, M - 1, M // 40]
    np.testing.assert_array_equal(select_differences(x, y, ranks), _brute(x, y, ranks))


def test_rank_outside_range_is_refused():
    with pytest.raises(ValueError, match="ranks must lie"):
        select_differences(np.ones(2), np.ones(3), [6])
