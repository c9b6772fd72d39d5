"""Inline SVG heatmaps for the sweep report: a grid of cells over two swept axes, each cell
coloured on a stated scale and labelled with its value and Monte Carlo SE, with an optional
boundary around the cells that reach a target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ketsim.apps.report.html_parts import _e


@dataclass(frozen=True)
class ColourScale:
    """One colour scale, shared by every heatmap of a quantity.

    Attributes
    ----------
    label : str
        What the colour shows, with its unit (the colour bar's title).
    vmin, vmax : float
        The ends of the scale (values outside are clipped to the end colours).
    cmap : str
        A matplotlib colormap name.
    direction : str
        What the bright or dark end means, in words (stated under the figures).
    short : str
        A few words for the colour bar's title.
    """

    label: str
    vmin: float
    vmax: float
    cmap: str
    direction: str
    short: str

    def colour(self, v: float) -> str:
        """The ``#rrggbb`` colour of value ``v``."""
        import matplotlib

        span = self.vmax - self.vmin
        t = 0.5 if span <= 0 else min(max((v - self.vmin) / span, 0.0), 1.0)
        r, g, b, _ = matplotlib.colormaps[self.cmap](t)
        return f"#{int(255 * r):02x}{int(255 * g):02x}{int(255 * b):02x}"

    def describe(self) -> str:
        """One sentence stating the scale: its quantity, range, colours and direction."""
        return (
            f"{self.label}: one colour scale from {_num(self.vmin)} to {_num(self.vmax)} "
            f"({self.cmap}) for every map of this quantity; {self.direction}."
        )


def _num(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def _ink(hex_colour: str) -> str:
    """Black or white text, whichever reads on the cell colour (relative luminance)."""
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#fff"


CELL_W, CELL_H = 74, 38
LEFT, TOP, BAR_W = 60, 26, 12


def heatmap_svg(
    z: np.ndarray,
    se: np.ndarray,
    xticks: list[str],
    yticks: list[str],
    xtitle: str,
    ytitle: str,
    title: str,
    scale: ColourScale,
    target: float | None = None,
) -> str:
    """One heatmap as an inline ``<svg>``.

    Parameters
    ----------
    z, se : ndarray
        Values and their Monte Carlo SEs, shape ``(len(yticks), len(xticks))``; row 0 is drawn
        at the bottom, so both axes increase away from the origin. NaN cells are drawn grey
        ("not run").
    xticks, yticks : list of str
        Tick texts of the columns and rows.
    xtitle, ytitle : str
        Axis titles (human label and unit).
    title : str
        The map's title.
    scale : ColourScale
        The colour scale of the quantity (shared across the maps of that quantity).
    target : float, optional
        Draw a thick line between cells on either side of this value (the cells at or above it
        are enclosed), labelled in the legend.

    Returns
    -------
    str
        A ``<figure>`` with the title as its caption and the SVG, whose texts are real
        ``<text>`` elements, readable by tests and screen readers.
    """
    ny, nx = z.shape
    gw, gh = nx * CELL_W, ny * CELL_H
    bar_x = LEFT + gw + 18
    # long axis titles widen the figure instead of being cut (about 6.2 px per character)
    legend = f"target power {target:g}: cells inside reach it" if target is not None else ""
    width = int(
        max(
            bar_x + BAR_W + 56,
            8 + 6.2 * len(ytitle),
            LEFT + 6.2 * len(xtitle),
            LEFT + 28 + 6.2 * len(legend),
        )
    )
    height = TOP + gh + 58
    out = [
        f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" font-size="11" '
        'font-family="system-ui,sans-serif">',
        f"<title>{_e(title)}</title>",
    ]
    for i in range(ny):
        yy = TOP + (ny - 1 - i) * CELL_H  # row 0 at the bottom
        for j in range(nx):
            xx = LEFT + j * CELL_W
            v, s = z[i, j], se[i, j]
            if v != v:
                out.append(
                    f'<rect x="{xx}" y="{yy}" width="{CELL_W}" height="{CELL_H}" fill="#ddd">'
                    "<title>not run</title></rect>"
                )
                continue
            fill = scale.colour(float(v))
            tip = f"{xtitle} {xticks[j]}, {ytitle} {yticks[i]}: {v:.3f} (MC SE {s:.3f})"
            out.append(
                f'<rect x="{xx}" y="{yy}" width="{CELL_W}" height="{CELL_H}" fill="{fill}">'
                f"<title>{_e(tip)}</title></rect>"
            )
            ink = _ink(fill)
            cx, cy = xx + CELL_W / 2, yy + CELL_H / 2
            out.append(
                f'<text x="{cx}" y="{cy - 2}" text-anchor="middle" fill="{ink}">{v:.2f}</text>'
            )
            se_txt = "" if s != s else f"± {s:.2f}"
            out.append(
                f'<text class="mc-se" x="{cx}" y="{cy + 11}" text-anchor="middle" '
                f'font-size="9" fill="{ink}">{se_txt}</text>'
            )
    if target is not None:
        out.append(_contour(z, target))
    for j, t in enumerate(xticks):
        out.append(
            f'<text x="{LEFT + (j + 0.5) * CELL_W}" y="{TOP + gh + 14}" '
            f'text-anchor="middle">{_e(t)}</text>'
        )
    for i, t in enumerate(yticks):
        out.append(
            f'<text x="{LEFT - 6}" y="{TOP + (ny - 1 - i + 0.5) * CELL_H + 4}" '
            f'text-anchor="end">{_e(t)}</text>'
        )
    out.append(
        f'<text class="xlabel" x="{LEFT + gw / 2}" y="{TOP + gh + 32}" '
        f'text-anchor="middle">{_e(xtitle)}</text>'
    )
    # the row axis' title sits above the rows, horizontal, so that it is never cut
    if ytitle:
        out.append(f'<text class="ylabel" x="4" y="{TOP - 10}">↑ {_e(ytitle)}</text>')
    out.append(_colour_bar(scale, bar_x, TOP, gh))
    if target is not None:
        ly = TOP + gh + 48
        out.append(
            f'<line x1="{LEFT}" y1="{ly - 4}" x2="{LEFT + 22}" y2="{ly - 4}" stroke="#e8112d" '
            'stroke-width="3"/>'
            f'<text class="contour-legend" x="{LEFT + 28}" y="{ly}">{_e(legend)}</text>'
        )
    out.append("</svg>")
    return f"<figure><figcaption>{_e(title)}</figcaption>{''.join(out)}</figure>"


def _contour(z: np.ndarray, target: float) -> str:
    """Edges between a cell at or above ``target`` and one below it or the grid's border."""
    ny, nx = z.shape
    ok = np.where(np.isnan(z), False, z >= target)
    segs = []

    def px(j: float, i: float) -> tuple[float, float]:
        return LEFT + j * CELL_W, TOP + (ny - i) * CELL_H

    for i in range(ny):
        for j in range(nx):
            if not ok[i, j]:
                continue
            # (neighbour row, neighbour col, edge from, edge to) in grid corner coordinates
            for di, dj, a, b in (
                (-1, 0, (j, i), (j + 1, i)),
                (1, 0, (j, i + 1), (j + 1, i + 1)),
                (0, -1, (j, i), (j, i + 1)),
                (0, 1, (j + 1, i), (j + 1, i + 1)),
            ):
                ii, jj = i + di, j + dj
                inside = 0 <= ii < ny and 0 <= jj < nx and ok[ii, jj]
                if not inside:
                    (x1, y1), (x2, y2) = px(*a), px(*b)
                    segs.append(f"M{x1},{y1}L{x2},{y2}")
    if not segs:
        return ""
    return (
        f'<path class="target-contour" d="{"".join(segs)}" stroke="#e8112d" stroke-width="3" '
        'fill="none" stroke-linecap="square"/>'
    )


def _colour_bar(scale: ColourScale, x: float, y: float, h: float) -> str:
    steps = 24
    parts = []
    for k in range(steps):
        v = scale.vmax - (scale.vmax - scale.vmin) * (k + 0.5) / steps
        parts.append(
            f'<rect x="{x}" y="{y + k * h / steps:.2f}" width="{BAR_W}" '
            f'height="{h / steps + 0.5:.2f}" fill="{scale.colour(v)}"/>'
        )
    for v, yy in ((scale.vmax, y + 4), (scale.vmin, y + h)):
        parts.append(f'<text x="{x + BAR_W + 3}" y="{yy}" font-size="9">{_num(v)}</text>')
    mid = y + h / 2
    parts.append(
        f'<text class="scale-label" x="{x + BAR_W + 40}" y="{mid}" font-size="9" '
        f'text-anchor="middle" transform="rotate(90 {x + BAR_W + 40} {mid})">'
        f"{_e(scale.short)}</text>"
    )
    return f'<g class="colour-bar">{"".join(parts)}</g>'


def nice_range(lo: float, hi: float) -> tuple[float, float]:
    """``lo, hi`` widened to round numbers (a flat range gets a unit-wide scale)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    if hi - lo < 1e-9:
        return lo - 0.5, hi + 0.5
    step = 10 ** math.floor(math.log10(hi - lo)) / 2
    return math.floor(lo / step) * step, math.ceil(hi / step) * step
