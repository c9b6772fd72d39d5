"""One PK event loop: stepping a :class:`PKCursor` by hand gives exactly what
:meth:`Propagator.run` gives for the same plan (the trial model steps the cursor by hand)."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from ketsim.core.pk.model import Covariates, build_system, individual_parameters
from ketsim.core.pk.propagate import DosingPlan, PKCursor, Propagator


def _prop(p: int = 3) -> Propagator:
    ip = individual_parameters(Covariates.typical(p), "noppers2011", eta=None)
    return Propagator(build_system(ip, ("iv",), ("iv",), with_auc=True))


def test_cursor_by_hand_equals_run():
    prop = _prop()
    ev = np.array([0.0, 2.5, 7.0, 30.0])
    rates = np.zeros((4, 3, 1))
    rates[0], rates[1] = 20.0, 5.0  # 20 mg/h, then 5 mg/h, then off
    boluses = np.zeros((4, 3, 1))
    boluses[2] = 10.0
    plan = DosingPlan(ev, rates, boluses)
    times = np.array([0.0, 1.0, 2.5, 3.0, 7.0, 8.0, 29.0, 30.0, 40.0])
    y_run, z_run = prop.run(plan, times)

    cur = PKCursor(prop, 0.0)
    got = np.empty_like(y_run)
    k = 0
    for j, t in enumerate(times):
        while k < ev.size and ev[k] <= t:  # events due by t come first (right-continuous)
            cur.advance(ev[k])
            cur.set_inputs(rates[k], boluses[k])
            k += 1
        cur.advance(t)
        got[:, j] = cur.outputs()
    # right-continuous outputs; the same exact propagation (different grouping of steps can
    # change the last bits, so compare at round-off)
    np.testing.assert_allclose(got, y_run, rtol=1e-12, atol=1e-12 * np.abs(y_run).max())
    assert cur.t == times[-1]
    np.testing.assert_allclose(cur.z, z_run, rtol=1e-12, atol=1e-12 * np.abs(z_run).max())


def test_set_inputs_copies_the_state():
    """Arrays handed out before an input change stay as they were (the trial keeps them)."""
    prop = _prop(2)
    cur = PKCursor(prop, 0.0)
    cur.set_inputs(np.full((2, 1), 10.0))
    cur.advance(1.0)
    before = cur.z
    snapshot = before.copy()
    cur.set_inputs(np.zeros((2, 1)), np.full((2, 1), 3.0))
    assert_array_equal(before, snapshot)
    assert not np.array_equal(cur.z, snapshot)
