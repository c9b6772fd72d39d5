"""The report's first panel: the answer before the details.

For the primary analysis (``analyses[].primary``, default the first): its power at the planned
size with the Wilson interval, the size that reaches the target power read off the power curve,
the warnings of its row, and what this run did not check (type-I error) -- so a designer sees
the answer without scrolling past the design text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketsim.apps.report.html_parts import _e, _missing, _section
from ketsim.storage.reader import RunTables

__all__ = ["headline_panel"]


def _crossing(curve: pd.DataFrame, target: float) -> str:
    """Where a power curve first reaches ``target`` (linear between evaluated sizes)."""
    g = curve.sort_values("n")
    n, p = g["n"].to_numpy(float), g["power"].to_numpy(float)
    if p.size == 0:
        return ""
    if p[0] >= target:
        return f"already at the smallest size evaluated ({int(n[0])})"
    above = np.flatnonzero(p >= target)
    if above.size == 0:
        return f"not reached up to {int(n[-1])}"
    j = int(above[0])
    x = n[j - 1] + (target - p[j - 1]) * (n[j] - n[j - 1]) / (p[j] - p[j - 1])
    return f"about {x:.0f} (interpolated between {int(n[j - 1])} and {int(n[j])})"


def headline_panel(run: RunTables, sc, target: float) -> str:
    """The "answer" panel of a power run."""
    power = run.table("power")
    primary = sc.primary_analysis()
    if power is None or power.empty or primary is None:
        return _missing("answer", "The answer", "no power table in this run")
    rows = power[power["analysis_id"] == primary]
    if rows.empty:
        return _missing("answer", "The answer", "the primary analysis has no power rows")
    null = (rows["hypothesis"] == "null").all()
    curve = run.table("power_curve")
    unit = "n per arm"
    if curve is not None and not curve.empty:
        unit = str(curve["unit"].iloc[0]).replace("_", " ")
    label = str(rows["analysis"].iloc[0])
    items = []
    for _, r in rows.iterrows():
        what = "type-I error" if null else "power"
        line = (
            f"<b>{what} {r['power']:.2f}</b> (95% Wilson {r['wilson_low']:.2f}–"
            f"{r['wilson_high']:.2f}; MC SE {r['mc_se']:.3f}; {int(r['replicates'])} simulated "
            f"trials) for {_e(r['comparison'])} v {_e(r['control'])}; mean estimate "
            f"{r['mean_estimate']:.2f} ({_e(r.get('scale', 'estimate'))})"
        )
        if not null and curve is not None and not curve.empty:
            c = curve[(curve["analysis_id"] == primary) & (curve["comparison"] == r["comparison"])]
            cross = _crossing(c, target)
            if cross:
                line += f"; {unit} for power {target:g}: {cross}"
        if r.get("flags"):
            line += f"<br><span class='warn'>⚠ {_e(r['flags'])}</span>"
        items.append(f"<li>{line}</li>")
    planned = ""
    if curve is not None and not curve.empty:
        main = curve[curve["replicates_main"]]
        if len(main):
            planned = f" at the planned {unit} of {int(main['n'].iloc[0])}"
    which = "marked primary" if any(a.primary for a in sc.analyses) else "the first declared"
    body = (
        f"<p class='lead'>Primary analysis ({which}): <b>{_e(label)}</b>{planned}.</p>"
        f"<ul>{''.join(items)}</ul>"
    )
    note = (
        "Sizes for the target are read off the power curve (each point has its own MC error); "
        "<code>ketsim samplesize</code> fits the curve and gives an interval. "
        + (
            ""
            if null
            else "This run does not check the type-I error: run "
            "<code>ketsim power FILE --null</code>."
        )
    )
    return _section("answer", "The answer", body + f"<p class='note'>{note}</p>")
