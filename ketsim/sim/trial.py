"""One simulated trial (or a batch of replicate trials) as a mesa ``Model``.

State lives in patients-first numpy arrays owned by :class:`TrialModel`; the mesa
:class:`~ketsim.sim.agents.PatientAgent` objects are views onto one row each. The model's clock
jumps
from event to event (dose and rate changes, staff checks, daily diary times) and every decision is
a vectorised rule over all patients of every replicate in the batch:

1. propagate the linear PK exactly to the next event (one matrix exponential per distinct step);
2. update the PD states (tolerance, sensitization) exactly over the step;
3. at a check: psychotomimetic effects, nausea, functional unblinding, titration, stopping;
4. at a diary time: record each patient's expected pain (noise is added afterwards);
5. set the inputs for the next interval.

Random numbers come from the seed tree (:mod:`ketsim.core.seeds`): replicate ``r`` draws its own
population, allocation, behaviour and measurement streams, so a replicate's tables do not depend on
which other replicates share its batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mesa
import numpy as np
import pandas as pd
from scipy import special

from ketsim.config.scenario import BOLUS_ROUTES, INFUSION_ROUTES, Scenario
from ketsim.core.pd import acute, adverse, diary, placebo, sensitization
from ketsim.core.pd.parameters import PDParameters, resolve_pd
from ketsim.core.pk.model import build_system, individual_parameters
from ketsim.core.pk.propagate import PKCursor, Propagator
from ketsim.core.seeds import root_entropy, streams
from ketsim.sim.design import (
    Timeline,
    compile_timeline,
    dosing_end_h,
    enrolment_days,
    randomise,
    stratum_codes,
)
from ketsim.sim.pk_study import pk_switches
from ketsim.sim.population import Population, sample_populations
from ketsim.sim.regimen import ArmSchedule, check_times, compile_arm, routes_used

__all__ = [
    "STRATA",
    "DoseRecorder",
    "TrialArrays",
    "TrialModel",
    "TrialResult",
    "patient_strata",
    "simulate_trial",
]

# population-stream sub-keys of the PD traits (population.py uses 0-14)
_K_RESPONDER, _K_PLACEBO, _K_PSY_THRESHOLD, _K_SLOW_C50 = 15, 16, 17, 18
# behaviour-stream sub-keys
_B_BACKGROUND, _B_STOP, _B_NAUSEA, _B_VOMIT, _B_LIVER, _B_LTFU, _B_LOE, _B_FOLLOW = range(8)
# measurement-stream sub-keys
_M_SCREEN, _M_MISS_P, _M_MISS_U, _M_FLUCT, _M_EPS = range(5)
TREATMENTS = ("ketamine", "placebo", "active_placebo")
MAX_COURSES = 64
AE_EVENTS = ("psychotomimetic", "intolerable", "nausea", "vomiting", "liver_injury", "discontinued")


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


@dataclass
class TrialArrays:
    """Per-patient arrays of a finished batch, as endpoints and analyses read them.

    Days count as in the diary: baseline days ``-baseline_days+1 .. 0``, then ``1, 2, ...`` from
    t = 0 (the first day of the first treatment segment).
    """

    type: str
    replicate: np.ndarray
    patient: np.ndarray
    group: np.ndarray
    arm: np.ndarray  # randomised arm; -1 = not randomised (EERW) or crossover
    arm_names: list[str]
    arm_treatments: list[str]
    group_names: list[str]
    segment_arm: np.ndarray  # (P, S) arm index of each segment (-1 run-in/extension/none)
    segment_start_day: np.ndarray  # (P, S) day number before the segment's first day (NaN none)
    randomised_segment: int  # segment holding the randomised treatment (crossover: all periods)
    days: np.ndarray  # (D,) day numbers
    baseline_days: int
    nrs: np.ndarray  # (P, D) observed integer NRS, NaN = not recorded
    expected_nrs: np.ndarray  # (P, D) model's expected pain
    baseline: np.ndarray  # (P,) mean observed NRS over the baseline days
    discontinued_day: np.ndarray  # (P,) day (fractional) treatment stopped; NaN = never
    dropout_day: np.ndarray  # (P,) day (fractional) of leaving the study; NaN = never
    dropout_reason: np.ndarray  # (P,) object
    ae: dict[str, np.ndarray]  # name -> (P, S) event during segment
    in_study: np.ndarray  # (P, D) the patient had not left the study by that diary day
    period_weeks: int = 0
    # (P, S) diary day before the first diary entry after each segment's scheduled dosing ends
    segment_end_day: np.ndarray | None = None
    # patient strata for subgroup analyses: name -> (P,) bool (see STRATA)
    strata: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.replicate.size

    def take(self, rows: np.ndarray) -> TrialArrays:
        """The patients selected by ``rows`` (a boolean mask or indices), as TrialArrays."""
        out = {}
        for f in self.__dataclass_fields__:
            v = getattr(self, f)
            if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == self.n:
                v = v[rows]
            elif isinstance(v, dict):
                v = {k: x[rows] for k, x in v.items()}
            out[f] = v
        # days (D,) is per diary day, not per patient, even when D happens to equal P
        out["days"] = self.days
        return TrialArrays(**out)


@dataclass
class TrialResult:
    """Tables of one simulated trial batch (tidy, one row per observation).

    ``doses``, ``concentrations`` and ``population`` are filled only when the trial was simulated
    with ``record_doses=True`` (:class:`DoseRecorder`); otherwise they are None.

    Attributes
    ----------
    doses : one row per administration as given: ``replicate, patient, route`` (scenario route
        name), ``kind`` (``infusion``/``bolus``), ``start_h``, ``end_h`` (infusions; NaN for
        boluses), ``rate_mg_h`` (infusions; NaN for boluses) and ``amount_mg`` (infusions: rate x
        duration), in whole-drug mg (a racemate's two enantiomers together). An infusion row is
        one interval of constant rate; titration steps start new rows.
    concentrations : one row per patient and model time (every event and diary time the model
        stepped through): ``replicate, patient, time_h, treatment`` (of the segment in force),
        ``s_ketamine_ng_ml``, ``s_norketamine_ng_ml`` (and ``r_ketamine_ng_ml``,
        ``r_norketamine_ng_ml`` for the racemate): plasma concentrations just after the doses due
        at ``time_h`` (right-continuous, as :meth:`ketsim.core.pk.propagate.Propagator.run`).
    population : the batch's patients (covariates and PK etas), rows as in ``patients``.
    """

    scenario: Scenario
    entropy: int
    replicates: tuple[int, ...]
    patients: pd.DataFrame
    diary: pd.DataFrame
    events: pd.DataFrame
    timings_s: dict = field(default_factory=dict)
    arrays: TrialArrays | None = None
    doses: pd.DataFrame | None = None
    concentrations: pd.DataFrame | None = None
    population: Population | None = None

    def weekly(self) -> pd.DataFrame:
        """Mean NRS per replicate, arm and week (week 0 = baseline; missing days skipped)."""
        d = self.diary.dropna(subset=["nrs"])
        g = d.groupby(["replicate", "arm", "week"], observed=True)["nrs"]
        return g.mean().rename("mean_nrs").reset_index()

    def summary(self) -> pd.DataFrame:
        """Per arm: weekly mean NRS, AE incidences, dropouts and end rates (mean over batch)."""
        p = self.patients
        rows = []
        wk = (
            self.diary.dropna(subset=["nrs"])
            .groupby(["arm", "replicate", "patient", "week"], observed=True)["nrs"]
            .mean()
            .groupby(["arm", "week"], observed=True)
            .mean()
        )
        for arm, g in p.groupby("arm", sort=False, observed=True):
            row = {"arm": arm, "n": len(g)}
            for w in sorted(set(self.diary["week"].unique())):
                key = (arm, w)
                row[f"week{w}"] = float(wk.get(key, np.nan))
            row["psychotomimetic_pct"] = 100 * g["ae_psychotomimetic"].mean()
            row["nausea_pct"] = 100 * g["ae_nausea"].mean()
            row["liver_injury_pct"] = 100 * g["ae_liver_injury"].mean()
            row["discontinued_pct"] = 100 * g["discontinued"].mean()
            row["dropout_pct"] = 100 * g["dropped_out"].mean()
            row["end_rate_mg_h_70kg"] = g["end_rate_mg_h_70kg"].mean()
            rows.append(row)
        return pd.DataFrame(rows)


class DoseRecorder:
    """Doses as administered and plasma concentrations of a :class:`TrialModel` (opt-in).

    The model calls :meth:`infusions` and :meth:`boluses` with the PK inputs of each interval,
    after titration, discontinuation, dropout and drug/placebo gating (per-enantiomer mg and mg/h,
    as the PK systems take them), and :meth:`observe` after the inputs of each model time are set.
    Infusion rates are kept per patient and route column as (rate, since); a change closes the
    running interval, so a row of :meth:`doses` is one interval of constant rate however many
    events the model stepped through inside it.
    """

    def __init__(self, m: TrialModel) -> None:
        self.m = m
        n, n_inf = m.n, len(m.routes[0])
        self.rate = np.zeros((n, n_inf))
        self.since = np.zeros((n, n_inf))
        self._inf: list[tuple[np.ndarray, ...]] = []  # (patient, column, start, end, rate)
        self._bol: list[tuple[np.ndarray, ...]] = []  # (patient, column, time, amount)
        self._times: list[float] = []
        self._conc: list[dict[str, np.ndarray]] = []
        self._trt: list[np.ndarray] = []

    def infusions(self, t: float, rates: np.ndarray) -> None:
        """Rates ``(P, n_inf)`` in force from ``t`` on."""
        changed = rates != self.rate
        if not changed.any():
            return
        p, c = np.nonzero(changed & (self.rate > 0))
        if p.size:
            self._inf.append((p, c, self.since[p, c], np.full(p.size, t), self.rate[p, c]))
        self.since[changed] = t
        self.rate[changed] = rates[changed]

    def boluses(self, t: float, amounts: np.ndarray) -> None:
        """Amounts ``(P, n_bolus)`` given at ``t``."""
        p, c = np.nonzero(amounts > 0)
        if p.size:
            self._bol.append((p, c, np.full(p.size, t), amounts[p, c]))

    def observe(self, t: float) -> None:
        """Concentrations after the inputs at ``t`` (a bolus at ``t`` is included)."""
        m = self.m
        y = m._outputs()  # fresh outputs of the post-input state (the model's y is pre-input)
        obs = {"s_ketamine_ng_ml": y["cp"], "s_norketamine_ng_ml": y["nk"]}
        if "cp_r" in y:
            obs["r_ketamine_ng_ml"], obs["r_norketamine_ng_ml"] = y["cp_r"], y["nk_r"]
        self._times.append(t)
        self._conc.append({k: v.copy() for k, v in obs.items()})
        # treatment of the segment in force: 0 ketamine, 1 placebo, 2 active placebo
        self._trt.append(np.where(m.drug, 0, np.where(m.active_placebo, 2, 1)))

    def doses(self) -> pd.DataFrame:
        """Every administration, whole drug (see :attr:`TrialResult.doses`)."""
        m = self.m
        frac = 0.5 if m.racemic else 1.0
        inf_names = {v: k for k, v in INFUSION_ROUTES.items()}
        bol_names = {v: k for k, v in BOLUS_ROUTES.items()}
        parts = list(self._inf)
        # infusions still running when the model stopped end at its last time
        t_end = float(m.times[-1])
        p, c = np.nonzero((self.rate > 0) & (self.since < t_end))
        if p.size:
            parts.append((p, c, self.since[p, c], np.full(p.size, t_end), self.rate[p, c]))

        def frame(p, c, names, kind, start, end, rate, amount) -> pd.DataFrame:
            return pd.DataFrame(
                {
                    "replicate": m.replicate[p],
                    "patient": m.patient[p],
                    "route": np.asarray([names[x] for x in m.routes[kind == "bolus"]], object)[c],
                    "kind": kind,
                    "start_h": start,
                    "end_h": end,
                    "rate_mg_h": rate,
                    "amount_mg": amount,
                }
            )

        frames = []
        if parts:
            p, c, t0, t1, r = (np.concatenate(x) for x in zip(*parts, strict=True))
            rate = r / frac  # per-enantiomer rates back to the whole drug (exact: frac is 0.5)
            frames.append(frame(p, c, inf_names, "infusion", t0, t1, rate, rate * (t1 - t0)))
        if self._bol:
            p, c, t, a = (np.concatenate(x) for x in zip(*self._bol, strict=True))
            frames.append(frame(p, c, bol_names, "bolus", t, np.nan, np.nan, a / frac))
        if not frames:
            return pd.DataFrame(
                {
                    "replicate": np.zeros(0, int),
                    "patient": np.zeros(0, int),
                    "route": np.zeros(0, object),
                    "kind": np.zeros(0, object),
                    **{k: np.zeros(0) for k in ("start_h", "end_h", "rate_mg_h", "amount_mg")},
                }
            )
        df = pd.concat(frames, ignore_index=True)
        return df.sort_values(
            ["replicate", "patient", "start_h", "kind", "route"], kind="stable"
        ).reset_index(drop=True)

    def concentrations(self) -> pd.DataFrame:
        """Plasma concentrations at every model time (see :attr:`TrialResult.concentrations`)."""
        m = self.m
        t = np.asarray(self._times)
        n_t = t.size
        out = {
            "replicate": np.repeat(m.replicate, n_t),
            "patient": np.repeat(m.patient, n_t),
            "time_h": np.tile(t, m.n),
        }
        trt = np.stack(self._trt, axis=1) if n_t else np.zeros((m.n, 0), int)
        out["treatment"] = pd.Categorical.from_codes(trt.ravel(), categories=list(TREATMENTS))
        for k in self._conc[0] if self._conc else ():
            out[k] = np.stack([c[k] for c in self._conc], axis=1).ravel()
        return pd.DataFrame(out)


class TrialModel(mesa.Model):
    """A trial of ``scenario`` for one or more replicates, stepped event to event.

    Parameters
    ----------
    scenario : a scenario with ``arms``.
    entropy : root seed of the seed tree.
    replicates : replicate indices simulated together in one batch.
    with_agents : create one :class:`~ketsim.sim.agents.PatientAgent` per patient (views on the
        arrays; the Monte Carlo engine turns them off).
    record_doses : record the doses as administered and the plasma concentrations at every model
        time (:class:`DoseRecorder`; off by default: the Monte Carlo engine does not need them).
    """

    #: skip the PK of patients whose group never gives ketamine (exactly zero; tests turn it off)
    _drug_free_pk_shortcut = True

    def __init__(
        self,
        scenario: Scenario,
        entropy: int,
        replicates: tuple[int, ...] | list[int] = (0,),
        with_agents: bool = True,
        record_doses: bool = False,
    ) -> None:
        # mesa's own generators are unused (all draws come from the seed tree); fix its seed so
        # that nothing depends on the global state.
        super().__init__(seed=0)
        if not scenario.arms:
            raise ValueError(f"scenario '{scenario.name}' has no 'arms': nothing to simulate")
        self.scenario = scenario
        self.entropy = int(entropy)
        self.replicates = tuple(int(r) for r in replicates)
        self.params = resolve_pd(scenario.pd)
        self._setup()
        # None when off: the step tests one attribute and does nothing else
        self.recorder: DoseRecorder | None = DoseRecorder(self) if record_doses else None
        self.events_log: list[tuple[np.ndarray, ...]] = []
        self.k = 0  # index of the next event
        self.time_h = float(self.times[0])
        self.running = True
        if with_agents:
            from ketsim.sim.agents import PatientAgent

            PatientAgent.create_agents(self, self.n, index=list(range(self.n)))

    # -- setup ---------------------------------------------------------------------------------
    def _setup(self) -> None:
        sc, prm, ent = self.scenario, self.params, self.entropy
        arms = sc.arms
        self.timeline = tl = compile_timeline(sc)
        # every stream of the batch drawn from at setup (and EERW's re-randomisation), seeded
        # in one call
        pairs = [("measurement", k) for k in (_M_SCREEN, _M_FLUCT, _M_EPS, _M_MISS_P, _M_MISS_U)]
        pairs += [("randomisation", 0), ("randomisation", 1)]
        pairs += [("population", k) for k in (_K_RESPONDER, _K_PLACEBO, _K_PSY_THRESHOLD)]
        pairs += [("population", _K_SLOW_C50)]
        pairs += [("behaviour", k) for k in range(_B_FOLLOW + 1)]
        if tl.type == "enrichment":
            pairs.append(("randomisation", 2))
        self._streams = _StreamBank(ent, self.replicates, pairs)
        enr = _screen_and_allocate(sc, tl, self._streams, prm)
        self.pop = enr.pop
        n_per = enr.n_per
        self.n_per = n_per
        self.n = n = int(sum(n_per))
        self.replicate = np.repeat(self.replicates, n_per)
        self.patient = np.concatenate([np.arange(k) for k in n_per])
        self.group = enr.group
        self.arm = enr.arm
        self.enrolment_day = enr.enrolment_day
        self.screening_score = enr.screening_score
        fluct0 = enr.fluct0
        self.arm_names = [a.name for a in arms]
        self.group_names = [g.name for g in tl.groups]
        pop = self.pop

        # -- patient traits (population stream, keys 15+) --------------------------------------
        def trait(key: int) -> np.ndarray:
            gens = self._streams.take("population", key)
            return _draw_rows(gens, n_per, (), "standard_normal")

        spec = sc.population
        # normal scores against the indication's distributions: exactly standard normal in the
        # reference population, so the marginal responder probabilities hold there
        z_s = _beta_score(pop.sensitization, spec.sensitization)
        z_d = _lognormal_score(pop.disease_duration_years, spec.disease_duration_years)
        self.responder = sensitization.ketamine_responders(z_s, z_d, trait(_K_RESPONDER), prm)
        z_e = _beta_score(pop.expectancy, spec.expectancy)
        self.placebo_responder = placebo.placebo_responders(z_e, trait(_K_PLACEBO), prm)
        thr = prm.psy_threshold_median * np.exp(prm.psy_threshold_sd_log * trait(_K_PSY_THRESHOLD))
        thr = np.where(pop.depression, thr * prm.depression_threshold_factor, thr)
        comed = pop.comedication
        if "benzodiazepine" in comed:
            thr = np.where(comed["benzodiazepine"], thr * prm.benzodiazepine_threshold_factor, thr)
        if "clonidine" in comed:
            thr = np.where(comed["clonidine"], thr * prm.clonidine_threshold_factor, thr)
        self.psy_threshold = thr
        sd_c50 = np.sqrt(np.log1p(prm.slow_c50_cv**2))
        self.slow_c50 = prm.slow_c50_ng_ml * np.exp(sd_c50 * trait(_K_SLOW_C50))

        # -- belief of being on drug: set when a patient enters a segment ------------------------
        # blinded prior = the chance of being on ketamine the patient was told of (allocation
        # weights of the ketamine arms; a crossover gives every arm once)
        weights = (
            np.ones(len(arms)) if tl.type == "crossover" else np.asarray(tl.ratio, dtype=float)
        )
        on_k = np.array([a.treatment == "ketamine" for a in arms])
        self.blinded_prior = float(weights[on_k].sum() / weights.sum())
        self.belief = np.zeros(n)
        self.drug = np.zeros(n, bool)
        self.active_placebo = np.zeros(n, bool)
        self.seg = np.full(n, -1)
        self.first_dose = np.full(n, np.inf)

        # -- schedules, one per timeline group -------------------------------------------------
        all_regs = [r for g in tl.groups for sg in g.segments for r in sg.regimens]
        self.routes = routes_used(all_regs)
        if "iv" not in self.routes[0]:
            self.routes = (("iv", *self.routes[0]), self.routes[1])
        self.racemic = sc.drug == "racemic"
        frac = 0.5 if self.racemic else 1.0
        # EERW patients change group at randomisation: compile every group for everyone
        compile_all = tl.type == "enrichment"
        self.sched_members = [
            np.arange(n) if compile_all else np.flatnonzero(self.group == g)
            for g in range(len(tl.groups))
        ]
        self.schedules: list[ArmSchedule] = [
            compile_arm(
                [r for sg in g.segments for r in sg.regimens], pop.weight_kg[mem], self.routes, frac
            )
            for g, mem in zip(tl.groups, self.sched_members, strict=True)
        ]
        self._update_members()
        self.n_seg = max(len(g.segments) for g in tl.groups)
        self.seg_entry = [
            {float(sg.start_h): j for j, sg in enumerate(g.segments)} for g in tl.groups
        ]
        self.seg_first_dose = []
        for g in tl.groups:
            fd = []
            for sg in g.segments:
                starts = [t for r in sg.regimens for t in r.start_times()]
                fd.append(min(starts) if starts else sg.start_h)
            self.seg_first_dose.append(fd)
        tr = sc.trial
        first_diary = (tr.diary_hour - tr.start_hour) % 24.0
        n_days = 7 * tl.weeks
        self.diary_times = first_diary + 24.0 * np.arange(n_days)
        pts: set[float] = {0.0, *self.diary_times.tolist()}
        for e in self.seg_entry:
            pts.update(e)
        pts.add(float(tl.randomised_start_h))
        self.checks: list[set[float]] = []
        for sch in self.schedules:
            pts.update(sch.plan.times.tolist())
            for a, b in sch.titrated_windows:
                pts.update((a, b))
            c = set(check_times(sch, tr.start_hour))
            self.checks.append(c)
            pts.update(c)
        t_end = float(self.diary_times[-1])
        self.times = np.array(sorted(t for t in pts if 0.0 <= t <= t_end))
        self.diary_index = {float(t): d for d, t in enumerate(self.diary_times)}
        # per group, row of its fixed plan in force from each event time on (-1: before the plan)
        self.plan_row = [
            np.searchsorted(sch.plan.times, self.times, side="right") - 1 for sch in self.schedules
        ]
        self.level = np.zeros(n)
        self.weight = pop.weight_kg

        # -- PK systems ------------------------------------------------------------------------
        # PK inputs are gated by ``drug``, so a patient whose timeline group never gives ketamine
        # keeps an exactly zero PK state (Φ·0 = 0) and zero outputs: only the other patients are
        # propagated (``pk_rows``; None = everyone), e.g. a placebo arm costs no PK work. Groups
        # are fixed from allocation on, except in EERW (everyone starts on ketamine there).
        self.pk_rows: np.ndarray | None = None
        if self._drug_free_pk_shortcut and tl.type != "enrichment":
            # the rule of _enter_segments: drug = (treatment is TREATMENTS[0], ketamine)
            ket = np.array(
                [any(TREATMENTS.index(sg.treatment) == 0 for sg in g.segments) for g in tl.groups]
            )
            if not ket[self.group].all():
                self.pk_rows = np.flatnonzero(ket[self.group])
        pk_pop = pop if self.pk_rows is None else pop.take(self.pk_rows)
        cov = pk_pop.pk_covariates(sc.switches.cyp3a_cyp2c9_effect)
        sw = pk_switches(sc)
        systems = ("S", "R") if self.racemic else ("S",)
        self.props = {}
        for e in systems:
            ip = individual_parameters(
                cov, sc.parameter_set, sw, pk_pop.eta_pk, enantiomer=e, racemic=self.racemic
            )
            self.props[e] = Propagator(build_system(ip, *self.routes, with_auc=True))
        # every step of the event grid, exponentiated up front in one pass (same bits as on demand)
        steps, counts = np.unique(np.diff(self.times), return_counts=True)
        for p in self.props.values():
            p.prepare(steps[np.argsort(-counts, kind="stable")])
        # the PK state of each enantiomer system, advanced event to event through the same cursor
        # API that population PK runs use (core.pk.propagate.PKCursor)
        self.pk = {e: PKCursor(p, float(self.times[0])) for e, p in self.props.items()}

        # -- dynamic state ---------------------------------------------------------------------
        self.on_treatment = np.ones(n, bool)
        self.in_study = np.ones(n, bool)
        self.tolerance = np.zeros(n)
        self.sens_state = pop.sensitization.copy()  # at the set point before treatment
        # per-segment flags (reset when a patient enters a segment) and per-segment AE records
        self.felt_psy = np.zeros(n, bool)
        self.felt_nothing_applied = np.zeros(n, bool)
        self.nausea = np.zeros(n, bool)
        self.vomiting = np.zeros(n, bool)
        self.seg_checks = np.zeros(n, int)
        self.ae_seg = {k: np.zeros((n, self.n_seg), bool) for k in AE_EVENTS}
        self.intolerable_ever = np.zeros(n, bool)
        self.liver = np.zeros(n, bool)
        self.discontinued_h = np.full(n, np.nan)
        self.dropout_h = np.full(n, np.nan)
        self.dropout_reason = np.full(n, "", dtype=object)
        self.end_rate = np.full(n, np.nan)
        self.auc_at_check = np.zeros(n)
        self.course_start_auc = np.full(n, np.nan)
        self.priming_at_start = np.zeros(n)
        self.prime_mass = np.zeros(n)  # decaying sum of earlier courses' AUC / reference AUC
        self.prime_t = np.zeros(n)  # time of the accumulator's last update
        self.n_courses = np.zeros(n, int)
        self.cv_max = {k: np.zeros(n) for k in ("cardiac_output_pct", "heart_rate_pct", "map_pct")}
        self.prev_rates = np.zeros((n, len(self.routes[0])))
        self.prev_nominal = np.zeros((n, len(self.routes[0])))
        self.y = self._outputs()
        self._sens_cache: tuple[dict[str, np.ndarray], np.ndarray] | None = None
        self.pain = pop.baseline_pain.copy()
        self.mu_diary = np.full((n, n_days), np.nan)
        self.fluct0 = fluct0
        self._draw_diary_noise(n_days)

        # -- pre-drawn behaviour uniforms (per replicate, so batching does not matter) ----------
        n_checks = max(1, max(len(c) for c in self.checks))
        weeks = tl.weeks

        def beh(key: int, shape: tuple[int, ...]) -> np.ndarray:
            gens = self._streams.take("behaviour", key)
            return _draw_rows(gens, n_per, shape, "random")

        self.u_background = beh(_B_BACKGROUND, (self.n_seg,))
        self.u_stop = beh(_B_STOP, (n_checks,))
        self.u_nausea = beh(_B_NAUSEA, (n_checks,))
        self.u_vomit = beh(_B_VOMIT, ())
        self.u_liver = beh(_B_LIVER, (MAX_COURSES,))
        self.u_ltfu = beh(_B_LTFU, (weeks,))
        self.u_loe = beh(_B_LOE, (weeks,))
        self.u_follow = beh(_B_FOLLOW, ())
        self.check_count = np.zeros(n, int)
        self.nausea_lambda = adverse.nausea_hazard_per_auc(prm)

    # -- helpers -------------------------------------------------------------------------------
    def _update_members(self) -> None:
        """Current patients of each group and their rows in the group's compiled schedule."""
        self.members = [np.flatnonzero(self.group == g) for g in range(len(self.schedules))]
        self.pos: list[np.ndarray | None] = []
        for mem, sm in zip(self.members, self.sched_members, strict=True):
            same = mem.size == sm.size and np.array_equal(mem, sm)
            self.pos.append(None if same else np.searchsorted(sm, mem))

    def _rows(self, g: int, arr: np.ndarray) -> np.ndarray:
        """Rows of a group's compiled per-patient array for its current members."""
        p = self.pos[g]
        return arr if p is None else arr[p]

    def _draw_diary_noise(self, n_days: int) -> None:
        """Measurement noise of every diary day, drawn up front (it does not depend on the state).

        Drawing it here lets a design act on observed diaries during the trial (EERW run-in).
        """
        prm, sc = self.params, self.scenario
        nb = sc.trial.baseline_days
        D = nb + n_days

        def gens(key: int) -> list[np.random.Generator]:
            return self._streams.take("measurement", key)

        def meas(key: int, fn) -> np.ndarray:
            return _stack([fn(g, k) for g, k in zip(gens(key), self.n_per, strict=True)])

        # fluctuation continues the screening-day value (screening is the day before baseline)
        zf = _draw_rows(gens(_M_FLUCT), self.n_per, (D,), "standard_normal")
        self.noise_fluct = diary.ou_path(
            zf, prm.fluctuation_sd, prm.fluctuation_days, start=self.fluct0
        )
        self.noise_eps = _draw_rows(gens(_M_EPS), self.n_per, (D,), "standard_normal")
        self.noise_eps *= diary.daily_noise_sd(sc.population.baseline_pain.sd, prm)
        # missing days: beta-distributed propensity per patient
        mean, sd = prm.diary_missing_mean, prm.diary_missing_sd
        self.missing = np.zeros((self.n, D), bool)
        if mean > 0:
            kk = mean * (1 - mean) / sd**2 - 1 if sd > 0 else np.inf
            if np.isfinite(kk):
                prop = meas(_M_MISS_P, lambda g, k: g.beta(mean * kk, (1 - mean) * kk, k))
            else:
                prop = np.full(self.n, mean)
            self.missing = _draw_rows(gens(_M_MISS_U), self.n_per, (D,), "random") < prop[:, None]

    def _expected(self) -> np.ndarray:
        """Expected pain ``(P, D)`` in every diary column (baseline columns first)."""
        nb = self.scenario.trial.baseline_days
        base = np.repeat(self.pop.baseline_pain[:, None], nb, axis=1)
        return np.concatenate([base, self.mu_diary], axis=1)

    def observed_nrs(self, cols: np.ndarray) -> np.ndarray:
        """Observed integer NRS ``(P, len(cols))`` (NaN = missed day) in diary columns ``cols``.

        Columns count the baseline days first; a column's value is final once the model has
        stepped past its diary time (the explorer reads them day by day).
        """
        return self._observed(np.asarray(cols))

    def _observed(self, cols: np.ndarray, expected: np.ndarray | None = None) -> np.ndarray:
        """Observed NRS (NaN = missing) in diary columns ``cols`` (baseline columns first).

        ``expected`` may pass :meth:`_expected` when ``cols`` is every column.
        """
        nb = self.scenario.trial.baseline_days
        n_cols = self.noise_fluct.shape[1]
        if cols.size == n_cols and np.array_equal(cols, np.arange(n_cols)):
            # every column: no column gathers. The result is laid out column-major, as the
            # gathers of the general path lay it out (the arrays built on it stay the same).
            mu = self._expected() if expected is None else expected
            obs = diary.observe_nrs(mu, self.noise_fluct, self.noise_eps)
            obs = np.asfortranarray(obs).astype(float)
            obs[self.missing] = np.nan
            return obs
        mu = np.where(
            cols[None, :] < nb,
            self.pop.baseline_pain[:, None],
            self.mu_diary[:, np.maximum(cols - nb, 0)],
        )
        obs = diary.observe_nrs(mu, self.noise_fluct[:, cols], self.noise_eps[:, cols]).astype(
            float
        )
        obs[self.missing[:, cols]] = np.nan
        return obs

    def _enter_segments(self, t: float) -> None:
        """Patients whose group starts a segment at ``t`` take up its treatment and blinding."""
        tl = self.timeline
        for g, entry in enumerate(self.seg_entry):
            j = entry.get(t)
            if j is None:
                continue
            idx = self.members[g]
            sg = tl.groups[g].segments[j]
            kind = TREATMENTS.index(sg.treatment)
            self.drug[idx] = kind == 0
            self.active_placebo[idx] = kind == 2
            if sg.blinding == "open_label":
                self.belief[idx] = 1.0 if kind == 0 else 0.0
            else:
                self.belief[idx] = self.blinded_prior
            self.seg[idx] = j
            self.first_dose[idx] = self.seg_first_dose[g][j]
            # a new period: effects are felt (and reported) afresh
            self.felt_psy[idx] = False
            self.felt_nothing_applied[idx] = False
            self.nausea[idx] = False
            self.vomiting[idx] = False
            self.seg_checks[idx] = 0

    def _randomise_withdrawal(self, t: float) -> None:
        """EERW: at the end of the run-in, randomise responders; the others leave the trial."""
        sc, tl = self.scenario, self.timeline
        en = sc.design.enrichment
        nb = sc.trial.baseline_days
        d_end = round(t / 24.0)  # last run-in diary day
        win = nb + np.arange(d_end - en.window_days, d_end)
        run_in = np.nanmean(self._observed(win), axis=1)
        base = np.nanmean(self._observed(np.arange(nb)), axis=1)
        with np.errstate(invalid="ignore"):
            ok = run_in <= base * (1.0 - en.threshold_pct / 100.0)
        resp = self.in_study & self.on_treatment & ok
        start = 0
        gens = self._streams.take("randomisation", 2)
        for g, k in zip(gens, self.n_per, strict=True):
            ids = start + np.flatnonzero(resp[start : start + k])
            if ids.size:
                lab = _allocate(
                    sc,
                    ids.size,
                    g,
                    self.pop.take(ids),
                    self.screening_score[ids],
                    None,
                    np.asarray(tl.ratio, dtype=float),
                )
                self.group[ids] = lab
                self.arm[ids] = lab
            start += k
        out = self.in_study & ~resp
        self.in_study[out] = False
        self.dropout_h[out] = t
        self.dropout_reason[out] = "not_randomised"
        self._log(out, "not_randomised")
        self._update_members()

    def _outputs(self) -> dict[str, np.ndarray]:
        y = {e: c.outputs() for e, c in self.pk.items()}
        if self.pk_rows is not None:  # scatter into zeros: the others' outputs are exactly 0
            for e, v in y.items():
                full = np.zeros((self.n, v.shape[1]))
                full[self.pk_rows] = v
                y[e] = full
        s = y["S"]
        out = {
            "cp": s[:, 0],
            "nk": s[:, 1],
            "ce_fast": s[:, 2],
            "ce_slow": s[:, 3],
            "auc": s[:, 4],
        }
        if "R" in y:
            out["cp_r"], out["nk_r"], out["ce_fast_r"] = y["R"][:, 0], y["R"][:, 1], y["R"][:, 2]
        return out

    def _log(self, mask: np.ndarray, event: str, value: np.ndarray | float = np.nan) -> None:
        idx = np.flatnonzero(mask)
        if idx.size:
            val = np.broadcast_to(np.asarray(value, dtype=float), mask.shape)[idx]
            self.events_log.append((idx, np.full(idx.size, self.time_h), event, val))

    def _log_ids(self, ids: np.ndarray, event: str, value: np.ndarray | float = np.nan) -> None:
        """:meth:`_log` for ascending patient indices, ``value`` given at those patients."""
        val = np.array(np.broadcast_to(np.asarray(value, dtype=float), ids.shape))
        self.events_log.append((ids, np.full(ids.size, self.time_h), event, val))

    def _sens_target(self, y: dict[str, np.ndarray]) -> np.ndarray:
        """Drug-modulated sensitization target at outputs ``y`` (cached for the latest ``y``)."""
        cached = self._sens_cache
        if cached is not None and cached[0] is y:
            return cached[1]
        f = sensitization.sensitization_target(
            self.pop.sensitization,
            self.responder,
            sensitization.desensitizing_drive(y["ce_slow"], self.slow_c50, self.params),
        )
        self._sens_cache = (y, f)
        return f

    def _pain(self, t: float) -> np.ndarray:
        """Expected pain (NRS scale) of every patient at time ``t`` from the current state."""
        prm, sw = self.params, self.scenario.switches
        y = self.y
        c_eq = acute.analgesic_concentration(
            y["ce_fast"],
            y["nk"] + (y.get("nk_r", 0.0)),
            y.get("ce_fast_r"),
            norketamine=sw.norketamine_analgesia,
            r_ketamine=sw.r_ketamine_analgesia,
            params=prm,
        )
        a = acute.acute_relief(c_eq, prm)
        plc = placebo.placebo_relief(self.placebo_responder, self.belief, t - self.first_dose, prm)
        b = self.pop.baseline_pain
        return b * (1.0 - self.pop.sensitization + self.sens_state) * (1.0 - a) * (1.0 - plc)

    def _rates_for_interval(self, k: int) -> np.ndarray:
        """Infusion rates (P, n_inf) from event ``k`` until the next event."""
        t = self.times[k]
        rates = np.zeros((self.n, len(self.routes[0])))
        for g, (sch, idx) in enumerate(zip(self.schedules, self.members, strict=True)):
            if idx.size == 0:
                continue
            row = self.plan_row[g][k]
            if row >= 0:
                rates[idx] = self._rows(g, sch.plan.rates[row])
            w = sch.infusing_window(t)
            if w >= 0:
                win = sch.windows[w]
                if win.resets and t == win.start_h:
                    self.level[idx] = self._rows(g, win.start_mg_h)
                rates[idx, win.route] += self.level[idx]
        return rates

    def _boluses_at(self, k: int) -> np.ndarray | None:
        t = self.times[k]
        out = None
        for g, (sch, idx) in enumerate(zip(self.schedules, self.members, strict=True)):
            row = self.plan_row[g][k]
            if idx.size and row >= 0 and sch.plan.times[row] == t and sch.plan.boluses.shape[2]:
                b = sch.plan.boluses[row]
                if np.any(b):
                    if out is None:
                        out = np.zeros((self.n, b.shape[1]))
                    out[idx] = self._rows(g, b)
        return out

    # -- the step ------------------------------------------------------------------------------
    def step(self) -> None:
        """Advance to the next event time and apply every rule due there."""
        if not self.running:
            return
        k = self.k
        t = float(self.times[k])
        dt = t - self.time_h
        prm = self.params
        y_prev = self.y
        if dt > 0:
            for c in self.pk.values():
                c.advance(t)
            self.y = self._outputs()
            exposed = y_prev["ce_fast"] > 1.0
            self.tolerance = adverse.tolerance_step(self.tolerance, exposed, dt, prm)
            # the target at the start of the step is the previous step's end target (same
            # outputs, same arithmetic): reuse it
            f0 = self._sens_target(y_prev)
            f1 = self._sens_target(self.y)
            half = prm.sensitization_half_life_days
            kk = np.inf if half == 0 else np.log(2.0) / (24.0 * half)
            self.sens_state = sensitization.sensitization_step(self.sens_state, f0, f1, dt, kk)
            cv = adverse.cardiovascular(self.y["cp"], prm)
            for key, v in cv.items():
                self.cv_max[key] = np.maximum(self.cv_max[key], v)
        self.time_h = t
        if self.timeline.type == "enrichment" and t == self.timeline.randomised_start_h:
            self._randomise_withdrawal(t)
        self._enter_segments(t)
        self.pain = self._pain(t)
        self._checks(k, t)
        if t in self.diary_index:
            d = self.diary_index[t]
            self.mu_diary[:, d] = self.pain
            if d % 7 == 6:
                self._weekly_dropout(d // 7, t)
        self._set_inputs(k, t)
        if self.recorder is not None:
            self.recorder.observe(t)
        self.k += 1
        if self.k >= self.times.size:
            self.running = False

    def _checks(self, k: int, t: float) -> None:
        prm, sw = self.params, self.scenario.switches
        for a, (s, idx) in enumerate(zip(self.schedules, self.members, strict=True)):
            if t not in self.checks[a]:
                continue
            alive = self.on_treatment[idx] & self.in_study[idx]
            live = idx[alive]
            if live.size == 0:
                continue
            ci = np.minimum(self.check_count[live], self.u_stop.shape[1] - 1)
            self.check_count[live] += 1
            self.seg_checks[live] += 1
            y = self.y
            ce = y["ce_fast"][live]
            if self.racemic and sw.r_ketamine_analgesia == "quarter":
                ce = ce + prm.r_conventional_potency * y["ce_fast_r"][live]
            inten = adverse.psychotomimetic_intensity(ce, self.tolerance[live], prm)
            thr = self.psy_threshold[live]
            # nocebo/background reports: fire at a patient's first check (Sigtermans placebo 18%)
            first = self.seg_checks[live] == 1
            seg = self.seg[live]
            bg = first & (self.u_background[live, seg] < prm.psy_background)
            felt = (inten > thr) | bg
            intolerable = inten > thr * prm.psy_intolerable_factor
            new = felt & ~self.felt_psy[live]
            self._ae(live[new], "psychotomimetic", inten[new])
            self.felt_psy[live] |= felt
            self._ae(live[intolerable], "intolerable", inten[intolerable])
            self.intolerable_ever[live] |= intolerable
            # nausea: hazard on the S-ketamine AUC accrued since the last check + background
            auc = y["auc"][live]
            d_auc = np.maximum(auc - self.auc_at_check[live], 0.0)
            self.auc_at_check[live] = auc
            p_n = -np.expm1(-self.nausea_lambda * d_auc)
            if np.any(first):
                p_n = np.where(first, 1 - (1 - p_n) * (1 - prm.nausea_background), p_n)
            nz = (self.u_nausea[live, ci] < p_n) & ~self.nausea[live]
            self._ae(live[nz], "nausea")
            self.nausea[live] |= nz
            vm = nz & (self.u_vomit[live] < prm.vomiting_given_nausea)
            self._ae(live[vm], "vomiting")
            self.vomiting[live] |= vm
            # functional unblinding
            if sw.functional_unblinding:
                in_window_end = any(abs(t - w1) < 1e-9 for _, w1 in s.infusion_windows) or (
                    t - 0.5 in s.bolus_times
                )
                # active placebo (midazolam) patients felt sedation: not "nothing"
                nothing = (
                    ~self.felt_psy[live]
                    & ~self.active_placebo[live]
                    & in_window_end
                    & ~self.felt_nothing_applied[live]
                )
                sedation = self.active_placebo[live] & first
                self.belief[live] = placebo.belief_after_effects(
                    self.belief[live], new, nothing, sedation, prm
                )
                self.felt_nothing_applied[live] |= nothing
            # titration
            wi = s.window_at(t)
            if wi >= 0:
                win = s.windows[wi]
                ends = abs(t - win.end_h) < 1e-9
                # rows of ``live`` in the group's compiled schedule (members' rows, filtered)
                mp = self.pos[a]
                pos = np.flatnonzero(alive) if mp is None else mp[alive]
                if not ends:
                    relief = 1.0 - self.pain[live] / self.pop.baseline_pain[live]
                    lvl = self.level[live]
                    hi, lo, step = win.max_mg_h[pos], win.min_mg_h[pos], win.step_mg_h[pos]
                    up = (relief < prm.titration_target_relief) & ~intolerable
                    up &= lvl < hi - 1e-12
                    down = intolerable & (lvl > lo + 1e-12)
                    new_lvl = np.where(up, np.minimum(lvl + step, hi), lvl)
                    new_lvl = np.where(down, np.maximum(lvl - step, lo), new_lvl)
                    self.level[live] = new_lvl
                else:
                    self.end_rate[live] = self.level[live]
            # stopping the infusion on intolerable effects
            stop = intolerable & (self.u_stop[live, ci] < prm.stop_on_intolerable)
            if np.any(stop):
                ids = live[stop]
                self.on_treatment[ids] = False
                self.discontinued_h[ids] = t
                self._ae(ids, "discontinued", name="discontinued_intolerable")
                leave = self.u_follow[ids] >= prm.followup_after_stop
                self.in_study[ids[leave]] = False
                self.dropout_h[ids[leave]] = t
                self.dropout_reason[ids[leave]] = "adverse_event"

    def _ae(
        self, ids: np.ndarray, event: str, value: np.ndarray | float = np.nan, name: str = ""
    ) -> None:
        """Log an adverse event of patients ``ids`` (ascending; ``value`` one per patient or a
        scalar) and record it against their current segments.

        Indices rather than a patients-long mask: the checks touch a few patients of one group
        per call, and building and scanning full masks was most of their cost.
        """
        if ids.size:
            self._log_ids(ids, name or f"ae_{event}", value)
            self.ae_seg[event][ids, np.maximum(self.seg[ids], 0)] = True

    def _weekly_dropout(self, week: int, t: float) -> None:
        prm = self.params
        alive = self.in_study.copy()
        ltfu = alive & (self.u_ltfu[:, week] < prm.loss_to_follow_up_per_week)
        treated_done = t > self.first_dose + 24.0 * 7
        relief = 1.0 - self.pain / self.pop.baseline_pain
        loe = (
            alive
            & ~ltfu
            & treated_done
            & (relief < 0.1)
            & (self.u_loe[:, week] < prm.lack_of_effect_dropout_per_week)
        )
        for mask, reason in ((ltfu, "lost_to_follow_up"), (loe, "lack_of_effect")):
            self.in_study[mask] = False
            self.dropout_h[mask] = t
            self.dropout_reason[mask] = reason
            self._log(mask, f"dropout_{reason}")

    def _set_inputs(self, k: int, t: float) -> None:
        rates = self._rates_for_interval(k)
        active = self.on_treatment & self.in_study
        rates *= active[:, None]
        # the nominal rate is what the (blinded) staff set: placebo arms run saline at it
        changed = np.any(rates != self.prev_nominal, axis=1)
        if np.any(changed):
            self._log(changed, "rate_mg_h", rates.sum(axis=1))
        self.prev_nominal = rates.copy()
        rates *= self.drug[:, None]
        # infusion courses, for liver injury: a course starts when the total rate leaves 0
        on_now = rates.sum(axis=1) > 0
        on_before = self.prev_rates.sum(axis=1) > 0
        auc = self.y["auc"]
        start = on_now & ~on_before
        self.course_start_auc[start] = auc[start]
        hl = self.params.liver_priming_half_life_days * 24.0
        self.priming_at_start[start] = self.prime_mass[start] * 0.5 ** (
            (t - self.prime_t[start]) / hl
        )
        end = on_before & ~on_now
        if np.any(end):
            self._course_end(np.flatnonzero(end), t)
        self.prev_rates = rates
        if self.recorder is not None:
            self.recorder.infusions(t, rates)
        bol = self._boluses_at(k)
        rows = self.pk_rows
        pk_rates = rates if rows is None else rates[rows]
        pk_amounts = None
        if bol is not None:
            amounts = bol * (active & self.drug)[:, None]
            pk_amounts = amounts if rows is None else amounts[rows]
            self._log(amounts.sum(axis=1) > 0, "dose_mg", amounts.sum(axis=1))
            if self.recorder is not None:
                self.recorder.boluses(t, amounts)
        for c in self.pk.values():
            c.set_inputs(pk_rates, pk_amounts)

    def _course_end(self, ids: np.ndarray, t: float) -> None:
        """Liver injury at the end of an infusion course (exposure from the exact AUC state).

        Priming is an exponentially decaying sum of earlier courses' relative exposures, kept as
        one accumulator per patient and read at the start of each course (vectorised).
        """
        prm = self.params
        hl = prm.liver_priming_half_life_days * 24.0
        auc_course = self.y["auc"][ids] - self.course_start_auc[ids]
        p_l = adverse.liver_injury_probability(auc_course, self.priming_at_start[ids], prm)
        c = np.minimum(self.n_courses[ids], MAX_COURSES - 1)
        hit = (self.u_liver[ids, c] < p_l) & ~self.liver[ids]
        self._ae(ids[hit], "liver_injury")
        self.liver[ids[hit]] = True
        decayed = self.prime_mass[ids] * 0.5 ** ((t - self.prime_t[ids]) / hl)
        self.prime_mass[ids] = decayed + auc_course / adverse.REFERENCE_COURSE_AUC_NG_H_ML
        self.prime_t[ids] = t
        self.n_courses[ids] += 1

    # -- running -------------------------------------------------------------------------------
    def run_model(self) -> None:
        """Step until the last diary day."""
        while self.running:
            self.step()

    def result(self) -> TrialResult:
        """Tidy tables of the finished batch (adds diary noise and missing days)."""
        if self.running:
            self.run_model()
        return _tables(self)


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


def trial_arrays(m: TrialModel) -> TrialArrays:
    """Per-patient arrays of a finished model (observed diaries with noise and missing days)."""
    sc, tl = m.scenario, m.timeline
    nb, nd = sc.trial.baseline_days, m.mu_diary.shape[1]
    days = np.concatenate([np.arange(-nb + 1, 1), np.arange(1, nd + 1)])
    cols = np.arange(days.size)
    mu = m._expected()
    nrs = m._observed(cols, mu)
    # after dropout nothing is recorded
    t_day = np.concatenate([np.full(nb, -np.inf), m.diary_times])
    in_study = ~(t_day[None, :] > np.nan_to_num(m.dropout_h, nan=np.inf)[:, None])
    nrs[~in_study] = np.nan
    if sc.design.diary_weeks is not None:
        week = np.where(days <= 0, 0, (days - 1) // 7 + 1)
        keep = (week == 0) | np.isin(week, sc.design.diary_weeks)
        nrs[:, ~keep] = np.nan
    baseline = np.nanmean(nrs[:, :nb], axis=1) if nb else np.full(m.n, np.nan)
    S = m.n_seg
    seg_arm = np.full((m.n, S), -1)
    seg_day = np.full((m.n, S), np.nan)
    seg_end = np.full((m.n, S), np.nan)
    first_diary = m.diary_times[0] if m.diary_times.size else 0.0
    for g, grp in enumerate(tl.groups):
        idx = m.group == g
        for j, sg in enumerate(grp.segments):
            seg_arm[idx, j] = sg.arm
            seg_day[idx, j] = sg.start_h / 24.0
            # diary entry k (0-based, day k + 1) is at first_diary + 24 k: the first one at or
            # after the end of dosing is day k + 1, so the anchor ("day 0") is k
            end_h = max(dosing_end_h(sg.regimens), sg.start_h)
            seg_end[idx, j] = max(0.0, np.ceil((end_h - first_diary) / 24.0))
    # EERW patients who were not randomised have no randomised segment
    if tl.type == "enrichment":
        seg_arm[m.arm < 0, 1:] = -1

    def to_day(h: np.ndarray) -> np.ndarray:
        # fractional diary day: day d's entry is at first_diary + 24 (d - 1)
        return (h - first_diary) / 24.0 + 1.0

    return TrialArrays(
        type=tl.type,
        replicate=m.replicate,
        patient=m.patient,
        group=m.group,
        arm=m.arm,
        arm_names=m.arm_names,
        arm_treatments=[a.treatment for a in sc.arms],
        group_names=m.group_names,
        segment_arm=seg_arm,
        segment_start_day=seg_day,
        randomised_segment=1 if tl.type == "enrichment" else 0,
        days=days,
        baseline_days=nb,
        nrs=nrs,
        expected_nrs=mu,
        baseline=baseline,
        discontinued_day=to_day(m.discontinued_h),
        dropout_day=to_day(m.dropout_h),
        dropout_reason=m.dropout_reason,
        ae=m.ae_seg,
        in_study=in_study,
        period_weeks=tl.period_weeks,
        segment_end_day=seg_end,
        strata=patient_strata(m.pop, sc),
    )


def _tables(m: TrialModel) -> TrialResult:
    sc, tl = m.scenario, m.timeline
    ta = trial_arrays(m)
    days = ta.days
    # the arm column: the randomised arm (parallel, EERW) or the sequence (crossover)
    if tl.type == "crossover":
        labels, codes = m.group_names, m.group
    else:
        labels = list(m.arm_names) + (["not_randomised"] if tl.type == "enrichment" else [])
        codes = np.where(m.arm >= 0, m.arm, len(m.arm_names))
    label_arr = np.asarray(labels, dtype=object)
    rows_p, rows_d = np.nonzero(ta.in_study)
    week = np.where(days <= 0, 0, (days - 1) // 7 + 1)
    diary_df = pd.DataFrame(
        {
            "replicate": m.replicate[rows_p],
            "patient": m.patient[rows_p],
            "arm": pd.Categorical(label_arr[codes[rows_p]], categories=labels),
            "day": days[rows_d],
            "week": week[rows_d],
            "nrs": ta.nrs[rows_p, rows_d],  # integer NRS; NaN = missing day
            "expected_nrs": ta.expected_nrs[rows_p, rows_d],
        }
    )
    pop = m.pop.to_frame().drop(columns=["patient"])
    per70 = m.end_rate * 70.0 / m.weight
    frac = 0.5 if m.racemic else 1.0
    arms = sc.arms
    treatment = np.asarray([arms[a].treatment if a >= 0 else "" for a in m.arm], dtype=object)
    patients = pd.DataFrame(
        {
            "replicate": m.replicate,
            "patient": m.patient,
            "arm": pd.Categorical(label_arr[codes], categories=labels),
            "treatment": treatment,
            "enrolment_day": m.enrolment_day,
            "screening_nrs": m.screening_score,
            "baseline_nrs": ta.baseline,
            "ketamine_responder": m.responder,
            "placebo_responder": m.placebo_responder,
            "slow_c50_ng_ml": m.slow_c50,
            "psy_threshold": m.psy_threshold,
            "belief_end": m.belief,
            "ae_psychotomimetic": m.ae_seg["psychotomimetic"].any(axis=1),
            "ae_intolerable": m.intolerable_ever,
            "ae_nausea": m.ae_seg["nausea"].any(axis=1),
            "ae_vomiting": m.ae_seg["vomiting"].any(axis=1),
            "ae_liver_injury": m.liver,
            "max_cardiac_output_pct": m.cv_max["cardiac_output_pct"],
            "max_heart_rate_pct": m.cv_max["heart_rate_pct"],
            "max_map_pct": m.cv_max["map_pct"],
            # nominal (drug or saline) rate at the end of the titrated infusion, whole drug
            "end_rate_mg_h": m.end_rate / frac,
            "end_rate_mg_h_70kg": per70 / frac,
            "discontinued": ~np.isnan(m.discontinued_h),
            "discontinued_h": m.discontinued_h,
            "dropped_out": ~np.isnan(m.dropout_h),
            "dropout_h": m.dropout_h,
            "dropout_reason": m.dropout_reason,
        }
    )
    if tl.type == "crossover":
        patients.insert(3, "sequence", np.asarray(m.group_names, dtype=object)[m.group])
    patients = pd.concat([patients, pop.reset_index(drop=True)], axis=1)
    if m.events_log:
        idx = np.concatenate([e[0] for e in m.events_log])
        ev = pd.DataFrame(
            {
                "replicate": m.replicate[idx],
                "patient": m.patient[idx],
                "arm": pd.Categorical(label_arr[codes[idx]], categories=labels),
                "time_h": np.concatenate([e[1] for e in m.events_log]),
                "event": np.concatenate(
                    [np.full(e[0].size, e[2], dtype=object) for e in m.events_log]
                ),
                "value": np.concatenate([e[3] for e in m.events_log]),
            }
        )
        ev = ev.sort_values(["replicate", "patient", "time_h"], kind="stable").reset_index(
            drop=True
        )
    else:
        ev = pd.DataFrame(columns=["replicate", "patient", "arm", "time_h", "event", "value"])
    res = TrialResult(sc, m.entropy, m.replicates, patients, diary_df, ev)
    res.arrays = ta
    if m.recorder is not None:
        res.doses = m.recorder.doses()
        res.concentrations = m.recorder.concentrations()
        res.population = m.pop
    return res


def simulate_trial(
    scenario: Scenario,
    seed: int | None = None,
    replicates: tuple[int, ...] | list[int] = (0,),
    with_agents: bool = False,
    record_doses: bool = False,
) -> TrialResult:
    """Simulate replicate trials of a scenario and return their tables.

    The seed is taken from the argument, else the scenario, else drawn fresh (and recorded in
    :attr:`TrialResult.entropy`). ``record_doses`` adds the administered doses and the plasma
    concentrations (:attr:`TrialResult.doses`, :attr:`TrialResult.concentrations`); the other
    tables are the same either way.
    """
    entropy = root_entropy(seed, scenario.seed)
    model = TrialModel(
        scenario, entropy, replicates, with_agents=with_agents, record_doses=record_doses
    )
    model.run_model()
    return model.result()
