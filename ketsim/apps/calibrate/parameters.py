"""The uncertain parameters ``ketsim calibrate`` may fit: one table, with prior, source, confidence.

Every entry is a field of :class:`~ketsim.core.pd.parameters.PDParameters` (overridden through a
scenario's ``pd:`` section) whose value MODEL.md marks L (an assumption or a calibrated number).
The prior is uniform on ``[low, high]`` on the parameter's own scale (``scale="log"``: uniform in
log10, i.e. log-uniform, for positive quantities whose order of magnitude is the uncertainty). The
bounds are themselves assumptions (L): wide enough to hold every value the hand grid of
``analysis/calibrate_lasting.py`` tried and the physiologically sensible range around it, narrow
enough that a few hundred particles can cover them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ketsim.core.pd.parameters import HYPOTHESIS_PD, LASTING_EFFECTS, PDParameters

__all__ = ["SHARED", "UNCERTAIN", "UncertainParameter", "parameters_for"]

#: hypotheses key of parameters every lasting-effect hypothesis uses
SHARED = "shared"


@dataclass(frozen=True)
class UncertainParameter:
    """One fit-able parameter.

    Attributes
    ----------
    name : the PDParameters field (``pd:`` key).
    hypothesis : the lasting-effect hypothesis that uses it, or ``"shared"``.
    low, high : prior bounds on the natural scale (units of the field).
    scale : ``"linear"`` (uniform prior) or ``"log"`` (log-uniform prior).
    source : where the value and the bounds come from.
    confidence : H, M or L as in MODEL.md.
    """

    name: str
    hypothesis: str
    low: float
    high: float
    scale: str
    source: str
    confidence: str

    def __post_init__(self) -> None:
        if not hasattr(PDParameters, self.name):
            raise ValueError(f"{self.name}: not a PD parameter")
        if not self.low < self.high or (self.scale == "log" and self.low <= 0):
            raise ValueError(f"{self.name}: bad bounds [{self.low}, {self.high}]")
        if self.scale not in ("linear", "log"):
            raise ValueError(f"{self.name}: scale must be linear or log")

    def default(self, hypothesis: str) -> float:
        """The model's current value under ``hypothesis`` (HYPOTHESIS_PD over PDParameters)."""
        over = HYPOTHESIS_PD.get(hypothesis, {})
        return float(over.get(self.name, getattr(PDParameters(), self.name)))

    # the sampler works on the prior's own scale ("internal": log10 for log parameters)
    def to_internal(self, value: float) -> float:
        """Natural value -> the scale the prior is uniform on."""
        return math.log10(value) if self.scale == "log" else float(value)

    def to_natural(self, x: float) -> float:
        """Inverse of :meth:`to_internal`."""
        return 10.0**x if self.scale == "log" else float(x)

    @property
    def internal_bounds(self) -> tuple[float, float]:
        """Prior bounds on the internal scale."""
        return self.to_internal(self.low), self.to_internal(self.high)

    def prior_text(self) -> str:
        """``U(low, high)`` or ``logU(low, high)``."""
        kind = "logU" if self.scale == "log" else "U"
        return f"{kind}({self.low:g}, {self.high:g})"


_GRID = "analysis/calibrate_lasting.py hand grid"
#: The table of uncertain parameters (all L: MODEL.md gives no published value for any of them).
UNCERTAIN: tuple[UncertainParameter, ...] = (
    # -- sustained_blockade (MODEL.md §5): the default hypothesis -----------------------------
    UncertainParameter(
        "blockade_threshold_ng_ml",
        "sustained_blockade",
        30.0,
        250.0,
        "linear",
        f"{_GRID}: first pass 30-100, refined 90-130 (best 110); upper bound L: about twice "
        "the effect-site plateau of Noppers 2010's 0.3 mg/kg/h infusions",
        "L",
    ),
    UncertainParameter(
        "blockade_m50_h",
        "sustained_blockade",
        0.1,
        10.0,
        "log",
        f"{_GRID}: first pass 0.5-2 h, best 0.6 h; bounds L (minutes to half a day of blockade)",
        "L",
    ),
    UncertainParameter(
        "blockade_gamma",
        "sustained_blockade",
        1.0,
        8.0,
        "linear",
        f"{_GRID}: first pass 2-6, best 3; bounds L (hyperbolic to switch-like)",
        "L",
    ),
    # -- dahan (Dahan 2011's slow compartment with an assumed form) ----------------------------
    UncertainParameter(
        "slow_gamma",
        "dahan",
        0.25,
        4.0,
        "log",
        f"{_GRID}: 0.5-2 (best 0.5); Dahan 2011 did not report the form (L)",
        "L",
    ),
    UncertainParameter(
        "slow_c50_cv",
        "dahan",
        0.05,
        1.0,
        "linear",
        f"{_GRID}: 0.3-0.6 (best 0.3); Dahan 2011's C50 10.5 ± 4.8 ng/mL is a CV of ~0.46 "
        "if the ± is a between-patient SD (L)",
        "L",
    ),
    # -- delayed_peak (Orhurhu 2019's delayed maximum, MODEL.md §5) ----------------------------
    UncertainParameter(
        "sensitization_half_life_days",
        "delayed_peak",
        0.1,
        14.0,
        "log",
        f"{_GRID}: 1-7 d (best 1 d); bounds L (hours to two weeks of turnover)",
        "L",
    ),
    UncertainParameter(
        "slow_gamma",
        "delayed_peak",
        0.25,
        4.0,
        "log",
        f"{_GRID}: 0.5-2 under delayed_peak; form not reported (L)",
        "L",
    ),
    # -- placebo response (MODEL.md §3.3), every hypothesis ------------------------------------
    UncertainParameter(
        "placebo_relief",
        SHARED,
        0.3,
        0.95,
        "linear",
        "calibrated to the Sigtermans 2009 placebo week-1 NRS (PDParameters, 0.8); upper bound "
        "the model's 0.95 relief cap, lower bound L",
        "L",
    ),
    UncertainParameter(
        "placebo_relief_nonresponder",
        SHARED,
        0.0,
        0.5,
        "linear",
        "calibrated with placebo_relief (PDParameters, 0.15); Frisaldi 2023's mean placebo change "
        "~25% of baseline lies inside; bounds L",
        "L",
    ),
)


def parameters_for(hypothesis: str, names: list[str] | None = None) -> list[UncertainParameter]:
    """The table's parameters of ``hypothesis`` (its own and the shared ones), optionally only
    ``names``.

    Raises
    ------
    ValueError
        Unknown hypothesis, or a name the hypothesis does not declare.
    """
    if hypothesis not in LASTING_EFFECTS:
        raise ValueError(f"unknown hypothesis {hypothesis!r}; allowed: {LASTING_EFFECTS}")
    table = [p for p in UNCERTAIN if p.hypothesis in (hypothesis, SHARED)]
    if names is None:
        return table
    by_name = {p.name: p for p in table}
    bad = [n for n in names if n not in by_name]
    if bad:
        raise ValueError(
            f"{', '.join(bad)}: not an uncertain parameter of {hypothesis} "
            f"(choose from {', '.join(by_name)})"
        )
    return [by_name[n] for n in dict.fromkeys(names)]
