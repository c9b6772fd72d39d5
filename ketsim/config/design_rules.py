"""Cross-field rules of a scenario's design: crossover sequences, dosing ends, and the checks that
arms, design, endpoints and analyses fit together.

They belong to the configuration layer because validating a scenario (:meth:`Scenario` model
validator) runs them; the simulation layer's :mod:`ketsim.sim.design` builds timelines on them.
Messages start with the YAML path of the offending value.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ketsim.config.scenario import Scenario

__all__ = ["HOURS_PER_WEEK", "METHODS", "check_design", "crossover_sequences", "dosing_end_h"]

HOURS_PER_WEEK = 168.0

#: analysis methods allowed for each endpoint kind
METHODS = {
    "continuous": ("t_test", "welch", "ancova", "wilcoxon", "mmrm", "crossover"),
    "binary": ("fisher", "chi2", "chi2_yates", "logistic"),
    "time_to_event": ("logrank",),
}


#: endpoints a crossover analysis accepts (one value per patient and period)
CROSSOVER_ENDPOINTS = (
    "auc",
    "weekly_mean",
    "change_from_baseline",
    "session_score",
    "session_relief",
    "peak_session_relief",
)


# -- crossover sequences --------------------------------------------------------------------------
def crossover_sequences(spec: list[list[str]] | str, arm_names: list[str]) -> list[list[str]]:
    """Expand a sequence generator into explicit orders of arm names.

    ``latin_square``: the cyclic Latin square (each arm once per period); ``williams``: a Williams
    design, balanced for first-order carry-over (Williams 1949; for an odd number of treatments
    the square and its mirror image); ``all``: every permutation.

    References
    ----------
    Williams EJ. Experimental designs balanced for the estimation of residual effects of
    treatments. Aust J Sci Res A 1949;2:149-68.
    """
    if not isinstance(spec, str):
        return [list(s) for s in spec]
    t = len(arm_names)
    if spec == "all":
        return [list(p) for p in itertools.permutations(arm_names)]
    if spec == "latin_square":
        return [[arm_names[(i + j) % t] for j in range(t)] for i in range(t)]
    # Williams: first row 0, 1, t-1, 2, t-2, ...; later rows add i (mod t)
    first = [0]
    lo, hi = 1, t - 1
    for j in range(1, t):
        if j % 2 == 1:
            first.append(lo)
            lo += 1
        else:
            first.append(hi)
            hi -= 1
    rows = [[(x + i) % t for x in first] for i in range(t)]
    if t % 2 == 1:
        rows += [r[::-1] for r in rows]
    return [[arm_names[x] for x in r] for r in rows]


def dosing_end_h(regimens) -> float:
    """End (h) of the last scheduled infusion or dose of a list of (shifted) regimens."""
    end = 0.0
    for r in regimens:
        starts = r.start_times()
        last = float(starts[-1]) if len(starts) else r.start
        end = max(end, last + (r.duration or 0.0))
    return end


def check_design(sc: Scenario) -> None:
    """Cross-field checks of arms, design, endpoints and analyses (raises ``ValueError``).

    Messages start with the YAML path of the offending value.
    """
    arms = sc.arms or []
    names = [a.name for a in arms]
    d = sc.design
    if d.type == "parallel":
        for i, a in enumerate(arms):
            if a.n is None:
                raise ValueError(f"arms[{i}].n: required in a parallel design (patients per arm)")
        if d.extension is not None:
            for j, nm in enumerate(d.extension.arms):
                if nm not in names:
                    raise ValueError(
                        f"design.extension.arms[{j}]: unknown arm '{nm}'; arms: {', '.join(names)}"
                    )
    elif d.type == "crossover":
        cx = d.crossover
        for i, a in enumerate(arms):
            if a.n is not None:
                raise ValueError(
                    f"arms[{i}].n: not used in a crossover; size it with "
                    "design.crossover.n_per_sequence"
                )
        seqs = crossover_sequences(cx.sequences, names)
        if not seqs:
            raise ValueError("design.crossover.sequences: at least one sequence is needed")
        n_per = len(seqs[0])
        for i, s in enumerate(seqs):
            if len(s) != n_per or not s:
                raise ValueError(
                    f"design.crossover.sequences[{i}]: every sequence needs the same number "
                    f"of periods ({n_per})"
                )
            for j, nm in enumerate(s):
                if nm not in names:
                    raise ValueError(
                        f"design.crossover.sequences[{i}][{j}]: unknown arm '{nm}'; arms: "
                        f"{', '.join(names)}"
                    )
        if isinstance(cx.n_per_sequence, list) and len(cx.n_per_sequence) != len(seqs):
            raise ValueError(
                f"design.crossover.n_per_sequence: one size per sequence: {len(seqs)} "
                f"sequence(s), {len(cx.n_per_sequence)} size(s) given"
            )
        for i, a in enumerate(arms):
            if dosing_end_h(a.regimens) > cx.period_weeks * HOURS_PER_WEEK:
                raise ValueError(
                    f"arms[{i}].regimens: dosing must end within a period ({cx.period_weeks} weeks)"
                )
        if "weeks" in sc.trial.model_fields_set:
            raise ValueError(
                "trial.weeks: not used in a crossover (periods x period_weeks + washouts)"
            )
    elif d.type == "enrichment":
        for i, a in enumerate(arms):
            if a.n is not None:
                raise ValueError(
                    f"arms[{i}].n: not used in an enrichment design; responders are randomised "
                    "by arms[].ratio (enrol with design.enrichment.n)"
                )
        if len(arms) < 2:
            raise ValueError("arms: an enrichment design randomises responders to >= 2 arms")
        if dosing_end_h(d.enrichment.regimens) > d.enrichment.run_in_weeks * HOURS_PER_WEEK:
            raise ValueError("design.enrichment.regimens: run-in dosing must end within the run-in")
    tl_weeks = _weeks(sc)
    if d.diary_weeks is not None:
        bad = [w for w in d.diary_weeks if w > tl_weeks]
        if bad:
            raise ValueError(
                f"design.diary_weeks: weeks {bad} are after the trial ({tl_weeks} weeks)"
            )
    _check_analyses(sc, names)


def _weeks(sc: Scenario) -> int:
    d = sc.design
    if d.type == "crossover":
        cx = d.crossover
        p = len(crossover_sequences(cx.sequences, [a.name for a in sc.arms or []])[0])
        return p * cx.period_weeks + (p - 1) * cx.washout_weeks
    if d.type == "enrichment":
        return d.enrichment.run_in_weeks + sc.trial.weeks
    return sc.trial.weeks + (d.extension.weeks if d.extension else 0)


def _phase_weeks(sc: Scenario) -> int:
    """Weeks over which endpoints of the randomised phase may be defined."""
    d = sc.design
    if d.type == "crossover":
        return d.crossover.period_weeks
    return sc.trial.weeks


def assessment_offsets(a, session_h: float) -> list[float]:
    """Offsets (h, from the session's start or end as ``a.relative_to``) of an assessment's
    readings in a session lasting ``session_h``: its ``times``, or every ``a.every`` up to the
    end."""
    if a.times is not None:
        return list(a.times)
    n = int(session_h / a.every + 1e-9)
    return [a.every * (k + 1) for k in range(n)]


def _check_session_endpoint(sc: Scenario, e, path: str) -> None:
    """A session endpoint names a declared assessment and, with a ``time``, one of its offsets."""
    by_name = {a.name: a for a in sc.assessments}
    a = by_name.get(e.assessment)
    if a is None:
        raise ValueError(
            f"{path}.assessment: unknown assessment '{e.assessment}'; declared: "
            f"{', '.join(by_name) or '(none)'}"
        )
    if e.type == "session_score" and a.scale == "percent_relief":
        raise ValueError(
            f"{path}.type: assessment '{a.name}' is read as % relief: use session_relief"
        )
    if e.time is None:
        return
    if a.times is not None:
        ok = any(abs(e.time - t) < 1e-9 for t in a.times)
    else:
        k = e.time / a.every
        ok = e.time > 0 and abs(k - round(k)) < 1e-6
    if not ok:
        raise ValueError(
            f"{path}.time: {e.time * 60:g} min is not a reading of assessment '{a.name}'"
        )


def _check_analyses(sc: Scenario, names: list[str]) -> None:
    d = sc.design
    eps = {e.name: e for e in sc.endpoints}
    if len(eps) != len(sc.endpoints):
        raise ValueError("endpoints: names must be unique")
    if len({a.name for a in sc.assessments}) != len(sc.assessments):
        raise ValueError("assessments: names must be unique")
    span = _phase_weeks(sc)
    for i, e in enumerate(sc.endpoints):
        if e.week is not None and e.week > span:
            raise ValueError(f"endpoints[{i}].week: {e.week} is after the phase ({span} weeks)")
        if e.days is not None and e.days[1] > 7 * span:
            raise ValueError(
                f"endpoints[{i}].days: day {e.days[1]} is after the phase ({7 * span} days)"
            )
        if e.assessment is not None:
            _check_session_endpoint(sc, e, f"endpoints[{i}]")
        if e.anchor == "treatment_end" and d.type == "crossover":
            raise ValueError(
                f"endpoints[{i}].anchor: treatment_end is for parallel and enrichment designs"
            )
    arms = sc.arms or []
    for i, a in enumerate(sc.analyses):
        p = f"analyses[{i}]"
        if a.endpoint not in eps:
            raise ValueError(
                f"{p}.endpoint: unknown endpoint '{a.endpoint}'; declared: "
                f"{', '.join(eps) or '(none)'}"
            )
        e = eps[a.endpoint]
        if a.method not in METHODS[e.kind]:
            raise ValueError(
                f"{p}.method: {a.method} does not fit the {e.kind} endpoint '{e.name}'; "
                f"allowed: {', '.join(METHODS[e.kind])}"
            )
        if (a.method == "crossover") != (d.type == "crossover") and e.kind == "continuous":
            raise ValueError(
                f"{p}.method: "
                + (
                    "a crossover design is analysed with method crossover"
                    if d.type == "crossover"
                    else "method crossover needs design type crossover"
                )
            )
        if d.type == "crossover" and e.type not in CROSSOVER_ENDPOINTS:
            raise ValueError(
                f"{p}: crossover designs support {', '.join(CROSSOVER_ENDPOINTS)} endpoints"
            )
        if a.method == "mmrm" and e.type not in ("change_from_baseline", "weekly_mean"):
            raise ValueError(
                f"{p}.method: mmrm needs a weekly endpoint (change_from_baseline, weekly_mean)"
            )
        if a.strategy == "hypothetical" and a.method not in ("mmrm", "crossover"):
            raise ValueError(
                f"{p}.strategy: hypothetical (missing at random after discontinuation) needs "
                "method mmrm (or crossover)"
            )
        if a.strategy == "composite" and e.kind != "binary":
            raise ValueError(f"{p}.strategy: composite needs a binary endpoint (responder)")
        if a.carryover:
            if a.method != "crossover":
                raise ValueError(f"{p}.carryover: only used by method crossover")
            seqs = crossover_sequences(d.crossover.sequences, names)
            if len(seqs[0]) == 2 and all(s[0] != s[1] for s in seqs):
                raise ValueError(
                    f"{p}.carryover: in a two-period design with only switching sequences "
                    "(AB/BA) carry-over is aliased with the sequence effect; use three periods "
                    "(e.g. ABB/BAA), add AA/BB sequences (Balaam), or read the model's "
                    "carry-over diagnostic"
                )
        if a.multiplicity == "dunnett" and a.method not in ("t_test", "ancova"):
            raise ValueError(f"{p}.multiplicity: dunnett needs method t_test or ancova")
        for key in ("control",):
            v = getattr(a, key)
            if v is not None and v not in names:
                raise ValueError(f"{p}.{key}: unknown arm '{v}'; arms: {', '.join(names)}")
        if a.compare is not None:
            for j, v in enumerate(a.compare):
                if v not in names:
                    raise ValueError(
                        f"{p}.compare[{j}]: unknown arm '{v}'; arms: {', '.join(names)}"
                    )
        if a.control is None and not any(x.treatment != "ketamine" for x in arms):
            raise ValueError(f"{p}.control: no placebo arm; name the control arm")
        if a.method == "mmrm" and (e.week is None or e.anchor != "start"):
            raise ValueError(
                f"{p}.method: mmrm needs an endpoint with a 'week' counted from the start "
                f"(endpoint '{e.name}' has {'days' if e.week is None else 'anchor treatment_end'})"
            )
        if a.visits is not None:
            if a.method != "mmrm":
                raise ValueError(f"{p}.visits: only used by method mmrm")
            if e.week not in a.visits:
                raise ValueError(f"{p}.visits: must include the endpoint's week {e.week}")
            if any(v < 1 or v > span for v in a.visits):
                raise ValueError(f"{p}.visits: weeks must lie in 1..{span}")
