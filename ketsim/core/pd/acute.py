"""Acute analgesia on the fast effect site (MODEL.md §3.1).

A sigmoid Emax model on the S-ketamine effect-site concentration (t½ke0 8.3 min, Olofsen 2022),
with switches for R-ketamine (none by default, Olofsen 2022; conventional ¼ of S) and for
S-norketamine (none by default; antagonist, Olofsen 2012; conventional +⅓ potency).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ketsim.core.pd.parameters import PDParameters

__all__ = ["acute_relief", "analgesic_concentration", "sigmoid_emax"]

NKEffect = Literal["none", "antagonist", "conventional"]
REffect = Literal["none", "quarter"]


def sigmoid_emax(c: np.ndarray, c50: float | np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """``c^γ / (c50^γ + c^γ)`` for ``c >= 0`` (0 at c = 0, ½ at c50), elementwise."""
    c = np.maximum(np.asarray(c, dtype=float), 0.0)
    if gamma == 1.0:
        return c / (c50 + c)
    cg = c**gamma
    return cg / (np.asarray(c50, dtype=float) ** gamma + cg)


def analgesic_concentration(
    ce_s: np.ndarray,
    nk: np.ndarray | None = None,
    ce_r: np.ndarray | None = None,
    *,
    norketamine: NKEffect = "none",
    r_ketamine: REffect = "none",
    params: PDParameters | None = None,
) -> np.ndarray:
    """S-ketamine-equivalent concentration driving acute analgesia (ng/mL, >= 0).

    ``ce_s``: fast effect-site S-ketamine; ``nk``: plasma S-norketamine (its slow kinetics make the
    effect-site lag negligible, an assumption); ``ce_r``: fast effect-site R-ketamine (racemate).
    """
    p = params or PDParameters()
    c = np.asarray(ce_s, dtype=float)
    if r_ketamine == "quarter" and ce_r is not None:
        c = c + p.r_conventional_potency * ce_r
    if nk is not None and norketamine != "none":
        k = p.nk_antagonist_potency if norketamine == "antagonist" else p.nk_conventional_potency
        c = c + k * nk
    return np.maximum(c, 0.0)


def acute_relief(
    c_eq: np.ndarray,
    params: PDParameters | None = None,
    responder: np.ndarray | None = None,
) -> np.ndarray:
    """Fraction of pain relieved acutely, ``Emax · C^γ/(C50^γ + C^γ)`` (Olofsen 2022 C50).

    ``responder``: the latent ketamine-responder class of each patient (None: all responders).
    A latent non-responder's Emax is ``acute_emax · acute_emax_nonresponder``, so no titrated
    concentration makes a non-responder respond (issue 15: responsiveness that survives titration).
    """
    p = params or PDParameters()
    emax = p.acute_emax
    if responder is not None:
        emax = np.where(responder, p.acute_emax, p.acute_emax * p.acute_emax_nonresponder)
    return emax * sigmoid_emax(c_eq, p.acute_c50_ng_ml, p.acute_gamma)
