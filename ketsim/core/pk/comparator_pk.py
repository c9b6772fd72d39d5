"""PK of the comparator drugs: midazolam (active placebo) and lidocaine (active comparator).

Each is a linear two-compartment IV model (lidocaine: one compartment, ``v2 = q = 0``) with an
effect site, built as a :class:`~ketsim.core.pk.model.LinearSystem` so that the exact
propagator of :mod:`ketsim.core.pk.propagate` steps it with piecewise-constant IV infusions and IV
boluses, like ketamine. Volumes and clearances scale linearly with body weight (both drugs are
reported per kg in the sources below); between-patient variability is log-normal on CL and V1.

State layout (amounts in mg; the effect site is a concentration in mg/L):

===  ==========================================
C1   central (V1)
C2   peripheral (V2; empty for one compartment)
CE   effect site, dCe/dt = ke0 (C1/V1 - Ce)
===  ==========================================

Outputs ``cp`` and ``ce`` are in ng/mL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ketsim.core.pk.model import LinearSystem

__all__ = ["COMPARATOR_PK", "ComparatorPK", "comparator_system"]

ln2 = math.log(2.0)


@dataclass(frozen=True)
class ComparatorPK:
    """Typical PK of one comparator drug, per kg of body weight.

    Attributes
    ----------
    name : the drug.
    v1_l_kg, v2_l_kg : central and peripheral volumes (L/kg).
    cl_l_h_kg, q_l_h_kg : elimination and inter-compartmental clearances (L/h/kg).
    ke0_per_h : plasma to effect-site equilibration rate constant (1/h).
    cv_cl, cv_v1 : log-normal between-patient variability (CV) of CL and V1.
    source : where the numbers come from (confidence per number in the module constants).
    """

    name: str
    v1_l_kg: float
    v2_l_kg: float
    cl_l_h_kg: float
    q_l_h_kg: float
    ke0_per_h: float
    cv_cl: float
    cv_v1: float
    source: str

    @property
    def vss_l_kg(self) -> float:
        """Steady-state volume of distribution (L/kg)."""
        return self.v1_l_kg + self.v2_l_kg

    def terminal_half_life_h(self) -> float:
        """Terminal elimination half-life (h) of the typical patient."""
        k10 = self.cl_l_h_kg / self.v1_l_kg
        if self.v2_l_kg == 0.0:
            return ln2 / k10
        k12 = self.q_l_h_kg / self.v1_l_kg
        k21 = self.q_l_h_kg / self.v2_l_kg
        s = k10 + k12 + k21
        beta = 0.5 * (s - math.sqrt(s * s - 4.0 * k10 * k21))
        return ln2 / beta


#: Midazolam, healthy adults. CL 0.38 L/h/kg (6.3 mL/min/kg) and Vss 1.1 L/kg, terminal t½ ~2.4 h:
#: Greenblatt DJ et al. 1984, Anesthesiology 61:27 (young men, M: values as recalled from the
#: paper's range CL 5-8 mL/min/kg, Vd 0.8-1.5 L/kg, t½ 2-3 h). The split of Vss into V1 0.3 and
#: V2 0.8 L/kg and Q 1.0 L/h/kg (distribution t½ ~7 min) is L. Effect site t½ke0 5.6 min (EEG):
#: Buhrer M et al. 1990, Clin Pharmacol Ther 48:555 (M). IIV CV 30% on CL and V1 (L).
MIDAZOLAM = ComparatorPK(
    name="midazolam",
    v1_l_kg=0.3,
    v2_l_kg=0.8,
    cl_l_h_kg=0.38,
    q_l_h_kg=1.0,
    ke0_per_h=ln2 / (5.6 / 60.0),
    cv_cl=0.30,
    cv_v1=0.30,
    source="Greenblatt 1984 (CL, Vss; M); Buhrer 1990 (t½ke0 5.6 min; M); split, Q, IIV L",
)

#: Lidocaine, healthy adults, one compartment: Vd 1.3 L/kg and CL 0.55 L/h/kg (9.2 mL/min/kg),
#: t½ ~1.6 h: Benowitz NL, Meister W 1978, Clin Pharmacokinet 3:177 (review; M, values as
#: recalled: Vss 1.1-1.7 L/kg, CL 10-15 mL/min/kg, t½ 1.5-2 h). One compartment ignores the
#: ~8-min distribution phase, so it under-predicts the early peak of a fast infusion (L).
#: Effect site t½ke0 5 min (L). IIV CV 30% (L).
LIDOCAINE = ComparatorPK(
    name="lidocaine",
    v1_l_kg=1.3,
    v2_l_kg=0.0,
    cl_l_h_kg=0.55,
    q_l_h_kg=0.0,
    ke0_per_h=ln2 / (5.0 / 60.0),
    cv_cl=0.30,
    cv_v1=0.30,
    source="Benowitz & Meister 1978 (Vd, CL; M); t½ke0 and IIV L",
)

COMPARATOR_PK: dict[str, ComparatorPK] = {"midazolam": MIDAZOLAM, "lidocaine": LIDOCAINE}


def comparator_system(
    pk: ComparatorPK, weight_kg: np.ndarray, eta: np.ndarray | None = None
) -> LinearSystem:
    """The linear system of a comparator for a batch of patients (IV infusion and IV bolus).

    Parameters
    ----------
    pk : the drug's typical PK.
    weight_kg : ``(P,)`` body weights.
    eta : ``(P, 2)`` standard normal deviates of CL and V1 (None: typical patients).

    Returns
    -------
    LinearSystem
        States ``C1, C2, CE``; one infusion and one bolus input (mg/h, mg) into C1; outputs
        ``cp`` and ``ce`` in ng/mL.
    """
    w = np.asarray(weight_kg, dtype=float)
    p = w.size
    f_cl = np.ones(p)
    f_v1 = np.ones(p)
    if eta is not None:
        # log-normal with the stated CV: omega^2 = ln(1 + CV^2)
        f_cl = np.exp(np.sqrt(np.log1p(pk.cv_cl**2)) * eta[:, 0])
        f_v1 = np.exp(np.sqrt(np.log1p(pk.cv_v1**2)) * eta[:, 1])
    v1 = pk.v1_l_kg * w * f_v1
    cl = pk.cl_l_h_kg * w * f_cl
    A = np.zeros((p, 3, 3))
    A[:, 0, 0] = -cl / v1
    if pk.v2_l_kg > 0.0:
        v2 = pk.v2_l_kg * w
        q = pk.q_l_h_kg * w
        A[:, 0, 0] -= q / v1
        A[:, 1, 0] = q / v1
        A[:, 0, 1] = q / v2
        A[:, 1, 1] = -q / v2
    A[:, 2, 0] = pk.ke0_per_h / v1
    A[:, 2, 2] = -pk.ke0_per_h
    B = np.zeros((p, 3, 1))
    B[:, 0, 0] = 1.0
    C = np.zeros((p, 2, 3))
    C[:, 0, 0] = 1000.0 / v1  # mg/L -> ng/mL
    C[:, 1, 2] = 1000.0
    return LinearSystem(
        A=A,
        B=B,
        Bb=B.copy(),
        C=C,
        states=("C1", "C2", "CE"),
        infusion_routes=("iv",),
        bolus_routes=("iv",),
        outputs=("cp", "ce"),
    )
