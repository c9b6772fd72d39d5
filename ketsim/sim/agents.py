"""mesa agents: one :class:`PatientAgent` per virtual patient, a view onto the model's arrays.

The agent holds no numerical state of its own: reading ``agent.pain`` reads row ``index`` of the
:class:`~ketsim.sim.trial_model.TrialModel`'s arrays, so that the vectorised rules of the model and
the agent-level view (for exploration, debugging and the interactive explorer) never disagree.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

__all__ = ["PatientAgent"]


class PatientAgent(mesa.Agent):
    """A virtual patient of a :class:`~ketsim.sim.trial_model.TrialModel` (row ``index`` of its
    arrays)."""

    # the trial model (ketsim.sim.trial_model.TrialModel); typed as mesa.Model so that this
    # module, which the model imports, does not import it back
    model: mesa.Model

    def __init__(self, model: mesa.Model, index: int) -> None:
        super().__init__(model)
        self.index = int(index)

    # identity and covariates
    @property
    def replicate(self) -> int:
        return int(self.model.replicate[self.index])

    @property
    def arm(self) -> str:
        return self.model.arm_names[int(self.model.arm[self.index])]

    @property
    def covariates(self) -> dict[str, Any]:
        """Demographics, genotypes, disease and comorbidity of this patient."""
        row = self.model.pop.take(np.array([self.index])).to_frame().iloc[0].to_dict()
        row.pop("patient", None)
        return row

    # dynamic state
    @property
    def on_treatment(self) -> bool:
        return bool(self.model.on_treatment[self.index])

    @property
    def in_study(self) -> bool:
        return bool(self.model.in_study[self.index])

    @property
    def pain(self) -> float:
        """Expected NRS at the model's current time."""
        return float(self.model.pain[self.index])

    @property
    def sensitization(self) -> float:
        return float(self.model.sens_state[self.index])

    @property
    def belief_on_drug(self) -> float:
        return float(self.model.belief[self.index])

    @property
    def infusion_rate_mg_h(self) -> float:
        return float(self.model.prev_rates[self.index].sum())

    @property
    def concentrations(self) -> dict[str, float]:
        """Current plasma and effect-site concentrations (ng/mL)."""
        return {k: float(v[self.index]) for k, v in self.model.y.items() if k != "auc"}

    def step(self) -> None:
        """Agents do not step themselves: the model applies vectorised rules to all patients."""
        raise RuntimeError("PatientAgent state is advanced by TrialModel.step()")
