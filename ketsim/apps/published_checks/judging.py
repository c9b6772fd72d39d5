"""Judging simulated against published values under each expectation's tolerance:
:func:`validate_scenario` and :func:`validate_paths`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ketsim.config.scenario import (
    ANY_AE_DEFAULT,
    PK_QUANTITIES,
    PROPORTION_QUANTITIES,
    ExpectedSpec,
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
)
from ketsim.core.seeds import root_entropy

if TYPE_CHECKING:
    pass
from ketsim.apps.published_checks.pk_checks import (
    _run_pk,
)
from ketsim.apps.published_checks.summaries import (
    _BASE,
    COLUMNS,
    DEFAULT_REPLICATES,
    _bootstrap_rng,
    _is_trial,
    _p_of_z,
    _Row,
    _rows,
    _variant_key,
    _z_of_p,
    searched_weeks,
)
from ketsim.apps.published_checks.trial_checks import (
    _finish_trial_row,
    _run_trials,
)


# -- judging --------------------------------------------------------------------------------------
def _bounds(row: _Row) -> tuple[float, float, str]:
    """Acceptance interval on the quantity's scale and its description."""
    e = row.spec
    v = e.value
    if e.relation == "below":
        return -math.inf, v, f"< {v:g}"
    if e.relation == "above":
        return v, math.inf, f"> {v:g}"
    t = e.tolerance
    kind = t.kind
    if kind == "k_se" and e.quantity == "proportion_ratio":
        f = math.exp(t.k_se * e.published_se())  # on the log scale
        return v / f, v * f, f"×/÷{f:.3g} ({t.k_se:g} SE of log)"
    if kind == "k_se":
        tol = t.k_se * e.published_se()
        return v - tol, v + tol, f"±{tol:.3g} ({t.k_se:g} SE)"
    if kind == "abs":
        return v - t.abs, v + t.abs, f"±{t.abs:g}"
    if kind == "rel":
        tol = t.rel * abs(v)
        return v - tol, v + tol, f"±{100 * t.rel:g}% (±{tol:.3g})"
    if kind == "ci":
        lvl = f"{100 * e.ci_level:g}%"
        return e.ci[0], e.ci[1], f"in the published {lvl} CI"
    if kind == "z":
        zp = float(_z_of_p(np.array([v]), e.sides)[0])
        lo = _p_of_z(zp + t.z, e.sides)
        hi = _p_of_z(zp - t.z, e.sides) if zp - t.z > 0 else 1.0
        return lo, hi, f"|Δz| ≤ {t.z:g} (z = {zp:.2f})"
    # tail
    if v == 1.0:
        return t.tail, 1.0, f"≥ {t.tail:g} of trials"
    return 0.0, 1.0 - t.tail, f"≤ {1 - t.tail:g} of trials"


def _judge(row: _Row) -> tuple[bool, bool, float, float, str]:
    """(passed, decisive, lower, upper, tolerance text)."""
    e = row.spec
    lo, hi, text = _bounds(row)
    x, se = row.value, row.mc_se
    if math.isnan(x):
        return False, True, lo, hi, text
    if e.tolerance is not None and e.tolerance.kind == "z":
        zp = float(_z_of_p(np.array([e.value]), e.sides)[0])
        margin = e.tolerance.z - abs(row.z - zp)
        se = row.z_se
        passed = margin >= 0
    elif row.censored:
        # the simulated value is only a lower bound
        passed = math.isinf(hi) and x > lo
        margin = (x - lo) if passed else -math.inf
    else:
        if e.relation == "below":
            passed, margin = x < hi, hi - x
        elif e.relation == "above":
            passed, margin = x > lo, x - lo
        else:
            passed = lo <= x <= hi
            margin = min(x - lo, hi - x)
    # NaN MC SE (a single replicate): undecided; 0 (the typical patient): exact
    close = math.isnan(se) or (0 < se and abs(margin) <= 2 * se)
    decisive = not (math.isfinite(margin) and close)
    return bool(passed), bool(decisive), lo, hi, text


def _unit(e: ExpectedSpec) -> str:
    q = e.quantity
    if q in ("arm_mean", "arm_difference", "median_nrs"):
        return "NRS change" if e.scale == "change_from_baseline" else "NRS"
    if q == "week_of_largest_difference":
        return "week"
    if q == "p_value":
        return "p" if (e.statistic or "median") == "median" else "fraction of trials"
    if q in ("proportion", "any_ae"):
        return "fraction"
    if q == "proportion_difference":
        return "difference of fractions"
    if q == "end_rate":
        return "mg/h/70 kg"
    if q == "lasting_effect_days":
        return "days"
    if q in ("pk_cmax", "pk_concentration"):
        return "ng/mL"
    if q == "pk_auc":
        return "ng·h/mL"
    if q in ("pk_tmax", "pk_half_life"):
        return e.unit
    return "ratio"


def _selector(row: _Row) -> str:
    e = row.spec
    q = e.quantity
    parts: list[str] = []
    if e.arm is not None:
        parts.append(f"{e.arm} vs {e.control}" if e.control else e.arm)
    if q in ("arm_mean", "arm_difference", "p_value", "median_nrs", "week_of_largest_difference"):
        if q == "week_of_largest_difference":
            weeks = f"weeks {e.weeks[0]}-{e.weeks[1]}" if e.weeks else "every week"
            parts += [f"largest {e.control} - {e.arm} in {weeks}", e.measure]
        elif e.measure == "day":
            parts.append(f"day {e.day}")
        elif q == "p_value" and (e.statistic or "median") == "fraction_all_significant":
            parts.append(f"weeks {e.weeks[0]}-{e.weeks[1]}" if e.weeks else f"week {e.week}")
            parts.append(e.measure)
        else:
            parts.append(f"week {row.week}")
            parts.append(e.measure)
        if e.scale != "nrs":
            parts.append(e.scale)
        if e.anchor != "start":
            parts.append(f"from {e.anchor}")
    if q == "p_value":
        parts.append(f"{e.test}, {e.statistic or 'median'}")
        if (e.statistic or "median") != "median":
            parts.append(f"alpha {e.alpha:g}")
    if q in PROPORTION_QUANTITIES:
        if e.event is not None:
            what = e.event + (f" week {e.week} ({e.threshold_pct:g}%)" if e.week else "")
        else:
            what = "any of " + ", ".join(e.events or ANY_AE_DEFAULT)
        parts.append(what)
        if q == "proportion_ratio":
            parts.append("ratio of the mean proportions")
        if e.anchor != "start":
            parts.append(f"from {e.anchor}")
    if q == "lasting_effect_days":
        if e.fraction is not None:
            how = f"{e.fraction:g} x its start"
        else:
            how = f"{e.threshold:g}" if e.threshold is not None else ""
        parts.append(
            {
                "difference_below": f"difference below {how}",
                "slow_below_c50": "slow compartment below "
                + (f"{e.threshold:g} ng/mL" if e.threshold else "C50"),
                "drive_below": f"drive below {how}",
            }[e.definition]
        )
    if q in PK_QUANTITIES:
        an = e.analyte + (f"/{e.ratio_analyte}" if e.ratio_analyte else "")
        parts.append(an if e.enantiomer == "S" else f"{e.enantiomer}-{an}")
        if q == "pk_ratio":
            parts.append(e.ratio_of)
        if e.time is not None:
            parts.append(f"at {e.time:g} h")
        if e.window is not None:
            parts.append(f"{e.window[0]:g}-{e.window[1]:g} h")
    if q in PK_QUANTITIES or (q == "lasting_effect_days" and e.definition != "difference_below"):
        parts.append(e.statistic or "mean")
    if e.overrides:
        parts.append("with overrides")
    return ", ".join(parts)


def _fraction_text(e: ExpectedSpec) -> str:
    """Published value of a p-value fraction: one trial's outcome (tolerance ``tail``, value 0
    or 1) or a probability over trials (a bound or a fraction, e.g. Noppers 2010's 0.85)."""
    every = e.statistic == "fraction_all_significant"
    what = "significant in every week" if every else "significant"
    if e.tolerance is not None and e.tolerance.kind == "tail":
        return what if e.value == 1 else f"not {what}"
    rel = {"below": "< ", "above": "> "}.get(e.relation, "")
    return f"{what} in {rel}{100 * e.value:g}% of trials"


def _published_text(e: ExpectedSpec) -> str:
    if e.quantity == "p_value" and (e.statistic or "median") != "median":
        return _fraction_text(e)
    if e.quantity == "p_value":
        txt = f"P = {e.value:g}"
    else:
        txt = f"{e.value:g}"
    if e.se is not None:
        txt += f" ± {e.se:g} (SE{' of log' if e.quantity == 'proportion_ratio' else ''})"
    elif e.sd is not None:
        txt += f" ± {e.sd:g} (SD)"
    if e.ci is not None:
        txt += f" ({100 * e.ci_level:g}% CI {e.ci[0]:g}-{e.ci[1]:g})"
    if e.n is not None:
        txt += f", n = {e.n}"
    if e.relation == "below":
        txt = f"< {e.value:g}" if e.quantity != "p_value" else f"P < {e.value:g}"
    elif e.relation == "above":
        txt = f"> {e.value:g}"
    return txt


_WITHIN = {
    "arm_difference": "crossover: mean within-patient difference between the periods",
    "week_of_largest_difference": "crossover: mean within-patient differences per week",
    "p_value": "crossover: paired test of the within-patient differences",
}


def _design_note(e: ExpectedSpec, variants: dict[str, Scenario]) -> str:
    """How a crossover changes the quantity's meaning (empty otherwise)."""
    sc = variants[_variant_key(e)]
    if not _is_trial(e) or sc.design.type != "crossover":
        return ""
    if e.quantity in _WITHIN:
        return _WITHIN[e.quantity]
    return "crossover: over the (patient, period) units on the arm"


# -- one scenario ---------------------------------------------------------------------------------
def validate_scenario(
    path_or_scenario: str | Path | Scenario,
    replicates: int = DEFAULT_REPLICATES,
    seed: int | None = None,
    jobs: int = 1,
) -> pd.DataFrame:
    """Compute every ``expected:`` item of a scenario from simulated replicates and judge it.

    Parameters
    ----------
    path_or_scenario : a scenario file or a validated :class:`~ketsim.config.scenario.Scenario`.
    replicates : replicate trials (or replicate PK studies of ``population.n`` patients).
    seed : root entropy; default the scenario's ``seed``, else fresh (see the ``seed`` column).
    jobs : worker processes for the trial simulations (loky); results do not depend on it.

    Returns
    -------
    pandas.DataFrame
        One row per check (a ``p_value`` profile over ``weeks`` gives one row per week) with the
        columns :data:`COLUMNS`; empty if the scenario has no ``expected:``.

    Raises
    ------
    ScenarioError
        If the file cannot be read or is not a valid scenario.
    ValueError
        If ``replicates`` or ``jobs`` is < 1, or a quantity cannot be computed.
    """
    if isinstance(path_or_scenario, Scenario):
        sc, file = path_or_scenario, ""
    else:
        sc, file = load_scenario(path_or_scenario), str(path_or_scenario)
    if replicates < 1:
        raise ValueError(f"replicates must be >= 1 (got {replicates})")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1 (got {jobs})")
    if not sc.expected:
        return pd.DataFrame(columns=COLUMNS)
    entropy = root_entropy(seed, sc.seed)
    rows = _rows(sc)
    variants: dict[str, Scenario] = {_BASE: sc}
    for e in sc.expected:
        k = _variant_key(e)
        if k not in variants:
            variants[k] = apply_overrides(sc, e.overrides)
    rng = _bootstrap_rng(entropy)
    # trial expectations: one batch of replicates per scenario variant
    trial_specs: dict[str, list[tuple[int, ExpectedSpec]]] = {}
    for i, e in enumerate(sc.expected):
        if _is_trial(e):
            trial_specs.setdefault(_variant_key(e), []).append((i, e))
    results: dict[int, np.ndarray] = {}
    for key, specs in trial_specs.items():
        results.update(_run_trials(variants[key], specs, entropy, replicates, jobs))
    for r in rows:
        if _is_trial(r.spec):
            weeks = searched_weeks(r.spec, variants[_variant_key(r.spec)])
            _finish_trial_row(r, results[r.index], weeks, rng)
    pk_rows = [r for r in rows if not _is_trial(r.spec)]
    if pk_rows:
        _run_pk(pk_rows, variants, entropy, replicates)
    out = []
    for r in rows:
        e = r.spec
        passed, decisive, lo, hi, tol = _judge(r)
        note = "; ".join(x for x in (e.note.strip(), r.note, _design_note(e, variants)) if x)
        out.append(
            {
                "scenario": sc.name,
                "file": file,
                "check": e.name,
                "quantity": e.quantity,
                "week": r.week if e.quantity == "p_value" else None,
                "selector": _selector(r),
                "unit": _unit(e),
                "published": e.value,
                "published_se": e.published_se(),
                "published_text": _published_text(e),
                "simulated": r.value,
                "mc_se": r.mc_se,
                "lower": lo,
                "upper": hi,
                "tolerance": tol,
                "passed": passed,
                "decisive": decisive,
                "replicates": 1 if (e.statistic == "typical") else replicates,
                "seed": str(entropy),
                "source": e.source,
                "note": note,
            }
        )
    df = pd.DataFrame(out, columns=COLUMNS)
    df["week"] = df["week"].astype("Int64")
    return df


# -- files and directories ------------------------------------------------------------------------
@dataclass
class ValidationRun:
    """Result of :func:`validate_paths`."""

    table: pd.DataFrame
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    elapsed_s: float = 0.0
    replicates: int = DEFAULT_REPLICATES
    timings_s: dict[str, float] = field(default_factory=dict)  # file -> seconds
    #: one entry per validated scenario: name, file, description, reference, seed, seconds
    scenarios: list[dict[str, Any]] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        """True if every check passed (and there was at least one)."""
        return bool(len(self.table)) and bool(self.table["passed"].all())


def scenario_files(paths: Sequence[str | Path]) -> list[Path]:
    """The YAML files named by ``paths`` (directories are searched recursively, sorted).

    Raises
    ------
    ScenarioError
        ``(file): no such file or directory`` for a missing path.
    """
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(x for x in p.rglob("*") if x.suffix in (".yaml", ".yml"))
        elif p.is_file():
            files.append(p)
        else:
            raise ScenarioError(["(file): no such file or directory"], str(p))
    return list(dict.fromkeys(files))


def validate_paths(
    paths: Sequence[str | Path],
    replicates: int = DEFAULT_REPLICATES,
    seed: int | None = None,
    jobs: int = 1,
) -> ValidationRun:
    """Validate every scenario with an ``expected:`` section under ``paths``.

    Every file is loaded (and every problem collected) before anything is simulated; scenarios
    without ``expected:`` are skipped with a note.

    Parameters
    ----------
    paths : scenario files and directories (searched recursively for ``*.yaml``/``*.yml``).
    replicates, seed, jobs : as :func:`validate_scenario` (``seed`` applies to every scenario).

    Returns
    -------
    ValidationRun
        The concatenated table (:data:`COLUMNS`), skipped files with the reason, timings and
        the validated scenarios' names, references and descriptions.

    Raises
    ------
    ScenarioError
        If a path is missing or a file is not a valid scenario (all problems of all files).
    """
    t0 = time.perf_counter()
    problems: list[str] = []
    loaded: list[tuple[Path, Scenario]] = []
    for f in scenario_files(paths):
        try:
            loaded.append((f, load_scenario(f)))
        except ScenarioError as err:
            problems += [f"{f}: {line}" for line in err.problems]
    if problems:
        raise ScenarioError(problems, "validate")
    tables, skipped, timings, info = [], [], {}, []
    for f, sc in loaded:
        if not sc.expected:
            skipped.append((str(f), "no 'expected:' section"))
            continue
        t1 = time.perf_counter()
        df = validate_scenario(sc, replicates=replicates, seed=seed, jobs=jobs)
        df["file"] = str(f)
        tables.append(df)
        timings[str(f)] = time.perf_counter() - t1
        info.append(
            {
                "name": sc.name,
                "file": str(f),
                "description": sc.description.strip(),
                "reference": (sc.reference or "").strip(),
                "seed": df["seed"].iloc[0] if len(df) else "",
                "seconds": timings[str(f)],
            }
        )
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
    return ValidationRun(table, skipped, time.perf_counter() - t0, replicates, timings, info)
