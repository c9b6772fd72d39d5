"""Report panels about the design: the question the run answers and the assumptions it makes."""

from __future__ import annotations

import pandas as pd

from ketsim.apps.report.html_parts import (
    _e,
    _section,
    _table,
)
from ketsim.apps.schema_doc import pd_parameter_sources
from ketsim.apps.schema_doc.reference import cite_docs
from ketsim.config.scenario import SwitchesSpec
from ketsim.core.pd.parameters import PDParameters
from ketsim.storage.reader import (
    RunTables,
)


# -- panels ------------------------------------------------------------------------------------
def _regimen_words(r) -> str:
    d = r.model_dump(mode="json", exclude_defaults=True)
    parts = [d.pop("route").replace("_", " ")]
    for k in ("rate", "amount", "duration", "start", "repeats", "interval"):
        if k in d:
            parts.append(f"{k} {d.pop(k)}")
    if "titration" in d:
        t = d.pop("titration")
        # "titrated in steps of 0.072 mg/kg/h between 0.072 and 0.432 mg/kg/h" rather than the
        # scenario keys
        words = []
        if "step" in t:
            words.append(f"in steps of {t.pop('step')}")
        lo, hi = t.pop("min_rate", None), t.pop("max_rate", None)
        if lo is not None and hi is not None:
            words.append(f"between {lo} and {hi}")
        elif hi is not None:
            words.append(f"up to {hi}")
        elif lo is not None:
            words.append(f"from {lo}")
        words += [f"{k.replace('_', ' ')} {v}" for k, v in t.items()]
        parts.append("titrated " + ", ".join(words))
    return "; ".join(parts)


def _question(run: RunTables, sc) -> str:
    d = sc.design
    arms = sc.arms or []
    items = []
    for a in arms:
        size = f"{a.n} patients" if a.n is not None else f"ratio {a.ratio}"
        regs = " + ".join(_regimen_words(r) for r in a.regimens)
        items.append(
            f"<li><b>{_e(a.name)}</b> ({_e(size)}): {_e(a.treatment.replace('_', ' '))}, "
            f"{_e(a.blinding.replace('_', ' '))}; {_e(regs)}</li>"
        )
    design = {
        "parallel": "a randomised parallel-group trial",
        "crossover": "a randomised crossover trial",
        "enrichment": "an enriched-enrolment randomised-withdrawal (EERW) trial",
    }[d.type]
    extra = ""
    if d.type == "crossover":
        cx = d.crossover
        extra = (
            f" Sequences {_e(cx.sequences)}, {cx.n_per_sequence} patients per sequence, periods of "
            f"{cx.period_weeks} weeks with {cx.washout_weeks} weeks of washout."
        )
    elif d.type == "enrichment":
        en = d.enrichment
        extra = (
            f" {en.n} patients enter a {en.run_in_weeks}-week open-label run-in; those at least "
            f"{en.threshold_pct:g}% below baseline are randomised."
        )
    eps = "".join(
        f"<li>{_e(e.name)}: {_e(e.type.replace('_', ' '))}"
        + (f", week {e.week}" if e.week else "")
        + (f", days {e.days[0]}-{e.days[1]}" if e.days else "")
        + (", counted from the end of dosing" if e.anchor == "treatment_end" else "")
        + "</li>"
        for e in sc.endpoints
    )
    st = sc.statistics
    ans = "".join(
        f"<li>{_e(a.endpoint)}: {_e(a.method)} ({_e(a.strategy.replace('_', ' '))})"
        + (f", {a.multiplicity} adjustment" if a.multiplicity != "none" else "")
        + "</li>"
        for a in sc.analyses
    )
    man = run.manifest
    R = man.get("replicates", "?")
    null = man.get("key", {}).get("null")
    q = (
        f"What is the chance that this trial rejects the null hypothesis for each declared "
        f"analysis (alpha {st.alpha:g}, {st.sides}-sided), if the model's assumptions hold? "
        f"Estimated from {_e(R)} simulated trials."
    )
    if run.kind == "sweep":
        cells = run.table("sweep_cells")
        nc = 0 if cells is None else len(cells)
        q = (
            f"How does the chance that this trial rejects the null hypothesis (alpha "
            f"{st.alpha:g}, {st.sides}-sided) change over the {nc} cells of the sweep, if the "
            f"model's assumptions hold? Estimated from {_e(R)} simulated trials per cell. The "
            "design below is the base scenario; each cell changes only the swept values."
        )
    if null:
        q = (
            f"Type-I error: every arm received the control treatment; the rejection rates "
            f"below are false-positive rates, from {_e(R)} simulated trials."
        )
    body = [
        f"<p class='lead'>{q}</p>",
        f"<p><b>{_e(sc.name)}</b>: {_e(sc.description or '')}</p>",
    ]
    if sc.reference:
        body.append(f"<p class='ref'>Reference: {_e(sc.reference)}</p>")
    body.append(
        f"<p>Design: {design} of {_e(sc.drug)} in {_e(sc.population.indication)} patients, "
        f"{sc.trial.weeks} weeks of daily pain diaries after {sc.trial.baseline_days} "
        f"baseline days.{extra}</p><ul>{''.join(items)}</ul>"
    )
    body.append(f"<p>Endpoints:</p><ul>{eps}</ul><p>Analyses:</p><ul>{ans}</ul>")
    return _section("question", "The question and the design", "".join(body))


def _assumptions(sc, sweep: bool = False) -> str:

    rows = []
    for name, f in SwitchesSpec.model_fields.items():
        v = getattr(sc.switches, name)
        default = f.default
        rows.append(
            {
                "switch": name,
                "value": v if not isinstance(v, bool) else ("on" if v else "off"),
                "default": default
                if not isinstance(default, bool)
                else ("on" if default else "off"),
                "changed": "changed" if v != default else "",
                "source": cite_docs(f.description or "", markdown=False),
            }
        )
    sw = pd.DataFrame(rows)
    body = [
        "<p>The model's uncertain assumptions are switches; the values used in this run, their "
        "defaults and their sources (H: read from the paper, M: secondary source, L: "
        "assumption)."
        + (
            " A sweep runs them as set here; the power report of a single design shows how "
            "power moves when the contested ones are flipped.</p>"
            if sweep
            else " The sensitivity panel below shows how power moves when the contested ones "
            "are flipped.</p>"
        ),
        _table(
            sw,
            {
                "switch": "switch",
                "value": "value",
                "default": "default",
                "changed": "changed from default",
                "source": "source",
            },
        ),
    ]

    src = {k: cite_docs(v, markdown=False) for k, v in pd_parameter_sources().items()}
    if sc.pd:
        pdrows = pd.DataFrame(
            [{"parameter": k, "value": v, "source": src.get(k, "")} for k, v in sc.pd.items()]
        )
        body.append("<p>PD parameters overridden by the scenario:</p>")
        body.append(
            _table(
                pdrows,
                {"parameter": "parameter", "value": "value", "source": "default's source"},
                4,
            )
        )
    key = [
        "acute_c50_ng_ml",
        "slow_c50_ng_ml",
        "responder_probability",
        "placebo_responder_probability",
        "psy_threshold_median",
        "fluctuation_sd",
    ]

    defaults = PDParameters()
    krows = [
        {"parameter": k, "value": getattr(defaults, k), "source": src.get(k, "")}
        for k in key
        if hasattr(defaults, k) and k not in sc.pd
    ]
    if krows:
        body.append("<p>Key PD defaults (all: <code>ketsim/core/pd/parameters.py</code>):</p>")
        body.append(
            _table(
                pd.DataFrame(krows),
                {"parameter": "parameter", "value": "value", "source": "source"},
                4,
            )
        )
    body.append(
        f"<p>PK parameter set: {_e(sc.parameter_set)}; drug {_e(sc.drug)}; population: "
        f"{_e(sc.population.indication)}, {sc.population.female_fraction:.0%} women.</p>"
    )
    return _section("assumptions", "Assumptions and their sources", "".join(body))
