"""ABC-SMC fit of uncertain parameters to published targets, with pyabc.

Algorithm
---------
pyabc's :class:`pyabc.ABCSMC` (Toni 2009; Beaumont 2009 importance weights ``prior /
Σ w_j K(θ | θ_j)``, a multivariate normal perturbation kernel fitted to the previous population,
epsilon the median of the previous population's distances, floored at the stopping tolerance).
The prior is uniform on each parameter's internal scale
(:mod:`~ketsim.apps.calibrate.parameters`). The model's summary statistics are the simulated
targets with their Monte Carlo SEs (:meth:`~ketsim.apps.calibrate.targets.TargetSet.simulate`);
the distance is the Euclidean norm of the standardised discrepancies (published SE and MC SE
combined, :mod:`~ketsim.apps.calibrate.targets`).

Stopping: after ``generations`` populations, or once epsilon reaches ``min_epsilon``, by default
``sqrt(χ²_K(0.95))`` for K targets: the accepted set is then every parameter vector whose
simulated targets are jointly consistent with the published ones at the 5% level (a smaller
epsilon would fit the published values' noise).

Speed: every particle reuses one root entropy (common random numbers); generation ``t`` simulates
``min(r_max, r_0 · 2^t)`` replicates per target (small counts while the population is still
spread over the prior). Each generation's population is a valid importance sample for that
generation's distance whatever the earlier ones used, so the schedule changes only efficiency.

Determinism: :class:`OrderedSampler` seeds particle ``i`` of generation ``t`` from the seed tree
(``calibration_proposals``, :mod:`ketsim.core.seeds`) and keeps, in index order, the particles up
to the n-th accepted one; worker processes evaluate index blocks ahead, and their surplus is
discarded. The fit is therefore the same for any number of jobs. pyabc's own multicore samplers
accept particles in the order workers finish, which is not reproducible.

References
----------
.. [Toni2009] Toni T, Welch D, Strelkowa N, Ipsen A, Stumpf MPH. Approximate Bayesian
   computation scheme for parameter inference and model selection in dynamical systems.
   J R Soc Interface 2009;6:187-202.
.. [Beaumont2009] Beaumont MA, Cornuet JM, Marin JM, Robert CP. Adaptive approximate Bayesian
   computation. Biometrika 2009;96:983-90.
.. [Schaelte2022] Schälte Y, Klinger E, Alamoudi E, Hasenauer J. pyABC: efficient and robust
   easy-to-use approximate Bayesian computation. J Open Source Softw 2022;7:4304.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import cloudpickle
import numpy as np
import pandas as pd
import pyabc
from joblib import Parallel, delayed
from pyabc.sampler import Sampler
from scipy import special

from ketsim.apps.calibrate.parameters import UncertainParameter
from ketsim.apps.calibrate.targets import TargetSet, distance
from ketsim.core.seeds import AUXILIARY

__all__ = [
    "FitSettings",
    "KetsimModel",
    "OrderedSampler",
    "default_min_epsilon",
    "make_abc",
    "particle_seed",
    "replicates_at",
]


def particle_seed(entropy: int, t: int, i: int) -> np.ndarray:
    """The 128-bit seed (4 uint32 words) of particle ``i`` of generation ``t`` (t >= -1)."""
    key = (AUXILIARY["calibration_proposals"], int(t) + 1, int(i))
    return np.random.SeedSequence(entropy, spawn_key=key).generate_state(4, dtype=np.uint32)


def _evaluate(simulate_one, entropy: int, t: int, lo: int, hi: int) -> list:
    """Particles ``lo .. hi-1`` of generation ``t``, each from its own seed."""
    if isinstance(simulate_one, bytes):
        simulate_one = cloudpickle.loads(simulate_one)
    out = []
    # pyabc's proposals (scipy.stats rvs without a random_state) draw from the legacy global
    # generators, so each particle seeds them from the seed tree; the caller's global state is
    # put back afterwards (with --jobs 1 this runs in the user's process)
    saved_np, saved_py = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        for i in range(lo, hi):
            words = particle_seed(entropy, t, i)
            np.random.seed(words)  # noqa: NPY002 - see above
            random.seed(int.from_bytes(words.tobytes(), "little"))
            out.append(simulate_one())
    finally:
        np.random.set_state(saved_np)  # noqa: NPY002
        random.setstate(saved_py)
    return out


class OrderedSampler(Sampler):
    """A pyabc sampler whose result depends only on the root entropy (module docstring).

    Parameters
    ----------
    entropy : root entropy of the run.
    jobs : worker processes (loky); 1 evaluates in-process, one particle at a time.
    """

    def __init__(self, entropy: int, jobs: int = 1):
        super().__init__()
        self.entropy = int(entropy)
        self.jobs = int(jobs)
        #: evaluations done ahead by workers and discarded (cost only; not in the fit)
        self.surplus_evaluations = 0
        #: acceptance rate of the last generation: the first batch size of the next
        self._rate = 0.3

    def sample_until_n_accepted(
        self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None
    ):
        sample = self._create_empty_sample()
        accepted = used = 0
        if self.jobs == 1:
            while accepted < n and used < max_eval:
                p = _evaluate(simulate_one, self.entropy, t, used, used + 1)[0]
                sample.append(p)
                used += 1
                accepted += bool(p.accepted)
        else:
            payload = cloudpickle.dumps(simulate_one)
            rate = 1.0 if all_accepted else self._rate  # the last generation's, then this one's
            done = 0
            while accepted < n and used < max_eval:
                # at most n per round: a wrong rate guess wastes at most one population
                k = math.ceil(1.2 * (n - accepted) / max(rate, 0.02))
                k = max(self.jobs, min(k, n))
                edges = np.linspace(done, done + k, self.jobs + 1).round().astype(int)
                blocks = Parallel(n_jobs=self.jobs, backend="loky")(
                    delayed(_evaluate)(payload, self.entropy, t, int(a), int(b))
                    for a, b in itertools.pairwise(edges)
                    if b > a
                )
                done += k
                for p in (p for block in blocks for p in block):
                    if accepted >= n or used >= max_eval:
                        self.surplus_evaluations += 1
                        continue
                    sample.append(p)
                    used += 1
                    accepted += bool(p.accepted)
                rate = max(accepted, 1) / max(used, 1)
        self.nr_evaluations_ = used
        if not all_accepted and used:
            self._rate = max(accepted, 1) / used
        if sample.n_accepted < n:
            sample.ok = False
        return sample


def replicates_at(t: int, schedule: tuple[int, int]) -> int:
    """Replicates per target in generation ``t``: ``min(r_max, r_0 · 2^t)``."""
    r0, r1 = schedule
    return int(min(r1, r0 * 2 ** max(int(t), 0)))


class KetsimModel(pyabc.Model):
    """The simulator as a pyabc model: internal-scale parameters -> simulated targets.

    Parameters
    ----------
    targets : the scenarios and their targets.
    hypothesis : lasting-effect hypothesis (``switches.lasting_effect``).
    params : the parameters being fitted.
    schedule : (r_0, r_max) of :func:`replicates_at`.
    entropy : root entropy of every simulation (common random numbers).
    """

    def __init__(
        self,
        targets: TargetSet,
        hypothesis: str,
        params: Sequence[UncertainParameter],
        schedule: tuple[int, int],
        entropy: int,
    ):
        super().__init__(name=f"ketsim_{hypothesis}")
        self.targets = targets
        self.hypothesis = hypothesis
        self.params = list(params)
        self.schedule = schedule
        self.entropy = int(entropy)

    def natural(self, pars) -> dict[str, float]:
        """Internal-scale pyabc parameters -> natural PD values."""
        return {p.name: p.to_natural(float(pars[p.name])) for p in self.params}

    def summary_statistics(self, t, pars, sum_stat_calculator):
        stats = self.targets.simulate(
            self.hypothesis,
            self.natural(pars),
            replicates_at(t, self.schedule),
            self.entropy,
        )
        return pyabc.ModelResult(sum_stat=stats)


class FlooredMedianEpsilon(pyabc.QuantileEpsilon):
    """pyabc's median epsilon, never below ``floor``: the last generation runs at the stopping
    tolerance itself instead of overshooting below it."""

    def __init__(self, floor: float):
        super().__init__(alpha=0.5)
        self.floor = float(floor)

    def __call__(self, t: int) -> float:
        return max(float(super().__call__(t)), self.floor)


class _ChiDistance:
    """pyabc distance callable: :func:`~ketsim.apps.calibrate.targets.distance` (picklable)."""

    def __init__(self, targets: TargetSet):
        self.targets = targets.targets

    def __call__(self, x, x_0):
        return distance(self.targets, x)


def default_min_epsilon(n_targets: int) -> float:
    """``sqrt(χ²_K(0.95))``: the 95% point of the chi distribution with K degrees of freedom."""
    return float(math.sqrt(2.0 * special.gammaincinv(n_targets / 2.0, 0.95)))


@dataclass(frozen=True)
class FitSettings:
    """What a fit is (all of it goes into the run key).

    Attributes
    ----------
    hypothesis : lasting-effect hypothesis.
    population : particles per generation.
    generations : most generations (populations).
    replicates : (r_0, r_max) replicate schedule.
    min_epsilon : stop once epsilon is at or below it (None: :func:`default_min_epsilon`).
    max_evaluations : stop after this many simulations in all.
    """

    hypothesis: str
    population: int = 100
    generations: int = 6
    replicates: tuple[int, int] = (10, 40)
    min_epsilon: float | None = None
    max_evaluations: int = 20000


def make_abc(
    targets: TargetSet,
    params: Sequence[UncertainParameter],
    settings: FitSettings,
    entropy: int,
    jobs: int = 1,
    sampler: OrderedSampler | None = None,
) -> pyabc.ABCSMC:
    """The pyabc ABCSMC object of a fit (not yet attached to a database); ``sampler`` reuses
    one :class:`OrderedSampler` across generations (its acceptance rate sizes the batches)."""
    prior = pyabc.Distribution(
        **{
            p.name: pyabc.RV("uniform", p.internal_bounds[0], np.diff(p.internal_bounds)[0])
            for p in params
        }
    )
    model = KetsimModel(targets, settings.hypothesis, params, settings.replicates, entropy)
    return pyabc.ABCSMC(
        model,
        prior,
        _ChiDistance(targets),
        population_size=settings.population,
        transitions=pyabc.MultivariateNormalTransition(),
        eps=FlooredMedianEpsilon(
            settings.min_epsilon
            if settings.min_epsilon is not None
            else default_min_epsilon(len(targets.targets))
        ),
        sampler=sampler if sampler is not None else OrderedSampler(entropy, jobs),
    )


def observed(targets: TargetSet) -> dict[str, float]:
    """The observed summary statistics pyabc stores: published values, SE fields 0."""
    out: dict[str, float] = {}
    for t in targets.targets:
        out[t.key] = float(t.published)
        out[t.key + "|se"] = 0.0
    return out


def quiet_pyabc(verbose: bool) -> None:
    """pyabc logs every generation at INFO; keep it to warnings unless ``verbose``."""
    for name in ("ABC", "pyabc"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def populations(history: pyabc.History, params: Sequence[UncertainParameter]) -> pd.DataFrame:
    """Every stored generation as one long table of particles.

    Columns: ``generation``, ``particle``, each parameter on its natural scale, ``weight``,
    ``distance``.
    """
    rows = []
    for t in range(history.max_t + 1):
        pop = history.get_population(t=t)
        for j, p in enumerate(pop.particles):
            r = {"generation": t, "particle": j}
            r.update({q.name: q.to_natural(float(p.parameter[q.name])) for q in params})
            r["weight"] = float(p.weight)
            r["distance"] = float(p.distance)
            rows.append(r)
    return pd.DataFrame(rows)


def predictive(history: pyabc.History, targets: TargetSet) -> pd.DataFrame:
    """Simulated targets of the last generation's particles (long: particle, target, value,
    mc_se, weight)."""
    pop = history.get_population(t=history.max_t)
    rows = []
    for j, p in enumerate(pop.particles):
        for t in targets.targets:
            rows.append(
                {
                    "particle": j,
                    "target": t.key,
                    "simulated": float(p.sum_stat[t.key]),
                    "mc_se": float(p.sum_stat[t.key + "|se"]),
                    "weight": float(p.weight),
                }
            )
    return pd.DataFrame(rows)
