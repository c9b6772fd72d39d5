"""Enrolment of a trial batch: per-replicate random streams, screening, allocation, strata.

Random numbers come from the seed tree (:mod:`ketsim.core.seeds`): replicate ``r`` draws its own
population, allocation, behaviour and measurement streams, so a replicate's tables do not depend on
which other replicates share its batch. :class:`StreamBank` hands those streams out;
:func:`screen_and_allocate` screens candidates and allocates the enrolled patients of every
replicate of a batch; :func:`patient_strata` gives the subgroups (:data:`STRATA`) of the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from ketsim.config.scenario import Scenario
from ketsim.core.pd import diary
from ketsim.core.pd.parameters import PDParameters
from ketsim.core.seeds import streams
from ketsim.sim.compile import EnrolmentRule
from ketsim.sim.design import Timeline, enrolment_days, randomise, stratum_codes
from ketsim.sim.population import Population, sample_populations

__all__ = [
    "STRATA",
    "Enrolled",
    "StreamBank",
    "allocate",
    "allocate_responders",
    "batch_stream_pairs",
    "draw_rows",
    "patient_strata",
    "screen_and_allocate",
    "stack_rows",
]

# population-stream sub-keys of the PD traits (population.py uses 0-14)
K_RESPONDER, K_PLACEBO, K_PSY_THRESHOLD, K_SLOW_C50 = 15, 16, 17, 18
# population-stream sub-key of the per-patient dose draws: (K_DOSE, j) for distribution j
K_DOSE = 19
# behaviour-stream sub-keys
B_BACKGROUND, B_STOP, B_NAUSEA, B_VOMIT, B_LIVER, B_LTFU, B_LOE, B_FOLLOW = range(8)
# measurement-stream sub-keys
M_SCREEN, M_MISS_P, M_MISS_U, M_FLUCT, M_EPS = range(5)


def batch_stream_pairs(tl: Timeline) -> list[tuple[str, int]]:
    """Every ``(purpose, key)`` stream a trial batch draws from at setup (and EERW's
    re-randomisation at the end of the run-in), to seed up front in one call."""
    pairs = [("measurement", k) for k in (M_SCREEN, M_FLUCT, M_EPS, M_MISS_P, M_MISS_U)]
    pairs += [("randomisation", 0), ("randomisation", 1)]
    pairs += [("population", k) for k in (K_RESPONDER, K_PLACEBO, K_PSY_THRESHOLD)]
    pairs += [("population", K_SLOW_C50)]
    pairs += [("behaviour", k) for k in range(B_FOLLOW + 1)]
    if tl.type == "enrichment":
        pairs.append(("randomisation", 2))
    return pairs


def _pass_fraction(rule: EnrolmentRule, params: PDParameters) -> float:
    """Approximate fraction of candidates passing screening (sizes the candidate pool)."""
    thr = rule.screening_threshold
    if thr is None:
        return 1.0
    bp = rule.population.baseline_pain
    sd_eps = diary.daily_noise_sd(bp.sd, params)
    sd = np.sqrt(bp.sd**2 + params.fluctuation_sd**2 + sd_eps**2 / rule.screening_days)
    return float(special.ndtr((bp.mean - (thr - 0.5)) / max(sd, 1e-9)))


@dataclass
class Enrolled:
    """The patients of a batch of replicates after screening and allocation (replicate-major)."""

    pop: Population
    n_per: list[int]  # patients of each replicate
    group: np.ndarray  # timeline group (arm, sequence; EERW: 0 until randomisation)
    arm: np.ndarray  # randomised arm (-1: crossover, or EERW before randomisation)
    screening_score: np.ndarray
    fluct0: np.ndarray  # fluctuation on the screening day (standard-normal scale x sd)
    enrolment_day: np.ndarray


class StreamBank:
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


def stack_rows(parts: list[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def draw_rows(
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


def needs_strata(rule: EnrolmentRule) -> bool:
    """Whether allocation is stratified (then it reads the patients' population)."""
    rs = rule.randomisation
    return rs.method == "permuted_block" and bool(rs.strata)


def allocate(
    rule: EnrolmentRule,
    n: int,
    rng: np.random.Generator,
    pop: Population | None,
    score: np.ndarray,
    sizes: np.ndarray | None,
    ratio: np.ndarray,
) -> np.ndarray:
    """Allocate ``n`` patients; ``pop`` (their population) is read only for stratification."""
    rs = rule.randomisation
    strata = None
    if needs_strata(rule):
        if pop is None:
            raise ValueError("stratified randomisation needs the patients' population")
        strata = stratum_codes(pop, list(rs.strata), score, rule.population.sensitization.mean)
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


def screen_and_allocate(
    rule: EnrolmentRule, tl: Timeline, bank: StreamBank, params: PDParameters
) -> Enrolled:
    """Screen candidates and allocate the enrolled patients of every replicate of a batch.

    Each replicate draws from its own streams (candidates, screening noise, enrolment times,
    allocation) exactly as if simulated alone; only elementwise transforms of those draws (the
    population's inverse CDFs, the screening score) run once over the whole batch.
    """
    entropy, replicates = bank.entropy, bank.replicates
    n_total = rule.n
    spec = rule.population
    frac = _pass_fraction(rule, params)
    if frac < 0.02:
        raise ValueError(
            f"trial.screening.threshold {rule.screening_threshold} admits only "
            f"{100 * frac:.1f}% of candidates with baseline pain mean {spec.baseline_pain.mean}"
        )
    pool = n_total if frac >= 1.0 else int(np.ceil(n_total / frac * 1.5)) + 20
    cand = sample_populations(spec.model_copy(update={"n": pool}), entropy, replicates)
    days = rule.screening_days
    n_cand = pool * len(replicates)
    fluct0, eps = np.empty(n_cand), np.empty((n_cand, days))
    for i, m in enumerate(bank.take("measurement", M_SCREEN)):
        rows = slice(i * pool, (i + 1) * pool)
        m.standard_normal(out=fluct0[rows])  # screening-day fluctuation, then the daily noise
        m.standard_normal(out=eps[rows])
    fluct0 *= params.fluctuation_sd
    eps *= diary.daily_noise_sd(spec.baseline_pain.sd, params)
    # integer scores: the row means are exact whatever the batch
    score = diary.observe_nrs(cand.baseline_pain[:, None], fluct0[:, None], eps).mean(axis=1)
    thr = rule.screening_threshold
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
    sel = stack_rows(idx)
    pop = cand.take(sel)
    score = score[sel]
    # randomisation stream: key 0 allocation, 1 enrolment times, 2 EERW re-randomisation
    ppw = rule.patients_per_week
    enrol = stack_rows([enrolment_days(n_total, ppw, g) for g in bank.take("randomisation", 1)])
    n_all = n_total * len(replicates)
    if tl.type == "enrichment":
        group = np.zeros(n_all, dtype=np.int64)
        arm = np.full(n_all, -1, dtype=np.int64)
    else:
        parts = []
        for i, g in enumerate(bank.take("randomisation", 0)):
            rows = slice(i * n_total, (i + 1) * n_total)
            sub = pop.take(rows) if needs_strata(rule) else None
            parts.append(allocate(rule, n_total, g, sub, score[rows], tl.targets, tl.ratio))
        group = stack_rows(parts)
        arm = group.copy() if tl.type == "parallel" else np.full(n_all, -1, dtype=np.int64)
    n_per = [n_total] * len(replicates)
    return Enrolled(pop, n_per, group, arm, score, fluct0[sel], enrol)


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


def allocate_responders(
    rule: EnrolmentRule,
    responders: np.ndarray,
    gens: list[np.random.Generator],
    n_per: list[int],
    pop: Population,
    score: np.ndarray,
    ratio: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """EERW: allocate the run-in responders of each replicate with its re-randomisation stream.

    Parameters
    ----------
    rule : the enrolment rule (randomisation method and strata).
    responders : (P,) the patients randomised at the end of the run-in.
    gens : each replicate's re-randomisation generator (``("randomisation", 2)``).
    n_per : patients of each replicate (rows are replicate-major).
    pop : the batch's patients (read for stratification).
    score : (P,) screening scores.
    ratio : allocation ratio of the arms.

    Returns
    -------
    ids, arms : the responders' patient indices (ascending) and their allocated arms.
    """
    ids_all, lab_all = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    start = 0
    for g, k in zip(gens, n_per, strict=True):
        ids = start + np.flatnonzero(responders[start : start + k])
        if ids.size:
            lab = allocate(
                rule,
                ids.size,
                g,
                pop.take(ids),
                score[ids],
                None,
                np.asarray(ratio, dtype=float),
            )
            ids_all.append(ids)
            lab_all.append(lab)
        start += k
    return np.concatenate(ids_all), np.concatenate(lab_all)
