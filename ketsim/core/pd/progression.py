"""Natural history of the underlying disease: pain that rises with disease progression.

In cancer pain the tumour progresses during a trial, and with it the pain that ketamine acts on.
The model offers a linear rise of each patient's untreated pain from the start of treatment::

    baseline(t) = min(baseline · (1 + r · t / 168 h), 10)        t >= 0 (t in hours)

with ``r = pain_progression_per_week`` (a PD parameter, default 0: stable pain, the chronic
non-cancer indications; L everywhere, no source in MODEL.md or PARAMETERS.md, so a designer sets
it). Ketamine does not change ``r`` under any value of ``switches.cancer_disease_modification``:
the switch is about the lasting, anti-sensitization effect, and no evidence suggests ketamine
slows tumour growth. Acute, lasting and placebo relief all multiply the progressed pain, so a
constant relative relief costs more NRS points as the disease advances.
"""

from __future__ import annotations

import numpy as np

__all__ = ["progressed_baseline"]

#: the NRS ceiling: progression cannot push untreated pain past it
NRS_MAX = 10.0


def progressed_baseline(baseline: np.ndarray, t_h: float, rate_per_week: float) -> np.ndarray:
    """Untreated pain at trial time ``t_h`` (hours from the start of treatment).

    Parameters
    ----------
    baseline : each patient's true pre-treatment mean NRS.
    t_h : trial time (h); before the start (``t_h <= 0``) pain is the baseline.
    rate_per_week : relative rise per week (``pain_progression_per_week``, >= 0).

    Returns
    -------
    np.ndarray
        ``baseline`` itself when the rate is 0 (no copy, so a stable disease is bit-identical to
        the model without progression), else ``min(baseline · (1 + r t / 168), 10)``.
    """
    if rate_per_week == 0.0 or t_h <= 0.0:
        return baseline
    return np.minimum(baseline * (1.0 + rate_per_week * t_h / 168.0), NRS_MAX)
