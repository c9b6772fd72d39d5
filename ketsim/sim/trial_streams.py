"""Random-stream sub-keys of the trial model and helpers drawing per-replicate rows.

Every draw of a trial comes from the seed tree (:mod:`ketsim.core.seeds`); these constants name
the sub-keys within each purpose, so the streams a model part uses never move when another part
is added.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.seeds import streams

# population-stream sub-keys of the PD traits (population.py uses 0-14)
_K_RESPONDER, _K_PLACEBO, _K_PSY_THRESHOLD, _K_SLOW_C50 = 15, 16, 17, 18
# behaviour-stream sub-keys
_B_BACKGROUND, _B_STOP, _B_NAUSEA, _B_VOMIT, _B_LIVER, _B_LTFU, _B_LOE, _B_FOLLOW = range(8)
# measurement-stream sub-keys
_M_SCREEN, _M_MISS_P, _M_MISS_U, _M_FLUCT, _M_EPS = range(5)
TREATMENTS = ("ketamine", "placebo", "active_placebo")
MAX_COURSES = 64
AE_EVENTS = ("psychotomimetic", "intolerable", "nausea", "vomiting", "liver_injury", "discontinued")


class _StreamBank:
    """Fresh generators of every replicate of a batch for the streams a model draws from.

    Seeding is vectorised over keys (:func:`ketsim.core.seeds.streams`) with a fixed cost per
    call, so
    the streams known up front are seeded in one call. :meth:`take` hands each ``(purpose, key)``
    out once, as new generators (exactly :func:`~ketsim.core.seeds.stream` of each replicate); a
    pair
    not seeded up front, or asked for again, is seeded on demand.
    """

    def __init__(
        self, entropy: int, replicates: tuple[int, ...], pairs: list[tuple[str, int]]
    ) -> None:
        self.entropy, self.replicates = entropy, replicates
        gens = streams(entropy, [(r, purpose, key) for purpose, key in pairs for r in replicates])
        n = len(replicates)
        self._bank = {pair: gens[i * n : (i + 1) * n] for i, pair in enumerate(pairs)}

    def take(self, purpose: str, key: int) -> list[np.random.Generator]:
        """The generator of ``(purpose, key)`` of each replicate, in replicate order."""
        gens = self._bank.pop((purpose, key), None)
        if gens is None:
            gens = streams(self.entropy, [(r, purpose, key) for r in self.replicates])
        return gens


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _draw_rows(
    gens: list[np.random.Generator], n_per: list[int], shape: tuple[int, ...], method: str
) -> np.ndarray:
    """Each replicate's ``getattr(g, method)((k, *shape))``, stacked replicate by replicate.

    ``Generator.random`` and ``Generator.standard_normal`` fill an ``out`` array exactly as they
    fill a new one of that shape, so drawing straight into the rows of the stacked array is bitwise
    the concatenation of the separate draws, without the copies.
    """
    out = np.empty((sum(n_per), *shape))
    start = 0
    for g, k in zip(gens, n_per, strict=True):
        getattr(g, method)(out=out[start : start + k])
        start += k
    return out
