"""``ketsim init [TEMPLATE]``: write a commented starting scenario for a common design.

The templates live in ``ketsim/apps/templates/`` (package data) and are ordinary scenarios: each is
validated and simulated by the test suite, so what ``init`` writes always runs. Beside the
scenario ``init`` writes the JSON Schema that the templates' ``yaml-language-server`` modeline
names, so an editor with the YAML language server completes and checks fields at once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ketsim.apps.common import EXIT_OK, EXIT_USAGE

__all__ = ["SCHEMA_FILE", "TEMPLATES", "template_text"]

#: template name -> one line on what it is
TEMPLATES: dict[str, str] = {
    "multi_day_infusion": "100-h titrated IV infusion vs saline, parallel (Sigtermans 2009 style)",
    "daily_sessions": "ten daily 4-h outpatient infusions vs saline (Schwartzman 2009 style)",
    "crossover_single_infusion": "AB/BA crossover of one 1-h infusion vs saline, with washout",
    "enrichment_withdrawal": "open-label run-in, responders randomised to continue or withdraw",
    "oral_maintenance": "4-h infusion then oral S-ketamine three times a day vs placebo",
    "intranasal_maintenance": "intranasal S-ketamine 0.2 mg/kg twice a day vs placebo spray",
}
#: the file the templates' modeline points at (written beside the scenario)
SCHEMA_FILE = "ketsim-scenario.schema.json"


def template_text(name: str) -> str:
    """The YAML text of template ``name`` (one of :data:`TEMPLATES`)."""
    if name not in TEMPLATES:
        raise KeyError(name)
    return (resources.files("ketsim.apps") / "templates" / f"{name}.yaml").read_text("utf-8")


def _listing() -> str:
    width = max(map(len, TEMPLATES))
    rows = [f"  {k:<{width}}  {v}" for k, v in TEMPLATES.items()]
    return "templates:\n" + "\n".join(rows) + "\n\nwrite one: ketsim init TEMPLATE [--out FILE]"


def _cmd_init(args) -> int:
    if args.template is None:
        print(_listing())
        return EXIT_OK
    out = Path(args.out or f"{args.template}.yaml")
    if out.exists() and not args.force:
        print(f"ketsim init: {out} exists; choose another --out or pass --force to overwrite it")
        return EXIT_USAGE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(template_text(args.template), encoding="utf-8")
    print(f"wrote {out}")
    schema = out.parent / SCHEMA_FILE
    if not schema.exists():
        from ketsim.apps.cli.scenario_commands import scenario_json_schema

        schema.write_text(scenario_json_schema(), encoding="utf-8")
        print(f"wrote {schema} (editor completion: see the README, 'JSON Schema')")
    print(f"next: ketsim scenario validate {out} && ketsim power {out} --replicates 1000")
    return EXIT_OK
