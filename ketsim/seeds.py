"""The seed tree: one root ``SeedSequence`` per run, fixed child streams per purpose.

Replicate ``r`` uses ``SeedSequence(entropy, spawn_key=(r,))``; inside it, purpose ``k``
(population,
randomisation, behaviour, measurement) uses ``spawn_key=(r, k)`` and an attribute ``a`` of that
purpose ``spawn_key=(r, k, a)``. A stream depends only on its key, so adding a model part never
reshuffles the others, any replicate can be re-run alone, and arms or designs compared in one sweep
share common random numbers.
"""

from __future__ import annotations

import secrets

import numpy as np

__all__ = ["PURPOSES", "new_entropy", "stream"]

PURPOSES = ("population", "randomisation", "behaviour", "measurement")


def new_entropy() -> int:
    """A fresh 128-bit root entropy (recorded by the caller so the run can be repeated)."""
    return secrets.randbits(128)


def stream(entropy: int, replicate: int, purpose: str, *sub: int) -> np.random.Generator:
    """The generator for one purpose (and optional sub-keys) of one replicate."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; allowed: {PURPOSES}")
    key = (int(replicate), PURPOSES.index(purpose), *map(int, sub))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=key)))
