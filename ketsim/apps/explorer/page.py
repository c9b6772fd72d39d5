"""The SolaraViz page of the explorer, built on demand (importing it needs solara)."""

from __future__ import annotations

import functools
import html
import os
import sys
import traceback
from typing import Any

import numpy as np

from ketsim.apps.explore_cli import SCENARIO_ENV
from ketsim.apps.explorer.controls import (
    model_params,
)
from ketsim.apps.explorer.figures import (
    arm_color,
    figure_ae,
    figure_nrs,
    figure_patient_diary,
    figure_patients,
    figure_titration,
    settings_lines,
)
from ketsim.apps.explorer.model import (
    TrialExplorer,
    patient_detail,
)
from ketsim.config.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
)
from ketsim.core.seeds import new_entropy


# -- the SolaraViz page (built lazily: solara is an optional dependency) ------------------------
def _fmt(v: Any) -> str:
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, float | np.floating):
        return "–" if v != v else f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _html_table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """A small HTML table (values escaped)."""
    style = "border-collapse:collapse;font-size:12px;margin:2px 0"
    cell = "padding:1px 6px;border-bottom:1px solid #ddd;text-align:left"
    out = [f'<table style="{style}">']
    if header:
        out.append("<tr>" + "".join(f'<th style="{cell}">{html.escape(h)}</th>' for h in header))
    for r in rows:
        out.append("<tr>" + "".join(f'<td style="{cell}">{html.escape(_fmt(v))}</td>' for v in r))
    out.append("</table>")
    return "".join(out)


@functools.lru_cache(maxsize=4)
def _page_scenario(path: str) -> tuple[Scenario | None, list[str]]:
    """The scenario the served page explores, or the problems that stop it (cached)."""
    if not path:
        return None, [f"no scenario: set {SCENARIO_ENV} or start the page with 'ketsim explore'"]
    try:
        sc = load_scenario(path)
    except ScenarioError as err:
        return None, [f"{path}: {p}" for p in err.problems]
    if not sc.arms:
        return None, [f"{path}: arms: required key is missing (the explorer runs a trial)"]
    return sc, []


@functools.cache
def _page_component():
    """Build the solara ``Page`` component (imports solara and mesa's SolaraViz)."""
    import warnings

    import solara

    with warnings.catch_warnings():
        # solara's hook linter flags a use_state in mesa's own ComponentsView at import
        warnings.simplefilter("ignore", UserWarning)
        from mesa.visualization import SolaraViz
        from mesa.visualization.utils import update_counter

    # the selected patient: module-level, but solara keeps one value per browser session
    selected = solara.reactive(0)

    def guarded(render):
        """Show a one-line message instead of a traceback if a panel cannot be drawn."""

        @functools.wraps(render)
        def wrapper(model):
            update_counter.get()  # re-render after every step
            try:
                return render(model)
            except Exception as err:  # a bug must not take the page down
                traceback.print_exc(file=sys.stderr)
                return solara.Error(f"cannot draw this panel: {type(err).__name__}: {err}")

        return wrapper

    def figure(fig, name: str):
        with solara.Div(classes=[f"ketsim-{name}"]) as div:
            solara.FigureMatplotlib(fig, format="png")
        return div

    def no_trial(model) -> bool:
        if model.trial is None:
            solara.Info("no trial to show: fix the controls (see the first panel)")
            return True
        return False

    def panel(name: str):
        # every panel scrolls inside its (resizable) grid cell rather than spilling out of it
        return solara.Column(classes=[f"ketsim-{name}"], gap="6px")

    @guarded
    def Overview(model):
        with panel("overview") as col:
            if model.error:
                solara.Error(
                    "The controls do not make a valid trial: change them, then press Reset.",
                    classes=["ketsim-error"],
                )
                for line in model.error:
                    solara.Text(line, classes=["ketsim-error-line"], style={"color": "#b00020"})
                return col
            sc = model.scenario
            solara.HTML(
                tag="div",
                unsafe_innerHTML=(
                    f"<b>{html.escape(sc.name)}</b>: {sc.design.type} design, "
                    f"{model.n_patients} patients, seed {sc.seed}. Change the controls on the "
                    "left, then press <b>Reset</b> to rebuild the trial from them; <b>Step</b> "
                    "simulates one day, ▶ plays the trial."
                ),
            )
            solara.Text(
                f"day {model.day} of {model.n_days}",
                classes=["ketsim-day"],
                style={"font-size": "18px", "font-weight": "bold"},
            )
            s = model.arm_summary()
            if len(s):
                cols = {
                    "n": "patients",
                    "in_study": "in study",
                    "baseline_nrs": "mean NRS at baseline",
                    "nrs_today": "mean NRS today",
                    "psychotomimetic": "psychotomimetic effects (patients)",
                    "nausea": "nausea (patients)",
                    "discontinued": "treatment stopped (patients)",
                    "dropout": "dropped out (patients)",
                    "infused_now": "on infusion now (patients)",
                    "rate_now_mg_h": "mean infusion rate now (mg/h)",
                }
                # one row per measure and one column per arm: every header stays whole and the
                # table fits its panel whatever the number of measures
                arms = [str(a) for a in s["arm"]]
                rows = [[label, *s[c].tolist()] for c, label in cols.items()]
                solara.HTML(
                    tag="div",
                    unsafe_innerHTML=_html_table(rows, ["today, by arm", *arms]),
                    classes=["ketsim-summary"],
                )
            solara.Text("this trial:", style={"font-weight": "bold", "font-size": "12px"})
            for line in settings_lines(sc):
                solara.Text(line, style={"font-size": "12px"}, classes=["ketsim-setting"])
        return col

    @guarded
    def NrsPlot(model):
        return figure(figure_nrs(model), "nrs")

    @guarded
    def PatientsPlot(model):
        if no_trial(model):
            return None
        return figure(figure_patients(model, selected.value), "patients")

    @guarded
    def TitrationPlot(model):
        if no_trial(model):
            return None
        return figure(figure_titration(model, selected.value), "titration")

    @guarded
    def AePlot(model):
        if no_trial(model):
            return None
        return figure(figure_ae(model), "ae")

    def current(model) -> int:
        return min(max(int(selected.value), 0), model.n_patients - 1)

    def tables(sections: dict[str, dict[str, Any]]) -> None:
        with solara.Row(gap="12px", style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            for name, sec in sections.items():
                with solara.Column(gap="0px"):
                    solara.Text(name, style={"font-weight": "bold", "font-size": "12px"})
                    rows = [[k, v] for k, v in sec.items()]
                    solara.HTML(tag="div", unsafe_innerHTML=_html_table(rows))

    @guarded
    def PatientPicker(model):
        if no_trial(model):
            return None
        n, idx = model.n_patients, current(model)
        _, codes = model.arm_labels()
        options = [model.patient_label(i) for i in range(n)]
        with panel("patient") as col:
            solara.Select(
                "patient (or click a tile below)",
                values=options,
                value=options[idx],
                on_value=lambda v: selected.set(options.index(v)),
            )
            # one clickable tile per patient, coloured by arm (grey: left the study)
            with solara.Row(gap="2px", style={"flex-wrap": "wrap"}):
                for i in range(n):
                    bg = arm_color(int(codes[i])) if model.trial.in_study[i] else "#9e9e9e"
                    border = "2px solid black" if i == idx else "2px solid transparent"
                    solara.Button(
                        f"{i}",
                        on_click=lambda i=i: selected.set(i),
                        classes=["ketsim-tile"],
                        style={
                            "min-width": "30px",
                            "width": "30px",
                            "height": "22px",
                            "padding": "0",
                            "font-size": "10px",
                            "color": "white",
                            "background-color": bg,
                            "border": border,
                        },
                        small=True,
                        depressed=True,
                    )
            det = patient_detail(model, idx)
            keep = ("patient", "genotype", "covariates")
            tables({k: v for k, v in det.sections.items() if k in keep})
        return col

    @guarded
    def PatientRecord(model):
        if no_trial(model):
            return None
        idx = current(model)
        det = patient_detail(model, idx)
        with panel("patient-record") as col:
            figure(figure_patient_diary(model, idx), "patient-diary")
            tables({k: v for k, v in det.sections.items() if k in ("now", "latent traits")})
            ev = det.events[det.events["event"] != "rate_mg_h"].tail(8)
            solara.Text("latest events", style={"font-weight": "bold", "font-size": "12px"})
            if len(ev):
                rows = [[r["day"], r["event"], r["value"]] for _, r in ev.iterrows()]
                solara.HTML(
                    tag="div", unsafe_innerHTML=_html_table(rows, ["day", "event", "value"])
                )
            else:
                solara.Text("none yet", style={"font-size": "12px"})
        return col

    components = [
        Overview,
        NrsPlot,
        PatientsPlot,
        TitrationPlot,
        PatientPicker,
        PatientRecord,
        AePlot,
    ]
    css = """
    .vue-grid-item > div { height: 100%; overflow: auto; }
    /* every slider shows its value at all times, not only while dragged (vuetify hides the
       thumb label otherwise); the extra top margin keeps a label clear of the slider above */
    .v-slider__thumb-label-container { display: block !important; }
    .v-input__slider { margin-top: 30px; }
    .ketsim-summary table { width: 100%; table-layout: auto; }
    .ketsim-summary th { white-space: normal; font-weight: 600; vertical-align: bottom; }
    .ketsim-nrs img, .ketsim-patients img, .ketsim-titration img, .ketsim-ae img,
    .ketsim-patient-diary img { max-width: 100%; height: auto; }
    """

    @solara.component
    def Page():
        sc, problems = _page_scenario(os.environ.get(SCENARIO_ENV, ""))

        def initial():
            if sc is None:
                return None, None

            # a scenario without a seed gets a fresh one, shown (and editable) in the seed box
            seed = sc.seed if sc.seed is not None else new_entropy()
            params = model_params(sc, seed)
            values = {k: v["value"] for k, v in params.items() if isinstance(v, dict)}
            return params, TrialExplorer(base=sc, **values)

        # hooks before any early return (solara's rules of hooks)
        params, model = solara.use_memo(initial, [])
        if sc is None:
            solara.Title("ketsim explorer")
            for p in problems:
                solara.Error(p)
            return
        solara.Title(f"ketsim explorer · {sc.name}")
        solara.Style(css)
        SolaraViz(
            model,
            components=components,
            model_params=params,
            name=f"ketsim explorer · {sc.name}",
            play_interval=150,
        )

    return Page
