"""Pain diaries of a trial batch: measurement noise drawn up front and observed integer NRS.

The noise of every diary day (an OU fluctuation continuing the screening day, daily noise and
missing days) does not depend on the simulated state, so :func:`draw_diary_noise` draws it at
setup; a design can then act on observed diaries during the trial (EERW run-in).
:func:`observed_nrs` turns expected pain into the observed scores of any diary columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ketsim.core.pd import diary
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.enrolment import (
    M_EPS,
    M_FLUCT,
    M_MISS_P,
    M_MISS_U,
    StreamBank,
    draw_rows,
    stack_rows,
)

__all__ = ["DiaryNoise", "draw_diary_noise", "expected_diary", "observed_nrs"]


@dataclass(frozen=True)
class DiaryNoise:
    """Measurement noise of every diary column ``(P, D)``, baseline columns first.

    Attributes
    ----------
    fluct : the OU fluctuation (NRS units).
    eps : the daily noise (NRS units).
    missing : the day is not recorded.
    """

    fluct: np.ndarray
    eps: np.ndarray
    missing: np.ndarray


def draw_diary_noise(
    bank: StreamBank,
    n_per: list[int],
    fluct0: np.ndarray,
    n_cols: int,
    params: PDParameters,
    baseline_sd: float,
) -> DiaryNoise:
    """Measurement noise of every diary day, from each replicate's measurement streams.

    Parameters
    ----------
    bank : the batch's streams.
    n_per : patients of each replicate (rows are replicate-major).
    fluct0 : each patient's fluctuation on the screening day (the day before baseline).
    n_cols : diary columns (baseline days plus trial days).
    params : PD parameters (fluctuation, daily noise, missing-day propensity).
    baseline_sd : SD of baseline pain in the population (scales the daily noise).

    Returns
    -------
    DiaryNoise
        The noise arrays.
    """
    prm, D = params, n_cols
    n = int(sum(n_per))

    def gens(key: int) -> list[np.random.Generator]:
        return bank.take("measurement", key)

    def meas(key: int, fn) -> np.ndarray:
        return stack_rows([fn(g, k) for g, k in zip(gens(key), n_per, strict=True)])

    # fluctuation continues the screening-day value (screening is the day before baseline)
    zf = draw_rows(gens(M_FLUCT), n_per, (D,), "standard_normal")
    noise_fluct = diary.ou_path(zf, prm.fluctuation_sd, prm.fluctuation_days, start=fluct0)
    noise_eps = draw_rows(gens(M_EPS), n_per, (D,), "standard_normal")
    noise_eps *= diary.daily_noise_sd(baseline_sd, prm)
    # missing days: beta-distributed propensity per patient
    mean, sd = prm.diary_missing_mean, prm.diary_missing_sd
    missing = np.zeros((n, D), bool)
    if mean > 0:
        kk = mean * (1 - mean) / sd**2 - 1 if sd > 0 else np.inf
        if np.isfinite(kk):
            prop = meas(M_MISS_P, lambda g, k: g.beta(mean * kk, (1 - mean) * kk, k))
        else:
            prop = np.full(n, mean)
        missing = draw_rows(gens(M_MISS_U), n_per, (D,), "random") < prop[:, None]
    return DiaryNoise(noise_fluct, noise_eps, missing)


def expected_diary(baseline_pain: np.ndarray, mu_diary: np.ndarray, nb: int) -> np.ndarray:
    """Expected pain ``(P, D)`` in every diary column: ``nb`` baseline columns, then the trial's."""
    base = np.repeat(baseline_pain[:, None], nb, axis=1)
    return np.concatenate([base, mu_diary], axis=1)


def observed_nrs(
    cols: np.ndarray,
    baseline_pain: np.ndarray,
    mu_diary: np.ndarray,
    noise: DiaryNoise,
    nb: int,
    expected: np.ndarray | None = None,
) -> np.ndarray:
    """Observed NRS (NaN = missing) in diary columns ``cols`` (baseline columns first).

    Parameters
    ----------
    cols : diary columns (0-based, the ``nb`` baseline columns first).
    baseline_pain : (P,) baseline pain (the expected pain of the baseline columns).
    mu_diary : (P, days) expected pain at each trial diary time.
    noise : the measurement noise.
    nb : baseline days.
    expected : :func:`expected_diary` when ``cols`` is every column (else computed).

    Returns
    -------
    np.ndarray
        ``(P, len(cols))`` observed integer scores as floats, NaN on missing days.
    """
    n_cols = noise.fluct.shape[1]
    if cols.size == n_cols and np.array_equal(cols, np.arange(n_cols)):
        # every column: no column gathers. The result is laid out column-major, as the
        # gathers of the general path lay it out (the arrays built on it stay the same).
        mu = expected_diary(baseline_pain, mu_diary, nb) if expected is None else expected
        obs = diary.observe_nrs(mu, noise.fluct, noise.eps)
        obs = np.asfortranarray(obs).astype(float)
        obs[noise.missing] = np.nan
        return obs
    mu = np.where(
        cols[None, :] < nb,
        baseline_pain[:, None],
        mu_diary[:, np.maximum(cols - nb, 0)],
    )
    obs = diary.observe_nrs(mu, noise.fluct[:, cols], noise.eps[:, cols]).astype(float)
    obs[noise.missing[:, cols]] = np.nan
    return obs
