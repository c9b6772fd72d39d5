"""Tables the power panel adds when the run has them: the group-sequential design of the primary
analysis (``group_sequential*``) and multiplicity across analyses (``multiplicity``)."""

from __future__ import annotations

from ketsim.apps.report.html_parts import _e, _table
from ketsim.storage.reader import RunTables

__all__ = ["sequential_tables"]


def sequential_tables(run: RunTables) -> str:
    """HTML of the group-sequential and multiplicity tables ('' when the run has neither)."""
    out = []
    looks, summ = run.table("group_sequential"), run.table("group_sequential_summary")
    if looks is not None and not looks.empty and summ is not None and not summ.empty:
        s = summ.iloc[0]
        out.append(
            f"<h3>Group-sequential design ({_e(s['spending'])} spending, "
            f"{int(s['sides'])}-sided alpha {s['alpha']:g})</h3>"
        )
        out.append(
            _table(
                looks,
                {
                    "comparison": "comparison",
                    "look": "look",
                    "info": "information",
                    "weeks": "week",
                    "n_analysed": "patients analysed",
                    "efficacy_z": "efficacy z",
                    "nominal_p": "nominal p",
                    "futility_z": "futility z",
                    "p_efficacy": "P(stop, efficacy)",
                    "p_futility": "P(stop, futility)",
                    "cumulative_power": "cumulative power",
                },
                digits=4,
            )
        )
        out.append(
            _table(
                summ,
                {
                    "comparison": "comparison",
                    "power": "overall power",
                    "mc_se": "MC SE",
                    "fixed_power": "without looks",
                    "p_stop_early": "P(stop early)",
                    "expected_n": "expected n analysed",
                    "expected_n_enrolled": "expected n enrolled",
                    "expected_weeks": "expected weeks",
                },
            )
        )
    mult = run.table("multiplicity")
    if mult is not None and not mult.empty:
        m = mult.iloc[0]
        out.append(
            f"<h3>Multiplicity across analyses ({_e(m['method'])}, alpha {m['alpha']:g})</h3>"
        )
        out.append(
            _table(
                mult,
                {
                    "hypothesis": "hypothesis",
                    "analysis": "analysis",
                    "power_unadjusted": "unadjusted",
                    "power": "after the procedure",
                    "mc_se": "MC SE",
                },
            )
        )
    return "".join(out)
