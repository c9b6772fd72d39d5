"""Population PK runs of a scenario: concentrations on a grid and per-patient summaries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ketsim.config.scenario import Scenario
from ketsim.core.pk.model import (
    AUC_OUTPUTS,
    OUTPUTS,
    Covariates,
    PKSwitches,
    build_system,
    individual_parameters,
)
from ketsim.core.pk.propagate import POPULATION_BLOCK, Propagator
from ketsim.core.resources import check_memory
from ketsim.core.seeds import auxiliary_stream, root_entropy, stream
from ketsim.sim.compile import Dosing, compile_pk_study, dose_distributions, pk_switches
from ketsim.sim.enrolment import K_DOSE
from ketsim.sim.population import Population, sample_population
from ketsim.sim.regimen import build_plan

__all__ = [
    "PKPlan",
    "PKResult",
    "check_pk_memory",
    "pk_chunks",
    "pk_memory_estimate",
    "pk_output_bytes",
    "pk_switches",
    "plan_pk",
    "simulate_concentrations",
    "simulate_pk",
]

CHUNK = 1024  # patients per batch: keeps the per-patient matrices in cache (see `ketsim bench pk`)
#: memory for one streamed chunk of patients (arrays, tidy table, parquet buffers); L: a
#: performance/footprint trade-off (larger chunks amortise per-chunk overhead, ~1e3 patients on
#: the hourly 12-week grid already do), overridable per call
CHUNK_BUDGET_BYTES = 256e6
#: patients whose curves are kept for the PK page's 5/50/95% bands (a uniform random subsample;
#: the quantiles' MC error at 5,000 is ~0.6 percentile points at the 5/95% bands); L
BAND_SAMPLE = 5000
#: peak bytes per patient of the whole population held while streaming (the sampled covariates
#: and genotypes, ~330 B at the peak of sampling; measured with tracemalloc at 1e5 patients) and
#: its per-chunk summary rows
POPULATION_BYTES_PER_PATIENT = 330.0
#: resident memory of the process before any patient: Python, numpy, pandas, pyarrow (peak RSS
#: of a 200-patient `ketsim pk` run is 0.35 GB; measured on Linux, CPython 3.11)
PROCESS_BASELINE_BYTES = 300e6
#: bytes per row and concentration column of concentrations.parquet: float64 mantissas barely
#: compress (a 200-patient hourly run stores 34.5 B per row of 4 concentrations, patient and
#: time); used to refuse runs the disk cannot hold
PARQUET_BYTES_PER_VALUE = 8.0


def simulate_concentrations(
    covariates: Covariates,
    eta: np.ndarray | None,
    dosing: Sequence[Dosing],
    times: np.ndarray,
    *,
    parameter_set: str = "noppers2011",
    switches: PKSwitches | None = None,
    racemic: bool = False,
    with_auc: bool = False,
    chunk: int = CHUNK,
    dose_u: dict | None = None,
    out: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Concentrations ``(P, T, n_out)`` per enantiomer system (``"S"``, and ``"R"`` if racemic).

    ``dosing`` is compiled (:func:`ketsim.sim.compile.compile_dosing`): no scenario spec is read.

    ``dose_u``: each patient's uniform of every dose distribution (doses varying between
    patients). Patients are processed in chunks of ``chunk``; results do not depend on the chunk
    size. ``out`` (enantiomer -> ``(P, T, n_out)`` arrays) is written in place when given: a
    caller that runs batch after batch reuses one buffer instead of faulting in fresh pages.
    """
    p = covariates.n
    systems = ("S", "R") if racemic else ("S",)
    fraction = 0.5 if racemic else 1.0
    n_out = len(OUTPUTS) + (len(AUC_OUTPUTS) if with_auc else 0)
    if out is None:
        out = {e: np.empty((p, times.size, n_out)) for e in systems}
    for e in systems:
        if out[e].shape != (p, times.size, n_out):
            raise ValueError(f"out[{e!r}] has shape {out[e].shape}, need {(p, times.size, n_out)}")
    for lo in range(0, p, chunk):
        idx = slice(lo, min(p, lo + chunk))
        cov = covariates.take(idx)
        u = None if dose_u is None else {d: x[idx] for d, x in dose_u.items()}
        plan, inf, bol = build_plan(dosing, cov.weight_kg, fraction, dose_u=u)
        for e in systems:
            ip = individual_parameters(
                cov,
                parameter_set,
                switches,
                None if eta is None else eta[idx],
                enantiomer=e,
                racemic=racemic,
            )
            # clip: every output is physically >= 0, so no table shows a round-off negative
            prop = Propagator(
                build_system(ip, inf, bol, with_auc=with_auc), block=POPULATION_BLOCK, clip=True
            )
            prop.run(plan, times, t0=min(0.0, float(plan.times[0])), out=out[e][idx])
    return out


@dataclass
class PKResult:
    """Concentrations of a population PK run."""

    scenario: Scenario
    entropy: int
    population: Population
    times: np.ndarray
    conc: dict[str, np.ndarray]  # enantiomer -> (P, T, n_out)
    outputs: tuple[str, ...]
    first_patient: int = 0  # number of the population's first patient (chunks of a larger run)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per patient and time, one column per compartment (ng/mL)."""
        p, t = self.population.n, self.times.size
        cols = {
            "patient": np.repeat(np.arange(self.first_patient, self.first_patient + p), t),
            "time_h": np.tile(self.times, p),
        }
        for e, arr in self.conc.items():
            prefix = "" if len(self.conc) == 1 else f"{e}_"
            for k, name in enumerate(self.outputs[: len(OUTPUTS)]):
                cols[f"{prefix}{name}_ng_ml"] = arr[:, :, k].ravel()
        return pd.DataFrame(cols)

    def summary(self) -> pd.DataFrame:
        """Per patient: Cmax, Tmax and AUC (exact, over the output window) per analyte.

        Tmax is the *last* output time within round-off (1e-9 relative) of Cmax, so that a
        plateau during a long infusion reports the end of the plateau, not whichever grid point
        happens to be largest by 1e-12.
        """
        rows = {"patient": np.arange(self.first_patient, self.first_patient + self.population.n)}
        for e, arr in self.conc.items():
            prefix = "" if len(self.conc) == 1 else f"{e}_"
            for analyte in ("ketamine", "norketamine"):
                c = arr[:, :, self.outputs.index(analyte)]
                cmax = c.max(axis=1)
                near = c >= cmax[:, None] * (1.0 - 1e-9)
                last = c.shape[1] - 1 - np.argmax(near[:, ::-1], axis=1)
                rows[f"{prefix}{analyte}_cmax_ng_ml"] = cmax
                rows[f"{prefix}{analyte}_tmax_h"] = self.times[last]
                auc = arr[:, :, self.outputs.index(f"auc_{analyte}")]
                rows[f"{prefix}{analyte}_auc_ng_h_ml"] = auc[:, -1] - auc[:, 0]
        return pd.DataFrame(rows)


def _dose_uniforms(entropy: int, dosing: Dosing, n: int) -> dict:
    """Each patient's uniform of every dose distribution (doses varying between patients):
    replicate 0's dose streams, as a trial draws them, so PK and trial runs agree."""
    return {
        d: stream(entropy, 0, "population", K_DOSE, j).random(n)
        for j, d in enumerate(dose_distributions(dosing))
    }


def simulate_pk(scenario: Scenario, seed: int | None = None, chunk: int = CHUNK) -> PKResult:
    """Run the scenario's population PK (replicate 0 of the seed tree).

    The seed is taken from the argument, else the scenario, else drawn fresh; it is returned in
    :attr:`PKResult.entropy` so the run can be repeated.
    """
    entropy = root_entropy(seed, scenario.seed)
    study = compile_pk_study(scenario)
    n, t, s = scenario.population.n, study.times_h.size, 2 if study.racemic else 1
    # the output arrays, then the tidy table and its parquet buffer of the concentrations
    check_memory(
        _cell_bytes(s) * n * t,
        f"population PK of {n:,} patients x {t:,} output times",
        "use fewer patients, a coarser output.step or an earlier output.end (or stream the run "
        "with `ketsim pk`, which holds one chunk of patients at a time)",
    )
    pop = sample_population(scenario.population, entropy, replicate=0)
    dose_u = _dose_uniforms(entropy, study.dosing, n)
    conc = simulate_concentrations(
        pop.pk_covariates(),
        pop.eta_pk,
        study.dosing,
        study.times_h,
        parameter_set=study.parameter_set,
        switches=study.switches,
        racemic=study.racemic,
        with_auc=True,
        chunk=chunk,
        dose_u=dose_u,
    )
    return PKResult(scenario, entropy, pop, study.times_h, conc, OUTPUTS + AUC_OUTPUTS)


def _cell_bytes(systems: int) -> float:
    """Peak bytes per patient and output time of a chunk: the ``(P, T, 6)`` arrays per system,
    then the tidy table (patient, time and 4 concentrations per system) and its Arrow copy."""
    return 8.0 * (systems * (len(OUTPUTS) + len(AUC_OUTPUTS)) + 2 * (2 + systems * len(OUTPUTS)))


def pk_memory_estimate(
    n: int,
    times: int,
    systems: int = 1,
    budget_bytes: float = CHUNK_BUDGET_BYTES,
    band_sample: int = BAND_SAMPLE,
) -> tuple[int, float]:
    """Patients per chunk and the estimated peak bytes of a streamed PK run.

    Resident at once: the interpreter and libraries, the population's covariates and
    genotypes, one chunk of patients (its
    arrays, tidy table and Arrow copy: ``budget_bytes``, or one patient if a single patient's
    grid is larger) and the band subsample's curves (float32). Only the first term grows with
    ``n``.
    """
    per_patient = _cell_bytes(systems) * times
    chunk = int(max(1, min(n, budget_bytes // per_patient)))
    estimate = (
        PROCESS_BASELINE_BYTES
        + POPULATION_BYTES_PER_PATIENT * n
        + per_patient * chunk
        + 4.0 * min(n, band_sample) * times * systems * len(OUTPUTS)
    )
    return chunk, estimate


def check_pk_memory(
    scenario: Scenario,
    budget_bytes: float = CHUNK_BUDGET_BYTES,
    band_sample: int = BAND_SAMPLE,
) -> tuple[int, float]:
    """Patients per chunk and the memory estimate of a streamed run of ``scenario``; raises
    :class:`~ketsim.core.resources.ResourceLimitError` when the estimate exceeds the limit."""
    o = scenario.output
    t = int(np.arange(0.0, o.end + 0.5 * o.step, o.step).size)  # compile_pk_study's grid
    n, s = scenario.population.n, 2 if scenario.drug == "racemic" else 1
    chunk, estimate = pk_memory_estimate(n, t, s, budget_bytes, band_sample)
    check_memory(
        estimate,
        f"population PK of {n:,} patients x {t:,} output times, streamed in chunks of "
        f"{chunk:,} patients",
        "use fewer patients, a coarser output.step or an earlier output.end",
    )
    return chunk, estimate


def pk_output_bytes(n: int, times: int, systems: int = 1) -> float:
    """Estimated size of ``concentrations.parquet``: one row per patient and time, 4
    concentrations per enantiomer system (patient and time compress to almost nothing)."""
    return PARQUET_BYTES_PER_VALUE * len(OUTPUTS) * systems * float(n) * times


@dataclass
class PKPlan:
    """A population PK run prepared for streaming: patients sampled, chunk size chosen.

    Attributes
    ----------
    chunk : patients per streamed chunk.
    band_patients : sorted patient numbers whose curves give the bands (all if n <= sample).
    estimate_bytes : the peak memory the run was checked against.
    """

    scenario: Scenario
    entropy: int
    population: Population
    times: np.ndarray
    chunk: int
    band_patients: np.ndarray
    estimate_bytes: float
    study: object  # PKStudy
    dose_u: dict | None = None  # each patient's uniform of every dose distribution

    @property
    def systems(self) -> tuple[str, ...]:
        """Enantiomer systems simulated: ``("S",)`` or ``("S", "R")`` for the racemate."""
        return ("S", "R") if self.study.racemic else ("S",)


def plan_pk(
    scenario: Scenario,
    seed: int | None = None,
    budget_bytes: float = CHUNK_BUDGET_BYTES,
    band_sample: int = BAND_SAMPLE,
) -> PKPlan:
    """Check the memory of a streamed PK run, then sample its patients and pick the chunk size.

    The estimate is what is resident at once: the whole population's covariates, one chunk
    (``budget_bytes``, or one patient if a single patient's grid is larger) and the band
    subsample (float32). It raises :class:`~ketsim.core.resources.ResourceLimitError` before
    anything is sampled.
    """
    entropy = root_entropy(seed, scenario.seed)
    study = compile_pk_study(scenario)
    n = scenario.population.n
    chunk, estimate = check_pk_memory(scenario, budget_bytes, band_sample)
    n_band = min(n, band_sample)
    pop = sample_population(scenario.population, entropy, replicate=0)
    if n_band < n:
        rng = auxiliary_stream(entropy, "pk_band_sample")
        band = np.sort(rng.choice(n, size=n_band, replace=False))
    else:
        band = np.arange(n)
    dose_u = _dose_uniforms(entropy, study.dosing, n)
    return PKPlan(scenario, entropy, pop, study.times_h, chunk, band, estimate, study, dose_u)


def pk_chunks(plan: PKPlan) -> Iterator[PKResult]:
    """The run's patients in chunks of ``plan.chunk``, each a :class:`PKResult`.

    Every patient's concentrations are those of :func:`simulate_pk` (same seed): patients are
    independent, and the population is sampled once for the whole run.
    """
    study = plan.study
    for lo in range(0, plan.population.n, plan.chunk):
        idx = slice(lo, min(plan.population.n, lo + plan.chunk))
        sub = plan.population.take(idx)
        conc = simulate_concentrations(
            sub.pk_covariates(),
            sub.eta_pk,
            study.dosing,
            plan.times,
            parameter_set=study.parameter_set,
            switches=study.switches,
            racemic=study.racemic,
            with_auc=True,
            dose_u=None if not plan.dose_u else {d: x[idx] for d, x in plan.dose_u.items()},
        )
        yield PKResult(
            plan.scenario, plan.entropy, sub, plan.times, conc, OUTPUTS + AUC_OUTPUTS, lo
        )
