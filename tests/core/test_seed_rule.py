"""One rule decides a run's root entropy; auxiliary streams are named and outside the replicates."""

from __future__ import annotations

import numpy as np
import pytest

from ketsim.core import seeds


def test_argument_then_scenario_then_fresh():
    assert seeds.root_entropy(5, 7) == 5
    assert seeds.root_entropy(None, 7) == 7
    assert seeds.root_entropy(0, 7) == 0  # 0 is a seed, not "no seed"
    a, b = seeds.root_entropy(None, None), seeds.root_entropy(None, None)
    assert a != b and a.bit_length() <= 128
    assert seeds.given_entropy(None, None) is None


def test_auxiliary_streams_are_the_recorded_spawn_keys():
    """Bitwise the streams the engine and validation drew before they were named."""
    for purpose, key in ((("sample_size_bootstrap", 2**41)), ("validation_bootstrap", 2**42)):
        ref = np.random.default_rng(np.random.SeedSequence(123, spawn_key=(key,)))
        assert np.array_equal(seeds.auxiliary_stream(123, purpose).random(5), ref.random(5))
    with pytest.raises(ValueError, match="unknown auxiliary stream"):
        seeds.auxiliary_stream(1, "nope")


def test_auxiliary_keys_are_outside_every_replicate():
    keys = [*seeds.AUXILIARY.values(), seeds.TRUTH_REPLICATE]
    assert len(set(keys)) == len(keys)
    assert min(keys) >= 2**40  # replicate indices are bounded far below this


def test_auxiliary_streams_never_share_a_key():
    from ketsim.core.seeds import AUXILIARY, TRUTH_REPLICATE

    keys = [*AUXILIARY.values(), TRUTH_REPLICATE]
    assert len(set(keys)) == len(keys)
