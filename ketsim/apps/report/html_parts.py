"""HTML building blocks of the report: escaping, number formatting, tables, sections, embedded
PNG figures and the page's CSS.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

import numpy as np
import pandas as pd


# -- helpers ---------------------------------------------------------------------------------
def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


#: when set (by :func:`figures`), every figure is also kept here under its panel name
_SINK: dict[str, Any] | None = None


def _png(fig, name: str) -> str:
    """A matplotlib figure as an ``<img>`` with an embedded PNG."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    if _SINK is not None:
        _SINK[name] = fig
    else:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if v != v:
            return ""
        return f"{v:.{digits}f}"
    return str(v)


def _table(df: pd.DataFrame, columns: dict[str, str], digits: int = 3) -> str:
    """An HTML table of ``columns`` (name -> header); every cell escaped."""
    head = "".join(f"<th>{_e(h)}</th>" for h in columns.values())
    rows = []
    for _, r in df.iterrows():
        cells = "".join(f"<td>{_e(_fmt(r[c], digits))}</td>" for c in columns)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _section(pid: str, title: str, body: str, note: str = "") -> str:
    n = f'<p class="note">{note}</p>' if note else ""
    return f'<section id="{pid}"><h2>{_e(title)}</h2>{n}{body}</section>'


def _missing(pid: str, title: str, why: str) -> str:
    return _section(pid, title, f'<p class="missing">{_e(why)}</p>')


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1100px;
margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em;margin-bottom:0.2em} h2{font-size:1.15em;border-bottom:1px solid #ccc;
padding-bottom:0.2em;margin-top:1.6em} table{border-collapse:collapse;font-size:0.8em;
margin:0.5em 0} th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} .note{color:#555;font-size:0.85em} .missing{color:#888;font-style:italic}
.lead{font-size:1.05em} .ref{font-size:0.85em;color:#444} img{max-width:100%}
.grid{display:flex;flex-wrap:wrap;gap:8px} figure{margin:0}
figcaption{font-size:0.8em;font-weight:600;max-width:420px} .scale{font-size:0.85em}
nav a{margin-right:0.8em;font-size:0.85em}
section{overflow-x:auto}
.warn{color:#8a4b00;background:#fff4e0;padding:4px 8px;margin:4px 0}
"""
