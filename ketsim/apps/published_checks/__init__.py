"""Validation against published results: the ``expected:`` section of a scenario.

Every :class:`~ketsim.config.scenario.ExpectedSpec` is computed from ``replicates`` simulated
copies of
the scenario (a replicate is one whole trial of the scenario's size, or one population-PK study of
``population.n`` patients), summarised over replicates with its Monte Carlo SE, and compared with
the published value under the expectation's tolerance. ``ketsim validate`` runs it on files or
directories and writes ``validation.csv`` and a self-contained ``validation.html``.

Quantities
----------
Trial quantities use the randomised arms of parallel and enrichment designs; days count from the
first day of the randomised treatment (``anchor: start``) or from the first diary day after its
scheduled dosing ends (``anchor: treatment_end``), as in :mod:`ketsim.analysis.endpoints`.

Crossover designs (:mod:`~ketsim.apps.published_checks.crossover_checks`): a unit is a (patient,
period) pair, days count from day 1 of each period (``anchor: start`` only; weeks up to
``period_weeks``). Arm means, medians and proportions (adverse events and ``nrs_responder`` per
period) are over the units on the arm; ``arm_difference`` and ``week_of_largest_difference`` use
each patient's within-patient difference (its periods on ``arm`` minus those on ``control``);
``p_value`` is a paired test of those differences (``t_test``: paired t; ``wilcoxon``: signed
rank, zeros dropped, normal approximation with tie and continuity corrections; ``welch`` does
not apply). Per-patient events (``dropout``, the responder classes), ``end_rate`` and
``lasting_effect_days`` are refused.

``arm_mean``
    Mean over the arm's patients of the NRS of ``week`` (``measure``: the diary score of day 7w,
    ``end_of_week``; the mean of days 7w-6..7w with at least 4 entries, ``weekly_mean``; or the
    score of ``day``), or its change from the baseline-days mean (``scale``). Simulated value: the
    mean over replicates; MC SE = SD over replicates / sqrt(R).
``arm_difference``
    The same, ``arm`` minus ``control``, per replicate.
``p_value``
    The per-week test of ``arm`` against ``control`` (``test``: pooled t, Welch, Wilcoxon rank
    sum; ``sides``) on the week's NRS. ``statistic``: ``median`` p over replicates (MC SE by
    bootstrap over replicates); ``fraction_significant`` (p < alpha) per week;
    ``fraction_all_significant``: fraction of replicates significant in every week of ``weeks``.
``proportion``
    Fraction of the arm's randomised patients with ``event``: an adverse event during the
    randomised treatment (``psychotomimetic``, ``nausea``, ...; ``discontinued`` = treatment
    stopped), ``dropout`` (left the study), the latent classes ``ketamine_responder`` and
    ``placebo_responder`` (Dahan 2011's mixture), or ``nrs_responder`` (weekly mean of ``week``,
    counted from ``anchor``, at least ``threshold_pct`` below baseline).
``proportion_difference``, ``proportion_ratio``
    The same proportion (``event``, or patients with any of the AEs in ``events``) in ``arm``
    and in ``control``. Difference: ``arm - control`` per replicate, averaged (MC SE = SD over
    replicates / sqrt(R)). Ratio (a risk ratio): the ratio of the two replicate-mean
    proportions, not the mean of per-replicate ratios (a small trial's control arm may have no
    event); MC SE by the delta method. A ratio is judged on the log scale: ``se`` is the SE of
    the log ratio, a ``ci`` gives ``(ln high - ln low) / (2 z)``, and ``k_se`` accepts
    ``value x/÷ exp(k SE)``.
``any_ae``
    Fraction of the arm's randomised patients with at least one of ``events`` during the
    randomised treatment (default every adverse event: psychotomimetic, intolerable, nausea,
    vomiting, liver_injury; ``discontinued`` is a treatment action and counts only if listed).
    With ``n`` alone the published SE is binomial, as for ``proportion``.
``median_nrs``
    Median over the arm's patients of the NRS of ``week`` or ``day`` (``measure``, ``scale``,
    ``anchor`` as ``arm_mean``), per replicate; simulated value the mean of the replicate
    medians (the expected median of a trial of this size), MC SE = SD / sqrt(R).
``week_of_largest_difference``
    The week of ``weeks`` (default every trial week; ``anchor: treatment_end`` needs ``weeks``)
    in which the mean NRS difference ``control - arm`` (the arm's benefit; ``measure``
    end_of_week or weekly_mean, ``scale``) is largest. The curve is averaged over replicates
    before the largest week is taken, so the value is the model's expected peak week, not the
    spread of peaks single trials would show; MC SE by bootstrap over replicates. A published
    peak week has no SE: judge it with ``abs`` (weeks).
``end_rate``
    Mean nominal infusion rate at the end of the titrated infusion, mg/h/70 kg (patients whose
    infusion ran to its end).
``lasting_effect_days``
    ``difference_below`` (trial): the daily NRS difference control - arm, averaged over patients
    and replicates, is smoothed by a centred 7-day mean; day k is the k-th diary day after the end
    of dosing (``treatment_end`` anchor). The result is the time after the end of the infusion
    (days, diary times converted exactly) at which the smoothed difference first falls below
    ``fraction`` x its value centred on day 4 (days 1-7), or below ``threshold`` NRS, linearly
    interpolated between days. MC SE by bootstrap over replicates. If it never falls below within
    the follow-up, the value is censored (a lower bound) and the check fails unless it is a lower
    bound itself (``relation: above``).
    ``slow_below_c50`` (PK on ``regimens``): days from the end of dosing until the
    slow-compartment S-ketamine concentration falls below ``threshold`` (default the PD parameter
    ``slow_c50_ng_ml``, Dahan 2011's C50). ``drive_below``: days until Dahan's desensitizing drive
    ``Ce^γ / (C50^γ + Ce^γ)`` falls below ``fraction`` x its value at the end of dosing.
PK quantities (``regimens``)
    Per patient on the output grid (``output.step``/``end``; requested times are added to it):
    ``pk_cmax``, ``pk_tmax`` (last grid time within 1e-9 of Cmax, in ``unit``), ``pk_auc`` (exact
    for ketamine and norketamine, trapezoidal for effect compartments), ``pk_concentration`` at
    ``time``, ``pk_half_life`` (log-linear least squares over ``window``), ``pk_ratio``
    (``ratio_of``: AUC or Cmax of ``analyte`` in the scenario with ``overrides``, over that of
    ``ratio_analyte`` in the scenario as written, per patient). ``window`` restricts
    Cmax/Tmax/AUC. ``statistic`` summarises the patients of one replicate study (mean, median,
    geometric_mean, sd); the replicate summaries are then averaged (the expected summary of a
    study of that size). ``typical`` is the typical 70-kg man without variability (no Monte Carlo
    error).

Pass or fail
------------
See :class:`~ketsim.config.scenario.ToleranceSpec`. A check is *decisive* when the simulated value
is more
than 2 Monte Carlo SEs from the nearest acceptance bound; otherwise more replicates could flip it.

References
----------
.. [Morris2019] Morris TP, White IR, Crowther MJ. Using simulation studies to evaluate statistical
   methods. Stat Med 2019;38:2074-102 (Monte Carlo SEs of means and proportions).
.. [Efron1993] Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall 1993
   (bootstrap SEs of the median and of the crossing time).
"""

from __future__ import annotations

from ketsim.apps.published_checks.judging import (
    ValidationRun,
    scenario_files,
    validate_paths,
    validate_scenario,
)
from ketsim.apps.published_checks.output import (
    VERDICTS,
    add_validate_parser,
    cmd_validate,
    default_out_dir,
    format_legend,
    format_table,
    render_html,
    write_outputs,
)
from ketsim.apps.published_checks.summaries import (
    COLUMNS,
    DEFAULT_REPLICATES,
    N_BOOTSTRAP,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_REPLICATES",
    "N_BOOTSTRAP",
    "VERDICTS",
    "ValidationRun",
    "add_validate_parser",
    "cmd_validate",
    "default_out_dir",
    "format_legend",
    "format_table",
    "render_html",
    "scenario_files",
    "validate_paths",
    "validate_scenario",
    "write_outputs",
]
