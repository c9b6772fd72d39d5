"""Lasting analgesia: the central-sensitization state (MODEL.md §3.2).

Each patient has a sensitization set point ``s`` (the central-sensitization index, the share of
pain that is sensitization-driven) and a latent ketamine responsiveness. Ketamine exposure reaches
the state through Dahan's slow compartment (t½ 10.9 d): the desensitizing drive is

    D(t) = Ce_slow^γ / (C50^γ + Ce_slow^γ),        C50 = 10.5 ng/mL   (Dahan 2011, H)

and the state ``S`` turns over towards its drug-modulated target

    dS/dt = k_S · (s · (1 − R · D(t)) − S),         R ∈ {0, 1} responder

so that pain from sensitization is ``baseline · (1 − s + S)``. With the default turnover
``k_S → ∞`` (half-life 0) the state *is* Dahan's effect-compartment model with Emax = s for
responders; a finite half-life adds a genuine lag (switch, L). Repeated courses act on the current
state through the residual slow-compartment concentration, and relapse follows its decline.

Which mechanism carries the lasting effect is not settled (MODEL.md §5), so it is a named
hypothesis (``switches.lasting_effect``), each with its own calibrated parameters
(:data:`HYPOTHESIS_PD`):

* ``dahan`` — the drive is Dahan's sigmoid of the slow compartment (above), the state follows it
  at once;
* ``sustained_blockade`` — desensitization needs *sustained* NMDA blockade: a memory ``M`` (hours
  of blockade) grows only while the fast effect-site S-ketamine concentration is at or above a
  threshold θ and otherwise recovers with Dahan's slow turnover (t½ 10.9 d)::

      dM/dt = 1[Ce_fast ≥ θ] − k_slow · M,     D = M^γb / (M50^γb + M^γb)

  so the lasting effect counts hours of blockade, not drug amount: a steep γb makes the first
  hour or so leave little behind and a few hours leave nearly the full effect (Noppers 2010:
  ID50 1.7 h), while the memory of a multi-day course still takes months to fall below M50. The
  trial grid gains points in the two hours after every dosing change
  (:data:`ketsim.sim.trial_schedule.FAST_RESOLUTION_H`) so that the crossings of θ are resolved;
* ``delayed_peak`` — Dahan's drive with a finite sensitization turnover, so that the state lags
  the drive and a few-hour infusion peaks days after it ends (Orhurhu 2019: maximum effect
  48 h to 2 weeks after the infusion).

Between grid points the drive is interpolated linearly (first-order hold) and the linear ODE is
propagated exactly, so that the only error against a continuous ODE solution is that of the
interpolated drive (tested against ``scipy.integrate.solve_ivp`` at rtol 1e-10).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ketsim.core.pd.acute import sigmoid_emax
from ketsim.core.pd.parameters import HYPOTHESIS_PD, LASTING_EFFECTS, PDParameters

__all__ = [
    "HYPOTHESIS_PD",
    "LASTING_EFFECTS",
    "blockade_drive",
    "blockade_step",
    "desensitizing_drive",
    "ketamine_responders",
    "sensitization_step",
    "sensitization_target",
]


def ketamine_responders(
    z_sensitization: np.ndarray,
    z_log_duration: np.ndarray,
    eps: np.ndarray,
    params: PDParameters | None = None,
) -> np.ndarray:
    """Responder indicator from a Gaussian latent.

    ``latent = a_s·z_s + a_d·z_d + sqrt(1 − a_s² − a_d²)·ε`` is standard normal in the reference
    population (``z_*`` standardised against the indication's distributions), so the marginal
    responder probability there is exactly ``responder_probability`` (Dahan 2011: 0.67), while
    more sensitized patients and shorter disease histories respond more often.
    """
    p = params or PDParameters()
    a_s, a_d = p.responder_loading_sensitization, p.responder_loading_duration
    resid = 1.0 - a_s * a_s - a_d * a_d
    if resid < 0:
        raise ValueError("responder loadings must satisfy a_s² + a_d² <= 1")
    latent = a_s * z_sensitization + a_d * z_log_duration + np.sqrt(resid) * eps
    threshold = special.ndtri(1.0 - p.responder_probability)
    return latent > threshold


def desensitizing_drive(
    ce_slow: np.ndarray, c50: np.ndarray | float, params: PDParameters | None = None
) -> np.ndarray:
    """Dahan's sigmoid of the slow-compartment S-ketamine concentration, in [0, 1)."""
    p = params or PDParameters()
    return sigmoid_emax(ce_slow, c50, p.slow_gamma)


def sensitization_target(
    set_point: np.ndarray, responder: np.ndarray, drive: np.ndarray
) -> np.ndarray:
    """Drug-modulated target ``s · (1 − R · D)`` of the sensitization state."""
    return set_point * (1.0 - responder * drive)


def sensitization_step(
    s0: np.ndarray, f0: np.ndarray, f1: np.ndarray, dt_h: float, k_per_h: float
) -> np.ndarray:
    """Exact solution of ``dS/dt = k (f(t) − S)`` over ``dt`` with ``f`` linear from f0 to f1.

    ``k = inf`` (half-life 0) returns the target ``f1`` (quasi-steady state).
    """
    if not np.isfinite(k_per_h):
        return np.array(f1, dtype=float, copy=True)
    if dt_h <= 0:
        return np.array(s0, dtype=float, copy=True)
    x = k_per_h * dt_h
    e = np.exp(-x)
    # For f(τ) = f0 + (f1 − f0) τ/dt:  S(dt) = e S0 + (1 − e) f0 + (f1 − f0)(1 − (1 − e)/x).
    # (1 − e)/x via expm1 keeps precision for small x.
    g = -np.expm1(-x) / x if x > 0 else 1.0
    return e * s0 + (1.0 - e) * f0 + (f1 - f0) * (1.0 - g)


def blockade_step(
    m0: np.ndarray,
    c0: np.ndarray,
    c1: np.ndarray,
    threshold: float,
    dt_h: float,
    k_per_h: float,
) -> np.ndarray:
    """Blockade memory after ``dt`` hours: ``dM/dt = 1[c(t) ≥ θ] − k M``, ``c`` linear c0 → c1.

    With ``c`` linear over the interval the time it spends at or above θ is one sub-interval,
    found exactly, and on each piece the linear ODE has a closed form, so the step is exact for
    the interpolated concentration (as the drive of :func:`sensitization_step` is).

    Parameters
    ----------
    m0 : memories at the start (h of blockade).
    c0, c1 : effect-site concentrations at the start and end (ng/mL).
    threshold : θ (ng/mL, > 0).
    dt_h : the interval (h).
    k_per_h : recovery rate (1/h, > 0).

    Returns
    -------
    np.ndarray
        The memories at the end of the interval.
    """
    m0 = np.asarray(m0, dtype=float)
    if dt_h <= 0:
        return m0.copy()
    c0 = np.asarray(c0, dtype=float)
    c1 = np.asarray(c1, dtype=float)
    above0, above1 = c0 >= threshold, c1 >= threshold
    # crossing time (fraction of the interval) where c passes θ; only used where it does
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x = np.clip((threshold - c0) / (c1 - c0), 0.0, 1.0)
    # the piece above θ: [a, b] in fractions of the interval
    a = np.where(above0, 0.0, np.where(above1, x, 1.0))
    b = np.where(above0, np.where(above1, 1.0, x), 1.0)
    on = (b - a) * dt_h  # hours at or above θ, ending (1 − b)·dt before the end
    after = (1.0 - b) * dt_h
    # M(end) = M0 e^{−k dt} + (1 − e^{−k on}) / k · e^{−k after}
    return m0 * np.exp(-k_per_h * dt_h) + (-np.expm1(-k_per_h * on)) / k_per_h * np.exp(
        -k_per_h * after
    )


def blockade_drive(memory: np.ndarray, m50_h: float, gamma: float) -> np.ndarray:
    """The desensitizing drive of the ``sustained_blockade`` hypothesis, in [0, 1)."""
    return sigmoid_emax(memory, m50_h, gamma)
