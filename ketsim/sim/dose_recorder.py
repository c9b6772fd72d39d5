"""Opt-in record of the doses as administered and the plasma concentrations of a trial model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ketsim.config.scenario import BOLUS_ROUTES, INFUSION_ROUTES
from ketsim.sim.trial_tables import TREATMENTS

if TYPE_CHECKING:
    from ketsim.sim.trial_model import TrialModel

__all__ = ["DoseRecorder"]


class DoseRecorder:
    """Doses as administered and plasma concentrations of a
    :class:`~ketsim.sim.trial_model.TrialModel` (opt-in).

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
        # treatment of the segment in force (TREATMENTS codes: 0 ketamine, 1 placebo, ...)
        self._trt.append(m.cmp.treatment_code.copy())

    def doses(self) -> pd.DataFrame:
        """Every administration, whole drug (see :attr:`.TrialResult.doses`)."""
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
        """Plasma concentrations at every model time (see :attr:`.TrialResult.concentrations`)."""
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
