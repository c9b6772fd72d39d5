"""The HTML page of ``ketsim discriminate``: which design tells the hypotheses apart."""

from __future__ import annotations

import pandas as pd

from ketsim.apps.report.html_parts import _CSS, _e, _plt, _png, _section, _table
from ketsim.engine.discriminate import DesignDiscrimination, confusion_table, summary_table

__all__ = ["render_discrimination"]


def _accuracy_figure(summary: pd.DataFrame) -> str:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8.0, 1.0 + 0.5 * len(summary)))
    y = range(len(summary))
    for col, colour, label in (
        ("accuracy", "#1f77b4", "most probable hypothesis is the true one"),
        ("decisive", "#d62728", "posterior of the truth ≥ threshold"),
    ):
        ax.errorbar(
            summary[col],
            y,
            xerr=1.96 * summary[f"{col}_se"],
            fmt="o",
            color=colour,
            label=label,
            capsize=3,
        )
    ax.axvline(summary["chance"].iloc[0], color="grey", ls=":", lw=1, label="chance")
    ax.set_yticks(list(y), summary["design"])
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("probability over simulated trials (95% MC interval)")
    ax.set_ylim(len(summary) - 0.5, -0.5)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, fontsize=8, frameon=False)
    return _png(fig, "discrimination")


def render_discrimination(results: list[DesignDiscrimination], replicates: int, seed: int) -> str:
    """The page as one HTML string."""
    summary = summary_table(results)
    hyps = results[0].result.hypotheses
    thr = results[0].result.threshold
    head = {
        "design": "design",
        "accuracy": "P(most probable = truth)",
        "accuracy_se": "MC SE",
        "decisive": f"P(posterior of truth ≥ {thr:g})",
        "decisive_se": "MC SE",
        **{f"posterior_if_{h}": f"mean posterior of truth if {h}" for h in hyps},
    }
    best = summary.sort_values("accuracy", ascending=False).iloc[0]
    n = int(best["trials_per_hypothesis"])
    if best["accuracy_se"] > 0:
        unc = f"± {best['accuracy_se']:.2f} MC SE"
    else:  # every scored trial right: the binomial SE is 0, the rule of three bounds it
        unc = f"every scored trial; 95% bound ≥ {1 - 3 / n:.2f} by the rule of three"
    answer = (
        f"<p class='answer'><b>{_e(best['design'])}</b> tells the hypotheses apart best: the "
        f"result of one trial points to the mechanism that generated it with probability "
        f"{best['accuracy']:.2f} ({unc}; chance {best['chance']:.2f}), and is decisive "
        f"(posterior of the truth ≥ {thr:g}) in {best['decisive']:.2f} of trials.</p>"
    )
    parts = [
        _section("answer", "Answer", answer + _accuracy_figure(summary)),
        _section(
            "designs",
            "Designs compared",
            _table(summary, head, 3),
            note=f"{replicates} simulated trials per design and hypothesis, common random numbers "
            f"(root seed {seed}); densities fitted on one half of the trials and scored on the "
            "other (two-fold cross-fitting). Equal prior weights unless set.",
        ),
    ]
    conf = confusion_table(results)
    for r in results:
        c = conf[conf.design == r.name].pivot(index="true", columns="chosen", values="fraction")
        c = c.reindex(index=list(hyps), columns=list(hyps)).reset_index()
        cols = {"true": "true hypothesis", **{h: f"chosen: {h}" for h in hyps}}
        p = r.predictions
        pcols = {
            "hypothesis": "hypothesis",
            "statistic": "estimate of (endpoint: comparison)",
            "mean_estimate": "mean estimate",
            "sd_estimate": "SD across trials",
            "power": "power",
        }
        failed = ", ".join(f"{h} {n}" for h, n in r.failed.items() if n) or "none"
        parts.append(
            _section(
                f"design-{r.name}",
                f"{r.name}: what each hypothesis predicts",
                _table(p, pcols, 3) + "<h3>Which hypothesis one trial points to</h3>"
                f"{_table(c, cols, 3)}",
                note=f"statistics: {'; '.join(map(_e, r.statistics))}. Trials with a failed "
                f"fit (dropped): {_e(failed)}.",
            )
        )
    title = "ketsim discriminate: which design tells the lasting-effect hypotheses apart"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>{''.join(parts)}"
        "<footer class='note'>Each trial is reduced to the estimates of its declared analyses; "
        "the hypotheses' predictive distributions of those estimates are approximated as "
        "multivariate normal (quadratic discriminant analysis).</footer></body></html>"
    )
