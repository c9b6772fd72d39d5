"""The compile boundary: scenario specs → plain frozen values the numeric code runs on.

A population-PK study compiles to a :class:`PKStudy` (dosing in hours and mg, output times,
parameter set, PK switches); each regimen compiles to a :class:`Dosing`. Below this module the PK
path (:func:`ketsim.sim.regimen.build_plan`, :func:`ketsim.sim.pk_study.simulate_concentrations`,
``ketsim.core.pk``) reads no pydantic spec. A trial compiles to a :class:`TrialPlan` (timeline,
PD parameters with the titration, adverse-event and dropout rules, enrolment rule, diary hours,
model switches, EERW run-in rule, PK settings) that :class:`~ketsim.sim.trial_model.TrialModel`
runs on; the population to sample stays a :class:`~ketsim.config.scenario.PopulationSpec` (its
sampler's input).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ketsim.config.scenario import INFUSION_ROUTES, PopulationSpec, RegimenSpec, Scenario
from ketsim.core.dose import DoseDistribution, bounded_mg, dose_mg
from ketsim.core.pd.background import BackgroundEffect, background_effect
from ketsim.core.pd.comparators import ArmComparator, arm_comparators
from ketsim.core.pd.parameters import DEFAULT_LASTING_EFFECT, PDParameters, resolve_pd
from ketsim.core.pk.model import PKSwitches
from ketsim.core.units import Amount, Rate
from ketsim.sim.design import Timeline, compile_timeline

__all__ = [
    "DiaryHours",
    "Dosing",
    "EffectSwitches",
    "EnrolmentRule",
    "PKStudy",
    "RandomisationRule",
    "RunInRule",
    "TrialPK",
    "TrialPlan",
    "compile_dosing",
    "compile_pk_study",
    "compile_trial",
    "dose_distributions",
    "pk_switches",
]


@dataclass(frozen=True)
class Dosing:
    """One regimen as the PK needs it: route, administration times (h) and dose.

    Attributes
    ----------
    route : the scenario's route name (``iv_infusion``, ``oral``, ...).
    infusion : a constant-rate infusion (else an instant administration).
    starts_h : start time of every administration.
    duration_h : length of each infusion (0 for instant administrations).
    rate : the infusion rate when the regimen gives one (fixed or varying between patients).
    amount : the amount of an instant administration, or infused over ``duration_h``.
    floor, cap : the least and most rate (rate given) or amount (amount given) of a patient.
    steps : the escalation: (time from the first start (h), the rate or amount from then on).
    """

    route: str
    infusion: bool
    starts_h: tuple[float, ...]
    duration_h: float
    rate: Rate | DoseDistribution | None
    amount: Amount | DoseDistribution | None
    floor: Rate | Amount | None = None
    cap: Rate | Amount | None = None
    steps: tuple[tuple[float, Rate | Amount], ...] = ()

    @property
    def distribution(self) -> DoseDistribution | None:
        """The dose distribution when the dose varies between patients (else None)."""
        d = self.rate if self.rate is not None else self.amount
        return d if isinstance(d, DoseDistribution) else None

    def level_starts_h(self) -> tuple[float, ...]:
        """Absolute times from which each dose level holds (level 0, the dose, from -inf)."""
        return (-np.inf, *(self.starts_h[0] + a for a, _ in self.steps))

    def _dose(self, weight_kg, u, level: int) -> np.ndarray:
        d = self.rate if self.rate is not None else self.amount
        if level > 0:
            d = self.steps[level - 1][1]
        return bounded_mg(dose_mg(d, weight_kg, u), weight_kg, self.floor, self.cap)

    def rate_mg_per_h(self, weight_kg, u=None, level: int = 0):
        """Infusion rate (mg/h) for patients of the given weight(s).

        ``u``: each patient's uniform of a varying dose; ``level``: the escalation step (0: the
        dose itself). An amount infused over ``duration_h`` is bounded as an amount.
        """
        x = self._dose(weight_kg, u, level)
        return x if self.rate is not None else x / self.duration_h

    def amount_mg(self, weight_kg, u=None, level: int = 0):
        """Amount (mg) of one instant administration for patients of the given weight(s)."""
        return self._dose(weight_kg, u, level)


def _compiled(d):
    return d.compiled() if hasattr(d, "compiled") else d


def compile_dosing(regimens: Sequence[RegimenSpec]) -> tuple[Dosing, ...]:
    """Regimen specs → :class:`Dosing` values (the same times and doses, to the bit)."""
    out = []
    for r in regimens:
        infusion = r.route in INFUSION_ROUTES
        out.append(
            Dosing(
                route=r.route,
                infusion=infusion,
                starts_h=tuple(r.start_times()),
                duration_h=float(r.duration) if infusion else 0.0,
                rate=_compiled(r.rate),
                amount=_compiled(r.amount),
                floor=r.min,
                cap=r.max,
                steps=tuple((float(st.after), st.dose) for st in r.escalation or ()),
            )
        )
    return tuple(out)


def dose_distributions(dosing: Sequence[Dosing]) -> tuple[DoseDistribution, ...]:
    """The distinct dose distributions of compiled regimens, in order of first appearance.

    Position ``j`` is the seed-tree sub-key of the patients' uniforms of distribution ``j``; an
    equal distribution in two regimens (a placebo arm's nominal rate, a crossover's periods)
    shares the patient's one draw.
    """
    return tuple(dict.fromkeys(d.distribution for d in dosing if d.distribution is not None))


def pk_switches(scenario: Scenario) -> PKSwitches:
    """The PK model's switches of a scenario."""
    sw = scenario.switches
    return PKSwitches(
        sex_effect=sw.sex_effect_on_clearance,
        cyp2b6_effect=sw.cyp2b6_effect,
        r_inhibits_s=sw.r_inhibits_s,
        iiv=sw.iiv,
        intranasal=sw.intranasal,
    )


@dataclass(frozen=True)
class PKStudy:
    """A compiled population-PK study: everything :func:`simulate_pk` needs but the patients."""

    dosing: tuple[Dosing, ...]
    times_h: np.ndarray
    parameter_set: str
    switches: PKSwitches
    racemic: bool


def compile_pk_study(scenario: Scenario) -> PKStudy:
    """Compile a scenario's population-PK run (its ``regimens`` and ``output`` grid)."""
    out = scenario.output
    return PKStudy(
        dosing=compile_dosing(scenario.pk_regimens()),
        times_h=np.arange(0.0, out.end + 0.5 * out.step, out.step),
        parameter_set=scenario.parameter_set,
        switches=pk_switches(scenario),
        racemic=scenario.drug == "racemic",
    )


@dataclass(frozen=True)
class DiaryHours:
    """When the trial's diaries are kept.

    Attributes
    ----------
    baseline_days : diary days before t = 0.
    start_hour : clock hour of t = 0 (the first treatment segment starts).
    diary_hour : clock hour of the daily diary entry.
    diary_weeks : weeks whose diaries are recorded (None: every week).
    """

    baseline_days: int
    start_hour: float
    diary_hour: float
    diary_weeks: tuple[int, ...] | None


@dataclass(frozen=True)
class EffectSwitches:
    """The PD model's switches the trial rules read.

    Attributes
    ----------
    norketamine_analgesia : how norketamine contributes to analgesia.
    r_ketamine_analgesia : how R-ketamine contributes (``"quarter"``: a quarter of S-ketamine's
        conventional potency, also in the psychotomimetic effects).
    functional_unblinding : patients update their belief of being on drug from what they feel.
    lasting_effect : the lasting-effect hypothesis (:data:`~ketsim.core.pd.LASTING_EFFECTS`).
    """

    norketamine_analgesia: str
    r_ketamine_analgesia: str
    functional_unblinding: bool
    lasting_effect: str = DEFAULT_LASTING_EFFECT


@dataclass(frozen=True)
class RunInRule:
    """EERW: who is randomised at the end of the open run-in.

    Attributes
    ----------
    window_days : the last run-in days whose mean diary NRS is compared with baseline.
    threshold_pct : the percent reduction from the baseline mean that makes a responder.
    """

    window_days: int
    threshold_pct: float


@dataclass(frozen=True)
class RandomisationRule:
    """How patients are allocated: ``method``, stratification factors and block sizes."""

    method: str
    strata: tuple[str, ...]
    block_sizes: tuple[int, ...]


@dataclass(frozen=True)
class EnrolmentRule:
    """Who is enrolled, when and how they are allocated.

    Attributes
    ----------
    population : the population candidates are sampled from.
    n : patients enrolled per replicate.
    screening_threshold : the mean screening NRS a candidate needs (None: no screening).
    screening_days : diary days of screening.
    patients_per_week : recruitment rate (None: everyone at once).
    randomisation : the allocation rule.
    """

    population: PopulationSpec
    n: int
    screening_threshold: float | None
    screening_days: int
    patients_per_week: float | None
    randomisation: RandomisationRule


@dataclass(frozen=True)
class TrialPK:
    """The PK settings of a trial: parameter set and switches."""

    parameter_set: str
    switches: PKSwitches
    cyp3a_cyp2c9_effect: str


@dataclass(frozen=True)
class TrialPlan:
    """A compiled trial: everything the trial model runs on but its patients.

    Attributes
    ----------
    name : the scenario's name.
    timeline : the compiled design (groups, segments with their regimens and titration rules).
    pd : the PD parameters, including the titration target, adverse-event, stopping and dropout
        rules.
    racemic : the drug is the racemate (else esketamine).
    arm_names, arm_treatments : the randomised arms.
    enrolment : the enrolment rule.
    diary : diary days and hours.
    effects : the PD switches the rules read.
    run_in : the EERW run-in rule (None for other designs).
    pk : the PK settings.
    comparators : the comparator drug of each arm (midazolam, lidocaine; None: ketamine, saline).
    adjuncts : the MgSO4 adjunct of each arm (None: none).
    """

    name: str
    timeline: Timeline
    pd: PDParameters
    racemic: bool
    arm_names: tuple[str, ...]
    arm_treatments: tuple[str, ...]
    enrolment: EnrolmentRule
    diary: DiaryHours
    effects: EffectSwitches
    run_in: RunInRule | None
    pk: TrialPK
    comparators: tuple[ArmComparator | None, ...] = ()
    adjuncts: tuple[BackgroundEffect | None, ...] = ()


def compile_trial(scenario: Scenario) -> TrialPlan:
    """Compile a scenario's trial (its ``arms`` and ``design``) to a :class:`TrialPlan`.

    Parameters
    ----------
    scenario : a scenario with ``arms``.

    Returns
    -------
    TrialPlan
        The plan.
    """
    sc = scenario
    if not sc.arms:
        raise ValueError(f"scenario '{sc.name}' has no 'arms': nothing to simulate")
    # the hypothesis and the indication bring their calibrated PD defaults, under sc.pd
    pd = resolve_pd(
        sc.pd,
        sc.switches.lasting_effect,
        sc.population.indication,
        sc.switches.cancer_disease_modification,
    )
    tl = compile_timeline(sc)
    tr, sw, rs = sc.trial, sc.switches, sc.design.randomisation
    weeks = sc.design.diary_weeks
    run_in = None
    if tl.type == "enrichment":
        en = sc.design.enrichment
        run_in = RunInRule(window_days=en.window_days, threshold_pct=en.threshold_pct)
    return TrialPlan(
        name=sc.name,
        timeline=tl,
        pd=pd,
        racemic=sc.drug == "racemic",
        arm_names=tuple(a.name for a in sc.arms),
        arm_treatments=tuple(a.treatment for a in sc.arms),
        enrolment=EnrolmentRule(
            population=sc.population,
            n=sc.design.enrichment.n if tl.type == "enrichment" else int(tl.targets.sum()),
            screening_threshold=tr.screening.threshold,
            screening_days=tr.screening.days,
            patients_per_week=sc.design.recruitment.patients_per_week,
            randomisation=RandomisationRule(
                method=rs.method, strata=tuple(rs.strata), block_sizes=tuple(rs.block_sizes)
            ),
        ),
        diary=DiaryHours(
            baseline_days=tr.baseline_days,
            start_hour=tr.start_hour,
            diary_hour=tr.diary_hour,
            diary_weeks=None if weeks is None else tuple(weeks),
        ),
        effects=EffectSwitches(
            norketamine_analgesia=sw.norketamine_analgesia,
            r_ketamine_analgesia=sw.r_ketamine_analgesia,
            functional_unblinding=sw.functional_unblinding,
            lasting_effect=sw.lasting_effect,
        ),
        run_in=run_in,
        pk=TrialPK(
            parameter_set=sc.parameter_set,
            switches=pk_switches(sc),
            cyp3a_cyp2c9_effect=sw.cyp3a_cyp2c9_effect,
        ),
        comparators=arm_comparators(sc.arms, pd.midazolam_belief_up),
        adjuncts=tuple(
            None if a.mgso4 is None else background_effect("mgso4", a.mgso4.parameters)
            for a in sc.arms
        ),
    )
