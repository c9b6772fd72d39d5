"""The graphical multiple-test procedure (Bretz et al. 2009) against hand-worked examples and its
special cases (Holm, fixed sequence, fallback)."""

from __future__ import annotations

import numpy as np
import pytest

from ketsim.core import stats
from ketsim.core.stats import graphical as gr

#: two primary hypotheses at alpha/2 each, each passing its level to its secondary, the
#: secondaries passing on to the other primary (the lrstat ``fadjpbon`` example graph)
W4 = [0.5, 0.5, 0.0, 0.0]
G4 = np.array([[0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0], [1, 0, 0, 0]], float)


def test_worked_example_adjusted_p():
    # by hand with Algorithm 2: row 1 rejects H2 (0.005/0.5), H1 (0.01/0.5), H3 (0.015/0.5),
    # H4 (0.022/1, raised to the running maximum 0.03)
    p = np.array([[0.01, 0.005, 0.015, 0.022], [0.02, 0.015, 0.010, 0.023]])
    q = gr.graphical_adjust(p, W4, G4)
    np.testing.assert_allclose(q, [[0.02, 0.01, 0.03, 0.03], [0.04, 0.03, 0.04, 0.04]], atol=1e-15)


def test_secondary_needs_its_primary():
    # H3 has weight 0 and gets level only from H1: H2 and H4 fall (0.001 / 0.5), H1 then holds
    # all of alpha (adjusted 0.5 / 1), and H3, however small its p, is adjusted to H1's value
    p = np.array([0.5, 0.001, 0.0001, 0.001])
    q = gr.graphical_adjust(p, W4, G4)
    assert q[0] == q[2] == 0.5
    assert q[1] == pytest.approx(0.002) and q[3] == pytest.approx(0.002)


def test_holm_graph_is_holm():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.1, (2000, 5))
    w, g = gr.holm_graph(5)
    np.testing.assert_allclose(gr.graphical_adjust(p, w, g), stats.adjust(p, "holm"), atol=1e-14)


def test_fixed_sequence_graph_is_running_maximum():
    rng = np.random.default_rng(4)
    p = rng.uniform(0, 0.1, (2000, 4))
    w, g = gr.fixed_sequence_graph(4)
    np.testing.assert_array_equal(gr.graphical_adjust(p, w, g), np.maximum.accumulate(p, axis=1))


def test_fallback_rejections_follow_wiens_rule():
    # Wiens (2003): H_i is tested at w_i alpha plus H_{i-1}'s level if H_{i-1} was rejected
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 0.06, (4000, 3))
    w = np.array([0.5, 0.3, 0.2])
    alpha = 0.05
    rej = gr.graphical_adjust(p, *gr.fallback_graph(w)) <= alpha
    level = np.zeros(p.shape[0])
    expect = np.zeros_like(rej)
    for i in range(3):
        level = w[i] * alpha + np.where(expect[:, i - 1] if i else False, level, 0.0)
        expect[:, i] = p[:, i] <= level
    # the graph may also reject an earlier hypothesis from a later one's level: never here,
    # since the fallback graph passes only forward
    np.testing.assert_array_equal(rej, expect)


def test_failed_analysis_counts_as_not_rejected():
    q = gr.graphical_adjust(np.array([np.nan, 0.001]), *gr.holm_graph(2))
    assert q[0] == 1.0 and q[1] == pytest.approx(0.002)


def test_invalid_graphs():
    with pytest.raises(ValueError):
        gr.check_graph([0.6, 0.6], [[0, 1], [1, 0]])
    with pytest.raises(ValueError):
        gr.check_graph([0.5, 0.5], [[0.5, 0.5], [1, 0]])
    with pytest.raises(ValueError):
        gr.check_graph([0.5, 0.5], [[0, 1]])
