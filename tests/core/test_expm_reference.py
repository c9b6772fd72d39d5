"""``expm_batched`` (Padé-13 scaling and squaring, Higham 2005) against ``scipy.linalg.expm``.

Error measure: ``max|E - E_ref| / max|E_ref|`` per matrix (relative to the result's size). For
well-conditioned inputs (1-norm <= ~60) the bound is 1e-11. For larger norms the exponential's
condition number grows roughly like ``||A||``, so any two correct implementations may differ by
``~||A|| * eps``; there the bound is ``1e-11 * max(1, ||A||_1 / 10)``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg as sla
from numpy.testing import assert_allclose, assert_array_equal

from ketsim.core.pk.expm import expm_batched
from ketsim.core.pk.model import N_ETA, Covariates, build_system, individual_parameters
from ketsim.core.pk.propagate import Propagator


def _ref(stack):
    return np.stack([sla.expm(a) for a in stack.reshape(-1, *stack.shape[-2:])]).reshape(
        stack.shape
    )


def _rel_err(e, r):
    e = e.reshape(-1, *e.shape[-2:])
    r = r.reshape(-1, *r.shape[-2:])
    return np.abs(e - r).max(axis=(1, 2)) / np.abs(r).max(axis=(1, 2))


def _bound(stack):
    norm1 = np.abs(stack.reshape(-1, *stack.shape[-2:])).sum(axis=-2).max(axis=-1)
    return 1e-11 * np.maximum(1.0, norm1 / 10.0)


@pytest.mark.parametrize("m", [1, 2, 3, 5, 9, 16, 30])
@pytest.mark.parametrize("scale", [1e-10, 1e-3, 0.1, 1.0, 5.0, 30.0])
def test_random_stacks_match_scipy(m, scale):
    """Random Gaussian stacks of size m and 1-norm ~scale*sqrt(m) agree with scipy to ~1e-11."""
    rng = np.random.default_rng(1000 * m + int(math.log10(scale) * 10 + 200))
    stack = rng.standard_normal((12, m, m)) * scale / math.sqrt(m)
    e = expm_batched(stack)
    assert e.shape == stack.shape
    err = _rel_err(e, _ref(stack))
    assert np.all(err <= _bound(stack)), err.max()


@pytest.mark.parametrize("m", [2, 6, 12])
def test_mixed_norms_in_one_stack(m):
    """One stack mixing norms 1e-8..200 (different squaring counts per matrix) matches scipy."""
    rng = np.random.default_rng(m)
    scales = np.logspace(-8, np.log10(200.0), 24)
    rng.shuffle(scales)
    stack = rng.standard_normal((24, m, m)) / math.sqrt(m) * scales[:, None, None]
    e = expm_batched(stack)
    err = _rel_err(e, _ref(stack))
    assert np.all(err <= _bound(stack)), err.max()
    # each matrix alone gives the same answer as inside the stack (grouping by s is per matrix)
    for i in (0, 7, 23):
        assert_allclose(expm_batched(stack[i]), e[i], rtol=1e-14, atol=1e-15 * np.abs(e[i]).max())


def test_leading_batch_dimensions():
    """Stacks with shape (a, b, m, m) keep their shape and match scipy element by element."""
    rng = np.random.default_rng(5)
    stack = rng.standard_normal((2, 3, 4, 4))
    e = expm_batched(stack)
    assert e.shape == (2, 3, 4, 4)
    assert np.all(_rel_err(e, _ref(stack)) <= 1e-11)


def test_single_matrix_without_batch_axis():
    """A plain (m, m) matrix is accepted and returns (m, m)."""
    a = np.array([[0.0, 1.0], [-1.0, 0.0]]) * 0.7  # rotation generator
    e = expm_batched(a)
    c, s = math.cos(0.7), math.sin(0.7)
    assert_allclose(e, [[c, s], [-s, c]], rtol=1e-14, atol=1e-15)


def test_zero_matrix_is_identity():
    """expm(0) = I to 1 ulp, for several sizes, alone and in a stack with non-zero matrices."""
    # (a batched LAPACK solve of b0*I against b0*I may return 1 - 2^-53 on the diagonal)
    for m in (1, 3, 10):
        e = expm_batched(np.zeros((4, m, m)))
        assert_allclose(e, np.broadcast_to(np.eye(m), (4, m, m)), rtol=0, atol=2.3e-16)
    stack = np.zeros((3, 4, 4))
    stack[1] = np.random.default_rng(0).standard_normal((4, 4)) * 50.0  # forces squarings
    e = expm_batched(stack)
    assert_allclose(e[0], np.eye(4), rtol=0, atol=2.3e-16)
    assert_allclose(e[2], np.eye(4), rtol=0, atol=2.3e-16)


@pytest.mark.parametrize("x", [-745.0, -700.0, -50.0, -1.0, -1e-12, 0.0, 1e-12, 0.5, 3.0, 40.0])
def test_one_by_one(x):
    """1x1 matrices: expm([[x]]) = exp(x), relative error <= 2e-15 * max(1, |x|)."""
    # exp is |x|-conditioned: a backward error of eps in x is a forward error of |x| eps
    e = expm_batched(np.array([[[x]]]))
    assert_allclose(e[0, 0, 0], math.exp(x), rtol=2e-15 * max(1.0, abs(x)))


def test_diagonal_and_nilpotent_closed_forms():
    """Diagonal -> elementwise exp; nilpotent Jordan block -> finite Taylor series."""
    d = np.array([-300.0, -2.0, 0.0, 1.5])
    e = expm_batched(np.diag(d)[None])
    assert_allclose(np.diag(e[0]), np.exp(d), rtol=1e-12)
    assert_array_equal(e[0] - np.diag(np.diag(e[0])), 0.0)
    n = np.diag([1.0, 1.0, 1.0], k=1) * 2.0  # N^4 = 0
    expected = np.eye(4) + n + n @ n / 2.0 + n @ n @ n / 6.0
    assert_allclose(expm_batched(n), expected, rtol=1e-14, atol=1e-14)


def test_inverse_and_semigroup():
    """expm(A) expm(-A) = I and expm(2A) = expm(A)^2 to 1e-12 for moderate random A."""
    rng = np.random.default_rng(9)
    a = rng.standard_normal((10, 6, 6)) * 0.8
    ea, ema, e2a = expm_batched(a), expm_batched(-a), expm_batched(2 * a)
    assert_allclose(ea @ ema, np.broadcast_to(np.eye(6), a.shape), atol=1e-12)
    assert_allclose(ea @ ea, e2a, rtol=0, atol=1e-12 * np.abs(e2a).max())


def test_empty_stack():
    """A stack of zero matrices returns an empty stack of the same shape."""
    e = expm_batched(np.zeros((0, 3, 3)))
    assert e.shape == (0, 3, 3)


# ---------------------------------------------------------------------------------------------
# compartmental matrices of the ketsim model
# ---------------------------------------------------------------------------------------------
def _ketsim_aug(with_sinks):
    rng = np.random.default_rng(31)
    p = 4
    ip = individual_parameters(Covariates.typical(p), eta=rng.standard_normal((p, N_ETA)))
    sysm = build_system(
        ip,
        ("iv", "subcutaneous"),
        ("iv", "oral", "sublingual", "intranasal", "subcutaneous", "intramuscular"),
        with_sinks=with_sinks,
    )
    return Propagator(sysm).A_aug


@pytest.mark.parametrize("with_sinks", [False, True])
@pytest.mark.parametrize("dt", [1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3])
def test_compartmental_matrices_match_scipy(dt, with_sinks):
    """Augmented ketsim system matrices times dt (1e-3..1e3 h) agree with scipy to 1e-11."""
    a = _ketsim_aug(with_sinks) * dt
    e = expm_batched(a)
    err = _rel_err(e, _ref(a))
    assert np.all(err <= 1e-11), err.max()
    n_state = a.shape[1] - 2  # two infusion routes carried as constant states
    # exp of a Metzler matrix is non-negative (up to round-off of 1e-13 of its largest entry)
    assert np.all(e >= -1e-13 * np.abs(e).max())
    # input-rate block: zero derivative -> identity; never fed by the states
    assert_array_equal(e[:, n_state:, :n_state], 0.0)
    assert_allclose(e[:, n_state:, n_state:], np.broadcast_to(np.eye(2), (4, 2, 2)), atol=0)


def test_compartmental_columns_conserve_mass_with_sinks():
    """With sinks, columns of expm(A dt) conserve ketamine equivalents (NK / MW) for all dt."""
    # error bound 8 eps 2^s, s = number of squarings (each squaring doubles a conservation error)
    from ketsim.core.pk import parameters as prm

    rng = np.random.default_rng(3)
    ip = individual_parameters(Covariates.typical(3), eta=rng.standard_normal((3, N_ETA)))
    sysm = build_system(ip, ("iv",), ("oral", "intranasal"), with_sinks=True)
    s = sysm.states
    w = np.zeros(len(s))  # ketamine-equivalent weights
    for k in ("K1", "K2", "K3", "GUT", "D_IN", "SK"):
        w[s.index(k)] = 1.0
    for k in ("T1", "T2", "N1", "N2", "SN"):
        w[s.index(k)] = prm.MW_KETAMINE / prm.MW_NORKETAMINE
    cols = [i for i, name in enumerate(s) if w[i] > 0]
    for dt in (1e-3, 0.37, 5.0, 240.0, 1e3):
        e = expm_batched(sysm.A * dt)
        total = np.einsum("i,pij->pj", w, e)[:, cols]
        norm1 = np.abs(sysm.A * dt).sum(axis=1).max()
        bound = 8 * np.finfo(float).eps * max(1.0, norm1 / 5.371920351148152)
        assert_allclose(total, w[cols][None, :].repeat(3, 0), rtol=bound, atol=0)
