"""Text tables the commands print: trial summaries, endpoints, analyses, power and sweeps."""

from __future__ import annotations

import numpy as np


def format_trial_summary(summary) -> str:
    """Per-arm text table: weekly mean NRS, AE incidences, dropouts, end rates."""
    weeks = [c for c in summary.columns if c.startswith("week")]
    lines = ["mean daily NRS by week (week 0 = baseline):"]
    lines.append(f"{'arm':<14}" + "".join(f"{w[4:]:>6}" for w in weeks))
    for _, r in summary.iterrows():
        lines.append(f"{r['arm']:<14}" + "".join(f"{r[w]:>6.2f}" for w in weeks))
    lines.append("")
    head = (
        f"{'arm':<14}{'n':>5}{'psychotomimetic':>17}{'nausea':>8}{'liver':>7}"
        f"{'stopped':>9}{'dropout':>9}{'end rate mg/h/70kg':>20}"
    )
    lines.append(head)
    for _, r in summary.iterrows():
        rate = r["end_rate_mg_h_70kg"]
        lines.append(
            f"{r['arm']:<14}{int(r['n']):>5}{r['psychotomimetic_pct']:>16.0f}%"
            f"{r['nausea_pct']:>7.0f}%{r['liver_injury_pct']:>6.0f}%{r['discontinued_pct']:>8.0f}%"
            f"{r['dropout_pct']:>8.0f}%{'' if rate != rate else f'{rate:.1f}':>20}"
        )
    return "\n".join(lines)


def format_endpoints(table) -> str:
    """Per endpoint and arm: units and mean (continuous), proportion (binary) or events."""
    lines = ["endpoints by arm:"]
    lines.append(f"{'endpoint':<22}{'arm':<14}{'n':>5}{'value':>10}{'sd':>8}  statistic")
    for _, r in table.iterrows():
        v = r["value"]
        val = f"{100 * v:.1f}%" if r["statistic"] in ("proportion", "events") else f"{v:.2f}"
        sd = "" if r["sd"] != r["sd"] else f"{r['sd']:.2f}"
        lines.append(
            f"{r['endpoint']:<22}{r['arm']:<14}{int(r['n']):>5}{val:>10}{sd:>8}  {r['statistic']}"
        )
    return "\n".join(lines)


def format_analyses(table) -> str:
    """One line per analysis and comparison: estimate, CI, p-value (adjusted) and decision."""
    lines = ["analyses (estimate = treatment - control; log OR / log HR for logistic / log-rank):"]
    lines.append(
        f"{'endpoint':<18}{'method':<11}{'strategy':<17}{'comparison':<22}{'estimate':>9}"
        f"{'CI':>20}{'p':>9}{'p adj':>9}  decision"
    )
    for _, r in table.iterrows():
        ci = f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
        pct = f"{100 * r['conf_level']:.0f}%"
        comp = f"{r['comparison']} v {r['control']}"
        dec = "reject H0" if r["reject"] else "not rejected"
        if not r["converged"]:
            dec += " (fit failed)"
        lines.append(
            f"{r['endpoint']:<18}{r['method']:<11}{r['strategy']:<17}{comp:<22}"
            f"{r['estimate']:>9.3f}{pct + ' ' + ci:>20}{r['p_value']:>9.4f}{r['p_adjusted']:>9.4f}"
            f"  {dec} ({r['alternative']}, alpha {r['alpha']:g})"
        )
    return "\n".join(lines)


def format_sweep(res, axes: list[str], sc=None) -> str:
    """Power per cell (one column per analysis) and, over two axes, response surfaces.

    With the base scenario ``sc``, swept paths are shown by their words and units
    (``infusion rate, ketamine arm (mg/kg/h)``) rather than as paths.
    """
    import pandas as pd

    lines = []
    if sc is not None:
        from ketsim.apps.report.sweep_axes import describe_axis

        names = {
            c: describe_axis(c, sc, list(res.cells[c])).title
            for c in res.cells.columns
            if c != "cell"
        }
        res = _renamed(res, names)
        axes = [names.get(a, a) for a in axes]
    p = res.power
    if len(p):
        p = p.assign(what=p["endpoint"] + " " + p["method"] + " " + p["comparison"])
        wide = p.pivot_table(index="cell", columns="what", values="power", sort=False)
        tab = res.cells.set_index("cell").join(wide)
        lines.append("power by cell:")
        with pd.option_context("display.width", 200, "display.max_columns", 30):
            lines.append(tab.to_string(float_format=lambda v: f"{v:.3f}"))
    e = res.endpoints
    if len(axes) >= 2 and len(e):
        x, y = axes[:2]
        lines.append("")
        lines.append(f"response surfaces (mean over replicates; rows {x}, columns {y}):")
        for (ep, arm), g in e.groupby(["endpoint", "arm"], sort=False):
            piv = g.pivot_table(index=x, columns=y, values="value", sort=False)
            lines.append(f"-- {ep}, arm {arm} ({g['statistic'].iloc[0]})")
            lines.append(piv.to_string(float_format=lambda v: f"{v:.2f}"))
    return "\n".join(lines)


def _renamed(res, names: dict[str, str]):
    """A view of a sweep result whose tables carry ``names`` as column names."""
    from types import SimpleNamespace

    return SimpleNamespace(
        cells=res.cells.rename(columns=names),
        power=res.power.rename(columns=names),
        endpoints=res.endpoints.rename(columns=names),
    )


def format_power(table, primary: int | None = None) -> str:
    """One line per analysis and comparison: power (or type-I error) with its MC SE and CI.

    Rows of analysis ``primary`` (an index) are marked ``*``.
    """
    if table.empty:
        return "no analyses"
    null = (table["hypothesis"] == "null").all()
    what = "type-I error" if null else "power"
    comps = [f"{r['comparison']} v {r['control']}" for _, r in table.iterrows()]
    # the method with its model details (mmrm covariance, multiplicity, crossover carry-over),
    # read from the analysis label "<endpoint> <method ...> (<strategy>)"
    table = table.assign(
        method=[
            str(r["analysis"])[len(str(r["endpoint"])) + 1 :].rsplit(" (", 1)[0]
            if str(r.get("analysis", "")).startswith(f"{r['endpoint']} ")
            else r["method"]
            for _, r in table.iterrows()
        ]
    )
    we = max(9, *(len(e) for e in table["endpoint"])) + 1
    wm = max(7, *(len(m) for m in table["method"])) + 1
    ws = max(9, *(len(m) for m in table["strategy"])) + 1
    wc = max(11, *(len(c) for c in comps)) + 1
    head = "(Monte Carlo SE; 95% Wilson interval); estimate mean (SD), bias vs true effect (SE):"
    lines = [f"{what} {head}"]
    mark = [
        "*" if primary is not None and r["analysis_id"] == primary else " "
        for _, r in table.iterrows()
    ]
    lines.append(
        f" {'endpoint':<{we}}{'method':<{wm}}{'strategy':<{ws}}{'comparison':<{wc}}{what:>14}"
        f"{'95% CI':>16}{'estimate':>18}{'true':>9}{'bias':>17}  scale"
    )
    for star, comp, (_, r) in zip(mark, comps, table.iterrows(), strict=True):
        pw = f"{r['power']:.3f} ({r['mc_se']:.3f})"
        ci = f"[{r['wilson_low']:.3f}, {r['wilson_high']:.3f}]"
        est = f"{r['mean_estimate']:.3f} ({r['sd_estimate']:.3f})"
        tr = "" if r["true_effect"] != r["true_effect"] else f"{r['true_effect']:.3f}"
        bias = "" if r["bias"] != r["bias"] else f"{r['bias']:+.3f} ({r['bias_mc_se']:.3f})"
        lines.append(
            f"{star}{r['endpoint']:<{we}}{r['method']:<{wm}}{r['strategy']:<{ws}}{comp:<{wc}}{pw:>14}"
            f"{ci:>16}{est:>18}{tr:>9}{bias:>17}  {_scale_words(r)}"
        )
    if primary is not None:
        lines.append("* primary analysis")
    return "\n".join(lines)


def _scale_words(r) -> str:
    """The estimate's scale, with the back-transformed ratio for log-ratio scales."""
    scale = str(r.get("scale", "") or "")
    ratio = r.get("mean_ratio", float("nan"))
    if scale and ratio == ratio:
        short = {"log odds ratio": "OR", "log hazard ratio": "HR"}.get(scale, "ratio")
        true = r.get("true_ratio", float("nan"))
        scale += f" (geometric mean {short} {ratio:.2f}"
        scale += f", true {true:.2f})" if true == true else ")"
    return scale


def power_warnings(table) -> list[str]:
    """``warning:`` lines for the power rows whose ``flags`` are set (failed fits, coverage)."""
    if "flags" not in table:
        return []
    out = []
    for _, r in table.iterrows():
        if r["flags"]:
            what = f"{r['endpoint']} {r['method']} ({r['comparison']} v {r['control']})"
            out.append(f"warning: {what}: {r['flags']}")
    return out


def format_group_sequential(looks, summary) -> str:
    """The group-sequential design of the primary analysis: per-look boundaries and stopping
    probabilities, then overall power, expected sample size and duration (with MC SEs)."""
    if looks is None or looks.empty:
        return ""
    lines = []
    for _, s in summary.iterrows():
        what = "type-I error" if s["hypothesis"] == "null" else "power"
        lines.append(
            f"group-sequential design ({s['spending']} spending, {int(s['sides'])}-sided alpha "
            f"{s['alpha']:g}), {s['comparison']}:"
        )
        lines.append(
            f"  {'look':>4} {'info':>6} {'weeks':>7} {'n':>7} {'efficacy z':>11} {'nominal p':>10}"
            f" {'futility z':>11} {'P(stop eff)':>15} {'P(stop fut)':>15}"
        )
        sel = looks[looks["comparison"] == s["comparison"]]
        for _, r in sel.iterrows():
            wk = "" if r["weeks"] != r["weeks"] else f"{r['weeks']:.1f}"
            fz = "" if not np.isfinite(r["futility_z"]) else f"{r['futility_z']:.3f}"
            pe = f"{r['p_efficacy']:.3f} ({r['p_efficacy_mc_se']:.3f})"
            pf = f"{r['p_futility']:.3f} ({r['p_futility_mc_se']:.3f})"
            lines.append(
                f"  {int(r['look']):>4} {r['info']:>6.3f} {wk:>7} {r['n_analysed']:>7.1f}"
                f" {r['efficacy_z']:>11.4f} {r['nominal_p']:>10.5f} {fz:>11} {pe:>15} {pf:>15}"
            )
        wk = (
            ""
            if s["expected_weeks"] != s["expected_weeks"]
            else f", duration {s['expected_weeks']:.1f} ({s['expected_weeks_mc_se']:.1f}) weeks"
        )
        lines.append(
            f"  {what} {s['power']:.3f} ({s['mc_se']:.3f}) [{s['wilson_low']:.3f}, "
            f"{s['wilson_high']:.3f}] (fixed design at nominal alpha: {s['fixed_power']:.3f}); "
            f"stops early {s['p_stop_early']:.3f}; expected n analysed {s['expected_n']:.1f} "
            f"({s['expected_n_mc_se']:.1f}), enrolled {s['expected_n_enrolled']:.1f}{wk}"
        )
    return "\n".join(lines)


def format_multiplicity(table) -> str:
    """Power per hypothesis after the multiplicity procedure, and disjunctive/conjunctive."""
    if table is None or table.empty:
        return ""
    r0 = table.iloc[0]
    what = "type-I error" if bool(r0["null"]) else "power"
    lines = [f"multiplicity across analyses ({r0['method']}, alpha {r0['alpha']:g}): {what}"]
    w = max(len(str(a)) for a in table["analysis"]) + 1
    lines.append(f"  {'':<4} {'hypothesis':<{w}} {'unadjusted':>10} {'adjusted (MC SE)':>17}")
    for _, r in table.iterrows():
        lines.append(
            f"  {r['hypothesis']:<4} {r['analysis']!s:<{w}} {r['power_unadjusted']:>10.3f}"
            f" {r['power']:>8.3f} ({r['mc_se']:.3f})"
        )
    return "\n".join(lines)


def format_samplesize(sc, res, check, args) -> str:
    """``ketsim samplesize`` output: the fitted size with its interval first (the answer), the
    normal-approximation cross-check beside it, then every evaluated size."""
    lines = [
        f"scenario {sc.name}: {res.analysis}, {res.comparison} v its control; target power "
        f"{res.target:g}; {args.replicates} replicates per size, seed {res.entropy}"
    ]
    # the fitted curve pools every evaluated size, so it is the answer; single points carry
    # their own Monte Carlo error and can cross the target by luck
    if res.n_fit == res.n_fit:
        ci = (
            f" (95% interval {res.n_fit_low:.1f} to {res.n_fit_high:.1f})"
            if res.n_fit_low == res.n_fit_low
            else " (no interval: the fit's covariance is not defined)"
        )
        lines.append(
            f"answer: {res.unit} = {res.n_fit:.1f}{ci} for power {res.target:g}, from the "
            "probit fit power = Phi(a + b sqrt(n)) over all evaluated sizes"
        )
    else:
        lines.append("answer: the probit curve could not be fitted (too few informative sizes)")
    if check.n == check.n:
        lines.append(
            f"normal-approximation cross-check: {res.unit} = {check.n:.1f} from the two-sample z "
            f"formula with the simulated effect {check.effect:.3f} and SDs {check.sd_treatment:.3f}"
            f" / {check.sd_control:.3f} (alpha {check.alpha:g}, {check.sides}-sided, unadjusted; "
            "no baseline adjustment or strategy: the order, not the number)"
        )
    else:
        lines.append(f"normal-approximation cross-check: not computed ({check.reason})")
    lines.append(res.points.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if res.n_observed is None:
        lines.append(f"target not reached up to {res.unit} = {args.n_max}")
    else:
        lines.append(
            f"(smallest single evaluated {res.unit} with power >= {res.target:g}: "
            f"{res.n_observed}; each point has its own MC error)"
        )
    return "\n".join(lines)
