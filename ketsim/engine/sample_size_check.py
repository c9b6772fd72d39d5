"""Normal-approximation cross-check of a simulated sample size (:func:`normal_cross_check`).

The two-sample z formula sizes a parallel trial from an effect and its SD. Fed with the effect
and the SD the simulation itself produced for the analysed endpoint, it says whether the
simulated answer is of the expected order; where they differ, the difference is what the
simulation models and the formula does not (baseline adjustment in ANCOVA/MMRM, intercurrent-
event strategies, multiplicity adjustment, non-normal NRS data, discrete tests).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketsim.config.scenario import Scenario
from ketsim.sim.design import control_and_compare
from ketsim.storage.files import write_json_atomic


@dataclass
class NormalApprox:
    """The z-formula size for one analysis and comparison, and what it was computed from.

    ``n`` is in the search's unit (patients in the smallest arm), NaN when the formula does not
    apply; ``reason`` then says why.
    """

    n: float
    effect: float  # compared arm mean (or proportion) minus the control's
    sd_treatment: float
    sd_control: float
    ratio_treatment: float  # arm size / smallest arm size
    ratio_control: float
    alpha: float
    sides: int
    target: float
    reason: str = ""

    def as_dict(self) -> dict:
        return asdict(self)

    def power(self, n: np.ndarray | float) -> np.ndarray:
        """The z-formula power at sizes ``n`` (the curve the formula implies)."""
        se1 = np.sqrt(
            self.sd_treatment**2 / self.ratio_treatment + self.sd_control**2 / self.ratio_control
        )
        z = sps.norm.ppf(1 - self.alpha / self.sides)
        return sps.norm.cdf(abs(self.effect) / se1 * np.sqrt(np.asarray(n, float)) - z)


def z_sample_size(
    effect: float,
    sd_treatment: float,
    sd_control: float,
    alpha: float,
    sides: int,
    power: float,
    ratio_treatment: float = 1.0,
    ratio_control: float = 1.0,
) -> float:
    """Patients in the smallest arm for a two-sample z test to reach ``power``.

    ``n = (z_{1-alpha/sides} + z_power)^2 (sd_t^2 / r_t + sd_c^2 / r_c) / effect^2``, with arm
    sizes ``r_t n`` and ``r_c n`` (equal allocation: ``2 sd^2 (z_a + z_b)^2 / effect^2``;
    e.g. Chow, Shao & Wang 2008, Sample Size Calculations in Clinical Research, §3.2). The
    negligible rejections in the wrong tail of a two-sided test are ignored, as usual.
    """
    z = sps.norm.ppf(1 - alpha / sides) + sps.norm.ppf(power)
    var = sd_treatment**2 / ratio_treatment + sd_control**2 / ratio_control
    return float(z**2 * var / effect**2)


def arm_moments(endpoints: pd.DataFrame, endpoint: str, arm: str) -> tuple[float, float, str]:
    """Mean over replicates of one arm's endpoint mean (or proportion) and its SD within a trial
    (root mean of the replicates' variances; sqrt(p (1 - p)) for a proportion), and the
    statistic."""
    e = endpoints[(endpoints["endpoint"] == endpoint) & (endpoints["arm"] == arm)]
    if e.empty:
        return float("nan"), float("nan"), ""
    stat = str(e["statistic"].iloc[0])
    m = float(e["value"].mean())
    if stat == "proportion":
        return m, float(np.sqrt(m * (1 - m))), stat
    return m, float(np.sqrt(np.nanmean(e["sd"].to_numpy(float) ** 2))), stat


def normal_cross_check(
    sc: Scenario, analysis: int, comparison: str, endpoints: pd.DataFrame, target: float
) -> NormalApprox:
    """The z-formula size of ``analysis`` (compared arm ``comparison``) from the simulated
    endpoint means and SDs in ``endpoints`` (rows of :func:`ketsim.analysis.analyses` endpoint
    tables, any number of replicates and sizes: means and SDs do not depend on n).

    Unadjusted alpha of the analysis (no multiplicity), the endpoint as observed (no covariate,
    no strategy): a cross-check of order, not a second answer.
    """
    a = sc.analyses[analysis]
    alpha = a.alpha if a.alpha is not None else sc.statistics.alpha
    sides = a.sides if a.sides is not None else sc.statistics.sides
    nan = float("nan")

    def na(why: str) -> NormalApprox:
        return NormalApprox(nan, nan, nan, nan, nan, nan, alpha, sides, target, why)

    if sc.design.type != "parallel":
        return na(f"the z formula is for parallel groups (this is a {sc.design.type} design)")
    ctrl, _ = control_and_compare(sc, a)
    names = [x.name for x in sc.arms]
    if comparison not in names:
        return na(f"comparison {comparison!r} is not an arm")
    m_t, s_t, stat = arm_moments(endpoints, a.endpoint, comparison)
    m_c, s_c, _ = arm_moments(endpoints, a.endpoint, names[ctrl])
    if stat not in ("mean", "proportion"):
        return na(f"endpoint {a.endpoint!r} is a {stat or 'missing'} statistic (time to event)")
    d = m_t - m_c
    if not (np.isfinite(d) and np.isfinite(s_t) and np.isfinite(s_c)) or d == 0:
        return na("no simulated effect to size for")
    n_min = min(x.n for x in sc.arms)
    r_t, r_c = sc.arms[names.index(comparison)].n / n_min, sc.arms[ctrl].n / n_min
    n = z_sample_size(d, s_t, s_c, alpha, sides, target, r_t, r_c)
    return NormalApprox(n, d, s_t, s_c, r_t, r_c, alpha, sides, target)


def search_cross_check(sc: Scenario, analysis: int, res) -> NormalApprox:
    """:func:`normal_cross_check` of a finished search (:class:`SampleSizeResult`) from the
    endpoints of every size it evaluated; also recorded in its ``samplesize.json``
    (``normal_approximation``)."""
    cells = [f"n{int(n):07d}" for n in res.points[res.unit]]
    endpoints = pd.concat([res.store.read_cell(c, "endpoints") for c in cells], ignore_index=True)
    check = normal_cross_check(sc, analysis, res.comparison, endpoints, res.target)
    path = res.store.path / "samplesize.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary["normal_approximation"] = {
        **{k: (None if isinstance(v, float) and v != v else v) for k, v in check.as_dict().items()},
        "formula": "n = (z_{1-alpha/sides} + z_power)^2 (sd_t^2/r_t + sd_c^2/r_c) / effect^2",
    }
    write_json_atomic(path, summary)
    return check
