"""Individual PK parameters and the linear compartment system of one ketamine enantiomer.

State layout (amounts in mg; effect-site states are concentrations in mg/L = µg/mL):

====  =====================================================================
K1    ketamine, central (V1)
K2    ketamine, shallow peripheral (V2)
K3    ketamine, deep peripheral (V3)
T1    metabolism transit 1 (mg of norketamine being formed)
T2    metabolism transit 2
N1    norketamine, central (VN1)
N2    norketamine, peripheral (VN2)
EF    fast effect site (t½ke0 8.3 min), concentration
ES    slow "disease-modifying" compartment (t½ 10.9 d), concentration
GUT   gut lumen (oral and swallowed fractions) - only when such a route is used
D_*   one absorption depot per mucosal/parenteral route used (sublingual, intranasal, SC, IM)
SK    sink: ketamine eliminated other than to norketamine (only with ``with_sinks``)
SN    sink: norketamine eliminated (only with ``with_sinks``)
====  =====================================================================

Genotype and co-medication act on the intrinsic hepatic clearance of a well-stirred liver
(MODEL.md §2). To keep the published sex effect (×1.20 on total clearance) and the log-normal IIV of
clearance exact, a patient's scale factor (allometry × sex × IIV) multiplies hepatic blood flow,
intrinsic clearance and extrahepatic clearance alike, so that the hepatic extraction ratio
depends on
enzyme activity only. This is a modelling assumption (L), named here and in the docs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ketsim.core.pk import parameters as prm

__all__ = [
    "Covariates",
    "IndividualPK",
    "LinearSystem",
    "PKSwitches",
    "build_system",
    "individual_parameters",
]

Enantiomer = Literal["S", "R"]
INFUSION_ROUTES = ("iv", "subcutaneous")
BOLUS_ROUTES = ("iv", "oral", "sublingual", "intranasal", "subcutaneous", "intramuscular")
CORE_STATES = ("K1", "K2", "K3", "T1", "T2", "N1", "N2", "EF", "ES")
OUTPUTS = ("ketamine", "norketamine", "ce_fast", "ce_slow")
AUC_OUTPUTS = ("auc_ketamine", "auc_norketamine")
#: eta columns: CL, V1, CL_NK, MTT, then absorption rate and mucosal fraction of the
#: extravascular route (one pair per patient, scaled by each route's own CV).
N_ETA = 6
ETA_KA, ETA_F_MUCOSAL = 4, 5


@dataclass(frozen=True)
class PKSwitches:
    """Switches over uncertain PK assumptions (MODEL.md §2).

    Attributes
    ----------
    sex_effect : women clear S-K and S-NK 20% faster (Sigtermans 2009, H); off reproduces
        Perez-Ruixo 2021 (n=820), which found no sex effect.
    cyp2b6_effect : ``"in_vitro"`` applies the diplotype activities derived from Li 2013;
        ``"null"`` sets every diplotype to full activity (Rao 2016 found no in-vivo effect).
    r_inhibits_s : in the racemate, R-ketamine lowers S-ketamine clearance by 30% (Ihmsen 2001, L).
    iiv : between-patient variability on CL, V1, CL_NK and MTT (log-normal) and on the absorption
        rate and mucosal fraction of routes with a known CV (intranasal: ka CV 61.5%,
        Perez-Ruixo 2021).
    intranasal : ``"huge2010"`` (nasal fraction calibrated to Huge 2010's Cmax) or
        ``"perez_ruixo2021"`` (nasal fraction 0.54 per spray).
    """

    sex_effect: bool = True
    cyp2b6_effect: Literal["in_vitro", "null"] = "in_vitro"
    r_inhibits_s: bool = False
    iiv: bool = True
    intranasal: Literal["huge2010", "perez_ruixo2021"] = "huge2010"


@dataclass
class Covariates:
    """Per-patient covariates, patients-first arrays of length P."""

    weight_kg: np.ndarray
    female: np.ndarray
    cyp2b6_activity: np.ndarray = None  # enzyme activity from the diplotype (1 = *1/*1)
    cyp2b6_mult: np.ndarray = None  # co-medication multipliers
    cyp3a_liver_mult: np.ndarray = None
    cyp3a_gut_mult: np.ndarray = None
    nk_clearance_mult: np.ndarray = None
    # multiplier of the 'other' hepatic pathways (fm_other: CYP2A6, CYP2C9), e.g. CYP2C9 genotype
    other_mult: np.ndarray = None

    def __post_init__(self) -> None:
        self.weight_kg = np.asarray(self.weight_kg, dtype=float)
        p = self.weight_kg.shape[0]
        self.female = np.asarray(self.female, dtype=bool)
        for name in (
            "cyp2b6_activity",
            "cyp2b6_mult",
            "cyp3a_liver_mult",
            "cyp3a_gut_mult",
            "nk_clearance_mult",
            "other_mult",
        ):
            v = getattr(self, name)
            setattr(self, name, np.ones(p) if v is None else np.asarray(v, dtype=float))

    @property
    def n(self) -> int:
        return self.weight_kg.shape[0]

    @classmethod
    def typical(cls, n: int = 1, weight_kg: float = 70.0, female: bool = False) -> Covariates:
        """``n`` identical typical patients (no genotype or co-medication effects)."""
        return cls(np.full(n, float(weight_kg)), np.full(n, bool(female)))

    def take(self, idx) -> Covariates:
        """The covariates of a subset of patients."""
        return Covariates(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})


@dataclass
class IndividualPK:
    """Individual parameters of one enantiomer system, arrays of length P (L, L/h, 1/h)."""

    v1: np.ndarray
    v2: np.ndarray
    v3: np.ndarray
    cl: np.ndarray
    q2: np.ndarray
    q3: np.ndarray
    fm: np.ndarray
    ktr: np.ndarray
    vn1: np.ndarray
    vn2: np.ndarray
    cln: np.ndarray
    qn: np.ndarray
    ke0_fast: np.ndarray
    ke0_slow: np.ndarray
    f_hepatic: np.ndarray  # hepatic availability F_H of the well-stirred liver
    f_gut: np.ndarray  # gut-wall availability F_g
    extra: dict = field(default_factory=dict)


def _lognormal(eta: np.ndarray | None, col: int, cv: float, p: int) -> np.ndarray:
    if eta is None:
        return np.ones(p)
    return np.exp(np.sqrt(np.log1p(cv * cv)) * eta[:, col])


def individual_parameters(
    covariates: Covariates,
    parameter_set: str = "noppers2011",
    switches: PKSwitches | None = None,
    eta: np.ndarray | None = None,
    enantiomer: Enantiomer = "S",
    racemic: bool = False,
    hepatic: prm.HepaticParameters | None = None,
) -> IndividualPK:
    """Individual parameters for ``P`` patients.

    Parameters
    ----------
    covariates : patients' covariates.
    parameter_set : a key of :data:`ketsim.core.pk.parameters.PARAMETER_SETS`.
    switches : PK switches; defaults to :class:`PKSwitches()`.
    eta : ``(P, 6)`` standard-normal deviates for CL, V1, CL_NK, MTT, the absorption rate and the
        mucosal fraction (ignored when ``switches.iiv`` is off; ``None`` gives typical values).
    enantiomer, racemic : which system; R-ketamine clears at 0.944 × S (Hasan 2021), and with
        ``r_inhibits_s`` S-ketamine given as racemate clears 30% slower (Ihmsen 2001, L).

    References
    ----------
    MODEL.md §2 and :mod:`ketsim.core.pk.parameters`.
    """
    sw = switches or PKSwitches()
    hp = hepatic or prm.HepaticParameters()
    ps = prm.PARAMETER_SETS[parameter_set]
    cov = covariates
    p = cov.n
    if not sw.iiv:
        eta = None
    elif eta is not None and eta.shape != (p, N_ETA):
        raise ValueError(f"eta must have shape ({p}, {N_ETA})")

    wt = cov.weight_kg / prm.REFERENCE_WEIGHT_KG
    allo_cl = wt**prm.ALLOMETRIC_CL
    allo_v = wt**prm.ALLOMETRIC_V
    sex = np.where(cov.female & sw.sex_effect, prm.FEMALE_CLEARANCE_FACTOR, 1.0)

    scale = allo_cl * sex * _lognormal(eta, 0, ps.cv_cl, p)
    if enantiomer == "R":
        scale = scale * prm.R_OVER_S_CLEARANCE
    elif racemic and sw.r_inhibits_s:
        scale = scale * (1.0 - prm.R_INHIBITS_S_FRACTION)

    a2b6 = cov.cyp2b6_mult * (cov.cyp2b6_activity if sw.cyp2b6_effect == "in_vitro" else 1.0)
    activity = (
        hp.fm_cyp2b6 * a2b6 + hp.fm_cyp3a * cov.cyp3a_liver_mult + hp.fm_other * cov.other_mult
    )
    qh = hp.qh * scale
    clint = hp.clint * scale * activity
    cl_hep = qh * clint / (qh + clint)
    cl_extra = (ps.cl - hp.cl_hepatic) * scale
    kg = (1.0 - hp.fg) / hp.fg  # gut-wall intrinsic clearance relative to gut flow, typical
    f_gut = 1.0 / (1.0 + kg * cov.cyp3a_gut_mult)

    mtt = ps.mtt_h * _lognormal(eta, 3, ps.cv_mtt, p)
    routes = {**prm.ROUTES, "intranasal": prm.ROUTE_ALTERNATIVES["intranasal"][sw.intranasal]}
    cln = ps.cln * allo_cl * sex * _lognormal(eta, 2, ps.cv_cln, p) * cov.nk_clearance_mult
    return IndividualPK(
        v1=ps.v1 * allo_v * _lognormal(eta, 1, ps.cv_v1, p),
        v2=ps.v2 * allo_v,
        v3=ps.v3 * allo_v,
        cl=cl_hep + cl_extra,
        q2=ps.q2 * allo_cl,
        q3=ps.q3 * allo_cl,
        fm=np.full(p, ps.fm),
        ktr=2.0 / mtt,  # two transit compartments share the mean transit time
        vn1=ps.vn1 * allo_v,
        vn2=ps.vn2 * allo_v,
        cln=cln,
        qn=ps.qn * allo_cl,
        ke0_fast=np.full(p, prm.ln2 / prm.T_HALF_KE0_FAST_H),
        ke0_slow=np.full(p, prm.ln2 / prm.T_HALF_SLOW_H),
        f_hepatic=qh / (qh + clint),
        f_gut=f_gut,
        extra={
            "f_abs_oral": hp.f_abs_oral,
            "routes": routes,
            "absorption": {r: _absorption(rp, eta, p) for r, rp in routes.items()},
        },
    )


@dataclass(frozen=True)
class Absorption:
    """One patient-array of absorption parameters of an extravascular route."""

    ka_per_h: np.ndarray
    f_mucosal: np.ndarray
    f_swallowed: np.ndarray


def _absorption(rp: prm.RouteParameters, eta: np.ndarray | None, p: int) -> Absorption:
    """Individual absorption of a route: log-normal ka, logit-normal mucosal fraction.

    The logit-normal keeps the fraction inside (0, 1); its logit SD is chosen so that the CV is
    ``cv_f_mucosal`` to first order at the typical value (delta method: CV = sd * (1 - f)).
    """
    ka = rp.ka_per_h * _lognormal(eta, ETA_KA, rp.cv_ka, p)
    f = np.full(p, rp.f_mucosal)
    if eta is not None and rp.cv_f_mucosal > 0 and 0.0 < rp.f_mucosal < 1.0:
        sd = rp.cv_f_mucosal / (1.0 - rp.f_mucosal)
        logit = np.log(rp.f_mucosal / (1.0 - rp.f_mucosal)) + sd * eta[:, ETA_F_MUCOSAL]
        f = 1.0 / (1.0 + np.exp(-logit))
    # what is not absorbed through the mucosa is swallowed in the route's typical proportion
    swallowed = (
        rp.f_swallowed * (1.0 - f) / (1.0 - rp.f_mucosal) if rp.f_mucosal < 1.0 else np.zeros(p)
    )
    return Absorption(ka, f, np.broadcast_to(swallowed, (p,)).copy())


@dataclass
class LinearSystem:
    """``dx/dt = A x + B r(t)``, outputs ``y = C x``; boluses add ``Bb @ amounts`` to ``x``.

    Arrays are patients-first: ``A (P,n,n)``, ``B (P,n,n_inf)``, ``Bb (P,n,n_bolus)``,
    ``C (P,n_out,n)``. Rates are in mg/h, bolus amounts in mg, outputs in ng/mL.
    """

    A: np.ndarray
    B: np.ndarray
    Bb: np.ndarray
    C: np.ndarray
    states: tuple[str, ...]
    infusion_routes: tuple[str, ...]
    bolus_routes: tuple[str, ...]
    outputs: tuple[str, ...] = OUTPUTS

    @property
    def n_patients(self) -> int:
        return self.A.shape[0]

    def index(self, state: str) -> int:
        return self.states.index(state)


_DEPOT = {
    "sublingual": "D_SL",
    "intranasal": "D_IN",
    "subcutaneous": "D_SC",
    "intramuscular": "D_IM",
}


def build_system(
    ip: IndividualPK,
    infusion_routes: tuple[str, ...] = ("iv",),
    bolus_routes: tuple[str, ...] = (),
    with_sinks: bool = False,
    with_auc: bool = False,
) -> LinearSystem:
    """Assemble the linear system of one enantiomer for the routes a regimen uses.

    Only the depots of the routes used are included, so an IV-only regimen has 9 states.
    ``with_sinks`` adds two states that collect eliminated drug, for mass-balance checks.
    ``with_auc`` adds two integrator states and outputs, ``auc_ketamine`` and
    ``auc_norketamine`` (ng·h/mL since the first event), so that AUCs are exact.
    """
    for r in infusion_routes:
        if r not in INFUSION_ROUTES:
            raise ValueError(f"infusion route {r!r} not supported; allowed: {INFUSION_ROUTES}")
    for r in bolus_routes:
        if r not in BOLUS_ROUTES:
            raise ValueError(f"bolus route {r!r} not supported; allowed: {BOLUS_ROUTES}")
    routes = set(infusion_routes) | set(bolus_routes)
    route_params = ip.extra.get("routes", prm.ROUTES)
    states = list(CORE_STATES)
    swallow = any(route_params[r].f_swallowed > 0 for r in routes if r in route_params)
    if swallow or "oral" in routes:
        states.append("GUT")
    for r in ("sublingual", "intranasal", "subcutaneous", "intramuscular"):
        if r in routes:
            states.append(_DEPOT[r])
    if with_sinks:
        states += ["SK", "SN"]
    if with_auc:
        states += ["AK", "AN"]
    s = {name: i for i, name in enumerate(states)}
    p = ip.v1.shape[0]
    n = len(states)
    A = np.zeros((p, n, n))
    # norketamine formed per mg of ketamine metabolised (mass, through the molecular weights)
    mw = prm.MW_NORKETAMINE / prm.MW_KETAMINE

    def flow(src: str, dst: str | None, k: np.ndarray) -> None:
        """First-order flow with rate constant k (1/h) from src; dst None = leaves the system."""
        A[:, s[src], s[src]] -= k
        if dst is not None:
            A[:, s[dst], s[src]] += k

    k10 = ip.cl / ip.v1
    flow("K1", "K2", ip.q2 / ip.v1)
    flow("K2", "K1", ip.q2 / ip.v2)
    flow("K1", "K3", ip.q3 / ip.v1)
    flow("K3", "K1", ip.q3 / ip.v3)
    # elimination of ketamine: fm of it forms norketamine (through the transit delay)
    A[:, s["K1"], s["K1"]] -= k10
    A[:, s["T1"], s["K1"]] += ip.fm * k10 * mw
    if with_sinks:
        A[:, s["SK"], s["K1"]] += (1.0 - ip.fm) * k10
    flow("T1", "T2", ip.ktr)
    flow("T2", "N1", ip.ktr)
    flow("N1", "N2", ip.qn / ip.vn1)
    flow("N2", "N1", ip.qn / ip.vn2)
    flow("N1", "SN" if with_sinks else None, ip.cln / ip.vn1)
    # effect sites are driven by the ketamine plasma concentration, without mass transfer
    for e, ke0 in (("EF", ip.ke0_fast), ("ES", ip.ke0_slow)):
        A[:, s[e], s["K1"]] += ke0 / ip.v1
        A[:, s[e], s[e]] -= ke0
    if "GUT" in s:
        ka = route_params["oral"].ka_per_h
        fsys = ip.f_gut * ip.f_hepatic  # escapes gut wall and liver
        A[:, s["GUT"], s["GUT"]] -= ka
        A[:, s["K1"], s["GUT"]] += ka * fsys
        # first-pass extraction (gut wall and liver) forms presystemic norketamine
        A[:, s["T1"], s["GUT"]] += ka * (1.0 - fsys) * ip.fm * mw
        if with_sinks:
            A[:, s["SK"], s["GUT"]] += ka * (1.0 - fsys) * (1.0 - ip.fm)
    absorption = ip.extra.get("absorption", {})

    def absorbed(route: str) -> Absorption:
        if route in absorption:
            return absorption[route]
        rp = route_params[route]
        return Absorption(
            np.full(p, rp.ka_per_h), np.full(p, rp.f_mucosal), np.full(p, rp.f_swallowed)
        )

    for r, d in _DEPOT.items():
        if d in s:
            flow(d, "K1", absorbed(r).ka_per_h)

    def input_vector(route: str) -> np.ndarray:
        """Where 1 mg given by ``route`` lands (the rest is never absorbed)."""
        v = np.zeros((p, n))
        if route == "iv":
            v[:, s["K1"]] = 1.0
            return v
        ab = absorbed(route)
        if route != "oral":
            v[:, s[_DEPOT[route]]] = ab.f_mucosal
        if route_params[route].f_swallowed > 0:
            v[:, s["GUT"]] = ab.f_swallowed * ip.extra["f_abs_oral"]
        return v

    B = (
        np.stack([input_vector(r) for r in infusion_routes], axis=-1)
        if infusion_routes
        else (np.zeros((p, n, 0)))
    )
    Bb = (
        np.stack([input_vector(r) for r in bolus_routes], axis=-1)
        if bolus_routes
        else (np.zeros((p, n, 0)))
    )
    outputs = OUTPUTS + (AUC_OUTPUTS if with_auc else ())
    C = np.zeros((p, len(outputs), n))
    C[:, 0, s["K1"]] = 1000.0 / ip.v1  # mg/L -> ng/mL
    C[:, 1, s["N1"]] = 1000.0 / ip.vn1
    C[:, 2, s["EF"]] = 1000.0
    C[:, 3, s["ES"]] = 1000.0
    if with_auc:
        # integrators of the plasma concentrations (ng/mL * h), read as outputs
        A[:, s["AK"], s["K1"]] = 1000.0 / ip.v1
        A[:, s["AN"], s["N1"]] = 1000.0 / ip.vn1
        C[:, 4, s["AK"]] = 1.0
        C[:, 5, s["AN"]] = 1.0
    return LinearSystem(
        A, B, Bb, C, tuple(states), tuple(infusion_routes), tuple(bolus_routes), outputs
    )
