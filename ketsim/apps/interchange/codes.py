"""NONMEM interchange: dataset columns and the compartment, route, DVID and treatment codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2

#: compartment numbers: where a dose enters (1-6) or what an observation reads (1, 7, 8)
CMT_CODES: dict[int, str] = {
    1: "central (IV bolus and IV infusion; S-ketamine plasma observations)",
    2: "gut (oral)",
    3: "sublingual depot",
    4: "intranasal depot",
    5: "subcutaneous depot (SC bolus and SC infusion)",
    6: "intramuscular depot",
    7: "S-norketamine central (observations only)",
    8: "pain NRS (PD observations only; not a PK compartment)",
}
#: dose compartment of each ketsim route (an infusion and a bolus share the depot of their site)
ROUTE_CMT: dict[str, int] = {
    "iv_infusion": 1,
    "iv_bolus": 1,
    "oral": 2,
    "sublingual": 3,
    "intranasal": 4,
    "subcutaneous": 5,
    "subcutaneous_infusion": 5,
    "intramuscular": 6,
}
#: ROUTE column: ketsim route of a dose record (0 on observation records)
ROUTE_CODES: dict[int, str] = {
    1: "iv_infusion",
    2: "iv_bolus",
    3: "oral",
    4: "sublingual",
    5: "intranasal",
    6: "subcutaneous",
    7: "subcutaneous_infusion",
    8: "intramuscular",
}
_ROUTE_CODE = {v: k for k, v in ROUTE_CODES.items()}
#: DVID column: what DV holds (0 on dose records)
DVID_CODES: dict[int, str] = {
    1: "S-ketamine plasma concentration, ng/mL (CMT 1)",
    2: "S-norketamine plasma concentration, ng/mL (CMT 7)",
    3: "daily pain diary NRS 0-10, integer (CMT 8)",
}
_DVID_CMT = {1: 1, 2: 7, 3: 8}
#: TRT column: treatment of the segment in force at the record's time
TRT_CODES: dict[int, str] = {
    0: "placebo",
    1: "ketamine",
    2: "active placebo (midazolam)",
    3: "lidocaine (active comparator)",
}
_TRT_OF = {"ketamine": 1, "placebo": 0, "active_placebo": 2, "lidocaine": 3}

#: every column to_nonmem writes: name -> (description, unit)
COLUMNS: dict[str, tuple[str, str]] = {
    "ID": ("patient, unique across replicates (1 + row of TrialResult.patients)", ""),
    "TIME": ("time on the trial clock (t = 0: start of the patient's first treatment)", "h"),
    "EVID": ("event: 1 dose, 0 observation", ""),
    "AMT": ("dose: bolus amount, or infusion amount = RATE x duration (0 on observations)", "mg"),
    "RATE": ("infusion rate (0: bolus, and on observations)", "mg/h"),
    "CMT": ("compartment (CMT codes)", ""),
    "DV": ("observation (DVID says what); missing ('.') on dose records", "ng/mL or NRS"),
    "MDV": ("1: DV missing (dose records), 0: observation", ""),
    "DVID": ("what DV is (DVID codes); 0 on dose records", ""),
    "ROUTE": ("ketsim route of a dose (ROUTE codes); 0 on observations", ""),
    "TRT": ("treatment in force at TIME (TRT codes)", ""),
    "ARM": ("randomised arm, 1-based in scenario order; 0: crossover or not randomised", ""),
    "SEQ": ("timeline group, 1-based: the arm (parallel, EERW) or the crossover sequence", ""),
    "REP": ("replicate trial", ""),
    "PAT": ("patient within the replicate (0-based, as in ketsim's tables)", ""),
    "WT": ("body weight", "kg"),
    "AGE": ("age", "years"),
    "SEX": ("1 female, 0 male", ""),
    "ANC": ("ancestry: 1 european, 2 east_asian, 3 african", ""),
    "CYP2B6": ("CYP2B6 enzyme activity of the diplotype (in vitro; *1/*1 = 1)", ""),
    "CYPD": ("CYP2B6 diplotype: 1 *1/*1, 2 *1/*6, 3 *6/*6, 4 *1/*18, 5 *6/*18, 6 *18/*18", ""),
    "BNRS": ("mean observed NRS over the baseline days ('.' if none recorded)", "NRS"),
    "RAC": ("1: racemic ketamine given (AMT/RATE are the racemate), 0: S-ketamine", ""),
}
_INT_COLUMNS = ("ID", "EVID", "CMT", "MDV", "DVID", "ROUTE", "TRT", "ARM", "SEQ", "REP", "PAT")
_INT_COLUMNS += ("SEX", "ANC", "CYPD", "RAC")


class InterchangeError(ValueError):
    """Input that cannot be exported or imported; the message names the file, row and column."""
