"""Model assumptions a scenario can change: the switches of uncertain assumptions
(:class:`SwitchesSpec`, MODEL.md §2) and the check of the ``pd:`` parameter overrides.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from pydantic import Field

from ketsim.config.schema.base import StrictModel
from ketsim.core.pd.parameters import DEFAULT_LASTING_EFFECT, PDParameters, check_pd

__all__ = [
    "SwitchesSpec",
    "check_pd_overrides",
]


class SwitchesSpec(StrictModel):
    """Uncertain assumptions, exposed as switches (MODEL.md §2)."""

    sex_effect_on_clearance: bool = Field(
        True, description="women clear S-K/S-NK x1.20 (Sigtermans 2009); off: Perez-Ruixo 2021"
    )
    cyp2b6_effect: Literal["in_vitro", "null"] = Field(
        "in_vitro", description="diplotype activities from Li 2013 in vitro, or no effect"
    )
    r_inhibits_s: bool = Field(
        False, description="R-ketamine lowers S-ketamine clearance 30% (Ihmsen 2001)"
    )
    iiv: bool = Field(
        True,
        description="between-patient variability of CL, V1, CL_NK, MTT and nasal absorption rate",
    )
    intranasal: Literal["huge2010", "perez_ruixo2021"] = Field(
        "huge2010",
        description="nasal fraction 0.247 and ka IIV 40% calibrated to Huge 2010, or "
        "Perez-Ruixo 2021 (0.54, 61.5%)",
    )
    cyp3a_cyp2c9_effect: Literal["null", "assumed"] = Field(
        "null",
        description="CYP3A4*22, CYP3A5 and CYP2C9 genotypes act on clearance (L; not established)",
    )
    norketamine_analgesia: Literal["none", "antagonist", "conventional"] = Field(
        "none",
        description="S-norketamine on acute analgesia: none (Olofsen 2022), antagonist "
        "(Olofsen 2012), conventional +1/3 potency",
    )
    r_ketamine_analgesia: Literal["none", "quarter"] = Field(
        "none", description="R-ketamine on analgesia: none (Olofsen 2022) or 1/4 of S"
    )
    functional_unblinding: bool = Field(
        True, description="perceived drug effects update the belief of being on drug (L)"
    )
    lasting_effect: Literal["dahan", "sustained_blockade", "delayed_peak"] = Field(
        DEFAULT_LASTING_EFFECT,
        description="mechanism of the lasting effect (MODEL.md §5): Dahan's slow compartment "
        "(Dahan 2011), drive only while the fast effect site stays above a threshold (default: "
        "the only one that meets every calibration target), or a finite sensitization turnover "
        "that delays the peak (Orhurhu 2019)",
    )
    cancer_disease_modification: Literal["none", "sensitization"] = Field(
        "none",
        description="cancer indication only: none (default; Bell 2017 Cochrane found insufficient "
        "evidence, Cohen 2018): ketamine has acute analgesia but no lasting, disease-modifying "
        "effect (lasting responder probability 0); sensitization: the lasting effect reverses the "
        "population's sensitization share with the non-CRPS responder probability 0.45 (L)",
    )


def check_pd_overrides(v: dict[str, float]) -> dict[str, float]:
    """After-validator of the scenario's ``pd:`` overrides.

    Parameters
    ----------
    v
        PD parameter name -> value.

    Returns
    -------
    dict
        ``v`` unchanged.

    Raises
    ------
    ValueError
        On names that are not fields of :class:`ketsim.core.pd.parameters.PDParameters`, or when
        the patched parameters fail :func:`ketsim.core.pd.parameters.check_pd`.
    """

    allowed = PDParameters.__dataclass_fields__
    bad = [k for k in v if k not in allowed]
    if bad:
        raise ValueError(f"unknown PD parameter(s) {bad}; allowed: {', '.join(allowed)}")

    problems = check_pd(replace(PDParameters(), **v))
    if problems:
        raise ValueError("; ".join(problems))
    return v
