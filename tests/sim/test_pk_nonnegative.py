"""Population-PK outputs are never negative (round-off of the exact propagation is clipped)."""

from __future__ import annotations

import numpy as np

from ketsim.config.scenario import PopulationSpec, RegimenSpec
from ketsim.sim.compile import compile_dosing
from ketsim.sim.pk_study import simulate_concentrations
from ketsim.sim.population import sample_population


def test_tiny_repeated_doses_leave_no_negative_concentrations():
    # 200 tiny boluses then a long washout: the case where round-off used to reach -8.8e-8 ng/mL
    regimen = compile_dosing(
        [RegimenSpec(route="iv_bolus", amount="0.001 mg", repeats=200, interval="0.5 h")]
    )
    pop = sample_population(PopulationSpec(n=50), 5)
    times = np.arange(0.0, 24 * 40.0, 0.5)
    out = simulate_concentrations(pop.pk_covariates(), pop.eta_pk, regimen, times)
    for arr in out.values():
        assert np.all(arr >= 0.0)
        assert np.any(arr > 0.0)
