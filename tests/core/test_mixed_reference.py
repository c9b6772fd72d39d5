"""REML mixed models (ketsim.core.stats.mixed): MMRM and crossover, checked against OLS identities,
statsmodels MixedLM and a slow dense REML written here; degenerate replicates; invariances."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import optimize

from ketsim.core.stats.mixed import crossover, mmrm

# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def _mmrm_data(n, n_vis, seed, *, n_rep=1, drop=0.4, intermittent=0.05, n_groups=2, rho=0.5):
    """Patients x visits outcome with heterogeneous, correlated errors, dropout and holes."""
    rng = np.random.default_rng(seed)
    p = n * n_rep
    rep = np.repeat(np.arange(n_rep), n)
    group = np.tile(np.arange(n) % n_groups, n_rep)
    base = rng.normal(6.0, 1.5, p)
    idx = np.arange(n_vis)
    sd = 1.0 + 0.2 * idx
    cov = np.outer(sd, sd) * rho ** np.abs(idx[:, None] - idx[None, :])
    y = rng.multivariate_normal(np.zeros(n_vis), cov, p)
    y += -0.3 * idx - 0.4 * group[:, None] * (idx + 1) / n_vis - 0.5 * (base[:, None] - 6.0)
    if drop:
        gone = rng.random(p) < drop
        when = rng.integers(1, n_vis, p)
        y[gone[:, None] & (idx[None, :] >= when[:, None])] = np.nan
    if intermittent:
        y[rng.random((p, n_vis)) < intermittent] = np.nan
        y[:, 0] = np.where(np.isnan(y).all(axis=1), 0.1, y[:, 0])  # keep every patient
    return y, group, base, rep


def _long(y, group, base):
    n, n_vis = y.shape
    df = pd.DataFrame(
        {
            "y": y.ravel(),
            "visit": np.tile(np.arange(n_vis), n),
            "pat": np.repeat(np.arange(n), n_vis),
            "treat": np.repeat(group, n_vis).astype(float),
            "base": np.repeat(base, n_vis),
        }
    )
    return df.dropna().reset_index(drop=True)


def _fit_mixedlm(model):
    # BFGS with a tight gradient tolerance: MixedLM's default (L-BFGS) stops ~1e-6 short of the
    # REML optimum; gtol=1e-8 is the tightest at which it still reports convergence here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(reml=True, method=["bfgs"], gtol=1e-8, maxiter=5000)
    assert res.converged
    return res


def _gls_cov(model, res):
    """(X' V^-1 X)^-1 at MixedLM's REML variance estimates.

    MixedLM's ``bse_fe`` inverts its full Hessian, whose fixed-effect/variance cross block
    (X'V^-1 dV V^-1 r) is not zero with unbalanced data, so its SEs differ from the model-based
    GLS SEs of PROC MIXED / mmrm by ~0.1-1 %; we compare with the GLS covariance at its estimates.
    """
    exog, z, groups = model.exog, model.exog_re, model.groups
    xtvx = 0.0
    for g in np.unique(groups):
        m = groups == g
        v = z[m] @ res.cov_re.to_numpy() @ z[m].T + res.scale * np.eye(m.sum())
        xtvx = xtvx + exog[m].T @ np.linalg.solve(v, exog[m])
    return np.linalg.inv(xtvx)


def _dense_reml(y, group, base, sigma_of, theta0, *, by_visit=True):
    """Slow straightforward REML: full marginal covariance per patient, scipy minimize."""
    n, n_vis = y.shape
    xs, ys = [], []
    for i in range(n):
        o = np.flatnonzero(np.isfinite(y[i]))
        row = np.array([1.0, group[i], base[i]])
        x = np.zeros((n_vis, 3 * n_vis)) if by_visit else np.zeros((n_vis, 2 * n_vis + 1))
        for v in range(n_vis):
            if by_visit:
                x[v, 3 * v : 3 * v + 3] = row
            else:
                x[v, 2 * v : 2 * v + 2] = row[:2]
                x[v, -1] = base[i]
        xs.append((o, x[o]))
        ys.append(y[i, o])

    def parts(theta):
        sig = sigma_of(theta)
        ld, xtvx, xtvy, yvy = 0.0, 0.0, 0.0, 0.0
        for (o, x), yy in zip(xs, ys, strict=True):
            s = sig[np.ix_(o, o)]
            ld += np.linalg.slogdet(s)[1]
            vi = np.linalg.inv(s)
            xtvx = xtvx + x.T @ vi @ x
            xtvy = xtvy + x.T @ vi @ yy
            yvy += yy @ vi @ yy
        cinv = np.linalg.inv(xtvx)
        beta = cinv @ xtvy
        return ld, xtvx, beta, yvy - beta @ xtvy, cinv

    def negll(theta):
        ld, xtvx, _, quad, _ = parts(theta)
        return 0.5 * (ld + np.linalg.slogdet(xtvx)[1] + quad)

    res = optimize.minimize(negll, theta0, method="BFGS", options={"gtol": 1e-10})
    if len(theta0) <= 2:
        # polish (BFGS on finite differences stops ~1e-6 short); too slow for more parameters
        res = optimize.minimize(
            negll, res.x, method="Nelder-Mead", options={"xatol": 1e-11, "fatol": 1e-14}
        )
    _, _, beta, _, cinv = parts(res.x)
    return beta, np.sqrt(np.diag(cinv)), -res.fun


# ------------------------------------------------------------------------------------------------
# MMRM
# ------------------------------------------------------------------------------------------------


def test_mmrm_complete_unstructured_equals_per_visit_ancova():
    # Seemingly unrelated regressions with identical regressors: GLS = per-visit OLS, and the
    # REML unstructured covariance is E'E/(n - b), so SEs, df and p-values also match OLS.
    y, group, base, rep = _mmrm_data(30, 4, seed=2, n_rep=3, drop=0, intermittent=0)
    est = mmrm(y, group, base, rep, 3)
    assert est.converged.all()
    for r in range(3):
        m = rep == r
        x = np.column_stack([np.ones(m.sum()), group[m], base[m]])
        for v in range(4):
            ols = sm.OLS(y[m, v], x).fit()
            np.testing.assert_allclose(est.extra["visit_estimate"][r, v], ols.params[1], atol=1e-8)
            np.testing.assert_allclose(est.extra["visit_se"][r, v], ols.bse[1], rtol=1e-8)
        assert est.df[r] == ols.df_resid
        np.testing.assert_allclose(est.p_value[r], ols.pvalues[1], rtol=1e-7)
        np.testing.assert_allclose(est.estimate[r], ols.params[1], atol=1e-8)


def test_mmrm_complete_multigroup_equals_per_visit_ancova():
    y, group, base, rep = _mmrm_data(36, 3, seed=4, n_rep=2, drop=0, intermittent=0, n_groups=3)
    est = mmrm(y, group, base, rep, 2, visit=1)
    assert est.estimate.shape == (2, 2)
    assert est.extra["visit_estimate"].shape == (2, 3, 2)
    for r in range(2):
        m = rep == r
        x = np.column_stack([np.ones(m.sum()), group[m] == 1, group[m] == 2, base[m]])
        ols = sm.OLS(y[m, 1], x).fit()
        np.testing.assert_allclose(est.estimate[r], ols.params[1:3], atol=1e-8)
        np.testing.assert_allclose(est.se[r], ols.bse[1:3], rtol=1e-8)


@pytest.mark.parametrize("by_visit", [True, False])
def test_mmrm_compound_symmetry_matches_mixedlm(by_visit):
    y, group, base, _ = _mmrm_data(40, 4, seed=1, rho=0.6)
    df = _long(y, group, base)
    cov_terms = "C(visit):base" if by_visit else "base"
    model = smf.mixedlm(
        f"y ~ 0 + C(visit) + C(visit):treat + {cov_terms}", df, groups=df["pat"], re_formula="1"
    )
    res = _fit_mixedlm(model)
    est = mmrm(
        y,
        group,
        base,
        np.zeros(40, dtype=int),
        1,
        covariance="compound_symmetry",
        covariate_by_visit=by_visit,
        tol=1e-14,
    )
    assert est.converged.all()
    names = [f"C(visit)[{v}]:treat" for v in range(4)]
    cols = [model.exog_names.index(nm) for nm in names]
    se_ref = np.sqrt(np.diag(_gls_cov(model, res)))[cols]
    np.testing.assert_allclose(est.extra["visit_estimate"][0], res.fe_params[names], rtol=1e-6)
    np.testing.assert_allclose(est.extra["visit_se"][0], se_ref, rtol=1e-6)
    np.testing.assert_allclose(est.extra["visit_se"][0], res.bse_fe[names], rtol=0.02)
    np.testing.assert_allclose(est.extra["loglik"][0], res.llf, rtol=1e-9)


def test_mmrm_unstructured_matches_mixedlm_random_visit_effects():
    # Random visit effects: V = G + s2 I with G unstructured spans the unstructured covariance
    # (over-parameterised by one: a flat ridge in s2), so the fixed effects and the marginal
    # covariance are identified though MixedLM's own parameters are not. Agreement is ~1e-8 here;
    # the tolerance leaves room for the ridge.
    y, group, base, _ = _mmrm_data(40, 4, seed=1)
    df = _long(y, group, base)
    model = smf.mixedlm(
        "y ~ 0 + C(visit) + C(visit):treat + C(visit):base",
        df,
        groups=df["pat"],
        re_formula="0 + C(visit)",
    )
    res = _fit_mixedlm(model)
    est = mmrm(y, group, base, np.zeros(40, dtype=int), 1, tol=1e-14)
    assert est.converged.all()
    names = [f"C(visit)[{v}]:treat" for v in range(4)]
    cols = [model.exog_names.index(nm) for nm in names]
    se_ref = np.sqrt(np.diag(_gls_cov(model, res)))[cols]
    np.testing.assert_allclose(est.extra["visit_estimate"][0], res.fe_params[names], rtol=1e-5)
    np.testing.assert_allclose(est.extra["visit_se"][0], se_ref, rtol=1e-5)
    sigma_ref = res.cov_re.to_numpy() + res.scale * np.eye(4)
    np.testing.assert_allclose(est.extra["covariance"][0], sigma_ref, rtol=1e-4)
    assert est.extra["loglik"][0] >= res.llf - 1e-8


def _ar1(theta, n_vis=4):
    idx = np.arange(n_vis)
    return np.exp(theta[0]) * np.tanh(theta[1]) ** np.abs(idx[:, None] - idx[None, :])


def _unstructured(theta, n_vis=3):
    low = np.zeros((n_vis, n_vis))
    low[np.tril_indices(n_vis)] = theta
    low[np.diag_indices(n_vis)] = np.exp(np.diag(low))
    return low @ low.T


@pytest.mark.parametrize(
    ("covariance", "n_vis", "sigma_of", "theta0", "by_visit"),
    [
        ("ar1", 4, _ar1, [0.0, 0.3], True),
        ("ar1", 4, _ar1, [0.0, 0.3], False),
        ("unstructured", 3, _unstructured, [0.0, 0.3, 0.0, 0.3, 0.3, 0.0], True),
    ],
)
def test_mmrm_matches_dense_reml(covariance, n_vis, sigma_of, theta0, by_visit):
    y, group, base, _ = _mmrm_data(30, n_vis, seed=7)
    beta, se, ll = _dense_reml(y, group, base, sigma_of, np.array(theta0), by_visit=by_visit)
    est = mmrm(
        y,
        group,
        base,
        np.zeros(30, dtype=int),
        1,
        covariance=covariance,
        covariate_by_visit=by_visit,
        tol=1e-14,
    )
    assert est.converged.all()
    cols = 3 * np.arange(n_vis) + 1 if by_visit else 2 * np.arange(n_vis) + 1
    np.testing.assert_allclose(est.extra["visit_estimate"][0], beta[cols], rtol=1e-5)
    np.testing.assert_allclose(est.extra["visit_se"][0], se[cols], rtol=1e-5)
    ll_const = 0.5 * (np.isfinite(y).sum() - beta.size) * np.log(2 * np.pi)
    np.testing.assert_allclose(est.extra["loglik"][0], ll - ll_const, rtol=1e-9)


@pytest.mark.parametrize("covariance", ["unstructured", "ar1", "compound_symmetry"])
def test_mmrm_degenerate_replicates_are_nan(covariance):
    n_rep, n = 8, 20
    y, group, base, rep = _mmrm_data(n, 4, seed=5, n_rep=n_rep)
    y[rep == 1] = np.where(np.isfinite(y[rep == 1]), 1.0, np.nan)  # no variance at all
    group[rep == 2] = 0  # no treated patient
    third = np.flatnonzero(rep == 3)
    y[third[3:]] = np.nan  # 3 patients: residual df 0
    y[rep == 4, -1] = np.nan  # nobody observed at the analysed visit
    y[(rep == 5) & (group == 1), -1] = np.nan  # no treated patient at the analysed visit
    y[rep == 6] = np.nan  # nobody at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = mmrm(y, group, base, rep, n_rep + 1, covariance=covariance)  # + an empty replicate
    good = np.array([True, False, False, False, False, False, False, True, False])
    np.testing.assert_array_equal(est.converged, good)
    for field in ("estimate", "se", "statistic", "p_value", "ci_low", "ci_high"):
        values = getattr(est, field)
        assert np.isfinite(values[good]).all()
        assert np.isnan(values[~good]).all()
    assert np.isnan(est.extra["visit_estimate"][~good]).all()


@pytest.mark.parametrize("covariance", ["unstructured", "ar1", "compound_symmetry"])
def test_mmrm_patient_order_and_batching_invariance(covariance):
    y, group, base, rep = _mmrm_data(30, 5, seed=11, n_rep=4)
    est = mmrm(y, group, base, rep, 4, covariance=covariance, tol=1e-14)
    perm = np.random.default_rng(0).permutation(rep.size)
    shuffled = mmrm(
        y[perm], group[perm], base[perm], rep[perm], 4, covariance=covariance, tol=1e-14
    )
    np.testing.assert_allclose(shuffled.estimate, est.estimate, rtol=1e-9)
    np.testing.assert_allclose(shuffled.se, est.se, rtol=1e-9)
    # each replicate alone gives the same answer as the batch
    for r in range(4):
        m = rep == r
        one = mmrm(
            y[m],
            group[m],
            base[m],
            np.zeros(m.sum(), dtype=int),
            1,
            covariance=covariance,
            tol=1e-14,
        )
        np.testing.assert_allclose(one.estimate[0], est.estimate[r], rtol=1e-9)
        np.testing.assert_allclose(one.se[0], est.se[r], rtol=1e-9)


def test_mmrm_outputs_and_alternatives():
    y, group, _, rep = _mmrm_data(40, 4, seed=3, n_rep=5)
    two = mmrm(y, group, None, rep, 5, covariance="ar1")
    less = mmrm(y, group, np.zeros((rep.size, 0)), rep, 5, covariance="ar1", alternative="less")
    np.testing.assert_allclose(two.estimate, less.estimate)
    np.testing.assert_allclose(two.df, 40 - 2)  # between-within df: patients - (G + q)
    t = two.statistic
    np.testing.assert_allclose(less.p_value, np.where(t < 0, two.p_value / 2, 1 - two.p_value / 2))
    assert (two.ci_low < two.estimate).all() and (two.estimate < two.ci_high).all()
    assert two.extra["covariance"].shape == (5, 4, 4)
    np.testing.assert_allclose(two.estimate, two.extra["visit_estimate"][:, -1])
    first = mmrm(y, group, None, rep, 5, covariance="ar1", visit=0)
    np.testing.assert_allclose(first.estimate, two.extra["visit_estimate"][:, 0])


def test_mmrm_rejects_bad_input():
    y, group, base, rep = _mmrm_data(10, 3, seed=0)
    with pytest.raises(ValueError):
        mmrm(y, group, base, rep, 1, covariance="toeplitz")
    with pytest.raises(ValueError):
        mmrm(y, group, base, rep + 1, 1)
    with pytest.raises(ValueError):
        mmrm(y, group, base, rep, 1, visit=3)
    with pytest.raises(ValueError):
        mmrm(y, group, base, rep, 1, alternative="both")


# ------------------------------------------------------------------------------------------------
# Crossover
# ------------------------------------------------------------------------------------------------

AB_BA = np.array([[0, 1], [1, 0]])
#: Williams design for three treatments: six sequences, balanced for first-order carry-over.
WILLIAMS3 = np.array([[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [1, 0, 2], [2, 1, 0]])


def _crossover_data(design, per_seq, seed, *, n_rep=1, miss=0.0, tau=(0.0, -1.0, -0.5), carry=None):
    rng = np.random.default_rng(seed)
    n_seq, n_per = design.shape
    seq = np.tile(np.repeat(np.arange(n_seq), per_seq), n_rep)
    rep = np.repeat(np.arange(n_rep), n_seq * per_seq)
    trt = design[seq]
    n = seq.size
    period = np.array([0.0, 0.3, 0.1, 0.2])[:n_per]
    y = rng.normal(0, 1.0, (n, 1)) + period + np.asarray(tau)[trt] + rng.normal(0, 0.7, (n, n_per))
    if carry is not None:
        y[:, 1:] += np.asarray(carry)[trt[:, :-1]]
    if miss:
        y[rng.random(y.shape) < miss] = np.nan
    return y, trt, seq, rep


def _crossover_long(y, trt, seq):
    n, n_per = y.shape
    prev = np.c_[np.zeros((n, 1), dtype=int), trt[:, :-1]]
    df = pd.DataFrame(
        {
            "y": y.ravel(),
            "period": np.tile(np.arange(n_per), n),
            "pat": np.repeat(np.arange(n), n_per),
            "treat": trt.ravel(),
            "seq": np.repeat(seq, n_per),
            "carry": np.where(np.tile(np.arange(n_per), n) > 0, prev.ravel(), 0),
        }
    )
    return df.dropna().reset_index(drop=True)


@pytest.mark.parametrize(
    ("design", "per_seq", "miss", "carryover"),
    [
        (AB_BA, 8, 0.0, False),
        (AB_BA, 8, 0.15, False),
        (WILLIAMS3, 3, 0.0, False),
        (WILLIAMS3, 3, 0.12, False),
        (WILLIAMS3, 3, 0.12, True),
    ],
)
def test_crossover_matches_mixedlm(design, per_seq, miss, carryover):
    y, trt, seq, rep = _crossover_data(design, per_seq, seed=3, miss=miss)
    df = _crossover_long(y, trt, seq)
    formula = "y ~ C(period) + C(treat) + C(seq)" + (" + C(carry)" if carryover else "")
    model = smf.mixedlm(formula, df, groups=df["pat"])
    res = _fit_mixedlm(model)
    est = crossover(y, trt, seq, rep, 1, carryover=carryover)
    k = design.max()
    names = [f"C(treat)[T.{j}]" for j in range(1, k + 1)]
    cols = [model.exog_names.index(nm) for nm in names]
    se_ref = np.sqrt(np.diag(_gls_cov(model, res)))
    assert est.converged.all()
    np.testing.assert_allclose(np.ravel(est.estimate), res.fe_params[names], rtol=1e-5)
    np.testing.assert_allclose(np.ravel(est.se), se_ref[cols], rtol=1e-5)
    np.testing.assert_allclose(est.extra["loglik"], res.llf, rtol=1e-9)
    np.testing.assert_allclose(est.extra["sigma2_within"], res.scale, rtol=1e-4)
    np.testing.assert_allclose(est.extra["sigma2_between"], res.cov_re.iloc[0, 0], rtol=1e-4)
    if carryover:
        co_names = [f"C(carry)[T.{j}]" for j in range(1, k + 1)]
        co_cols = [model.exog_names.index(nm) for nm in co_names]
        co = np.ravel(est.extra["carryover_estimate"])
        np.testing.assert_allclose(co, res.fe_params[co_names], rtol=1e-5)
        np.testing.assert_allclose(np.ravel(est.extra["carryover_se"]), se_ref[co_cols], rtol=1e-5)


@pytest.mark.parametrize(("design", "per_seq"), [(AB_BA, 8), (WILLIAMS3, 3)])
def test_crossover_complete_equals_within_patient_ols(design, per_seq):
    y, trt, seq, rep = _crossover_data(design, per_seq, seed=8, n_rep=3)
    est = crossover(y, trt, seq, rep, 3)
    k = design.max()
    names = [f"C(treat)[T.{j}]" for j in range(1, k + 1)]
    for r in range(3):
        m = rep == r
        ols = smf.ols("y ~ C(pat) + C(period) + C(treat)", _crossover_long(y[m], trt[m], seq[m]))
        ols = ols.fit()
        np.testing.assert_allclose(np.atleast_1d(est.estimate[r]), ols.params[names], atol=1e-9)
        # The REML within-patient variance is the within-patient residual mean square (the
        # between-patient variance is well inside the parameter space here), so SEs agree too.
        np.testing.assert_allclose(np.atleast_1d(est.se[r]), ols.bse[names], rtol=1e-6)
        np.testing.assert_allclose(np.atleast_1d(est.df[r]), ols.df_resid)


def test_crossover_recovers_carryover():
    carry = (0.0, 0.8, -0.4)  # carry-over of treatments 1 and 2 into the next period
    y, trt, seq, rep = _crossover_data(WILLIAMS3, 40, seed=21, carry=carry, n_rep=2)
    est = crossover(y, trt, seq, rep, 2, carryover=True)
    assert est.estimate.shape == (2, 2)
    assert est.extra["carryover_estimate"].shape == (2, 2)
    z_co = (est.extra["carryover_estimate"] - np.array(carry[1:])) / est.extra["carryover_se"]
    assert (np.abs(z_co) < 3).all()
    z_trt = (est.estimate - np.array([-1.0, -0.5])) / est.se
    assert (np.abs(z_trt) < 3).all()
    assert (est.extra["carryover_p"][:, 0] < 1e-3).all()
    # Without carry-over in the model the direct effects absorb it (biased, and the residual
    # variance is inflated); with it they are estimated from fewer comparisons, so their
    # variance factor se / sigma_within grows.
    naive = crossover(y, trt, seq, rep, 2)
    factor = est.se / np.sqrt(est.extra["sigma2_within"])[:, None]
    naive_factor = naive.se / np.sqrt(naive.extra["sigma2_within"])[:, None]
    assert (factor > 1.05 * naive_factor).all()
    assert (np.abs(naive.estimate - np.array([-1.0, -0.5])) / naive.se > 3).any()


def test_crossover_degenerate_replicates():
    y, trt, seq, rep = _crossover_data(WILLIAMS3, 4, seed=5, n_rep=7)
    y[rep == 1] = 1.0  # no variance
    y[rep == 2] = np.nan  # nobody
    y[(rep == 3)[:, None] & (trt == 2)] = np.nan  # treatment 2 never observed
    y[(rep == 4) & (seq == 3)] = np.nan  # a sequence with no data: dropped, still estimable
    y[np.flatnonzero(rep == 5)[2:]] = np.nan  # two patients: no within-patient df
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = crossover(y, trt, seq, rep, 8)
    expect = np.array([[1, 1], [0, 0], [0, 0], [1, 0], [1, 1], [0, 0], [1, 1], [0, 0]], bool)
    np.testing.assert_array_equal(est.converged, expect)
    assert np.isfinite(est.estimate[expect]).all() and np.isnan(est.estimate[~expect]).all()
    assert np.isnan(est.p_value[~expect]).all()
    # AB/BA with carry-over: carry-over is aliased with the sequence effect.
    y2, trt2, seq2, rep2 = _crossover_data(AB_BA, 6, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aliased = crossover(y2, trt2, seq2, rep2, 1, carryover=True)
    assert not aliased.converged.any() and np.isnan(aliased.estimate).all()
    assert aliased.estimate.shape == (1,)


def test_crossover_patient_order_invariance_and_control_code():
    y, trt, seq, rep = _crossover_data(WILLIAMS3, 3, seed=9, n_rep=4, miss=0.1)
    est = crossover(y, trt, seq, rep, 4)
    perm = np.random.default_rng(1).permutation(rep.size)
    shuffled = crossover(y[perm], trt[perm], seq[perm], rep[perm], 4)
    np.testing.assert_allclose(shuffled.estimate, est.estimate, rtol=1e-8)
    np.testing.assert_allclose(shuffled.se, est.se, rtol=1e-8)
    # Recoding the control: 2 vs 0 = (2 vs 1) - (0 vs 1); the fit itself is unchanged.
    ctl1 = crossover(y, trt, seq, rep, 4, control=1)
    np.testing.assert_allclose(ctl1.estimate[:, 1] - ctl1.estimate[:, 0], est.estimate[:, 1])
    np.testing.assert_allclose(ctl1.se[:, 0], est.se[:, 0], rtol=1e-8)


def test_crossover_rejects_bad_input():
    y, trt, seq, rep = _crossover_data(AB_BA, 3, seed=0)
    with pytest.raises(ValueError):
        crossover(y, trt[:, :1], seq, rep, 1)
    with pytest.raises(ValueError):
        crossover(y, trt - 1, seq, rep, 1)
    with pytest.raises(ValueError):
        crossover(y, trt, seq, rep, 1, alternative="two")
