"""Population PK runs of a scenario: concentrations on a grid and per-patient summaries."""

from __future__ import annotations

from collections.abc import Sequence
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
from ketsim.core.pk.propagate import Propagator
from ketsim.core.resources import check_memory
from ketsim.core.seeds import root_entropy, stream
from ketsim.sim.compile import Dosing, compile_pk_study, dose_distributions, pk_switches
from ketsim.sim.enrolment import K_DOSE
from ketsim.sim.population import Population, sample_population
from ketsim.sim.regimen import build_plan

__all__ = ["PKResult", "pk_switches", "simulate_concentrations", "simulate_pk"]

CHUNK = 1024  # patients per batch: keeps the per-patient matrices in cache (see `ketsim bench pk`)


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
) -> dict[str, np.ndarray]:
    """Concentrations ``(P, T, n_out)`` per enantiomer system (``"S"``, and ``"R"`` if racemic).

    ``dosing`` is compiled (:func:`ketsim.sim.compile.compile_dosing`): no scenario spec is read.

    ``dose_u``: each patient's uniform of every dose distribution (doses varying between
    patients). Patients are processed in chunks of ``chunk``; results do not depend on the chunk
    size.
    """
    p = covariates.n
    systems = ("S", "R") if racemic else ("S",)
    fraction = 0.5 if racemic else 1.0
    n_out = len(OUTPUTS) + (len(AUC_OUTPUTS) if with_auc else 0)
    out = {e: np.empty((p, times.size, n_out)) for e in systems}
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
            prop = Propagator(build_system(ip, inf, bol, with_auc=with_auc))
            prop.run(plan, times, t0=min(0.0, float(plan.times[0])), out=out[e][idx])
            # every output is a concentration, amount or AUC: physically >= 0. The exact
            # propagation's round-off leaves values like -8.8e-8 ng/mL long after tiny doses;
            # they are clipped here so no table ever shows a negative concentration
            np.maximum(out[e][idx], 0.0, out=out[e][idx])
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

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per patient and time, one column per compartment (ng/mL)."""
        p, t = self.population.n, self.times.size
        cols = {
            "patient": np.repeat(np.arange(p), t),
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
        rows = {"patient": np.arange(self.population.n)}
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


def simulate_pk(scenario: Scenario, seed: int | None = None, chunk: int = CHUNK) -> PKResult:
    """Run the scenario's population PK (replicate 0 of the seed tree).

    The seed is taken from the argument, else the scenario, else drawn fresh; it is returned in
    :attr:`PKResult.entropy` so the run can be repeated.
    """
    entropy = root_entropy(seed, scenario.seed)
    study = compile_pk_study(scenario)
    n, t, s = scenario.population.n, study.times_h.size, 2 if study.racemic else 1
    # the output arrays, then the tidy table and its parquet buffer of the concentrations
    per_cell = 8.0 * (s * (len(OUTPUTS) + len(AUC_OUTPUTS)) + 2 * (2 + s * len(OUTPUTS)))
    check_memory(
        per_cell * n * t,
        f"population PK of {n:,} patients x {t:,} output times",
        "use fewer patients, a coarser output.step or an earlier output.end",
    )
    pop = sample_population(scenario.population, entropy, replicate=0)
    # doses varying between patients: replicate 0's dose streams, as a trial draws them
    dose_u = {
        d: stream(entropy, 0, "population", K_DOSE, j).random(n)
        for j, d in enumerate(dose_distributions(study.dosing))
    }
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
