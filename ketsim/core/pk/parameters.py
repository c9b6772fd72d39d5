"""Published pharmacokinetic parameters, each with its source next to the value.

Every number here is a population typical value for a 70-kg adult (allometric reference), in
ketsim's internal units (L, L/h, h). Confidence follows ../shared/design/PARAMETERS.md:
H = read from the paper, M = secondary source, L = assumption (exposed as a switch or documented as
such). Values derived here from published numbers say how they were derived.

References
----------
.. [Noppers2011] Noppers I, Olofsen E, Niesters M, et al. Effect of rifampicin on S-ketamine and
   S-norketamine plasma concentrations in healthy volunteers after intravenous S-ketamine
   administration. Anesthesiology 2011;114:1435-45.
.. [Simons2022] Simons P, Olofsen E, van Velzen M, et al. S-ketamine oral thin film, part 1:
   population pharmacokinetics. Front Pain Res 2022;3:946486.
.. [Olofsen2022] Olofsen E, Kamp J, Henthorn TK, et al. Ketamine psychedelic and antinociceptive
   effects are connected. Anesthesiology 2022;136:792-801.
.. [Dahan2011] Dahan A, Olofsen E, Sigtermans M, et al. Population pharmacokinetic-
   pharmacodynamic modeling of ketamine-induced pain relief of chronic pain. Eur J Pain
   2011;15:258-67.
.. [Sigtermans2009a] Sigtermans M, Dahan A, Mooren R, et al. S(+)-ketamine effect on experimental
   pain and cardiac output: a population pharmacokinetic-pharmacodynamic modeling study in healthy
   volunteers. Anesthesiology 2009;111:892-903.
.. [Hasan2021] Hasan M, Modess C, Roustom T, et al. Chiral pharmacokinetics and metabolite profile
   of prolonged-release ketamine tablets in healthy human subjects. Anesthesiology 2021;135:326-39.
.. [Ihmsen2001] Ihmsen H, Geisslinger G, Schüttler J. Stereoselective pharmacokinetics of ketamine:
   R(-)-ketamine inhibits the elimination of S(+)-ketamine. Clin Pharmacol Ther 2001;70:431-8.
.. [Fanta2015] Fanta S, Kinnunen M, Backman JT, Kalso E. Population pharmacokinetics of
   S-ketamine and norketamine in healthy volunteers after intravenous and oral dosing.
   Eur J Clin Pharmacol 2015;71:441-7.
.. [PerezRuixo2021] Perez-Ruixo C, Rossenu S, Zannikos P, et al. Population pharmacokinetics of
   esketamine nasal spray and its metabolite noresketamine in healthy subjects and patients with
   treatment-resistant depression. Clin Pharmacokinet 2021;60:501-16.
.. [Rolan2014] Rolan P, Lim S, Sunderland V, et al. The absolute bioavailability of racemic
   ketamine from a novel sublingual formulation. Br J Clin Pharmacol 2014;77:1011-6.
.. [Clements1982] Clements JA, Nimmo WS, Grant IS. Bioavailability, pharmacokinetics, and
   analgesic activity of ketamine in humans. J Pharm Sci 1982;71:539-42.
.. [Huge2010] Huge V, Lauchart M, Magerl W, et al. Effects of low-dose intranasal (S)-ketamine in
   patients with neuropathic pain. Eur J Pain 2010;14:387-94.
.. [Li2013] Li Y, Coller JK, Hutchinson MR, et al. The CYP2B6*6 allele significantly alters the
   N-demethylation of ketamine enantiomers in vitro. Drug Metab Dispos 2013;41:1264-72.
.. [Hagelberg2010] Hagelberg NM, Peltoniemi MA, Saari TI, et al. Clarithromycin, a potent inhibitor
   of CYP3A, greatly increases exposure to oral S-ketamine. Eur J Pain 2010;14:625-9.
.. [Peltoniemi2011] Peltoniemi MA, Saari TI, Hagelberg NM, et al. Exposure to oral S-ketamine is
   unaffected by itraconazole but greatly increased by ticlopidine. Clin Pharmacol Ther
   2011;90:296-302.
.. [Peltoniemi2012a] Peltoniemi MA, Saari TI, Hagelberg NM, et al. Rifampicin has a profound effect
   on the pharmacokinetics of oral S-ketamine and less on intravenous S-ketamine.
   Basic Clin Pharmacol Toxicol 2012;111:325-32.
.. [Peltoniemi2012b] Peltoniemi MA, Saari TI, Hagelberg NM, et al. S-ketamine concentrations are
   greatly increased by grapefruit juice. Eur J Clin Pharmacol 2012;68:979-86.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = [
    "COMEDICATIONS",
    "CYP2B6_DIPLOTYPE_ACTIVITY",
    "PARAMETER_SETS",
    "ROUTES",
    "Comedication",
    "DispositionParameters",
    "HepaticParameters",
    "RouteParameters",
    "ln2",
]

ln2 = math.log(2.0)

#: Molecular weights (g/mol): mass of norketamine formed per mass of ketamine metabolised.
MW_KETAMINE = 237.7  # PARAMETERS.md, conversions
MW_NORKETAMINE = 223.7  # PARAMETERS.md, conversions


@dataclass(frozen=True)
class DispositionParameters:
    """Typical disposition parameters of one enantiomer and its norketamine, per 70 kg.

    Volumes in L, clearances in L/h, times in h. ``sources`` maps each field to its citation.
    """

    name: str
    v1: float
    v2: float
    v3: float
    cl: float
    q2: float
    q3: float
    fm: float  # fraction of ketamine clearance forming norketamine
    mtt_h: float  # mean transit time of the 2-compartment metabolism delay
    vn1: float
    vn2: float
    cln: float
    qn: float
    # log-normal IIV, expressed as CV; omega^2 = ln(1 + CV^2)
    cv_cl: float
    cv_v1: float
    cv_cln: float
    cv_mtt: float
    sources: dict


# Norketamine formation and disposition: Simons 2022 (Table 4 via nlmixr2lib), H. Used with both
# S-ketamine sets because Noppers 2011's NK values are not in MODEL.md.
_NK_SIMONS = dict(
    fm=0.8,  # Simons 2022 (fixed by the authors; range 0.5-0.8 across studies)
    mtt_h=20.1 / 60.0,  # Simons 2022: metabolism delay, MTT 20.1 min over 2 transit compartments
    vn1=11.6,  # Simons 2022: VN1 = VK1 = 11.6 L/70 kg
    vn2=221.0,  # Simons 2022: VN2 221 L/70 kg
    cln=60.0,  # Simons 2022: CLN1 1.00 L/min = 60 L/h/70 kg
    qn=2.63 * 60.0,  # Simons 2022: CLN2 2.63 L/min = 157.8 L/h/70 kg
    cv_cln=math.sqrt(math.exp(0.05) - 1.0),  # Simons 2022: omega^2 = 0.05 (CV ~23%)
    cv_mtt=math.sqrt(math.exp(0.021) - 1.0),  # Simons 2022: omega^2 = 0.021 (CV ~15%)
)
_NK_SOURCES = {
    "fm": "Simons 2022 Front Pain Res 3:946486 (H; fixed by the authors, range 0.5-0.8)",
    "mtt_h": "Simons 2022: MTT 20.1 min, 2 transit compartments (H)",
    "vn1": "Simons 2022: VN1 = VK1 = 11.6 L/70 kg (H)",
    "vn2": "Simons 2022: 221 L/70 kg (H)",
    "cln": "Simons 2022: 1.00 L/min = 60 L/h/70 kg (H)",
    "qn": "Simons 2022: 2.63 L/min = 157.8 L/h/70 kg (H)",
    "cv_cln": "Simons 2022: omega^2 0.05 (H)",
    "cv_mtt": "Simons 2022: omega^2 0.021 (H)",
}

PARAMETER_SETS: dict[str, DispositionParameters] = {
    "noppers2011": DispositionParameters(
        name="noppers2011",
        v1=17.0,  # Noppers 2011 Anesthesiology 114:1435, V1 17.0 L/70 kg (M)
        v2=28.3,  # Noppers 2011, V2 28.3 L/70 kg (M)
        v3=147.0,  # Noppers 2011, V3 147 L/70 kg (M)
        cl=93.5,  # Noppers 2011, CL 93.5 L/h/70 kg (M); studies range 79-109 (Kamp 2020)
        q2=127.0,  # Noppers 2011, Q2 127 L/h/70 kg (M)
        q3=91.9,  # Noppers 2011, Q3 91.9 L/h/70 kg (M)
        cv_cl=0.20,  # MODEL.md §2: CL ~20% CV (Fanta 13%, Simons 17%, Hasan 23%)
        cv_v1=0.24,  # MODEL.md §2: V1 ~24% CV (Simons 2022 omega^2 0.057)
        **_NK_SIMONS,
        sources={
            "v1": "Noppers 2011 Anesthesiology 114:1435 (M)",
            "v2": "Noppers 2011 (M)",
            "v3": "Noppers 2011 (M)",
            "cl": "Noppers 2011 (M); 79-109 L/h across studies (Kamp 2020)",
            "q2": "Noppers 2011 (M)",
            "q3": "Noppers 2011 (M)",
            "cv_cl": "MODEL.md §2: ~20% (Fanta 2015 13%, Simons 2022 17%, Hasan 2021 23%)",
            "cv_v1": "MODEL.md §2: ~24% (Simons 2022 omega^2 0.057)",
            **_NK_SOURCES,
        },
    ),
    "simons2022": DispositionParameters(
        name="simons2022",
        v1=11.6,  # Simons 2022 Front Pain Res 3:946486 Table 4, VK1 (H)
        v2=39.0,  # Simons 2022, VK2 (H)
        v3=174.0,  # Simons 2022, VK3 (H)
        cl=1.48 * 60.0,  # Simons 2022, CLK1 1.48 L/min = 88.8 L/h/70 kg (H)
        q2=2.43 * 60.0,  # Simons 2022, CLK2 2.43 L/min = 145.8 L/h (H)
        q3=1.21 * 60.0,  # Simons 2022, CLK3 1.21 L/min = 72.6 L/h (H)
        cv_cl=math.sqrt(math.exp(0.029) - 1.0),  # Simons 2022 omega^2 0.029 (CV ~17%)
        cv_v1=math.sqrt(math.exp(0.057) - 1.0),  # Simons 2022 omega^2 0.057 (CV ~24%)
        **_NK_SIMONS,
        sources={
            "v1": "Simons 2022 Table 4 (H)",
            "v2": "Simons 2022 Table 4 (H)",
            "v3": "Simons 2022 Table 4 (H)",
            "cl": "Simons 2022: CLK1 1.48 L/min (H)",
            "q2": "Simons 2022: CLK2 2.43 L/min (H)",
            "q3": "Simons 2022: CLK3 1.21 L/min (H)",
            "cv_cl": "Simons 2022 omega^2 0.029 (H)",
            "cv_v1": "Simons 2022 omega^2 0.057 (H)",
            **_NK_SOURCES,
        },
    ),
}

#: R-ketamine clearance relative to S-ketamine in the racemate: 1530 vs 1620 mL/min (Hasan 2021, H).
R_OVER_S_CLEARANCE = 1530.0 / 1620.0
#: S-ketamine clearance reduction by R-ketamine in the racemate when the switch is on
#: (Ihmsen 2001, L: numbers unverified; Geisslinger 1993 and Wang 2019 found no effect, so the
#: switch is off by default).
R_INHIBITS_S_FRACTION = 0.30
#: Women: S-K and S-NK elimination clearance x1.20 (Sigtermans 2009 Anesthesiology 111:892, H;
#: switch - no sex effect in Perez-Ruixo 2021, n=820).
FEMALE_CLEARANCE_FACTOR = 1.20
#: Allometric exponents: CL ~ (WT/70)^0.75, V ~ WT/70 (MODEL.md §2; as in Flint 2017 / Simons, M).
ALLOMETRIC_CL = 0.75
ALLOMETRIC_V = 1.0
REFERENCE_WEIGHT_KG = 70.0

#: Effect-site equilibration (fast): t1/2 ke0 8.3 min for antinociception and external perception
#: (Olofsen 2022 Anesthesiology 136:792, H; range 6-12 min).
T_HALF_KE0_FAST_H = 8.3 / 60.0
#: Slow (disease-modifying) compartment: t1/2 10.9 days (95% CI 5.3-20.5; Dahan 2011 Eur J Pain
#: 15:258, H).
T_HALF_SLOW_H = 10.9 * 24.0


@dataclass(frozen=True)
class HepaticParameters:
    """Well-stirred liver and gut wall, through which genotype and co-medication act.

    MODEL.md §2: genotype and interactions act on intrinsic hepatic clearance,
    CL_int = sum_e fm_e * activity_e, with hepatic extraction ~0.7 at Qh ~90 L/h, so that IV
    exposure moves little and oral exposure a lot.
    """

    qh: float = 90.0  # hepatic blood flow L/h/70 kg (MODEL.md §2)
    extraction: float = 0.70  # typical hepatic extraction ratio (MODEL.md §2: "~0.7")
    fm_cyp2b6: float = 0.60  # MODEL.md §2: fm CYP2B6 0.5-0.6 (L); upper end, see COMEDICATIONS
    fm_cyp3a: float = 0.30  # MODEL.md §2: fm CYP3A4 ~0.3 (L)
    fm_other: float = 0.10  # MODEL.md §2: other (2A6, 2C9) 0.1-0.2 (L)
    # Gut-wall availability of oral S-ketamine without inhibitors. Derived (L): with grapefruit
    # juice (intestinal CYP3A inhibition, hepatic clearance unchanged) oral AUC x3.0 (Peltoniemi
    # 2012b, H), so F_g <= 1/3; 0.30 leaves room for incomplete inhibition.
    fg: float = 0.30
    # Fraction of an oral dose absorbed from the lumen. Derived (L): oral S-K F = 8% (Fanta 2015,
    # H) = f_abs * F_g * F_H = f_abs * 0.30 * 0.30 -> f_abs = 0.89.
    f_abs_oral: float = 0.08 / (0.30 * 0.30)

    @property
    def clint(self) -> float:
        """Typical intrinsic clearance (L/h/70 kg) giving the typical extraction ratio."""
        return self.qh * self.extraction / (1.0 - self.extraction)

    @property
    def cl_hepatic(self) -> float:
        """Typical hepatic clearance (L/h/70 kg)."""
        return self.qh * self.extraction


@dataclass(frozen=True)
class Comedication:
    """Enzyme activity multipliers for one co-medication (1 = no effect).

    The multipliers are calibrated to the oral S-ketamine AUC ratios listed as calibration
    targets in MODEL.md §2, within the well-stirred model of :class:`HepaticParameters`.
    """

    name: str
    cyp2b6: float = 1.0  # hepatic CYP2B6 activity multiplier
    cyp3a_liver: float = 1.0  # hepatic CYP3A activity multiplier
    cyp3a_gut: float = 1.0  # gut-wall CYP3A activity multiplier (drives F_g)
    nk_clearance: float = 1.0  # multiplier on norketamine clearance
    target: str = ""


COMEDICATIONS: dict[str, Comedication] = {
    # Clarithromycin (CYP3A inhibitor): oral S-K AUC x2.6, Cmax x3.6 (Hagelberg 2010, H).
    # Calibrated (L): hepatic 3A to 0.2, gut 3A to 0.25 -> AUC ratio 2.7 in this model.
    "clarithromycin": Comedication(
        "clarithromycin", cyp3a_liver=0.20, cyp3a_gut=0.25, target="oral AUC x2.6 (Hagelberg 2010)"
    ),
    # Ticlopidine (CYP2B6 inhibitor): oral AUC x2.4 (Peltoniemi 2011, H). Calibrated (L): 2B6 to
    # 0.05 -> x2.06; with fm_2B6 <= 0.6 and E = 0.7 the well-stirred model cannot exceed x2.2.
    "ticlopidine": Comedication(
        "ticlopidine", cyp2b6=0.05, target="oral AUC x2.4 (Peltoniemi 2011)"
    ),
    # Grapefruit juice (intestinal CYP3A): oral AUC x3.0 (Peltoniemi 2012b, H). Calibrated (L):
    # gut 3A to 0.0476 -> F_g 0.30 -> 0.90.
    "grapefruit": Comedication(
        "grapefruit", cyp3a_gut=0.0476, target="oral AUC x3.0 (Peltoniemi 2012b)"
    ),
    # Rifampicin (inducer): oral AUC x0.14, IV AUC x0.86 (Peltoniemi 2012a, H); S-NK elimination
    # +200% (Noppers 2011, H). Calibrated (L): hepatic 3A x4 and 2B6 x2.57 -> CL_int x2.84 -> IV
    # x0.86; gut 3A x3.41 -> oral x0.14.
    "rifampicin": Comedication(
        "rifampicin",
        cyp2b6=2.57,
        cyp3a_liver=4.0,
        cyp3a_gut=3.41,
        nk_clearance=3.0,
        target="oral AUC x0.14, IV x0.86 (Peltoniemi 2012a); NK elimination x3 (Noppers 2011)",
    ),
    # St John's wort (inducer): oral AUC x0.42 (Peltoniemi 2012, M citation). Calibrated (L):
    # hepatic 3A x2, gut 3A x2.25.
    "st_johns_wort": Comedication(
        "st_johns_wort", cyp3a_liver=2.0, cyp3a_gut=2.25, target="oral AUC x0.42 (Peltoniemi 2012)"
    ),
    # Benzodiazepines (midazolam) and clonidine: PD interactions only (Gitlin 2020; MODEL.md §3.4);
    # no PK multipliers, recorded so that scenarios can name them.
    "benzodiazepine": Comedication("benzodiazepine", target="PD only (dissociation, Gitlin 2020)"),
    "clonidine": Comedication("clonidine", target="PD only"),
    # Background analgesics: PD only (ketsim.core.pd.background). No PK multipliers (L): gabapentin
    # and pregabalin are renally excreted unchanged, not CYP substrates or inhibitors (M); no
    # interaction of opioids with ketamine's CYP2B6/3A clearance is reported (L).
    "gabapentinoid": Comedication("gabapentinoid", target="PD only (background analgesic)"),
    "opioid": Comedication("opioid", target="PD only (background analgesic)"),
}
# Itraconazole is deliberately absent: its published null effect on oral S-K AUC (Peltoniemi 2011)
# contradicts a CYP3A mechanism shared with clarithromycin; MODEL.md gives no way to reconcile them.

#: CYP2B6 diplotype -> hepatic CYP2B6 enzyme activity. *1/*1 >= 2x *1/*6 and >= 6x *6/*6 in vitro
#: (Li 2013, H for the folds, L for the multipliers). *18 is essentially inactive (Wang 2018, H);
#: the *18-carrying diplotypes assume one inactive allele halves activity (L).
CYP2B6_DIPLOTYPE_ACTIVITY: dict[str, float] = {
    "*1/*1": 1.0,
    "*1/*6": 0.5,
    "*6/*6": 0.17,
    "*1/*18": 0.5,
    "*6/*18": 0.085,
    "*18/*18": 0.0,
}


@dataclass(frozen=True)
class RouteParameters:
    """Absorption of an extravascular route.

    ``f_mucosal`` is the fraction of the dose absorbed directly into the systemic circulation with
    rate ``ka_per_h``; ``f_swallowed`` is the fraction that is swallowed and then follows the oral
    route (gut wall and liver first pass, presystemic norketamine). The rest is lost.

    ``cv_ka`` and ``cv_f_mucosal`` are the between-patient variability (CV) of the absorption rate
    (log-normal) and of the mucosal fraction (logit-normal, with the same CV at the typical value);
    0 means none is known. A patient who absorbs more through the mucosa swallows correspondingly
    less: the swallowed fraction scales with ``1 - f_mucosal``.
    """

    name: str
    f_mucosal: float
    ka_per_h: float
    f_swallowed: float
    source: str
    cv_ka: float = 0.0
    cv_f_mucosal: float = 0.0


ROUTES: dict[str, RouteParameters] = {
    # Oral: everything reaches the gut; F = f_abs * F_g * F_H ~ 0.08 (Fanta 2015, H). ka 0.97/h
    # (Perez-Ruixo 2021 esketamine solution, H).
    "oral": RouteParameters("oral", 0.0, 0.97, 1.0, "Fanta 2015 F 8%; Perez-Ruixo 2021 ka 0.97/h"),
    # Sublingual: total F 0.29 (Rolan 2014, H) = f_muc + (1 - f_muc) * 0.08 -> f_muc 0.228 (L);
    # Tmax 0.75 h -> ka ~2/h (L).
    "sublingual": RouteParameters(
        "sublingual",
        (0.29 - 0.08) / (1 - 0.08),
        2.0,
        1.0 - (0.29 - 0.08) / (1 - 0.08),
        "Rolan 2014 F 29% (H); ka assumed 2/h (L)",
    ),
    # Intranasal: ka_n 2.93/h and the swallowed remainder follow Perez-Ruixo 2021 (H). The nasal
    # fraction is calibrated (L) to the MODEL.md §4 target Huge 2010 (0.2 mg/kg S-K: Cmax 27.7 ±
    # 5.9 ng/mL at 10 ± 6 min): 0.247 gives 27.7 ng/mL at 10 min in the typical 70-kg man (total F
    # 0.31). Perez-Ruixo's 0.54 per spray gives 57 ng/mL with this arterial disposition model;
    # racemic IN F 11-17% (Pharmacotherapy 2022) supports a lower value.
    # IIV of ka: calibrated (L) to Huge 2010's between-patient SDs (Cmax 5.9 ng/mL, Tmax 6.3 min,
    # n = 8; MODEL.md §4): CV 0.40 minimises the summed squared z of both SDs over CV 0.2-0.615
    # (Cmax SD 7.1, Tmax SD 3.4 min; 500 replicate studies). Perez-Ruixo's 61.5% (H, Spravato
    # device, 820 subjects) gives Cmax SD 10.3 ng/mL, 2.8 SE above Huge's, and is kept in the
    # "perez_ruixo2021" alternative. A ka-only IIV cannot match both SDs: more Tmax spread
    # means more Cmax spread in this model.
    # Switch: PKSwitches.intranasal.
    "intranasal": RouteParameters(
        "intranasal",
        0.247,
        2.93,
        1.0 - 0.247,
        "nasal fraction and ka IIV calibrated to Huge 2010 Cmax and SDs (L); ka 2.93/h "
        "Perez-Ruixo 2021 (H)",
        cv_ka=0.40,  # calibrated to Huge 2010 SDs of Cmax and Tmax (L); see above
    ),
    # Subcutaneous: no formal study; F ~0.9, ka 1-2/h (MODEL.md §2, L).
    "subcutaneous": RouteParameters("subcutaneous", 0.90, 1.5, 0.0, "MODEL.md §2 assumption (L)"),
    # Intramuscular: F 0.93 (Clements 1982, M); onset 1-5 min -> ka ~6/h (L).
    "intramuscular": RouteParameters(
        "intramuscular", 0.93, 6.0, 0.0, "Clements 1982 F 93% (M); ka assumed 6/h (L)"
    ),
}


#: Alternative route parameter sets selectable by switches.
ROUTE_ALTERNATIVES: dict[str, dict[str, RouteParameters]] = {
    "intranasal": {
        "huge2010": ROUTES["intranasal"],
        # Perez-Ruixo 2021 Clin Pharmacokinet 60:501 (H): FRn 0.54 per spray, ka_n 2.93/h
        "perez_ruixo2021": RouteParameters(
            "intranasal",
            0.54,
            2.93,
            0.46,
            "Perez-Ruixo 2021: FRn 0.54, ka 2.93/h (H)",
            cv_ka=0.615,  # Perez-Ruixo 2021: IIV of ka_n 61.5% (H)
        ),
    },
}


def parameter_table(name: str) -> list[tuple[str, float, str]]:
    """Rows (field, value, source) of a disposition parameter set, for reports and docs."""
    ps = PARAMETER_SETS[name]
    return [
        (f.name, getattr(ps, f.name), ps.sources.get(f.name, ""))
        for f in fields(ps)
        if f.name not in ("name", "sources")
    ]
