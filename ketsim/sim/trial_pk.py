"""PK of a trial batch: the enantiomer systems, their cursors and the outputs the rules read.

PK inputs are gated by ``drug``, so a patient whose timeline group never gives ketamine keeps an
exactly zero PK state (Φ·0 = 0) and zero outputs: only the other patients are propagated
(:func:`drug_free_pk_rows`), e.g. a placebo arm costs no PK work.
"""

from __future__ import annotations

import numpy as np

from ketsim.core.pk.model import build_system, individual_parameters
from ketsim.core.pk.propagate import PKCursor, Propagator
from ketsim.sim.compile import TrialPK
from ketsim.sim.design import Timeline
from ketsim.sim.population import Population
from ketsim.sim.trial_tables import TREATMENTS

__all__ = ["drug_free_pk_rows", "pk_cursors", "pk_outputs"]


def drug_free_pk_rows(tl: Timeline, group: np.ndarray) -> np.ndarray | None:
    """Patients whose PK is propagated: those whose group ever gives ketamine (None = everyone).

    Groups are fixed from allocation on, except in EERW (everyone starts on ketamine there), so
    EERW propagates everyone.
    """
    if tl.type == "enrichment":
        return None
    # the rule of segment entry: drug = (treatment is TREATMENTS[0], ketamine)
    ket = np.array(
        [any(TREATMENTS.index(sg.treatment) == 0 for sg in g.segments) for g in tl.groups]
    )
    if not ket[group].all():
        return np.flatnonzero(ket[group])
    return None


def pk_cursors(
    pk: TrialPK,
    pk_pop: Population,
    routes: tuple[tuple[str, ...], tuple[str, ...]],
    racemic: bool,
    times: np.ndarray,
) -> tuple[dict[str, Propagator], dict[str, PKCursor]]:
    """Propagators and cursors (at ``times[0]``) of each enantiomer system of the patients.

    Parameters
    ----------
    pk : the trial's PK settings (parameter set, switches).
    pk_pop : the patients whose PK is propagated.
    routes : (infusion routes, bolus routes) of the inputs.
    racemic : the racemate (S and R systems) rather than esketamine (S).
    times : the event grid (every distinct step is exponentiated up front).

    Returns
    -------
    props, cursors : per enantiomer (``"S"``, ``"R"``).
    """
    cov = pk_pop.pk_covariates(pk.cyp3a_cyp2c9_effect)
    systems = ("S", "R") if racemic else ("S",)
    props = {}
    for e in systems:
        ip = individual_parameters(
            cov, pk.parameter_set, pk.switches, pk_pop.eta_pk, enantiomer=e, racemic=racemic
        )
        props[e] = Propagator(build_system(ip, *routes, with_auc=True))
    # every step of the event grid, exponentiated up front in one pass (same bits as on demand)
    steps, counts = np.unique(np.diff(times), return_counts=True)
    for p in props.values():
        p.prepare(steps[np.argsort(-counts, kind="stable")])
    # the PK state of each enantiomer system, advanced event to event through the same cursor
    # API that population PK runs use (core.pk.propagate.PKCursor)
    cursors = {e: PKCursor(p, float(times[0])) for e, p in props.items()}
    return props, cursors


def pk_outputs(
    cursors: dict[str, PKCursor], pk_rows: np.ndarray | None, n: int
) -> dict[str, np.ndarray]:
    """Current outputs of every patient: ``cp, nk, ce_fast, ce_slow, auc`` (S-ketamine) and,
    for the racemate, ``cp_r, nk_r, ce_fast_r``; exactly 0 outside ``pk_rows``."""
    y = {e: c.outputs() for e, c in cursors.items()}
    if pk_rows is not None:  # scatter into zeros: the others' outputs are exactly 0
        for e, v in y.items():
            full = np.zeros((n, v.shape[1]))
            full[pk_rows] = v
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
