"""Trial designs: who is randomised to what, when, and in which order.

A design turns a scenario's arms into *groups* of patients who share one treatment timeline. A
timeline is a list of :class:`Segment` s (a treatment, its blinding and its regimens, from a start
time on):

- parallel groups: one group per arm, one segment (plus an open-label extension segment for the
  arms listed in ``design.extension``);
- crossover: one group per sequence, one segment per period (``period_weeks + washout_weeks``
  apart), so a patient's later periods start from whatever the earlier ones left behind: the
  lasting (sensitization) effect of ketamine carries over unless the washout is long;
- enriched-enrolment randomised withdrawal (EERW): every group starts with the same open-label
  run-in; at its end, responders are randomised to the arms and the others leave.

Randomisation (:func:`randomise`) supports the random allocation rule (fixed sizes), simple
randomisation and stratified permuted blocks. Recruitment is a Poisson process of enrolment days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ketsim.config.design_rules import (
    HOURS_PER_WEEK,
    _weeks,
    check_design,
    crossover_sequences,
    dosing_end_h,
)

if TYPE_CHECKING:
    from ketsim.config.scenario import Scenario
    from ketsim.sim.population import Population

__all__ = [
    "Group",
    "Segment",
    "Timeline",
    "check_design",
    "compile_timeline",
    "crossover_sequences",
    "dosing_end_h",
    "enrolment_days",
    "randomise",
    "stratum_codes",
]


@dataclass(frozen=True)
class Segment:
    """A stretch of a group's timeline on one treatment."""

    start_h: float
    label: str  # arm name, "run_in" or "extension"
    treatment: str  # ketamine | placebo | active_placebo
    blinding: str  # double_blind | open_label
    regimens: tuple  # TitratedRegimenSpec, already shifted to absolute times
    arm: int  # index of the scenario arm (-1 for run-in/extension segments)
    period: int  # crossover period (0 otherwise for the randomised segment, -1 run-in)


@dataclass(frozen=True)
class Group:
    """Patients sharing one timeline: an arm (parallel, EERW) or a sequence (crossover)."""

    name: str
    segments: tuple[Segment, ...]
    arm: int  # randomised arm (parallel/EERW) or -1 (crossover)
    sequence: tuple[int, ...] = ()  # crossover: arm index per period


@dataclass
class Timeline:
    """The compiled design of a scenario."""

    type: str
    groups: list[Group]
    weeks: int  # diary weeks after t = 0
    randomised_start_h: float  # start of the randomised treatment (EERW: end of run-in)
    period_start_h: list[float] = field(default_factory=list)  # crossover periods
    period_weeks: int = 0
    targets: np.ndarray | None = None  # planned patients per group (None: random sizes)
    ratio: np.ndarray | None = None  # allocation weights per group


# -- validation -----------------------------------------------------------------------------------
def _shift(regimens, dt: float) -> tuple:
    return tuple(r.model_copy(update={"start": r.start + dt}) for r in regimens)


def control_and_compare(sc: Scenario, a) -> tuple[int, list[int]]:
    """Arm indices of an analysis' control and compared arms."""
    names = [x.name for x in sc.arms]
    if a.control is not None:
        ctrl = names.index(a.control)
    else:
        ctrl = next(i for i, x in enumerate(sc.arms) if x.treatment != "ketamine")
    if a.compare is not None:
        comp = [names.index(v) for v in a.compare]
    else:
        comp = [i for i in range(len(names)) if i != ctrl]
    return ctrl, comp


# -- compiling the timeline -----------------------------------------------------------------------
def compile_timeline(sc: Scenario) -> Timeline:
    """Groups and segments of a scenario's design (times in hours from t = 0)."""
    arms = sc.arms or []
    d = sc.design
    names = [a.name for a in arms]
    weeks = _weeks(sc)
    if d.type == "crossover":
        cx = d.crossover
        seqs = crossover_sequences(cx.sequences, names)
        n_p = len(seqs[0])
        starts = [p * (cx.period_weeks + cx.washout_weeks) * HOURS_PER_WEEK for p in range(n_p)]
        groups = []
        for s in seqs:
            segs = tuple(
                Segment(
                    starts[p],
                    nm,
                    arms[names.index(nm)].treatment,
                    arms[names.index(nm)].blinding,
                    _shift(arms[names.index(nm)].regimens, starts[p]),
                    names.index(nm),
                    p,
                )
                for p, nm in enumerate(s)
            )
            groups.append(Group("-".join(s), segs, -1, tuple(names.index(nm) for nm in s)))
        targets = np.asarray(cx.sizes(len(groups)))
        return Timeline(
            "crossover", groups, weeks, 0.0, starts, cx.period_weeks, targets, np.ones(len(groups))
        )
    if d.type == "enrichment":
        en = d.enrichment
        t_r = en.run_in_weeks * HOURS_PER_WEEK
        run_in = Segment(0.0, "run_in", "ketamine", "open_label", tuple(en.regimens), -1, -1)
        groups = [
            Group(
                a.name,
                (
                    run_in,
                    Segment(t_r, a.name, a.treatment, a.blinding, _shift(a.regimens, t_r), i, 0),
                ),
                i,
            )
            for i, a in enumerate(arms)
        ]
        return Timeline(
            "enrichment", groups, weeks, t_r, ratio=np.array([a.ratio for a in arms], float)
        )
    groups = []
    ext = d.extension
    t_x = sc.trial.weeks * HOURS_PER_WEEK
    for i, a in enumerate(arms):
        segs = [Segment(0.0, a.name, a.treatment, a.blinding, tuple(a.regimens), i, 0)]
        if ext is not None and a.name in ext.arms:
            segs.append(
                Segment(
                    t_x, "extension", "ketamine", "open_label", _shift(ext.regimens, t_x), -1, 1
                )
            )
        groups.append(Group(a.name, tuple(segs), i))
    targets = np.array([a.n for a in arms])
    return Timeline("parallel", groups, weeks, 0.0, targets=targets, ratio=targets.astype(float))


# -- randomisation --------------------------------------------------------------------------------
def stratum_codes(
    pop: Population, strata: list[str], screening_score: np.ndarray, sensitization_mean: float
) -> np.ndarray:
    """Integer stratum of every patient (the product of the binary stratification factors)."""
    code = np.zeros(pop.n, dtype=np.int64)
    for s in strata:
        if s == "sex":
            x = pop.female
        elif s == "cyp2b6":
            # carriers of a reduced-function allele (*6, *18; Li 2013)
            x = np.array([("*6" in g) or ("*18" in g) for g in pop.cyp2b6], dtype=bool)
        elif s == "sensitization":
            x = pop.sensitization > sensitization_mean
        elif s == "depression":
            x = pop.depression
        elif s == "baseline_pain":
            x = screening_score >= 7.0
        else:  # pragma: no cover - the schema restricts the names
            raise ValueError(f"unknown stratification factor {s!r}")
        code = 2 * code + np.asarray(x, dtype=np.int64)
    return code


def _block_labels(ratio: np.ndarray, size: int) -> np.ndarray:
    unit = int(ratio.sum())
    if size % unit:
        raise ValueError(
            f"design.randomisation.block_sizes: {size} is not a multiple of the allocation-ratio "
            f"sum {unit}"
        )
    return np.repeat(np.arange(ratio.size), ratio.astype(int) * (size // unit))


def randomise(
    n: int,
    rng: np.random.Generator,
    *,
    method: str,
    sizes: np.ndarray | None = None,
    ratio: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    block_sizes: list[int] | tuple[int, ...] = (4,),
) -> np.ndarray:
    """Allocate ``n`` patients (in order of enrolment) to groups.

    Parameters
    ----------
    method : ``random_allocation`` (a random permutation of exactly ``sizes``), ``simple``
        (independent draws with probabilities ``ratio / ratio.sum()``) or ``permuted_block``
        (within each stratum, consecutive blocks each holding the groups in proportion to the
        integer ``ratio``; a block's size is drawn from ``block_sizes``; the last block of a
        stratum is left incomplete).
    sizes : planned group sizes (``random_allocation``; must sum to ``n``).
    ratio : allocation weights (default: ``sizes``, reduced by their gcd for blocks).
    strata : integer stratum per patient (permuted blocks only; None = one stratum).
    """
    if ratio is None:
        if sizes is None:
            raise ValueError("randomise needs sizes or ratio")
        ratio = np.asarray(sizes, dtype=float)
    ratio = np.asarray(ratio, dtype=float)
    if method == "random_allocation":
        if sizes is None or int(np.sum(sizes)) != n:
            raise ValueError("random allocation needs group sizes summing to n")
        return rng.permutation(np.repeat(np.arange(len(sizes)), sizes))
    if method == "simple":
        return rng.choice(ratio.size, size=n, p=ratio / ratio.sum())
    if method != "permuted_block":
        raise ValueError(f"unknown randomisation method {method!r}")
    r_int = np.round(ratio).astype(int)
    if np.any(np.abs(r_int - ratio) > 1e-9) or np.any(r_int < 1):
        raise ValueError("permuted blocks need integer allocation ratios")
    g = math.gcd(*r_int.tolist())
    r_int = r_int // g
    strata = np.zeros(n, np.int64) if strata is None else np.asarray(strata)
    out = np.empty(n, dtype=np.int64)
    # one pass over the strata in a fixed order; blocks are drawn as needed
    for s in np.unique(strata):
        members = np.flatnonzero(strata == s)
        labels: list[np.ndarray] = []
        have = 0
        while have < members.size:
            size = (
                int(block_sizes[rng.integers(len(block_sizes))])
                if len(block_sizes) > 1
                else int(block_sizes[0])
            )
            blk = rng.permutation(_block_labels(r_int, size))
            labels.append(blk)
            have += blk.size
        out[members] = np.concatenate(labels)[: members.size]
    return out


def enrolment_days(n: int, patients_per_week: float | None, rng: np.random.Generator) -> np.ndarray:
    """Calendar day of enrolment of each patient (Poisson arrivals; 0 for all at once)."""
    if patients_per_week is None:
        return np.zeros(n)
    gaps = rng.exponential(7.0 / patients_per_week, size=n)
    return np.cumsum(gaps)
