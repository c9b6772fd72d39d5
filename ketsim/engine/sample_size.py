"""Sample-size search: the smallest size reaching a target power (:func:`search_sample_size`,
probit fit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from ketsim.config.scenario import Scenario
from ketsim.core.seeds import auxiliary_stream
from ketsim.engine.chunks import (
    NormalReference,
)
from ketsim.engine.intervals import wilson_interval
from ketsim.engine.runs import RunOptions, _open_store, _start_manifest, run_cells, scenario_key
from ketsim.engine.variants import (
    resize_scenario,
    size_of,
)
from ketsim.storage.files import write_json_atomic


# -- sample size -----------------------------------------------------------------------------------
@dataclass
class SampleSizeResult:
    """Smallest size reaching a target power, with the evaluated points and a fitted curve."""

    store: Any
    entropy: int
    unit: str
    target: float
    analysis: str
    comparison: str
    points: pd.DataFrame  # n, power, mc_se, wilson_low, wilson_high (sorted by n)
    n_observed: int | None  # smallest evaluated n whose estimated power >= target
    n_fit: float  # from the probit-in-sqrt(n) curve (NaN if it cannot be fitted)
    n_fit_low: float
    n_fit_high: float
    curve: tuple[float, float]  # probit(power) = a + b sqrt(n)
    timings: dict[str, float]


def _probit_fit(n: np.ndarray, x: np.ndarray, R: np.ndarray):
    """Binomial maximum likelihood of ``power(n) = Phi(a + b sqrt(n))``; (a, b) and covariance.

    The form is exact for a one-sided z test (power = Phi(delta sqrt(n/2)/sigma - z_alpha)) and
    a close approximation for the Wald-type tests of the analyses.
    """

    s = np.sqrt(n.astype(float))
    X = np.column_stack([np.ones_like(s), s])

    def nll(th):
        p = np.clip(sps.norm.cdf(X @ th), 1e-12, 1 - 1e-12)
        return -np.sum(x * np.log(p) + (R - x) * np.log1p(-p))

    pe = np.clip((x + 0.5) / (R + 1.0), 1e-3, 1 - 1e-3)
    th0 = np.linalg.lstsq(X, sps.norm.ppf(pe), rcond=None)[0]
    res = optimize.minimize(
        nll, th0, method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000}
    )
    th = res.x
    # observed information by central differences
    h = 1e-4 * np.maximum(1.0, np.abs(th))
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h[i], np.eye(2)[j] * h[j]
            H[i, j] = (
                nll(th + ei + ej) - nll(th + ei - ej) - nll(th - ei + ej) + nll(th - ei - ej)
            ) / (4 * h[i] * h[j])
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.full((2, 2), np.nan)
    return th, cov


def search_sample_size(
    sc: Scenario,
    target: float = 0.8,
    analysis: int = 0,
    comparison: str | None = None,
    replicates: int = 400,
    n_min: int = 4,
    n_max: int = 2000,
    seed: int | None = None,
    out: str | None = None,
    runs_dir: str = "runs",
    opts: RunOptions | None = None,
    reference: NormalReference | None = None,
) -> SampleSizeResult:
    """Smallest size (:func:`size_of`: n per arm, per sequence or enrolled) reaching ``target``.

    Search: evaluate the scenario's own size, then double (or halve) until the target is
    bracketed, then bisect on integers. Every evaluation is ``replicates`` trials with common
    random numbers (one entropy for all sizes), stored as one cell of the run, so an interrupted
    search resumes where it stopped. The answer is reported twice: ``n_observed``, the smallest
    evaluated size whose estimated power reaches the target (its own Monte Carlo uncertainty is
    in ``points``), and ``n_fit`` with a 95% interval from a binomial probit fit of power against
    sqrt(n) through every evaluated point (parametric bootstrap of the fitted curve).
    """
    opts = opts or RunOptions()
    if not sc.analyses:
        raise ValueError("analyses: none declared; a sample-size search needs an analysis")
    if not 0 <= analysis < len(sc.analyses):
        raise ValueError(
            f"--analysis {analysis}: the scenario has analyses 0..{len(sc.analyses) - 1}"
        )
    if not 0 < target < 1:
        raise ValueError("--target must be between 0 and 1")
    unit, n0 = size_of(sc)
    lo_bound = max(1 if unit != "n_enrolled" else 2, n_min)
    key = {
        "scenario_sha256": scenario_key(sc),
        "replicates": replicates,
        "target": target,
        "analysis": analysis,
        "comparison": comparison,
        "n_min": lo_bound,
        "n_max": n_max,
        "reference": None if reference is None else [list(reference.means), reference.sd],
    }
    store, _, entropy = _open_store("samplesize", sc, key, seed, out, runs_dir)
    _start_manifest(store, sc, "samplesize", replicates, opts)
    cache: dict[int, tuple[int, int]] = {}
    label = {"analysis": "", "comparison": ""}
    tim = {"wall_s": 0.0, "worker_s": 0.0, "replicates_simulated": 0, "replicates_reused": 0}

    def power_at(n: int) -> float:
        if n not in cache:
            cell = f"n{n:07d}"
            t = run_cells(
                store,
                entropy,
                [(cell, resize_scenario(sc, n=n))],
                replicates,
                opts,
                progress_label=f"replicates at {unit}={n}",
                reference=reference,
            )
            for k in tim:
                tim[k] += t.get(k, 0)
            an = store.read_cell(cell, "analyses")
            an = an[an["analysis_id"] == analysis]
            comps = list(dict.fromkeys(an["comparison"]))
            comp = comparison if comparison is not None else comps[0]
            if comp not in comps:
                raise ValueError(f"--comparison {comp!r}: analysis {analysis} compares {comps}")
            an = an[an["comparison"] == comp]
            label["analysis"], label["comparison"] = an["analysis"].iloc[0], comp
            cache[n] = (int(an["reject"].sum()), len(an))
        x, r = cache[n]
        return x / r

    n = int(np.clip(n0, lo_bound, n_max))
    if power_at(n) >= target:
        hi = n
        lo = None
        while hi > lo_bound:
            cand = max(lo_bound, hi // 2)
            if power_at(cand) >= target:
                hi = cand
            else:
                lo = cand
                break
    else:
        lo = n
        hi = None
        while lo < n_max:
            cand = min(n_max, lo * 2)
            if power_at(cand) >= target:
                hi = cand
                break
            lo = cand
    if lo is not None and hi is not None:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if power_at(mid) >= target:
                hi = mid
            else:
                lo = mid
    ns = np.array(sorted(cache))
    x = np.array([cache[k][0] for k in ns], float)
    R = np.array([cache[k][1] for k in ns], float)
    p = x / R
    wl, wh = wilson_interval(x, R)
    points = pd.DataFrame(
        {
            unit: ns,
            "replicates": R.astype(np.int64),
            "rejections": x.astype(np.int64),
            "power": p,
            "mc_se": np.sqrt(p * (1 - p) / R),
            "wilson_low": wl,
            "wilson_high": wh,
        }
    )
    reach = ns[p >= target]
    n_obs = int(reach.min()) if reach.size else None
    n_fit = n_l = n_h = float("nan")
    a = b = float("nan")
    informative = (x > 0) & (x < R)
    if informative.sum() >= 2 or (len(ns) >= 2 and informative.any()):
        th, cov = _probit_fit(ns, x, R)
        a, b = float(th[0]), float(th[1])
        zt = sps.norm.ppf(target)
        if b > 0:
            n_fit = ((zt - a) / b) ** 2
            if np.all(np.isfinite(cov)):
                # parametric bootstrap of the fitted curve (independent stream: not a replicate)
                rng = auxiliary_stream(entropy, "sample_size_bootstrap")
                draws = rng.multivariate_normal(th, cov, size=4000, method="cholesky")
                ok = draws[:, 1] > 0
                nb = ((zt - draws[ok, 0]) / draws[ok, 1]) ** 2
                if nb.size > 100:
                    n_l, n_h = (float(v) for v in np.quantile(nb, [0.025, 0.975]))
    res = SampleSizeResult(
        store,
        entropy,
        unit,
        target,
        label["analysis"],
        label["comparison"],
        points,
        n_obs,
        n_fit,
        n_l,
        n_h,
        (a, b),
        tim,
    )
    files = store.write_table("samplesize_points", points)
    summary = {
        "unit": unit,
        "target_power": target,
        "analysis": label["analysis"],
        "comparison": label["comparison"],
        "n_observed": n_obs,
        "n_fit": n_fit,
        "n_fit_95ci": [n_l, n_h],
        "probit_curve": {"a": a, "b": b, "form": "power = Phi(a + b sqrt(n))"},
        "reached": n_obs is not None,
        "n_max": n_max,
    }

    write_json_atomic(store.path / "samplesize.json", summary)
    store.update(
        status="complete",
        timings_s=tim,
        files=sorted({*files, "samplesize.json", "scenario.resolved.yaml", "manifest.json"}),
    )
    return res
