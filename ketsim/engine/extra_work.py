"""How much extra simulation a power run does beside its requested replicates, and why.

A power run of ``R`` replicates also simulates (i) one very large trial giving the true effect of
every analysis (for bias, RMSE and CI coverage) and (ii) for the report, the scenario at other
sizes (the power curve) and with each uncertain switch flipped (sensitivity). Both used to have
fixed sizes (20,000 patients; 200 replicates per cell), so a 1,000-replicate request simulated
2,800 trials plus the large one. Here both are sized from the Monte Carlo error they must reach,
so the extra work grows in proportion to the request, and the CLI announces it.

True-effect trial
-----------------
The bias of an analysis is ``mean(estimate) - true effect``; its MC SE is
``sqrt(sd^2 / R + se_true^2)`` (:func:`ketsim.engine.summaries.summarise_power`). An estimate's
SD scales as ``1 / sqrt(patients)``, so a truth trial of ``N`` patients against replicates of
``n`` patients has ``se_true / (sd / sqrt(R)) = sqrt(n R / N)``. Choosing
``N = n R / TRUTH_VARIANCE_RATIO`` makes the truth's variance that multiple of the replicates'
MC variance of the mean estimate: with the default 2 (an assumption, exposed as an explicit
``truth_patients``), ``se_true`` is about 1.4x ``sd / sqrt(R)`` and the bias MC SE at most
``sqrt(3)`` = 1.7x that of a perfectly known truth -- the same as the old fixed 20,000 patients at
``R = 1000`` with 60 patients per trial, but it no longer worsens as ``R`` grows, and it costs
half the main run's simulation instead of a fixed amount. Coverage needs far less: a truth
error ``delta`` lowers the coverage of a 95% interval by about
``1.96 phi(1.96) (delta / se)^2 = 0.115 n / N``, below half its MC SE for any ``N`` here.
The size is kept within ``[TRUTH_MIN_FACTOR * n, TRUTH_PATIENTS_MAX]``.

Above :data:`TRUTH_PIECE_PATIENTS` patients the truth trial runs as equal pieces on the worker
pool (replicate streams ``TRUTH_REPLICATE + k``, :mod:`ketsim.core.seeds`), which bounds each
worker's memory; the true effect is the mean of the pieces' estimates and its SE
``sqrt(sum se_k^2) / K``. With one piece the result is exactly that of the single large trial.
This is an assumption too (an estimator's small-sample bias at 10,000 patients is negligible
next to its SE); pass ``truth_patients`` up to one piece to avoid it.

Auxiliary cells
---------------
Every power-curve size and sensitivity scenario gets ``max(AUX_MIN, R // AUX_DIVISOR)``
replicates (100 at ``R = 1000``; a rejection rate's MC SE is then at most 0.05). They share the
main run's random numbers (replicate ``r`` of every cell draws the same patients), so differences
between cells -- what the curve and the sensitivity table show -- are far more precise than
independent runs of the same size would be.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: truth-trial size: ``N = n R / TRUTH_VARIANCE_RATIO`` (module docstring; assumption)
TRUTH_VARIANCE_RATIO = 2.0
#: at least this many times one trial's patients, so small ``R`` still gets a large trial
TRUTH_MIN_FACTOR = 20
#: at most this many patients (about 9 CPU-s at ~90 us per patient on the test machine)
TRUTH_PATIENTS_MAX = 100_000
#: patients per truth-trial piece (one worker task; ~17 KB per patient -> ~170 MB)
TRUTH_PIECE_PATIENTS = 10_000
#: auxiliary replicates per cell: ``max(AUX_MIN, R // AUX_DIVISOR)``
AUX_DIVISOR = 10
AUX_MIN = 50


@dataclass(frozen=True)
class TruthPlan:
    """Size of the true-effect trial of one scenario and how it is split.

    Attributes
    ----------
    patients : total patients (0: no truth trial).
    pieces : number of equal pieces (worker tasks).
    piece_patients : patients per piece.
    se_ratio : expected ``se_true / (sd / sqrt(R))`` = ``sqrt(n R / patients)`` (0 when none).
    automatic : whether the size came from the rule (not an explicit request).
    """

    patients: int
    pieces: int
    piece_patients: int
    se_ratio: float
    automatic: bool

    def describe(self) -> str:
        """One line for the CLI output."""
        if not self.patients:
            return "true effects: none (bias, RMSE and coverage not computed)"
        how = "sized from the replicates' MC error" if self.automatic else "as requested"
        split = f" in {self.pieces} pieces" if self.pieces > 1 else ""
        return (
            f"true effects: a {self.patients:,}-patient trial{split} ({how}; its SE is about "
            f"{self.se_ratio:.2f}x the MC SE of the mean estimate and is included in bias_mc_se)"
        )


def truth_plan(patients_per_trial: int, replicates: int, requested: int | None) -> TruthPlan:
    """The truth trial for replicates of ``patients_per_trial`` patients.

    Parameters
    ----------
    patients_per_trial : patients in one trial of the scenario (``total_patients``).
    replicates : requested replicates ``R``.
    requested : explicit total patients (0: none), or None for the automatic rule.
    """
    n = max(int(patients_per_trial), 1)
    auto = requested is None
    if auto:
        want = math.ceil(n * replicates / TRUTH_VARIANCE_RATIO)
        total = int(min(max(want, TRUTH_MIN_FACTOR * n), TRUTH_PATIENTS_MAX))
    else:
        total = int(requested)
    if total <= 0:
        return TruthPlan(0, 0, 0, 0.0, auto)
    pieces = max(1, math.ceil(total / TRUTH_PIECE_PATIENTS))
    per = math.ceil(total / pieces)
    ratio = math.sqrt(n * replicates / (per * pieces))
    return TruthPlan(per * pieces, pieces, per, ratio, auto)


def aux_replicates_for(replicates: int) -> int:
    """Replicates of each power-curve size and sensitivity cell for ``replicates`` main ones."""
    return int(min(replicates, max(AUX_MIN, replicates // AUX_DIVISOR)))
