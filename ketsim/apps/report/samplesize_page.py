"""The HTML page of a sample-size search (``ketsim samplesize``): the fitted size with its
interval as the headline, power against n with the fitted curve, the normal-approximation
cross-check and the evaluated points. Read from the run directory alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketsim.apps.report.html_parts import _CSS, _e, _plt, _png, _section, _table
from ketsim.apps.report.result_panels import _provenance
from ketsim.storage.files import write_text_atomic
from ketsim.storage.reader import load_run


def _curve_plot(points: pd.DataFrame, s: dict) -> str:
    """Power against n: evaluated sizes with 95% Wilson intervals, the probit fit, the target,
    the fitted n with its interval and the z formula's curve."""
    plt = _plt()
    unit = s["unit"]
    n = points[unit].to_numpy(float)
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    yerr = np.vstack(
        [points["power"] - points["wilson_low"], points["wilson_high"] - points["power"]]
    )
    ax.errorbar(
        n,
        points["power"],
        yerr=yerr,
        fmt="o",
        ms=4,
        capsize=2,
        color="tab:blue",
        label="simulated power (95% Wilson)",
        zorder=3,
    )
    na = s.get("normal_approximation") or {}
    fit = None if _nan(s["n_fit"]) else float(s["n_fit"])
    hi = max(n.max(), fit or 0, 0 if _nan(na.get("n")) else min(na["n"], 4 * n.max())) * 1.15
    grid = np.linspace(max(1.0, 0.5 * n.min()), hi, 300)
    a, b = s["probit_curve"]["a"], s["probit_curve"]["b"]
    if not (_nan(a) or _nan(b)):
        ax.plot(
            grid,
            sps.norm.cdf(a + b * np.sqrt(grid)),
            color="tab:blue",
            lw=1.2,
            label="probit fit Φ(a + b√n)",
        )
    if not _nan(na.get("n")):
        se1 = np.sqrt(
            na["sd_treatment"] ** 2 / na["ratio_treatment"]
            + na["sd_control"] ** 2 / na["ratio_control"]
        )
        z = sps.norm.ppf(1 - na["alpha"] / na["sides"])
        ax.plot(
            grid,
            sps.norm.cdf(abs(na["effect"]) / se1 * np.sqrt(grid) - z),
            color="0.5",
            ls=":",
            lw=1.2,
            label="two-sample z formula",
        )
    t = s["target_power"]
    ax.axhline(t, color="k", ls="--", lw=0.8)
    ax.text(grid[0], t, f" target {t:g}", va="bottom", fontsize=8)
    lo, up = s["n_fit_95ci"]
    if fit is not None:
        if not (_nan(lo) or _nan(up)):
            ax.axvspan(lo, up, color="tab:red", alpha=0.12, label="95% interval of the fitted n")
        ax.axvline(fit, color="tab:red", lw=1.0)
        ax.text(fit, 0.03, f" fitted n = {fit:.1f}", color="tab:red", fontsize=8)
    ax.set_xlabel(unit.replace("_", " "))
    ax.set_ylabel("power")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, hi)
    ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _png(fig, "samplesize-curve")


def _nan(v) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def render_samplesize(run_dir: str | Path) -> str:
    """The sample-size page of a ``ketsim samplesize`` run directory as one HTML string."""
    run = load_run(run_dir)
    s = json.loads((run.path / "samplesize.json").read_text(encoding="utf-8"))
    points = pd.read_csv(run.path / "samplesize_points.csv")
    unit = s["unit"].replace("_", " ")
    name = run.manifest.get("scenario", "")
    what = f"{_e(s['analysis'])}, {_e(s['comparison'])} v its control"
    if _nan(s["n_fit"]):
        head = (
            f"<p class='lead'>The probit curve could not be fitted ({what}): too few "
            "informative sizes; see the evaluated points below.</p>"
        )
    else:
        lo, up = s["n_fit_95ci"]
        ci = "" if _nan(lo) or _nan(up) else f" (95% interval {lo:.1f} to {up:.1f})"
        head = (
            f"<p class='lead'><b>{_e(unit)} = {s['n_fit']:.1f}</b>{ci} for power "
            f"{s['target_power']:g} in {what}: the size where the probit curve fitted to every "
            "evaluated size crosses the target. Round up to plan a trial.</p>"
        )
    obs = s.get("n_observed")
    head += (
        f"<p>Smallest single evaluated {_e(unit)} with estimated power ≥ {s['target_power']:g}: "
        f"{obs if obs is not None else 'none up to ' + str(s['n_max'])} (each point has its own "
        "Monte Carlo error and can cross the target by luck; the fit pools them all).</p>"
    )
    na = s.get("normal_approximation") or {}
    if not _nan(na.get("n")):
        check = (
            f"<p><b>Normal-approximation cross-check:</b> {_e(unit)} = {na['n']:.1f} from the "
            f"two-sample z formula n = (z<sub>1−α/{na['sides']}</sub> + z<sub>power</sub>)² "
            "(SD<sub>t</sub>²/r<sub>t</sub> + SD<sub>c</sub>²/r<sub>c</sub>) / effect², with the "
            f"simulated effect {na['effect']:.3f}, SDs {na['sd_treatment']:.3f} (treatment) and "
            f"{na['sd_control']:.3f} (control), arm ratios {na['ratio_treatment']:g}:"
            f"{na['ratio_control']:g}, alpha {na['alpha']:g} unadjusted. It ignores baseline "
            "adjustment, intercurrent-event strategies, multiplicity and discrete tests: expect "
            "the order, not the number.</p>"
        )
    else:
        check = (
            f"<p><b>Normal-approximation cross-check:</b> not computed: "
            f"{_e(na.get('reason', 'not in this run'))}.</p>"
        )
    answer = _section("answer", "Answer", head + check)
    curve = _section(
        "samplesize-curve",
        "Power against sample size",
        _curve_plot(points, s),
        f"Each point is one evaluated {_e(unit)} ({int(points['replicates'].iloc[0])} simulated "
        "trials, common random numbers across sizes); the shaded band is the 95% interval of the "
        "fitted n (parametric bootstrap of the fit).",
    )
    cols = {
        s["unit"]: unit,
        "replicates": "replicates",
        "rejections": "rejections",
        "power": "power",
        "mc_se": "MC SE",
        "wilson_low": "Wilson low",
        "wilson_high": "Wilson high",
    }
    # whole numbers as text: _table formats row by row, where pandas makes them floats
    shown = points.astype({s["unit"]: str, "replicates": str, "rejections": str})
    table = _section("samplesize-points", "Evaluated sizes", _table(shown, cols))
    title = f"ketsim sample size: {name}"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>{answer}{curve}{table}{_provenance(run)}"
        "<footer class='note'>Generated by ketsim from the run directory alone; all figures "
        "are embedded.</footer></body></html>"
    )


def write_samplesize_page(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``samplesize.html`` (or ``out``) for a sample-size run directory; returns its path."""
    path = Path(out) if out is not None else Path(run_dir) / "samplesize.html"
    write_text_atomic(path, render_samplesize(run_dir))
    return path
