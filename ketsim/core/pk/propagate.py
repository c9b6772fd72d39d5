"""Exact, batched propagation of linear compartment systems with piecewise-constant inputs.

The input rates are carried as extra states with zero derivative (an augmented system
``z = [x; r]``), so that one matrix exponential ``Φ(Δt) = expm(A_aug Δt)`` per *distinct* time step
propagates states and constant-rate inputs exactly. Exponentials are computed once per distinct Δt,
batched over patients, and cached. A bolus is an instantaneous jump of the state.

On a regular output grid (the usual hourly diary/PK grid) the outputs of a constant-input segment
are ``y_j = C Φ(h)^j z``. They are evaluated in blocks of ``L`` steps as one batched matrix product
``Y = G W`` with ``G = [C Φ(h); …; C Φ(h)^L]`` and the block-start states
``W = [z, Φ(h)^L z, Φ(h)^{2L} z, …]``. This is the same exact arithmetic as stepping, organised so
that BLAS does the work instead of a Python loop per time step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketsim.core.pk.expm import expm_batched, expm_multiple
from ketsim.core.pk.model import LinearSystem

__all__ = ["POPULATION_BLOCK", "DosingPlan", "PKCursor", "Propagator"]

#: block length for long regular output grids: on the 12-week hourly `ketsim bench pk` grid L = 8
#: ran ~1.5x faster than 32 and ~1.2x faster than 16 or 4 (interleaved runs, 2026-12-08): the
#: output product's flops do not depend on L, building G (L steps) does
POPULATION_BLOCK = 8


@dataclass
class DosingPlan:
    """Piecewise-constant infusion rates and boluses on a common time axis.

    Attributes
    ----------
    times : ``(H,)`` strictly increasing event times (h).
    rates : ``(H, P, n_inf)`` infusion rate of each infusion route (mg/h), applied from
        ``times[k]`` until the next event time (and after the last one).
    boluses : ``(H, P, n_bolus)`` bolus amount of each bolus route (mg) given at ``times[k]``.
    """

    times: np.ndarray
    rates: np.ndarray
    boluses: np.ndarray

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, dtype=float)
        if self.times.ndim != 1 or np.any(np.diff(self.times) <= 0):
            raise ValueError("DosingPlan.times must be strictly increasing")
        if self.rates.shape[0] != self.times.size or self.boluses.shape[0] != self.times.size:
            raise ValueError("rates and boluses need one row per event time")


class Propagator:
    """Exact propagation of one :class:`LinearSystem` for a batch of patients.

    Parameters
    ----------
    system : the batch's linear system.
    block : block length ``L`` for regular-grid evaluation (performance only). Population PK
        passes :data:`POPULATION_BLOCK`; the trial model keeps 32 (its diary grids are short).
    clip : set negative outputs of :meth:`run` to zero. Every output of a PK system is a
        concentration, amount or AUC (physically >= 0); the exact propagation's round-off leaves
        values like -8.8e-8 ng/mL long after tiny doses. Clipping while a block is in cache
        saves a second pass over the output.
    """

    def __init__(self, system: LinearSystem, block: int = 32, clip: bool = False) -> None:
        self.clip = bool(clip)
        self.system = system
        p, n, _ = system.A.shape
        nin = system.B.shape[2]
        self.n, self.n_in = n, nin
        m = n + nin
        aug = np.zeros((p, m, m))
        aug[:, :n, :n] = system.A
        aug[:, :n, n:] = system.B
        self.A_aug = aug
        self.C_aug = np.zeros((p, system.C.shape[1], m))
        self.C_aug[:, :, :n] = system.C
        # outputs that each read one state (concentrations = amount / volume): y = c * z[:, col],
        # bitwise what the full product gives (the other terms are exact zeros)
        nz = np.any(self.C_aug != 0.0, axis=0)  # (n_out, m): state read by any patient
        self._out_cols: np.ndarray | None = None
        if np.all(nz.sum(axis=1) == 1):
            cols = np.argmax(nz, axis=1)
            self._out_cols = cols
            self._out_coef = np.ascontiguousarray(self.C_aug[:, np.arange(cols.size), cols])
        self.block = int(block)
        self.max_cached = 64
        self._phi: dict[float, np.ndarray] = {}
        self._grid: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}

    # -- exponentials --------------------------------------------------------------------------
    def phi(self, dt: float) -> np.ndarray:
        """``expm(A_aug dt)`` for every patient, ``(P, m, m)``; cached by ``dt``."""
        key = float(dt)
        out = self._phi.get(key)
        if out is None:
            out = expm_batched(self.A_aug * key)
            if len(self._phi) >= self.max_cached:
                # bounded cache: irregular output times would otherwise keep one (P, m, m)
                # array per distinct step; drop the oldest entry
                self._phi.pop(next(iter(self._phi)))
            self._phi[key] = out
        return out

    def prepare(self, dts: np.ndarray | list[float]) -> None:
        """Compute and cache ``Φ(dt)`` for the given steps in one pass.

        Bitwise the matrices :meth:`phi` would compute one by one, but steps that are a power of
        two apart share their Padé evaluation (:func:`~ketsim.core.pk.expm.expm_multiple`). Only the
        first ``max_cached`` distinct steps are prepared.
        """
        keys = []
        for dt in dts:
            key = float(dt)
            if key > 0.0 and key not in self._phi and key not in keys:
                keys.append(key)
        keys = keys[: max(0, self.max_cached - len(self._phi))]
        if keys:
            for key, out in zip(keys, expm_multiple(self.A_aug, keys), strict=True):
                self._phi[key] = out

    def step(self, z: np.ndarray, dt: float) -> np.ndarray:
        """Propagate augmented states ``z (P, m)`` over ``dt`` hours exactly."""
        if dt == 0.0:
            return z
        if dt < 0:
            raise ValueError("cannot propagate backwards in time")
        return np.einsum("pij,pj->pi", self.phi(dt), z)

    def _grid_ops(self, h: float, L: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """``G^T (P, m, L*n_out)`` and the powers ``[Φ(h), Φ(h)^2, Φ(h)^4, …, Φ(h)^L]``.

        ``L`` is a power of two. Both are built by doubling, fused: the outputs of steps
        ``k+1..2k`` are ``Φ(h)^k`` applied to those of steps ``1..k``, and ``Φ(h)^{2k}`` is the
        square of ``Φ(h)^k`` — ``2 log2 L`` batched products instead of ``L`` small ones.
        """
        key = (float(h), L)
        ops = self._grid.get(key)
        if ops is None:
            ph = self.phi(h)
            p, nout, m = self.C_aug.shape
            # stored transposed, (P, m, L*nout), so that W @ G^T is time-major
            Gt = np.empty((p, m, L * nout))
            Gt[:, :, :nout] = (self.C_aug @ ph).transpose(0, 2, 1)
            powers = [ph]
            k = 1
            while k < L:
                np.matmul(
                    powers[-1].transpose(0, 2, 1),
                    Gt[:, :, : k * nout],
                    out=Gt[:, :, k * nout : 2 * k * nout],
                )
                powers.append(powers[-1] @ powers[-1])
                k *= 2
            ops = (Gt, powers)
            self._grid[key] = ops
        return ops

    def _block_powers(self, h: float, L: int, q: int) -> list[np.ndarray]:
        """Transposed ``[Φ(h)^L, Φ(h)^{2L}, Φ(h)^{4L}, …]`` (at least ``q`` steps of ``L``)."""
        key = (float(h), L, "blocks")
        pw = self._grid.get(key)
        if pw is None or (1 << len(pw)) <= q:
            phiL = self._grid_ops(h, L)[1][-1]
            pw = [np.ascontiguousarray(phiL.transpose(0, 2, 1))]
            while (1 << len(pw)) <= q:
                pw.append(pw[-1] @ pw[-1])
            self._grid[key] = pw
        return pw

    def outputs(self, z: np.ndarray) -> np.ndarray:
        """Outputs ``(P, n_out)`` of augmented states ``z``."""
        if self._out_cols is not None and z.shape == (self._out_coef.shape[0], self.C_aug.shape[2]):
            return self._out_coef * z[:, self._out_cols]
        return np.einsum("pom,pm->po", self.C_aug, z)

    def grid(
        self,
        z: np.ndarray,
        h: float,
        R: int,
        out: np.ndarray | None = None,
        clip: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Outputs at ``h, 2h, …, Rh`` after the state ``z``, and the state at ``Rh``.

        Writes into ``out (P, R, n_out)`` when given; ``clip`` sets negative outputs (round-off)
        to zero while the block is still in cache. Returns ``(Y, z_end)``.
        """
        p, nout, m = self.C_aug.shape
        if out is None:
            out = np.empty((p, R, nout))
        # the largest power of two <= min(block, R): the doubling then ends exactly on Φ(h)^L
        L = 1 << (min(self.block, R).bit_length() - 1)
        G, powers = self._grid_ops(h, L)
        q, r = divmod(R, L)
        # block-start states W[b] = Φ(h)^{bL} z, time-major, by doubling (log2 q products)
        W = np.empty((p, q + 1, m))
        W[:, 0] = z
        k = 1
        for pw in self._block_powers(h, L, q):
            if k > q:
                break
            n = min(k, q + 1 - k)
            np.matmul(W[:, :n], pw, out=W[:, k : k + n])
            k += n
        # row b of W @ G holds the outputs of steps b*L+1 .. b*L+L, written in place, in
        # patient blocks small enough (~1 MB) that the clip reads them from cache
        full = out[:, : q * L].reshape(p, q, L * nout)
        inplace = np.shares_memory(full, out)
        sub = max(1, (1 << 20) // (8 * max(1, q * L * nout)))
        for lo in range(0, p, sub):
            s = slice(lo, min(p, lo + sub))
            blk = full[s]
            np.matmul(W[s, :q], G[s], out=blk)
            if clip:
                np.maximum(blk, 0.0, out=blk)
        if not inplace:  # the reshape had to copy: write back
            out[:, : q * L] = full.reshape(p, q * L, nout)
        if r:
            tail = np.matmul(W[:, q : q + 1], G[:, :, : r * nout]).reshape(p, r, nout)
            out[:, q * L :] = np.maximum(tail, 0.0) if clip else tail
        z_end = W[:, q]
        # the last r < L steps: Φ(h)^r by the binary digits of r, from the cached powers
        for bit, ph in enumerate(powers):
            if r >> bit & 1:
                z_end = np.einsum("pij,pj->pi", ph, z_end)
        return out, z_end

    def _clipped(self, y: np.ndarray) -> np.ndarray:
        return np.maximum(y, 0.0) if self.clip else y

    # -- a whole schedule ----------------------------------------------------------------------
    def _eval(self, z: np.ndarray, t0: float, times: np.ndarray, out: np.ndarray):
        """Fill ``out[:, j]`` with outputs at ``times[j]`` (>= t0); return (z, t) at the last."""
        if times.size == 0:
            return z, t0
        z = self.step(z, times[0] - t0)
        out[:, 0] = self._clipped(self.outputs(z))
        t = times[0]
        j = 1
        dt = np.diff(times)
        while j < times.size:
            h = dt[j - 1]
            # longest run of (numerically) equal spacing starting here
            k = j
            tol = 1e-9 * max(1.0, abs(h))
            while k < times.size and abs(dt[k - 1] - h) <= tol:
                k += 1
            R = k - j
            # the mean step of the run, so that the grid ends exactly on the requested time
            h = (times[k - 1] - times[j - 1]) / R
            if R >= 4:
                _, z = self.grid(z, h, R, out=out[:, j:k], clip=self.clip)
                t = times[k - 1]  # the grid stands for these requested times
            else:
                for i in range(j, k):
                    z = self.step(z, times[i] - t)
                    out[:, i] = self._clipped(self.outputs(z))
                    t = times[i]
            j = k
        return z, t

    def run(
        self,
        plan: DosingPlan,
        times: np.ndarray,
        x0: np.ndarray | None = None,
        t0: float | None = None,
        out: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Outputs at ``times`` for a dosing plan.

        Before the first event every input rate is zero. Outputs are right-continuous: a bolus
        given at ``t`` is included in the output at ``t``.

        Returns
        -------
        Y : ``(P, T, n_out)`` outputs in the system's output units (ng/mL); ``out`` if given.
        z : ``(P, m)`` augmented state after the last output or event.
        """
        times = np.asarray(times, dtype=float)
        if times.ndim != 1 or np.any(np.diff(times) < 0):
            raise ValueError("output times must be sorted")
        p = self.A_aug.shape[0]
        ev = plan.times
        start = min(ev[0] if ev.size else np.inf, times[0] if times.size else np.inf)
        t = start if t0 is None else float(t0)
        if t > start:
            raise ValueError("t0 is after the first event or output time")
        cur = PKCursor(self, t, x0)
        Y = np.empty((p, times.size, self.C_aug.shape[1])) if out is None else out
        has_boluses = plan.boluses.shape[2] > 0
        idx = 0
        for k in range(ev.size + 1):
            end = ev[k] if k < ev.size else np.inf
            j = int(np.searchsorted(times, end, side="left"))
            cur.record(times[idx:j], Y[:, idx:j])
            idx = j
            if k == ev.size:
                break
            cur.advance(ev[k])
            cur.set_inputs(plan.rates[k], plan.boluses[k] if has_boluses else None)
        return Y, cur.z


class PKCursor:
    """The PK state of a batch of patients at one time: the single event loop's API.

    Both event loops of ketsim go through it: :meth:`Propagator.run` (population PK, a fixed
    :class:`DosingPlan`) and the trial model (inputs decided as the trial goes: titration,
    discontinuation, dropout). Between events the inputs are constant, so :meth:`advance` and
    :meth:`record` propagate exactly; at an event :meth:`set_inputs` replaces the infusion rates and
    adds the boluses.

    Parameters
    ----------
    propagator : the batch's propagator.
    t0 : time (h) of the initial state.
    x0 : ``(P, n)`` initial compartment amounts (default zero); the inputs start at zero.
    """

    def __init__(self, propagator: Propagator, t0: float, x0: np.ndarray | None = None) -> None:
        self.propagator = propagator
        prop = propagator
        self.z = np.zeros((prop.A_aug.shape[0], prop.n + prop.n_in))
        if x0 is not None:
            self.z[:, : prop.n] = x0
        self.t = float(t0)

    def advance(self, t: float) -> None:
        """Propagate the state exactly to time ``t`` (>= the current time)."""
        self.z = self.propagator.step(self.z, t - self.t)
        self.t = float(t)

    def record(self, times: np.ndarray, out: np.ndarray) -> None:
        """Write the outputs at ``times`` (sorted, >= now, before the next event) into ``out``.

        Regular stretches of ``times`` use the batched grid evaluation; the cursor ends at the
        last time.
        """
        self.z, self.t = self.propagator._eval(self.z, self.t, times, out)

    def set_inputs(self, rates: np.ndarray, boluses: np.ndarray | None = None) -> None:
        """From now on infuse ``rates (P, n_inf)`` (mg/h); give ``boluses (P, n_bolus)`` (mg) now.

        The state is copied first, so arrays handed out earlier (outputs, states) stay valid.
        """
        n = self.propagator.n
        z = self.z.copy()
        z[:, n:] = rates
        if boluses is not None:
            z[:, :n] += np.einsum("pnb,pb->pn", self.propagator.system.Bb, boluses)
        self.z = z

    def outputs(self) -> np.ndarray:
        """Outputs ``(P, n_out)`` of the current state (right-continuous: after a bolus now)."""
        return self.propagator.outputs(self.z)
