"""Enrolment of a trial batch: screening against entry criteria, allocation to groups, strata."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ketsim.config.scenario import Scenario
from ketsim.core.pd import diary
from ketsim.core.pd.parameters import PDParameters
from ketsim.sim.design import (
    Timeline,
    enrolment_days,
    randomise,
    stratum_codes,
)
from ketsim.sim.population import Population, sample_populations
from ketsim.sim.trial_streams import (
    _M_SCREEN,
    _stack,
    _StreamBank,
)


def _pass_fraction(sc: Scenario, params: PDParameters) -> float:
    """Approximate fraction of candidates passing screening (sizes the candidate pool)."""
    thr = sc.trial.screening.threshold
    if thr is None:
        return 1.0
    bp = sc.population.baseline_pain
    sd_eps = diary.daily_noise_sd(bp.sd, params)
    sd = np.sqrt(bp.sd**2 + params.fluctuation_sd**2 + sd_eps**2 / sc.trial.screening.days)
    return float(special.ndtr((bp.mean - (thr - 0.5)) / max(sd, 1e-9)))


def _beta_score(x: np.ndarray, spec) -> np.ndarray:
    """Normal score Φ⁻¹(F(x)) of a beta-distributed attribute (0 when the spec has sd 0)."""
    if spec.sd == 0:
        return np.zeros(np.shape(x))
    a, b = spec.ab()
    return special.ndtri(np.clip(special.betainc(a, b, x), 1e-15, 1 - 1e-15))


def _lognormal_score(x: np.ndarray, spec) -> np.ndarray:
    """Normal score of a truncated log-normal attribute (0 when the spec has sd_log 0)."""
    if spec.sd_log == 0:
        return np.zeros(np.shape(x))
    mu = np.log(spec.median)
    lo, hi = (special.ndtr((np.log(v) - mu) / spec.sd_log) for v in (spec.min, spec.max))
    u = (special.ndtr((np.log(x) - mu) / spec.sd_log) - lo) / (hi - lo)
    return special.ndtri(np.clip(u, 1e-15, 1 - 1e-15))


@dataclass
class _Enrolled:
    """The patients of a batch of replicates after screening and allocation (replicate-major)."""

    pop: Population
    n_per: list[int]  # patients of each replicate
    group: np.ndarray  # timeline group (arm, sequence; EERW: 0 until randomisation)
    arm: np.ndarray  # randomised arm (-1: crossover, or EERW before randomisation)
    screening_score: np.ndarray
    fluct0: np.ndarray  # fluctuation on the screening day (standard-normal scale x sd)
    enrolment_day: np.ndarray


def _n_enrolled(sc: Scenario, tl: Timeline) -> int:
    if tl.type == "enrichment":
        return sc.design.enrichment.n
    return int(tl.targets.sum())


def _needs_strata(sc: Scenario) -> bool:
    rs = sc.design.randomisation
    return rs.method == "permuted_block" and bool(rs.strata)


def _allocate(
    sc: Scenario,
    n: int,
    rng: np.random.Generator,
    pop: Population | None,
    score: np.ndarray,
    sizes: np.ndarray | None,
    ratio: np.ndarray,
) -> np.ndarray:
    """Allocate ``n`` patients; ``pop`` (their population) is read only for stratification."""
    rs = sc.design.randomisation
    strata = None
    if _needs_strata(sc):
        if pop is None:
            raise ValueError("stratified randomisation needs the patients' population")
        strata = stratum_codes(pop, rs.strata, score, sc.population.sensitization.mean)
    if rs.method == "random_allocation" and sizes is None:
        # random group sizes (EERW responders): proportional sizes, largest remainder
        share = n * ratio / ratio.sum()
        sizes = np.floor(share).astype(int)
        extra = n - int(sizes.sum())
        sizes[np.argsort(-(share - sizes), kind="stable")[:extra]] += 1
    return randomise(
        n,
        rng,
        method=rs.method,
        sizes=sizes,
        ratio=ratio,
        strata=strata,
        block_sizes=rs.block_sizes,
    )


def _screen_and_allocate(
    sc: Scenario, tl: Timeline, bank: _StreamBank, params: PDParameters
) -> _Enrolled:
    """Screen candidates and allocate the enrolled patients of every replicate of a batch.

    Each replicate draws from its own streams (candidates, screening noise, enrolment times,
    allocation) exactly as if simulated alone; only elementwise transforms of those draws (the
    population's inverse CDFs, the screening score) run once over the whole batch.
    """
    entropy, replicates = bank.entropy, bank.replicates
    n_total = _n_enrolled(sc, tl)
    spec = sc.population
    frac = _pass_fraction(sc, params)
    if frac < 0.02:
        raise ValueError(
            f"trial.screening.threshold {sc.trial.screening.threshold} admits only "
            f"{100 * frac:.1f}% of candidates with baseline pain mean {spec.baseline_pain.mean}"
        )
    pool = n_total if frac >= 1.0 else int(np.ceil(n_total / frac * 1.5)) + 20
    cand = sample_populations(spec.model_copy(update={"n": pool}), entropy, replicates)
    days = sc.trial.screening.days
    n_cand = pool * len(replicates)
    fluct0, eps = np.empty(n_cand), np.empty((n_cand, days))
    for i, m in enumerate(bank.take("measurement", _M_SCREEN)):
        rows = slice(i * pool, (i + 1) * pool)
        m.standard_normal(out=fluct0[rows])  # screening-day fluctuation, then the daily noise
        m.standard_normal(out=eps[rows])
    fluct0 *= params.fluctuation_sd
    eps *= diary.daily_noise_sd(spec.baseline_pain.sd, params)
    # integer scores: the row means are exact whatever the batch
    score = diary.observe_nrs(cand.baseline_pain[:, None], fluct0[:, None], eps).mean(axis=1)
    thr = sc.trial.screening.threshold
    idx = []
    for i in range(len(replicates)):
        ok = np.ones(pool, bool) if thr is None else score[i * pool : (i + 1) * pool] >= thr
        admitted = np.flatnonzero(ok)[:n_total]
        if admitted.size < n_total:
            raise ValueError(
                f"screening admitted {admitted.size} of {pool} candidates; {n_total} needed "
                f"(trial.screening.threshold {thr} is too strict for this population)"
            )
        idx.append(i * pool + admitted)
    sel = _stack(idx)
    pop = cand.take(sel)
    score = score[sel]
    # randomisation stream: key 0 allocation, 1 enrolment times, 2 EERW re-randomisation
    ppw = sc.design.recruitment.patients_per_week
    enrol = _stack([enrolment_days(n_total, ppw, g) for g in bank.take("randomisation", 1)])
    n_all = n_total * len(replicates)
    if tl.type == "enrichment":
        group = np.zeros(n_all, dtype=np.int64)
        arm = np.full(n_all, -1, dtype=np.int64)
    else:
        parts = []
        for i, g in enumerate(bank.take("randomisation", 0)):
            rows = slice(i * n_total, (i + 1) * n_total)
            sub = pop.take(rows) if _needs_strata(sc) else None
            parts.append(_allocate(sc, n_total, g, sub, score[rows], tl.targets, tl.ratio))
        group = _stack(parts)
        arm = group.copy() if tl.type == "parallel" else np.full(n_all, -1, dtype=np.int64)
    n_per = [n_total] * len(replicates)
    return _Enrolled(pop, n_per, group, arm, score, fluct0[sel], enrol)


#: subgroups of the report's "power by stratum" panel: name -> description
STRATA = {
    "cyp2b6_carrier": "CYP2B6 *6 or *18 carrier (slower ketamine clearance in vitro)",
    "high_sensitization": "central sensitization at or above the indication's mean",
    "female": "women",
}


def patient_strata(pop: Population, sc: Scenario) -> dict[str, np.ndarray]:
    """Boolean patient strata (:data:`STRATA`) from the population arrays."""
    return {
        "cyp2b6_carrier": np.asarray(pop.cyp2b6 != "*1/*1", dtype=bool),
        "high_sensitization": pop.sensitization >= sc.population.sensitization.mean,
        "female": np.asarray(pop.female, dtype=bool),
    }
