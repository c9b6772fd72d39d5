"""Firth-penalised logistic regression (ketsim.core.stats.logistic) against references.

* Two-group model (intercept + treatment): the Firth estimate of the log odds ratio is the
  sample log odds ratio with 1/2 added to every cell (Firth 1993; Heinze & Schemper 2002,
  Stat Med 21:2409), finite under separation; its SE is that of the fitted probabilities
  ``(x + 1/2) / (n + 1)``. Checked over random tables including zero cells.
* With a continuous covariate: an independent maximisation of the penalised log-likelihood
  ``l(b) + 1/2 log det(X'WX)`` by scipy's BFGS, on separated and non-separated data.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special

from ketsim.core import stats


def _tables_data(tables):
    ys, gs, rs = [], [], []
    for i, (x1, n1, x0, n0) in enumerate(tables):
        ys += [1] * x1 + [0] * (n1 - x1) + [1] * x0 + [0] * (n0 - x0)
        gs += [1] * n1 + [0] * n0
        rs += [i] * (n1 + n0)
    g = np.array(gs, float)
    return np.array(ys, float), np.column_stack([np.ones_like(g), g]), np.array(rs)


table = st.tuples(st.integers(2, 30), st.integers(2, 30)).flatmap(
    lambda n: st.tuples(st.integers(0, n[0]), st.just(n[0]), st.integers(0, n[1]), st.just(n[1]))
)


@settings(max_examples=40, deadline=None)
@given(st.lists(table, min_size=1, max_size=6))
def test_two_group_firth_is_the_half_corrected_log_odds_ratio(tables):
    y, X, r = _tables_data(tables)
    e = stats.logistic(y, X, r, len(tables), firth=True)
    t = np.array(tables, float)
    x1, n1, x0, n0 = t.T
    ref = np.log((x1 + 0.5) * (n0 - x0 + 0.5) / ((n1 - x1 + 0.5) * (x0 + 0.5)))
    p1, p0 = (x1 + 0.5) / (n1 + 1), (x0 + 0.5) / (n0 + 1)
    se = np.sqrt(1 / (n1 * p1 * (1 - p1)) + 1 / (n0 * p0 * (1 - p0)))
    assert e.converged.all()
    np.testing.assert_allclose(e.estimate, ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(e.se, se, rtol=1e-7)
    assert e.name == "firth_logistic"


def _penalised_reference(y, X):
    def neg(b):
        eta = X @ b
        mu = special.expit(eta)
        info = (X * (mu * (1 - mu))[:, None]).T @ X
        _, logdet = np.linalg.slogdet(info)
        return -(np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * logdet)

    best = optimize.minimize(neg, np.zeros(X.shape[1]), method="BFGS", options={"gtol": 1e-11})
    best = optimize.minimize(
        neg,
        best.x,
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000},
    )
    return best.x


@pytest.mark.parametrize("separated", [False, True])
def test_firth_with_covariate_matches_direct_maximisation(separated):
    rng = np.random.default_rng(3 if separated else 4)
    R, n = 5, 40
    ys, Xs, rs = [], [], []
    for i in range(R):
        g = np.repeat([0.0, 1.0], n // 2)
        x = rng.normal(size=n)
        if separated:
            y = (g == 1).astype(float)  # complete separation by treatment
        else:
            y = (rng.random(n) < special.expit(-0.3 + 1.0 * g + 0.7 * x)).astype(float)
        ys.append(y)
        Xs.append(np.column_stack([np.ones(n), g, x]))
        rs.append(np.full(n, i))
    y, X, r = np.concatenate(ys), np.vstack(Xs), np.concatenate(rs)
    e = stats.logistic(y, X, r, R, coef=[1, 2], firth=True)
    assert e.converged.all() and np.isfinite(e.estimate).all()
    for i in range(R):
        ref = _penalised_reference(ys[i], Xs[i])
        np.testing.assert_allclose(e.extra["params"][i], ref, atol=1e-6)
    ml = stats.logistic(y, X, r, R, coef=[1, 2])
    if separated:
        assert not ml.converged.any()  # the MLE does not exist
    else:
        # Firth shrinks towards 0 by O(1/n) relative to ML
        assert np.all(np.abs(e.estimate[:, 0]) <= np.abs(ml.estimate[:, 0]) + 1e-12)
