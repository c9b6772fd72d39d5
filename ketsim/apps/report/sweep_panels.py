"""The panels of a sweep report: power over the swept axes (with the target-power boundary),
each endpoint's mean by arm, and adverse events and dropouts, all as inline SVG heatmaps on one
stated colour scale per quantity.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ketsim.apps.report.heatmap_svg import ColourScale, heatmap_svg, nice_range
from ketsim.apps.report.html_parts import _e, _missing, _section, _table
from ketsim.apps.report.sweep_axes import AxisInfo, describe_axis, sorted_values
from ketsim.config.sweep import format_value
from ketsim.storage.reader import RunTables

POWER_SCALE = ColourScale(
    "power (share of simulated trials rejecting H0)",
    0.0,
    1.0,
    "viridis",
    "yellow = higher power, dark blue = lower",
    "power",
)
_HARM = "darker red = more patients with the event"
_EVENT_SCALE = ColourScale(
    "share of patients with the event", 0.0, 1.0, "OrRd", _HARM, "share of patients"
)

#: endpoint type -> (scale label, colormap, direction, bar title, fixed range or None)
_ENDPOINT_SCALES = {
    "change_from_baseline": (
        "mean change from baseline in daily pain (NRS points, 0-10 scale)",
        "viridis_r",
        "yellow = larger fall in pain (more negative change), dark = smaller",
        "NRS change (points)",
        None,
    ),
    "weekly_mean": (
        "mean daily pain (NRS, 0-10)",
        "viridis_r",
        "yellow = less pain",
        "NRS (0-10)",
        None,
    ),
    "auc": (
        "area under the daily pain curve (NRS x days)",
        "viridis_r",
        "yellow = less pain",
        "NRS x days",
        None,
    ),
    "responder": (
        "share of patients responding",
        "viridis",
        "yellow = more responders",
        "share responding",
        (0.0, 1.0),
    ),
    "time_to_relapse": (
        "share of patients relapsing",
        "OrRd",
        "darker red = more relapses",
        "share relapsing",
        (0.0, 1.0),
    ),
    "adverse_event": ("share of patients with the event", "OrRd", _HARM, "share", (0.0, 1.0)),
    "dropout": ("share of patients dropping out", "OrRd", _HARM, "share", (0.0, 1.0)),
}


def _axes(run: RunTables, sc) -> list[AxisInfo]:
    cells = run.table("sweep_cells")
    if cells is None:
        return []
    out = []
    for c in cells.columns:
        if c == "cell" or cells[c].nunique() < 2:
            continue
        out.append(describe_axis(c, sc, sorted_values(list(cells[c]))))
    return out


def _grids(df: pd.DataFrame, axes: list[AxisInfo], value: str, se: str):
    """(facet title, z, se, x ticks, y ticks) per combination of the axes after the first two."""
    df = df.assign(**{a.path: df[a.path].map(format_value) for a in axes})
    # one axis: it runs along the columns of a single row; two or more: the first up the rows
    yax = axes[0] if len(axes) > 1 else None
    xax = axes[1] if len(axes) > 1 else axes[0]
    rest = axes[2:]
    ys = list(yax.ticks) if yax else [""]
    xs = list(xax.ticks)
    facets = itertools.product(*[list(a.ticks) for a in rest]) if rest else [()]
    for combo in facets:
        sub = df
        for a, v in zip(rest, combo, strict=True):
            sub = sub[sub[a.path] == v]
        z = np.full((len(ys), len(xs)), np.nan)
        s = np.full_like(z, np.nan)
        for _, r in sub.iterrows():
            i = ys.index(r[yax.path]) if yax else 0
            j = xs.index(r[xax.path])
            z[i, j], s[i, j] = r[value], r[se]
        title = ", ".join(
            f"{a.label} {a.ticks[v]}{' ' + a.unit if a.unit else ''}"
            for a, v in zip(rest, combo, strict=True)
        )
        yield (
            title,
            z,
            s,
            [xax.ticks[v] for v in xs],
            [yax.ticks[v] for v in ys] if yax else [""],
        )


def _maps(df, axes, value, se, title, scale, target=None) -> list[str]:
    xt, yt = (axes[1].title, axes[0].title) if len(axes) > 1 else (axes[0].title, "")
    out = []
    for facet, z, s, xs, ys in _grids(df, axes, value, se):
        t = f"{title} ({facet})" if facet else title
        svg = heatmap_svg(z, s, xs, ys, xt, yt, t, scale, target)
        out.append(svg)
    return out


def _axes_note(axes: list[AxisInfo]) -> str:
    items = "".join(
        f"<li><b>{_e(a.title)}</b>: swept path <code>{_e(a.path)}</code>, values "
        f"{_e(', '.join(a.ticks.values()))}</li>"
        for a in axes
    )
    return f"<p>Swept axes:</p><ul>{items}</ul>"


def _scale_note(scales: list[ColourScale]) -> str:
    seen = dict.fromkeys(s.describe() for s in scales)
    return "".join(f"<p class='scale'>Colour scale — {_e(d)}</p>" for d in seen)


def sweep_power_panel(run: RunTables, sc, target: float) -> str:
    """Power of each analysis over the swept axes, with the target-power boundary and a table."""
    p = run.table("sweep_power")
    axes = _axes(run, sc)
    if p is None or p.empty or not axes:
        return _missing("power", "Power over the sweep", "this sweep has no power table")
    p = p.assign(what=p["analysis"] + ": " + p["comparison"] + " v " + p["control"])
    figs = []
    for what, g in p.groupby("what", sort=False):
        figs += _maps(g, axes, "power", "mc_se", what, POWER_SCALE, target)
    reached = int((p["power"] >= target).sum())
    R = int(p["replicates"].iloc[0])
    note = (
        f"Each cell: the share of {R} simulated trials per cell rejecting H0 (number) and its "
        f"Monte Carlo SE (± number). The red line encloses the cells whose estimated power "
        f"reaches the target {target:g} ({reached} of {len(p)} analysis-cells do); with "
        f"{R} replicates a cell's power is uncertain by about ±{2 * p['mc_se'].max():.2f} "
        "(2 SE), so cells near the line may fall on either side. Every cell uses the same "
        "random patients (common random numbers), so differences between cells are not blurred "
        "by sampling different patients."
    )
    wide = _wide_power(p, run.table("sweep_cells"), axes)
    body = (
        _axes_note(axes)
        + _scale_note([POWER_SCALE])
        + f"<div class='grid'>{''.join(figs)}</div>"
        + "<p>Power by cell (power ± Monte Carlo SE):</p>"
        + wide
    )
    return _section("power", "Power over the sweep", body, note)


def _wide_power(p: pd.DataFrame, cells: pd.DataFrame, axes: list[AxisInfo]) -> str:
    p = p.assign(txt=[f"{a:.3f} ± {b:.3f}" for a, b in zip(p["power"], p["mc_se"], strict=True)])
    wide = p.pivot_table(index="cell", columns="what", values="txt", aggfunc="first", sort=False)
    tab = cells.set_index("cell").join(wide).reset_index()
    cols = {"cell": "cell"}
    for a in axes:
        tab[a.path] = tab[a.path].map(lambda v, a=a: a.ticks.get(format_value(v), format_value(v)))
        cols[a.path] = a.title
    cols.update({w: f"power: {w}" for w in wide.columns})
    return _table(tab, cols)


def sweep_endpoint_panel(run: RunTables, sc) -> str | None:
    """Each endpoint's mean by arm over the swept axes (None when the run has no endpoints)."""
    e = run.table("sweep_endpoints")
    axes = _axes(run, sc)
    if e is None or e.empty or not axes:
        return None
    types = {ep.name: ep.type for ep in (sc.endpoints or [])}
    figs, scales = [], []
    for ep, g in e.groupby("endpoint", sort=False):
        label, cmap, direction, short, fixed = _ENDPOINT_SCALES.get(
            types.get(ep, ""), ("mean value", "viridis", "yellow = higher", "value", None)
        )
        # one range per endpoint type, shared by every endpoint and arm of that type
        same = e[e["endpoint"].map(types.get) == types.get(ep)]
        lo, hi = fixed or nice_range(float(same["value"].min()), float(same["value"].max()))
        scale = ColourScale(label, lo, hi, cmap, direction, short)
        scales.append(scale)
        for arm, ga in g.groupby("arm", sort=False):
            figs += _maps(ga, axes, "value", "value_mc_se", f"{ep}: {arm} arm", scale)
    note = (
        "Mean over the simulated trials of each arm's mean (or share) per cell, with its Monte "
        "Carlo SE; endpoints of one type share one colour scale, so maps can be compared "
        "directly."
    )
    body = _scale_note(scales) + f"<div class='grid'>{''.join(figs)}</div>"
    return _section("surfaces", "Endpoints over the sweep, by arm", body, note)


def sweep_safety_panel(run: RunTables, sc) -> str | None:
    """Adverse events and dropouts per arm over the swept axes (None without a trial table)."""
    t = run.table("sweep_trial")
    axes = _axes(run, sc)
    if t is None or t.empty or not axes:
        return None
    events = [c for c in ("psychotomimetic", "nausea", "discontinued", "dropout") if c in t]
    figs = []
    for ev in events:
        for arm, g in t.groupby("group", sort=False):
            # a share's binomial SE over all simulated patients of the cell's arm
            n = g["mean_n"].to_numpy(float) * _replicates(run)
            se = np.sqrt(g[ev] * (1 - g[ev]) / np.maximum(n, 1))
            figs += _maps(
                g.assign(se=se),
                axes,
                ev,
                "se",
                f"{ev.replace('_', ' ')}: {arm} arm",
                _EVENT_SCALE,
            )
    note = (
        "Share of patients per arm with the event (psychotomimetic: perceptual effects above "
        "the patient's threshold; discontinued: treatment stopped for an adverse event), mean "
        "over the simulated trials; ± is the binomial SE over all simulated patients of the arm."
    )
    body = _scale_note([_EVENT_SCALE]) + f"<div class='grid'>{''.join(figs)}</div>"
    return _section("safety", "Adverse events and dropouts over the sweep", body, note)


def _replicates(run: RunTables) -> int:
    return int(run.manifest.get("replicates") or 1)
