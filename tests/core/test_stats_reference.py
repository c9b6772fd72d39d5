"""Vectorised replicate-trial analyses (ketsim.core.stats) against scipy/statsmodels, per
replicate."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.duration.survfunc import survdiff
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep

from ketsim.core import stats as ks
from ketsim.core.stats import two_sample
from ketsim.core.stats.estimates import Estimate, p_from_t

ALTS = ("two-sided", "less", "greater")
CLOSED = {"rtol": 1e-10, "atol": 1e-10}  # closed-form results
ITER = {"rtol": 1e-6, "atol": 1e-6}  # iterative fits


def _trials(seed: int, n_rep: int, n_min: int = 3, n_max: int = 15, n_groups: int = 2):
    """Patients of ``n_rep`` replicates with random arm sizes, in shuffled order."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(n_min, n_max + 1, size=(n_rep, n_groups))
    rep = np.repeat(np.arange(n_rep), sizes.sum(axis=1))
    group = np.concatenate([np.repeat(np.arange(n_groups), s) for s in sizes])
    perm = rng.permutation(rep.size)
    return rng, rep[perm], group[perm]


def _nrs(rng: np.random.Generator, group: np.ndarray, shift: float = -0.8) -> np.ndarray:
    """Integer 0-10 pain scores (many ties)."""
    return np.clip(np.round(6 + shift * group + rng.normal(0, 2, group.size)), 0, 10)


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------------------------
# two-sample t
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("welch", [False, True])
@pytest.mark.parametrize("alternative", ALTS)
def test_two_sample_t_matches_scipy(welch, alternative, no_warnings):
    rng, rep, group = _trials(1, 40)
    y = rng.normal(5, 2, rep.size) + 0.7 * group + 0.5 * rng.normal(size=rep.size) * group
    y[rng.uniform(size=y.size) < 0.1] = np.nan  # missing: dropped
    est = ks.two_sample_t(y, group, rep, 40, welch=welch, alternative=alternative, conf_level=0.9)
    assert isinstance(est, Estimate) and est.converged.all()
    for i in range(40):
        a = y[(rep == i) & (group == 1) & ~np.isnan(y)]
        b = y[(rep == i) & (group == 0) & ~np.isnan(y)]
        res = stats.ttest_ind(a, b, equal_var=not welch, alternative=alternative)
        # our CI is always two-sided
        ci = stats.ttest_ind(a, b, equal_var=not welch).confidence_interval(0.9)
        got = [est.estimate[i], est.statistic[i], est.df[i], est.p_value[i]]
        want = [a.mean() - b.mean(), res.statistic, res.df, res.pvalue]
        np.testing.assert_allclose(got, want, **CLOSED)
        np.testing.assert_allclose([est.ci_low[i], est.ci_high[i]], [ci.low, ci.high], **CLOSED)


def test_two_sample_t_degenerate(no_warnings):
    rep = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4])
    group = np.array([0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1])
    y = np.array([1, 2, 3, 4, 4, 4, 4, 1, 2, 1, 2, 3, np.nan, 1.0, 3, 2, 5])
    # rep 0: no treatment; rep 1: constant y; rep 2: n = 1 + 1 (df 0);
    # rep 3: treatment n = 1 after missing (pooled fine, Welch undefined); rep 4: fine
    pooled = ks.two_sample_t(y, group, rep, 5)
    welch = ks.two_sample_t(y, group, rep, 5, welch=True)
    np.testing.assert_array_equal(pooled.converged, [False, False, False, True, True])
    np.testing.assert_array_equal(welch.converged, [False, False, False, False, True])
    for est in (pooled, welch):
        bad = ~est.converged
        for field in ("estimate", "se", "statistic", "p_value", "ci_low", "ci_high"):
            assert np.all(np.isnan(getattr(est, field)[bad]))
        assert not est.reject(0.05)[bad].any()


def test_two_sample_t_type1_error():
    rng = np.random.default_rng(2024)
    n_rep, n = 4000, 20
    rep = np.repeat(np.arange(n_rep), 2 * n)
    group = np.tile(np.repeat([0, 1], n), n_rep)
    y = rng.normal(size=rep.size)
    rate = ks.two_sample_t(y, group, rep, n_rep).reject(0.05).mean()
    assert abs(rate - 0.05) <= 4 * np.sqrt(0.05 * 0.95 / n_rep)


# --------------------------------------------------------------------------------------------
# OLS / ANCOVA
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ALTS)
def test_ols_matches_statsmodels(alternative, no_warnings):
    rng, rep, group = _trials(3, 30, n_min=4)
    base = rng.normal(6, 1.5, rep.size)
    y = 1 + 0.8 * base - 1.0 * group + rng.normal(0, 1.5, rep.size)
    y[rng.uniform(size=y.size) < 0.08] = np.nan
    X = np.column_stack([np.ones(rep.size), group, base])
    single = ks.ols(y, X, rep, 30, coef=1, alternative=alternative)
    multi = ks.ols(y, X, rep, 30, coef=[1, 2], alternative=alternative, conf_level=0.8)
    assert single.estimate.shape == (30,) and multi.estimate.shape == (30, 2)
    assert multi.extra["cov"].shape == (30, 2, 2)
    for i in range(30):
        m = (rep == i) & ~np.isnan(y)
        fit = sm.OLS(y[m], X[m]).fit()
        t = fit.t_test(np.eye(3)[1:])
        p_ref = fit.pvalues[1:] if alternative == "two-sided" else None
        np.testing.assert_allclose(multi.estimate[i], fit.params[1:], **CLOSED)
        np.testing.assert_allclose(multi.se[i], fit.bse[1:], **CLOSED)
        np.testing.assert_allclose(multi.statistic[i], np.ravel(t.tvalue), **CLOSED)
        np.testing.assert_allclose(multi.extra["cov"][i], fit.cov_params()[1:, 1:], **CLOSED)
        np.testing.assert_allclose(multi.df[i], fit.df_resid, **CLOSED)
        ci = fit.conf_int(alpha=0.2)[1:]
        np.testing.assert_allclose(multi.ci_low[i], ci[:, 0], **CLOSED)
        np.testing.assert_allclose(multi.ci_high[i], ci[:, 1], **CLOSED)
        if p_ref is not None:
            np.testing.assert_allclose(multi.p_value[i], p_ref, **CLOSED)
        else:
            tt = stats.t(fit.df_resid)
            tail = tt.cdf if alternative == "less" else tt.sf
            np.testing.assert_allclose(multi.p_value[i], tail(fit.tvalues[1:]), **CLOSED)
        np.testing.assert_allclose(single.p_value[i], multi.p_value[i, 0], **CLOSED)


def test_ols_rank_deficient_and_small(no_warnings):
    rng, rep, group = _trials(4, 6, n_min=4)
    y = rng.normal(size=rep.size)
    stratum = rng.integers(0, 2, rep.size).astype(float)
    stratum[rep == 2] = 1.0  # constant within replicate 2 -> collinear with the intercept
    y[(rep == 4) & (np.arange(rep.size) % 7 != 0)] = np.nan  # replicate 4: n <= k
    X = np.column_stack([np.ones(rep.size), group, stratum])
    est = ks.ols(y, X, rep, 6, coef=[1, 2])
    expected = np.ones(6, bool)
    expected[[2, 4]] = False
    np.testing.assert_array_equal(est.converged, expected)
    assert np.all(np.isnan(est.p_value[~expected])) and np.all(np.isnan(est.extra["cov"][2]))
    assert np.all(np.isfinite(est.p_value[expected]))


@pytest.mark.parametrize("n_groups", [2, 3])
def test_ancova_matches_statsmodels_formula(n_groups, no_warnings):
    rng, rep, group = _trials(5, 25, n_min=6, n_groups=n_groups)
    base = rng.normal(6, 1.5, rep.size)
    site = rng.integers(0, 3, rep.size)
    y = 2 + 0.6 * base - 0.7 * group + 0.3 * site + rng.normal(0, 1.2, rep.size)
    y[rng.uniform(size=y.size) < 0.05] = np.nan
    base[rng.uniform(size=y.size) < 0.03] = np.nan  # missing covariate: patient dropped
    est = ks.ancova(y, group, base, rep, 25, strata=site)
    K = n_groups - 1
    assert est.estimate.shape == ((25,) if K == 1 else (25, K))
    names = [f"C(g)[T.{g}]" for g in range(1, n_groups)]
    for i in range(25):
        df = pd.DataFrame({"y": y, "g": group, "b": base, "s": site})[rep == i].dropna()
        fit = smf.ols("y ~ C(g) + b + C(s)", df).fit()
        if not est.converged[i]:  # only a replicate lacking a site level may fail
            assert df["s"].nunique() < 3
            continue
        np.testing.assert_allclose(est.estimate[i], fit.params[names], **CLOSED)
        np.testing.assert_allclose(est.se[i], fit.bse[names], **CLOSED)
        np.testing.assert_allclose(est.p_value[i], fit.pvalues[names], **CLOSED)
        np.testing.assert_allclose(
            est.extra["cov"][i], fit.cov_params().loc[names, names], **CLOSED
        )
    assert est.converged.mean() > 0.8


def test_ancova_absent_group_and_dunnett_row(no_warnings):
    rep, group, y = _dunnett_data(21, 5, 3, 6)
    keep = ~((rep == 1) & (group == 2))  # replicate 1 has no patient in group 2
    rep, group, y = rep[keep], group[keep], y[keep]
    est = ks.ancova(y, group, None, rep, 5)
    np.testing.assert_array_equal(est.converged, [True, False, True, True, True])
    assert np.isnan(est.p_value[1]).all() and np.isnan(est.extra["cov"][1]).all()
    adj = ks.dunnett(est.statistic, est.df, est.extra["cov"])
    assert np.isnan(adj[1]).all() and np.isfinite(adj[[0, 2, 3, 4]]).all()


# --------------------------------------------------------------------------------------------
# Mann-Whitney / Hodges-Lehmann
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ALTS)
def test_mann_whitney_matches_scipy(alternative, no_warnings):
    rng, rep, group = _trials(6, 60, n_min=2, n_max=20)
    y = _nrs(rng, group)
    y[rng.uniform(size=y.size) < 0.1] = np.nan
    est = ks.mann_whitney(y, group, rep, 60, alternative=alternative)
    assert est.statistic_name == "U" and est.converged.all()
    for i in range(60):
        a = y[(rep == i) & (group == 1) & ~np.isnan(y)]
        b = y[(rep == i) & (group == 0) & ~np.isnan(y)]
        res = stats.mannwhitneyu(a, b, alternative=alternative, method="asymptotic")
        np.testing.assert_allclose(est.p_value[i], res.pvalue, rtol=0, atol=1e-10)
        assert est.statistic[i] == res.statistic  # U of the treatment group


def _moses_reference(a: np.ndarray, b: np.ndarray, conf_level: float):
    d = np.sort(np.subtract.outer(a, b).ravel())
    m = d.size
    z = stats.norm.ppf(0.5 + conf_level / 2)
    c = int(np.floor(m / 2 - z * np.sqrt(a.size * b.size * (a.size + b.size + 1) / 12)))
    lo, hi = (d[c - 1], d[m - c]) if c >= 1 else (-np.inf, np.inf)
    return np.median(d), lo, hi


@pytest.mark.parametrize("path", ["sorted", "selection"])
@pytest.mark.parametrize("integer", [True, False])
def test_hodges_lehmann_bruteforce(integer, path, no_warnings, monkeypatch):
    # a tiny chunk budget forces several chunks, exercising the padding/chunking logic; a zero
    # pair threshold sends every replicate through order-statistic selection instead of sorting
    monkeypatch.setattr(two_sample, "_CHUNK_ELEMENTS", 500)
    if path == "selection":
        monkeypatch.setattr(two_sample, "_SELECT_PAIRS", 0)
    rng, rep, group = _trials(7, 50, n_min=1, n_max=25)
    y = _nrs(rng, group) if integer else rng.standard_t(3, rep.size) - 0.5 * group
    est = ks.mann_whitney(y, group, rep, 50, conf_level=0.9)
    for i in range(50):
        a, b = y[(rep == i) & (group == 1)], y[(rep == i) & (group == 0)]
        hl, lo, hi = _moses_reference(a, b, 0.9)
        assert est.estimate[i] == hl
        assert (est.ci_low[i], est.ci_high[i]) == (lo, hi)
    assert np.isinf(est.ci_low).any()  # tiny samples cannot reach 90%


def test_mann_whitney_degenerate(no_warnings):
    rep = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    group = np.array([0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1])
    y = np.array([1.0, 2, 3, 5, 5, 5, 5, 1, 2, 3, 4])
    est = ks.mann_whitney(y, group, rep, 4)  # replicate 3 has no patients at all
    np.testing.assert_array_equal(est.converged, [False, False, True, False])
    assert np.isnan(est.p_value[[0, 1, 3]]).all() and np.isnan(est.estimate[[0, 1, 3]]).all()


# --------------------------------------------------------------------------------------------
# proportions
# --------------------------------------------------------------------------------------------


def _tables(seed: int, n_rep: int, n_max: int = 30):
    rng = np.random.default_rng(seed)
    n1 = rng.integers(1, n_max, n_rep)
    n0 = rng.integers(1, n_max, n_rep)
    x1 = rng.binomial(n1, rng.uniform(0, 1, n_rep))
    x0 = rng.binomial(n0, rng.uniform(0, 1, n_rep))
    x1[:20], x0[10:30] = 0, 0  # zero cells, incl. no events at all
    x1[40:50], x0[45:55] = n1[40:50], n0[45:55]  # all events
    n1[60:70] = n0[60:70] = 10  # symmetric tables with tied probabilities
    x1[60:70], x0[60:70] = rng.integers(0, 11, 10), rng.integers(0, 11, 10)
    return x1, n1, x0, n0


@pytest.mark.parametrize("alternative", ALTS)
def test_fisher_matches_scipy(alternative, no_warnings):
    x1, n1, x0, n0 = _tables(8, 400)
    est = ks.proportions(x1, n1, x0, n0, test="fisher", alternative=alternative)
    ref = [
        stats.fisher_exact([[a, n - a], [b, m - b]], alternative=alternative).pvalue
        for a, n, b, m in zip(x1, n1, x0, n0, strict=True)
    ]
    np.testing.assert_allclose(est.p_value, ref, rtol=0, atol=1e-10)
    assert est.converged.all()


def test_fisher_large_tables(no_warnings):
    rng = np.random.default_rng(9)
    n1, n0 = rng.integers(200, 500, 50), rng.integers(200, 500, 50)
    x1, x0 = rng.binomial(n1, 0.3), rng.binomial(n0, 0.4)
    est = ks.proportions(x1, n1, x0, n0)
    ref = [
        stats.fisher_exact([[a, n - a], [b, m - b]]).pvalue
        for a, n, b, m in zip(x1, n1, x0, n0, strict=True)
    ]
    np.testing.assert_allclose(est.p_value, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("yates", [False, True])
def test_chi2_matches_scipy(yates, no_warnings):
    x1, n1, x0, n0 = _tables(10, 300)
    test = "chi2_yates" if yates else "chi2"
    est = ks.proportions(x1, n1, x0, n0, test=test)
    n_undefined = 0
    for i in range(300):
        table = np.array([[x1[i], n1[i] - x1[i]], [x0[i], n0[i] - x0[i]]])
        if (table.sum(axis=0) == 0).any():  # scipy raises: an expected count is zero
            assert np.isnan(est.p_value[i]) and not est.converged[i]
            assert np.isfinite(est.estimate[i])  # risk difference still reported
            n_undefined += 1
            continue
        res = stats.chi2_contingency(table, correction=yates)
        np.testing.assert_allclose(est.p_value[i], res.pvalue, **CLOSED)
        np.testing.assert_allclose(est.extra["chi2"][i], res.statistic, **CLOSED)
    assert n_undefined > 0
    # one-sided: signed z = sign(p1 - p0) sqrt(chi2)
    less = ks.proportions(x1, n1, x0, n0, test=test, alternative="less")
    greater = ks.proportions(x1, n1, x0, n0, test=test, alternative="greater")
    z = est.statistic
    ok = est.converged
    np.testing.assert_allclose(less.p_value[ok], stats.norm.cdf(z[ok]), **CLOSED)
    np.testing.assert_allclose(greater.p_value[ok], stats.norm.sf(z[ok]), **CLOSED)
    np.testing.assert_array_equal(np.sign(z[ok & (z != 0)]), np.sign(est.estimate[ok & (z != 0)]))


def test_newcombe_interval_and_odds_ratio(no_warnings):
    x1, n1, x0, n0 = _tables(11, 200)
    est = ks.proportions(x1, n1, x0, n0, conf_level=0.9)
    for i in range(200):
        lo, hi = confint_proportions_2indep(
            x1[i], n1[i], x0[i], n0[i], method="newcomb", compare="diff", alpha=0.1
        )
        np.testing.assert_allclose([est.ci_low[i], est.ci_high[i]], [lo, hi], **CLOSED)
        assert est.estimate[i] == pytest.approx(x1[i] / n1[i] - x0[i] / n0[i], abs=1e-15)
    inner = (x1 > 0) & (x0 > 0) & (x1 < n1) & (x0 < n0)
    ref_or = np.array(
        [
            stats.fisher_exact([[a, n - a], [b, m - b]]).statistic
            for a, n, b, m in zip(x1[inner], n1[inner], x0[inner], n0[inner], strict=True)
        ]
    )
    np.testing.assert_allclose(est.extra["odds_ratio"][inner], ref_or, **CLOSED)


def test_proportions_empty_arm_and_count_by_group(no_warnings):
    rep = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    group = np.array([0, 1, 1, 0, 0, 1, 0, 0])
    b = np.array([1, 0, 1, np.nan, 1, 1, 0, 1])
    x1, n1, x0, n0 = ks.count_by_group(b, group, rep, 3)
    np.testing.assert_array_equal(
        np.stack([x1, n1, x0, n0]), [[1, 1, 0], [2, 1, 0], [1, 1, 1], [1, 1, 2]]
    )
    for test in ("fisher", "chi2", "chi2_yates"):
        est = ks.proportions(x1, n1, x0, n0, test=test)
        assert not est.converged[2] and np.isnan(est.estimate[2]) and np.isnan(est.p_value[2])
    with pytest.raises(ValueError):
        ks.count_by_group(np.array([0.5]), np.array([0]), np.array([0]), 1)


# --------------------------------------------------------------------------------------------
# logistic regression
# --------------------------------------------------------------------------------------------


def test_logistic_matches_statsmodels(no_warnings):
    rng, rep, group = _trials(12, 40, n_min=15, n_max=30)
    base = rng.normal(6, 1.5, rep.size)
    eta = -0.4 + 0.9 * group + 0.3 * (base - 6)
    yb = (rng.uniform(size=rep.size) < 1 / (1 + np.exp(-eta))).astype(float)
    yb[rng.uniform(size=yb.size) < 0.05] = np.nan
    X = np.column_stack([np.ones(rep.size), group, base])
    est = ks.logistic(yb, X, rep, 40, coef=[1, 2])
    one = ks.logistic(yb, X, rep, 40, alternative="less")
    assert est.converged.all() and est.statistic_name == "z"
    for i in range(40):
        m = (rep == i) & ~np.isnan(yb)
        fit = sm.Logit(yb[m], X[m]).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
        np.testing.assert_allclose(est.estimate[i], fit.params[1:], **ITER)
        np.testing.assert_allclose(est.se[i], fit.bse[1:], **ITER)
        np.testing.assert_allclose(est.p_value[i], fit.pvalues[1:], **ITER)
        np.testing.assert_allclose(est.extra["cov"][i], fit.cov_params()[1:, 1:], **ITER)
        np.testing.assert_allclose(one.p_value[i], stats.norm.cdf(fit.tvalues[1]), **ITER)


def test_logistic_separation(no_warnings):
    rng, rep, group = _trials(13, 6, n_min=10, n_max=12)
    yb = (rng.uniform(size=rep.size) < 0.4).astype(float)
    yb[(rep == 0) & (group == 1)] = 1.0  # quasi-complete separation
    yb[rep == 1] = group[rep == 1]  # complete separation
    yb[rep == 2] = 0.0  # no events at all
    X = np.column_stack([np.ones(rep.size), group])
    est = ks.logistic(yb, X, rep, 6)
    np.testing.assert_array_equal(est.converged, [False, False, False, True, True, True])
    assert np.isnan(est.p_value[:3]).all()
    assert not est.reject(0.05)[:3].any()  # documented: counted as not rejected


# --------------------------------------------------------------------------------------------
# log-rank
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alternative", ALTS)
def test_logrank_matches_survdiff(alternative, no_warnings):
    rng, rep, group = _trials(14, 40, n_min=5, n_max=25)
    t_event = rng.exponential(10, rep.size) * np.where(group == 1, 1.5, 1.0)
    t_cens = rng.uniform(0, 25, rep.size)
    time = np.round(np.minimum(t_event, t_cens))  # rounding creates many ties
    event = (t_event <= t_cens).astype(float)
    time[rng.uniform(size=time.size) < 0.05] = np.nan
    est = ks.logrank(time, event, group, rep, 40, alternative=alternative)
    assert est.converged.all()
    for i in range(40):
        m = (rep == i) & ~np.isnan(time)
        chisq, p = survdiff(time[m], event[m], group[m])
        np.testing.assert_allclose(est.extra["chi2"][i], chisq, **CLOSED)
        np.testing.assert_allclose(est.statistic[i] ** 2, chisq, **CLOSED)
        if alternative == "two-sided":
            np.testing.assert_allclose(est.p_value[i], p, **CLOSED)
    # Peto one-step: estimate = (O - E) / V, se = 1 / sqrt(V), estimate / se = z
    obs, exp, var = (est.extra[k] for k in ("observed", "expected", "variance"))
    np.testing.assert_allclose(est.estimate, (obs - exp) / var, **CLOSED)
    np.testing.assert_allclose(est.se, 1 / np.sqrt(var), **CLOSED)
    # hazard higher on treatment?  longer times on treatment -> O1 < E1 -> mostly negative
    assert np.mean(est.estimate < 0) > 0.6


def test_logrank_degenerate(no_warnings):
    rep = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3])
    group = np.array([0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1])
    time = np.array([1.0, 2, 3, 4, 1, 2, 3, 5, 5, 5, 5, 6])
    event = np.array([0.0, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0])
    est = ks.logrank(time, event, group, rep, 4)
    # rep 0: no events; rep 1: no treatment arm; rep 2: everybody dies at one time (V = 0);
    # rep 3: tied deaths and a later censoring -> defined
    np.testing.assert_array_equal(est.converged, [False, False, False, True])
    assert np.isnan(est.p_value[:3]).all()
    chisq, _ = survdiff(time[rep == 3], event[rep == 3], group[rep == 3])
    np.testing.assert_allclose(est.extra["chi2"][3], chisq, **CLOSED)


# --------------------------------------------------------------------------------------------
# multiplicity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "sm_method"),
    [("holm", "holm"), ("hochberg", "simes-hochberg"), ("bonferroni", "bonferroni")],
)
def test_stepwise_adjustments_match_statsmodels(method, sm_method, monkeypatch):
    import gc

    # statsmodels' multipletests runs gc.collect() on every call, which costs ~0.3 s each late
    # in a full test session (a large heap); it does not change the result
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    rng = np.random.default_rng(15)
    p = rng.uniform(0, 0.2, (40, 4)) ** rng.uniform(0.5, 2, (40, 1))
    p[:10, 1] = p[:10, 2]  # ties
    p[rng.uniform(size=p.shape) < 0.2] = np.nan
    adj = ks.adjust(p, method)
    for i in range(p.shape[0]):
        ok = ~np.isnan(p[i])
        assert np.isnan(adj[i, ~ok]).all()
        if ok.any():
            np.testing.assert_allclose(adj[i, ok], multipletests(p[i, ok], method=sm_method)[1])
    np.testing.assert_array_equal(ks.adjust(p, "none"), p)


def _dunnett_data(seed: int, n_rep: int, n_groups: int, n: int):
    rng = np.random.default_rng(seed)
    rep = np.repeat(np.arange(n_rep), n_groups * n)
    group = np.tile(np.repeat(np.arange(n_groups), n), n_rep)
    y = rng.normal(0, 1, rep.size) + 0.35 * group * rng.uniform(0, 1, (n_rep, 1)).repeat(
        n_groups * n
    )
    return rep, group, y


@pytest.mark.parametrize("n_groups", [3, 4])
@pytest.mark.parametrize("alternative", ALTS)
def test_dunnett_matches_scipy(n_groups, alternative, no_warnings):
    rep, group, y = _dunnett_data(16, 12, n_groups, 10)
    est = ks.ancova(y, group, None, rep, 12, alternative=alternative)
    adj = ks.adjust(
        est.p_value,
        "dunnett",
        statistic=est.statistic,
        df=est.df,
        corr=ks.cov_to_corr(est.extra["cov"]),
        alternative=alternative,
    )
    for i in range(12):
        samples = [y[(rep == i) & (group == g)] for g in range(n_groups)]
        res = stats.dunnett(
            *samples[1:], control=samples[0], alternative=alternative, rng=np.random.default_rng(0)
        )
        np.testing.assert_allclose(est.statistic[i], res.statistic, **CLOSED)
        # scipy integrates by randomised QMC: compare at its accuracy
        np.testing.assert_allclose(adj[i], res.pvalue, rtol=0, atol=2e-3)
    assert np.all(adj >= est.p_value - 1e-12)  # adjustment never lowers a p-value


def test_dunnett_accuracy_against_scipy_mvt():
    # the three computation paths against scipy's multivariate t cdf with many QMC points:
    # one-factor correlation (quadrature), near one-factor (ANCOVA with a covariate: QMC with a
    # one-factor control variate) and a general correlation (plain QMC)
    lam = np.array([0.8, 0.625, -0.5])
    one_factor = np.outer(lam, lam)
    np.fill_diagonal(one_factor, 1.0)
    rep, group, y = _dunnett_data(19, 1, 4, 12)
    base = np.random.default_rng(20).normal(size=y.size)
    fit = ks.ancova(y + base, group, base, rep, 1)
    near = np.ascontiguousarray(ks.cov_to_corr(fit.extra["cov"][0]))  # scipy needs C order
    general = np.array([[1.0, 0.3, 0.6], [0.3, 1.0, -0.2], [0.6, -0.2, 1.0]])
    t = np.array([2.1, -0.4, 1.2])
    cases = [(one_factor, 25.0, 1e-5), (near, fit.df[0, 0], 1e-5), (general, 8.0, 5e-5)]
    for corr, df, tol in cases:
        got = ks.dunnett(t, df, corr)
        mvt = stats.multivariate_t(shape=corr, df=df)
        for k in (0, 2):
            c = np.full(3, abs(t[k]))
            ref = 1 - mvt.cdf(c, lower_limit=-c, maxpts=60_000, random_state=1)
            assert got[k] == pytest.approx(ref, abs=tol)


def test_dunnett_k1_nan_and_determinism(no_warnings):
    rng = np.random.default_rng(17)
    t = rng.normal(0, 2, (20, 1))
    df = rng.integers(5, 60, 20).astype(float)
    for alt in ALTS:
        # K = 1: exactly the unadjusted p
        np.testing.assert_array_equal(
            ks.dunnett(t, df, np.ones((1, 1)), alt)[:, 0], p_from_t(t[:, 0], df, alt)
        )
    t3 = rng.normal(0, 2, (20, 3))
    cov = np.array([[2.0, 0.5, 0.3], [0.5, 1.0, 0.2], [0.3, 0.2, 1.5]])
    a = ks.dunnett(t3, 30.0, cov)  # a covariance is accepted (normalised to a correlation)
    np.testing.assert_array_equal(a, ks.dunnett(t3, 30.0, ks.cov_to_corr(cov)))
    t3[0, 1] = np.nan
    t3[1] = np.nan
    b = ks.dunnett(t3, 30.0, cov)
    assert np.isnan(b[0, 1]) and np.isnan(b[1]).all() and np.isfinite(b[2:]).all()
    sub = ks.cov_to_corr(cov)[np.ix_([0, 2], [0, 2])]
    np.testing.assert_allclose(b[0, [0, 2]], ks.dunnett(t3[0, [0, 2]], 30.0, sub))
    np.testing.assert_array_equal(b[2:], ks.dunnett(t3[2:], 30.0, cov))  # deterministic


def test_adjust_errors():
    with pytest.raises(ValueError):
        ks.adjust(np.zeros((2, 2)), "sidak")
    with pytest.raises(ValueError):
        ks.adjust(np.zeros((2, 2)), "dunnett")


# --------------------------------------------------------------------------------------------
# vectorised grouping: invariance to patient order, input validation
# --------------------------------------------------------------------------------------------


def test_results_invariant_to_patient_order(no_warnings):
    rng, rep, group = _trials(18, 30, n_min=8, n_max=20)
    y = _nrs(rng, group)
    base = rng.normal(6, 1.5, rep.size)
    yb = (y <= 5).astype(float)
    time = np.round(rng.exponential(8, rep.size))
    event = (rng.uniform(size=rep.size) < 0.7).astype(float)
    X = np.column_stack([np.ones(rep.size), group, base])

    def run(idx):
        r, g = rep[idx], group[idx]
        return [
            ks.two_sample_t(y[idx], g, r, 30),
            ks.two_sample_t(y[idx], g, r, 30, welch=True),
            ks.ols(y[idx], X[idx], r, 30, coef=[1, 2]),
            ks.ancova(y[idx], g, base[idx], r, 30),
            ks.mann_whitney(y[idx], g, r, 30),
            ks.proportions(*ks.count_by_group(yb[idx], g, r, 30)),
            ks.logistic(yb[idx], X[idx], r, 30),
            ks.logrank(time[idx], event[idx], g, r, 30),
        ]

    first = run(np.arange(rep.size))
    second = run(rng.permutation(rep.size))
    for a, b in zip(first, second, strict=True):
        for field in ("estimate", "se", "statistic", "p_value", "ci_low", "ci_high"):
            np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(a.converged, b.converged)


def test_invalid_inputs_raise():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    g = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError):
        ks.two_sample_t(y, g, np.array([0, 0, 1, 2]), 2)  # rep out of range
    with pytest.raises(ValueError):
        ks.two_sample_t(y, np.array([0, 1, 2, 1]), np.zeros(4, int), 1)  # group code 2
    with pytest.raises(ValueError):
        ks.mann_whitney(y, g, np.zeros(4, int), 1, alternative="two_sided")
    with pytest.raises(ValueError):
        ks.proportions([3], [2], [0], [2])  # x > n
    with pytest.raises(ValueError):
        ks.ols(y, np.ones((4, 2)), np.zeros(4, int), 1, coef=2)
