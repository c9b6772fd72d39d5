"""The seed tree: one root ``SeedSequence`` per run, fixed child streams per purpose.

Replicate ``r`` uses ``SeedSequence(entropy, spawn_key=(r,))``; inside it, purpose ``k``
(population,
randomisation, behaviour, measurement) uses ``spawn_key=(r, k)`` and an attribute ``a`` of that
purpose ``spawn_key=(r, k, a)``. A stream depends only on its key, so adding a model part never
reshuffles the others, any replicate can be re-run alone, and arms or designs compared in one sweep
share common random numbers.

:func:`stream` builds one generator the plain way. :func:`streams` builds many at once for a batch
of replicates: the same ``SeedSequence`` hash (numpy's, after O'Neill's ``seed_seq``), evaluated
vectorised over the keys, gives each generator bit for bit the state :func:`stream` gives it
(~1.5 µs per generator instead of ~20 µs; a batch of 200 replicates needs ~7000 of them).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

__all__ = [
    "AUXILIARY",
    "PURPOSES",
    "TRUTH_REPLICATE",
    "auxiliary_stream",
    "given_entropy",
    "new_entropy",
    "root_entropy",
    "stream",
    "streams",
]

PURPOSES = ("population", "randomisation", "behaviour", "measurement")


#: replicate index of the "true effect" trial of a power run: a replicate stream no power
#: replicate uses (replicate indices count from 0 and stay far below it)
TRUTH_REPLICATE = 2**40

#: streams outside the replicate tree, by purpose -> first spawn-key element. The keys are far
#: above every replicate index, so no replicate ever draws from them; the values are the ones the
#: engine and the published-trial checks have always used (results unchanged).
AUXILIARY = {
    "sample_size_bootstrap": 2**41,  # parametric bootstrap of the fitted power curve
    "validation_bootstrap": 2**42,  # bootstrap MC SE of medians and crossing times (validate)
    # ABC-SMC proposals of `ketsim calibrate`: particle i of generation t draws from
    # spawn_key (2**43, t + 1, i), so a fit does not depend on the number of workers
    "calibration_proposals": 2**43,
    "pk_band_sample": 2**44,  # patients whose curves give the PK page's 5/50/95% bands
}


def new_entropy() -> int:
    """A fresh 128-bit root entropy (recorded by the caller so the run can be repeated)."""
    return secrets.randbits(128)


def given_entropy(seed: int | None, scenario_seed: int | None) -> int | None:
    """The seed a run was given: the argument (``--seed``), else the scenario's ``seed``, else None.

    None means "no seed given": a resumable run then looks for an unfinished run's recorded seed
    before :func:`root_entropy` draws a fresh one.
    """
    if seed is not None:
        return int(seed)
    return None if scenario_seed is None else int(scenario_seed)


def root_entropy(seed: int | None, scenario_seed: int | None) -> int:
    """The root entropy of a run: the one rule every command follows.

    The argument (``--seed``) if given, else the scenario's ``seed``, else fresh entropy
    (:func:`new_entropy`), which the caller records so that the run can be repeated.
    """
    given = given_entropy(seed, scenario_seed)
    return new_entropy() if given is None else given


def auxiliary_stream(entropy: int, purpose: str) -> np.random.Generator:
    """The generator of an auxiliary stream (:data:`AUXILIARY`), outside every replicate."""
    if purpose not in AUXILIARY:
        raise ValueError(f"unknown auxiliary stream {purpose!r}; allowed: {sorted(AUXILIARY)}")
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(AUXILIARY[purpose],)))


def _key(replicate: int, purpose: str, sub: Sequence[int]) -> tuple[int, ...]:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; allowed: {PURPOSES}")
    return (int(replicate), PURPOSES.index(purpose), *map(int, sub))


def stream(entropy: int, replicate: int, purpose: str, *sub: int) -> np.random.Generator:
    """The generator for one purpose (and optional sub-keys) of one replicate."""
    key = _key(replicate, purpose, sub)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=key)))


# -- batched construction ------------------------------------------------------------------------
# Constants of numpy.random.SeedSequence (numpy/random/bit_generator.pyx, after M. E. O'Neill's
# randutils seed_seq_fe); the hash is part of numpy's documented stream-compatibility contract.
_POOL_SIZE = 4
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
_MASK32 = 0xFFFFFFFF


def _words(x: int) -> list[int]:
    """Non-negative int -> uint32 words, lowest first (``0`` is one zero word), as numpy does."""
    x = int(x)
    if 0 <= x <= _MASK32:  # the usual case: one word
        return [x]
    if x < 0:
        raise ValueError("expected non-negative integer")
    out = []
    while x > 0:
        out.append(x & _MASK32)
        x >>= 32
    return out


class _HashConst:
    """The running multiplier of SeedSequence's hash: its sequence does not depend on the data."""

    def __init__(self, init: int, mult: int) -> None:
        self.value, self.mult = init, mult

    def next_pair(self) -> tuple[np.uint64, np.uint64]:
        """(constant to xor, constant to multiply) of the next hash step."""
        x = self.value
        self.value = (self.value * self.mult) & _MASK32
        return np.uint64(x), np.uint64(self.value)


def _hashmix(value: np.ndarray, hc: _HashConst) -> np.ndarray:
    # uint32 arithmetic carried in uint64 and masked: products of two 32-bit words fit exactly
    x, m = hc.next_pair()
    v = (((value ^ x) * m) & np.uint64(_MASK32)).astype(np.uint64)
    return v ^ (v >> np.uint64(16))


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # (L x - R y) mod 2^32; the uint64 difference wraps mod 2^64, a multiple of 2^32
    r = (np.uint64(_MIX_MULT_L) * x - np.uint64(_MIX_MULT_R) * y) & np.uint64(_MASK32)
    return r ^ (r >> np.uint64(16))


def _pcg64_seeds(entropy_words: np.ndarray) -> np.ndarray:
    """``SeedSequence.generate_state(4, uint64)`` for each row of assembled entropy ``(K, L)``."""
    ent = entropy_words.astype(np.uint64)
    k, length = ent.shape
    hc = _HashConst(_INIT_A, _MULT_A)
    pool = [
        _hashmix(ent[:, i] if i < length else np.zeros(k, np.uint64), hc) for i in range(_POOL_SIZE)
    ]
    for i_src in range(_POOL_SIZE):
        for i_dst in range(_POOL_SIZE):
            if i_src != i_dst:
                pool[i_dst] = _mix(pool[i_dst], _hashmix(pool[i_src], hc))
    for i_src in range(_POOL_SIZE, length):
        for i_dst in range(_POOL_SIZE):
            pool[i_dst] = _mix(pool[i_dst], _hashmix(ent[:, i_src], hc))
    # generate_state: 8 uint32 words cycling over the pool, read as 4 little-endian uint64
    hc = _HashConst(_INIT_B, _MULT_B)
    w = [_hashmix(pool[i % _POOL_SIZE], hc) for i in range(8)]
    return np.stack([w[2 * j] | (w[2 * j + 1] << np.uint64(32)) for j in range(4)], axis=1)


class _SeededSequence(ISpawnableSeedSequence):
    """Stands in for ``SeedSequence(entropy, spawn_key=key)`` whose PCG64 seed is already known.

    ``PCG64`` asks its seed sequence for ``generate_state(4, uint64)`` once; this returns the
    words :func:`_pcg64_seeds` computed. Anything else (other word counts, :meth:`spawn`) is
    delegated to the real ``SeedSequence``, built on demand.
    """

    def __init__(self, entropy: int, spawn_key: tuple[int, ...], seed: np.ndarray) -> None:
        self.entropy, self.spawn_key, self._seed = entropy, spawn_key, seed

    def _real(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key)

    def generate_state(self, n_words, dtype=np.uint32):
        if n_words == 4 and np.dtype(dtype) == np.dtype(np.uint64):
            return self._seed.copy()
        return self._real().generate_state(n_words, dtype)

    def spawn(self, n_children):
        return self._real().spawn(n_children)


def streams(
    entropy: int, keys: Sequence[tuple[int, str, *tuple[int, ...]]]
) -> list[np.random.Generator]:
    """Generators for many ``(replicate, purpose, *sub)`` keys at once.

    Parameters
    ----------
    entropy : the run's root entropy.
    keys : one ``(replicate, purpose, *sub)`` tuple per generator.

    Returns
    -------
    list of numpy.random.Generator
        ``streams(e, keys)[i]`` produces exactly the numbers ``stream(e, *keys[i])`` produces
        (tested); only the seeding is vectorised over the keys.
    """
    index = {p: i for i, p in enumerate(PURPOSES)}
    try:
        spawn_keys = [(int(k[0]), index[k[1]], *map(int, k[2:])) for k in keys]
    except KeyError as err:
        raise ValueError(f"unknown purpose {err.args[0]!r}; allowed: {PURPOSES}") from None
    run = _words(entropy)
    run += [0] * (_POOL_SIZE - len(run))  # numpy pads run entropy when there is a spawn key
    seeds = np.empty((len(spawn_keys), 4), dtype=np.uint64)
    flat = [x for key in spawn_keys for x in key]
    if flat and min(flat) >= 0 and max(flat) <= _MASK32:
        words = [run + list(key) for key in spawn_keys]  # one word per key element
    else:
        words = [run + [w for part in key for w in _words(part)] for key in spawn_keys]
    by_len: dict[int, list[int]] = {}
    for i, row in enumerate(words):  # one vectorised hash per length of assembled entropy
        by_len.setdefault(len(row), []).append(i)
    for idx in by_len.values():
        seeds[idx] = _pcg64_seeds(np.array([words[i] for i in idx], dtype=np.uint64))
    return [
        np.random.Generator(np.random.PCG64(_SeededSequence(entropy, key, seed)))
        for key, seed in zip(spawn_keys, seeds, strict=True)
    ]
