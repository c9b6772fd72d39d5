"""``calibration.html``: a self-contained page of a calibration run's diagnostics.

Sections: the run (hypothesis, scenarios, settings, seed); generations (epsilon, acceptance rate
and effective sample size per generation); posterior vs prior of every parameter (weighted
histogram of the last generation over the prior's range, prior density, the model's default);
the posterior-predictive check of every target (the last generation's simulated values, median
and 95% interval, against the published value ± 2 of its scale or its acceptance interval).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ketsim.apps.report.html_parts import _CSS, _e, _plt, _png, _section, _table
from ketsim.storage.files import write_text_atomic

if TYPE_CHECKING:
    from ketsim.apps.calibrate.abc_fit import FitSettings
    from ketsim.apps.calibrate.parameters import UncertainParameter
    from ketsim.apps.calibrate.run import CalibrationResult
    from ketsim.apps.calibrate.targets import TargetSet

__all__ = ["render_page", "write_page"]


def _generation_figure(gens) -> str:
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.6))
    g = gens["generation"]
    for ax, col, title in zip(
        axes,
        ("epsilon", "acceptance_rate", "ess"),
        ("epsilon (chi distance)", "acceptance rate", "effective sample size"),
        strict=True,
    ):
        ax.plot(g, gens[col], "o-", color="#1f5fa8")
        ax.set_title(title)
        ax.set_xlabel("generation")
    axes[1].set_yscale("log")
    fig.tight_layout()
    return _png(fig, "generations")


def _parameter_figure(post, params, hypothesis: str) -> str:
    plt = _plt()
    k = len(params)
    cols = min(k, 3)
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    w = post["weight"].to_numpy()
    for ax, p in zip(axes.flat, params, strict=False):
        lo, hi = p.internal_bounds
        xi = np.array([p.to_internal(v) for v in post[p.name]])
        edges = np.linspace(lo, hi, 31)
        ax.hist(xi, bins=edges, weights=w, density=True, color="#1f5fa8", alpha=0.7)
        ax.axhline(1.0 / (hi - lo), color="#888", ls="--", label="prior")
        ax.axvline(p.to_internal(p.default(hypothesis)), color="#c0392b", label="default")
        ax.set_xlabel(f"log10 {p.name}" if p.scale == "log" else p.name, fontsize=8)
        ax.set_yticks([])
    for ax in list(axes.flat)[k:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return _png(fig, "parameters")


def _ppc_figure(ppc) -> str:
    plt = _plt()
    n = len(ppc)
    fig, axes = plt.subplots(1, 1, figsize=(7.5, 0.32 * n + 0.8))
    ax = axes
    y = np.arange(n)[::-1]
    for yi, r in zip(y, ppc.itertuples(), strict=True):
        if r.kind == "point":
            lo, hi = r.published - 2 * r.scale, r.published + 2 * r.scale
        else:
            lo, hi = r.lower, r.upper
        span = max(abs(hi - lo), abs(r.q975 - r.q025), 1e-9)
        centre = r.published
        # each row on its own scale: published at 0, one unit = half the wider interval
        f = 2.0 / span

        def u(v, f=f, centre=centre):
            return float(np.clip((v - centre) * f, -4.0, 4.0))

        ax.plot([u(lo), u(hi)], [yi + 0.12] * 2, color="#888", lw=4, alpha=0.6)
        ax.plot([u(r.q025), u(r.q975)], [yi - 0.12] * 2, color="#1f5fa8", lw=2)
        ax.plot([u(r.median)], [yi - 0.12], "o", color="#1f5fa8", ms=4)
        ax.plot([0.0], [yi + 0.12], "|", color="#222", ms=8)
    ax.set_yticks(y)
    ax.set_yticklabels(ppc["target"], fontsize=7)
    ax.set_xticks([])
    ax.set_xlabel("grey: published ± 2 SE or acceptance interval; blue: posterior predictive 95%")
    fig.tight_layout()
    return _png(fig, "ppc")


def render_page(
    result: CalibrationResult,
    params: list[UncertainParameter],
    targets: TargetSet,
    settings: FitSettings,
    min_epsilon: float,
) -> str:
    """The page's HTML."""
    gens, ptab, ppc = result.generations, result.parameters, result.ppc
    head = (
        f"<p class='lead'>Hypothesis <b>{_e(settings.hypothesis)}</b>; scenarios "
        f"{_e(', '.join(targets.names))}; {len(targets.targets)} targets; population "
        f"{settings.population}, up to {settings.generations} generations, replicates "
        f"{settings.replicates[0]}→{settings.replicates[1]}; stop at epsilon ≤ "
        f"{min_epsilon:.3g}; seed {result.entropy}; {result.elapsed_s:.0f} s"
        f"{' (resumed)' if result.resumed else ''}.</p>"
    )
    body = [
        _section(
            "generations",
            "Generations",
            _generation_figure(gens)
            + _table(
                gens,
                {
                    "generation": "t",
                    "epsilon": "epsilon",
                    "replicates": "replicates",
                    "evaluations": "simulations",
                    "acceptance_rate": "acceptance rate",
                    "ess": "ESS",
                },
            ),
        ),
        _section(
            "parameters",
            "Posterior vs prior",
            _parameter_figure(result.posterior, params, settings.hypothesis)
            + _table(
                ptab,
                {
                    "parameter": "parameter",
                    "prior": "prior",
                    "default": "default",
                    "median": "median",
                    "q025": "2.5%",
                    "q975": "97.5%",
                    "sd_ratio": "posterior/prior SD",
                    "confidence": "conf.",
                    "source": "source",
                },
            ),
            "posterior/prior SD near 1: the targets do not inform the parameter.",
        ),
        _section(
            "ppc",
            "Posterior-predictive check",
            _ppc_figure(ppc)
            + _table(
                ppc,
                {
                    "target": "target",
                    "kind": "kind",
                    "published": "published",
                    "scale": "SE / scale",
                    "median": "predictive median",
                    "q025": "2.5%",
                    "q975": "97.5%",
                    "p_inside": "P(in acceptance interval)",
                    "mean_discrepancy": "mean discrepancy",
                },
            ),
            "Simulated targets of the last generation's particles (their own replicates, common "
            "random numbers), weighted by the particle weights.",
        ),
    ]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>ketsim calibrate "
        f"{_e(settings.hypothesis)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Calibration: {_e(settings.hypothesis)}</h1>{head}{''.join(body)}</body></html>"
    )


def write_page(
    result: CalibrationResult,
    params: list[UncertainParameter],
    targets: TargetSet,
    settings: FitSettings,
    min_epsilon: float,
) -> None:
    """Write ``calibration.html`` into the run directory."""
    write_text_atomic(
        result.path / "calibration.html",
        render_page(result, params, targets, settings, min_epsilon),
    )
