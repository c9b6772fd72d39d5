"""The explorer's figures (matplotlib ``Figure`` objects, no pyplot) and its settings summary."""

from __future__ import annotations

import numpy as np

from ketsim.apps.explorer.controls import (
    _UG_KG_MIN,
    AE_SHOWN,
    _amount_display,
    _rate_display,
)
from ketsim.apps.explorer.model import (
    TrialExplorer,
    patient_detail,
)
from ketsim.config.scenario import (
    Scenario,
    SwitchesSpec,
)
from ketsim.core.units import Amount, Rate
from ketsim.sim.design import dosing_end_h

# -- figures (matplotlib without pyplot: safe in the server's threads) ---------------------------
_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def arm_color(g: int) -> str:
    """Colour of arm (or sequence) ``g`` in every plot."""
    return _COLORS[g % len(_COLORS)]


def _figure(rows: int = 1, height: float = 3.3, left: float = 0.13):
    from matplotlib.figure import Figure

    # fixed margins: matplotlib's layout engines double the drawing time of a step
    fig = Figure(figsize=(6.4, height), dpi=80)
    bottom = 0.45 / height
    fig.subplots_adjust(left=left, right=0.98, top=1 - 0.3 / height, bottom=bottom, hspace=0.3)
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    return fig, axes


def _empty(fig, ax, text: str):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_axis_off()
    return fig


def figure_nrs(explorer: TrialExplorer):
    """Mean daily NRS per arm (solid: observed diary; dashed: the model's expected pain)."""
    fig, (ax,) = _figure()
    if explorer.trial is None:
        return _empty(fig, ax, "no trial: see the message above")
    df = explorer.arm_daily_nrs()
    names, _ = explorer.arm_labels()
    for g, name in enumerate(names):
        d = df[df["arm"] == name]
        if d.empty:
            continue
        c = arm_color(g)
        ax.plot(d["day"], d["mean_nrs"], "-o", ms=2.5, lw=1.4, color=c, label=name)
        ax.plot(d["day"], d["mean_expected"], "--", lw=1, color=c, alpha=0.7)
    ax.axvline(0.5, color="0.5", lw=0.8, ls=":")
    ax.set_xlim(-explorer.baseline_days + 0.5, explorer.n_days + 0.5)
    ax.set_ylim(0, 10)
    ax.set_xlabel("diary day (≤ 0: baseline)")
    ax.set_ylabel("mean NRS")
    ax.set_title(f"mean daily pain by arm, day {explorer.day} of {explorer.n_days}", fontsize=10)
    ax.legend(loc="lower left", fontsize=8, ncol=3, frameon=False)
    return fig


def _x_window(explorer: TrialExplorer) -> tuple[float, float]:
    # the axis grows with the simulated days (at least a week, to see an infusion's course)
    return 0.0, max(float(explorer.day), 7.0) + 0.5


def _dosing_window(explorer: TrialExplorer) -> tuple[float, float]:
    """Days shown for concentrations and rates: growing with the simulated days, but no further
    than a week after the last scheduled dose (a 4-day infusion would be a sliver of 12 weeks)."""

    end_h = max(
        (dosing_end_h(sg.regimens) for g in explorer.trial.timeline.groups for sg in g.segments),
        default=0.0,
    )
    last = float(explorer.to_day(end_h)) + 7.0
    return 0.0, max(min(float(explorer.day), last), 7.0) + 0.5


def _patient_lines(explorer: TrialExplorer, ax, values: np.ndarray, selected: int | None, step):
    """One thin line per patient in its arm's colour (one LineCollection: 60 separate lines
    take most of a step's drawing time), the selected patient in black on top."""
    from matplotlib.collections import LineCollection

    names, codes = explorer.arm_labels()
    e = explorer.n_events
    x = np.asarray(explorer.to_day(explorer.event_h[:e]), dtype=float)
    y = values[:e]
    if step and e > 1:  # post-steps: hold each value until the next event
        x = np.repeat(x, 2)[1:]
        y = np.repeat(y, 2, axis=0)[:-1]
    others = [i for i in range(explorer.n_patients) if i != selected]
    segs = [np.column_stack([x, y[:, i]]) for i in others]
    colors = [arm_color(int(codes[i])) for i in others]
    ax.add_collection(LineCollection(segs, colors=colors, linewidths=0.6, alpha=0.35))
    if selected is not None and 0 <= selected < explorer.n_patients:
        ax.plot(x, y[:, selected], color="black", lw=2.0, label=f"P{selected:03d}", zorder=5)
    for g, name in enumerate(names):  # legend entries for the arms
        ax.plot([], [], color=arm_color(g), label=name)
    ax.autoscale_view()
    ax.legend(loc="upper right", fontsize=7, frameon=False, ncol=3)


def figure_patients(explorer: TrialExplorer, selected: int | None = None):
    """Each patient's plasma S-ketamine and sensitization state at every event so far (the
    selected patient in black)."""
    fig, (ax1, ax2) = _figure(2, 4.2)
    if explorer.trial is None:
        _empty(fig, ax2, "")
        return _empty(fig, ax1, "no trial: see the message above")
    with explorer.lock:
        _patient_lines(explorer, ax1, explorer.cp, selected, step=False)
        _patient_lines(explorer, ax2, explorer.sens, selected, step=False)
    ax1.set_ylabel("plasma S-ketamine\n(ng/mL)")
    ax1.set_xlim(*_dosing_window(explorer))
    ax1.set_ylim(bottom=0)
    ax1.set_title("individual patients (the selected one in black)", fontsize=10)
    ax2.set_ylabel("sensitization")
    ax2.set_ylim(0, 1)
    ax2.set_xlim(*_x_window(explorer))
    ax2.set_xlabel("day")
    return fig


def _rate_unit(explorer: TrialExplorer) -> tuple[str, np.ndarray]:
    """Display unit of nominal rates and the factor from mg/h for each patient: µg/kg/min when
    the trial's infusions are dosed per kg (titration steps then read 1.2, 2.4, ...), else
    mg/h."""
    tm = explorer.trial
    per_kg = any(r.rate is not None and r.rate.per_kg for a in tm.scenario.arms for r in a.regimens)
    if per_kg:
        return "µg/kg/min", 1.0 / (tm.pop.weight_kg * _UG_KG_MIN)
    return "mg/h", np.ones(tm.n)


def figure_titration(explorer: TrialExplorer, selected: int | None = None):
    """Nominal infusion rate of each patient (thin steps; the selected one in black) and each
    arm's mean over its infused patients (thick)."""
    fig, (ax,) = _figure()
    if explorer.trial is None:
        return _empty(fig, ax, "no trial: see the message above")
    with explorer.lock:
        unit, factor = _rate_unit(explorer)
        e = explorer.n_events
        shown = explorer.rate[:e] * factor[None, :]
        _patient_lines(explorer, ax, shown, selected, step=True)
        names, codes = explorer.arm_labels()
        x = explorer.to_day(explorer.event_h[:e])
        for g, _ in enumerate(names):
            r = shown[:, codes == g]
            if r.size == 0:
                continue
            on = r > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(on.any(axis=1), np.where(on, r, 0).sum(axis=1) / on.sum(axis=1), 0)
            ax.step(x, mean, where="post", color=arm_color(g), lw=2.2, alpha=0.9)
    ax.set_xlim(*_dosing_window(explorer))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("day")
    ax.set_ylabel(f"nominal rate ({unit})")
    ax.set_title("titration: infusion rate per patient and arm mean (thick)", fontsize=10)
    return fig


def figure_ae(explorer: TrialExplorer):
    """Patients per arm with each adverse event so far, treatment stops and dropouts."""
    fig, (ax,) = _figure(left=0.24)
    if explorer.trial is None:
        return _empty(fig, ax, "no trial: see the message above")
    df = explorer.ae_counts()
    kinds = [*AE_SHOWN, "dropout"]
    labels = [*AE_SHOWN.values(), "dropout"]
    names, _ = explorer.arm_labels()
    width = 0.8 / max(1, len(df))
    y = np.arange(len(kinds))
    for k, (_, row) in enumerate(df.iterrows()):
        g = names.index(row["arm"])
        vals = [row[c] for c in kinds]
        ax.barh(y + k * width, vals, height=width, color=arm_color(g), label=row["arm"])
        for yy, v in zip(y + k * width, vals, strict=True):
            ax.text(v, yy, f" {v}/{row['n']}", va="center", fontsize=7)
    ax.set_yticks(y + width * (len(df) - 1) / 2, labels)
    ax.invert_yaxis()
    nmax = int(df["n"].max()) if len(df) else 1
    ax.set_xlim(0, nmax * 1.15)
    ax.set_xlabel("patients so far")
    ax.set_title(f"adverse events and dropouts, day {explorer.day}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    return fig


def figure_patient_diary(explorer: TrialExplorer, index: int):
    """One patient's diary: observed NRS (dots), expected pain (line), their arm's mean."""
    fig, (ax,) = _figure(1, 2.4)
    try:
        det = patient_detail(explorer, index)
    except ValueError as err:
        return _empty(fig, ax, str(err))
    names, codes = explorer.arm_labels()
    g = int(codes[index])
    arm = explorer.arm_daily_nrs()
    arm = arm[arm["arm"] == names[g]]
    ax.plot(arm["day"], arm["mean_nrs"], color=arm_color(g), lw=1, alpha=0.5, label="arm mean")
    ax.plot(det.diary["day"], det.diary["expected_nrs"], color="black", lw=1, label="expected")
    ax.plot(det.diary["day"], det.diary["nrs"], "o", ms=3, color="black", label="diary NRS")
    ax.set_xlim(-explorer.baseline_days + 0.5, explorer.n_days + 0.5)
    ax.set_ylim(-0.3, 10.3)
    ax.set_xlabel("diary day")
    ax.set_ylabel("NRS")
    ax.set_title(f"diary of {det.label}", fontsize=9)
    ax.legend(loc="lower left", fontsize=7, frameon=False, ncol=3)
    return fig


def settings_lines(sc: Scenario) -> list[str]:
    """The trial's settings in words, one line per arm and one for the switches that differ
    from their defaults (the sliders do not show their values: this does)."""
    lines = []
    for arm in sc.arms or []:
        parts = [f"n {arm.n}"] if arm.n is not None else []
        for reg in arm.regimens:
            p = reg.route.replace("_", " ")
            dose = reg.rate if reg.rate is not None else reg.amount
            if isinstance(dose, Rate | Amount):
                v, unit = (_rate_display if isinstance(dose, Rate) else _amount_display)(dose)
                p += f" {v:.4g} {unit}"
            else:  # varying between patients: its own words ("0.1-0.3 mg/kg/h")
                p += f" {dose.compiled()}"
            if reg.max is not None:
                p += f", at most {reg.max}"
            if reg.min is not None:
                p += f", at least {reg.min}"
            for st in reg.escalation or ():
                p += f", {st.dose} from {st.after:.4g} h"
            if reg.duration is not None:
                p += f" over {reg.duration:.4g} h"
            if reg.titration is not None:
                v, unit = _rate_display(reg.titration.max_rate)
                p += f", titrated up to {v:.4g} {unit}"
            if reg.repeats > 1:
                p += f", {reg.repeats} times every {reg.interval:.4g} h"
            if reg.start:
                p += f" from {reg.start:.4g} h"
            parts.append(p)
        lines.append(f"{arm.name} ({arm.treatment}): " + "; ".join(parts))
    d = sc.design
    if d.type == "crossover" and d.crossover is not None:
        lines.append(f"crossover: {d.crossover.n_per_sequence} patients per sequence")
    if d.type == "enrichment" and d.enrichment is not None:
        lines.append(f"enrichment: {d.enrichment.n} patients enter the open-label run-in")
    default = SwitchesSpec()
    changed = [
        f"{k} = {getattr(sc.switches, k)}"
        for k in SwitchesSpec.model_fields
        if getattr(sc.switches, k) != getattr(default, k)
    ]
    lines.append("switches: " + (", ".join(changed) if changed else "all at their defaults"))
    return lines
