"""Scenario-schema reference: README copy in sync, every field listed, rendering, CLI errors."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

import ketsim.config.scenario as sc
from ketsim.apps import schema_doc
from ketsim.apps.schema_doc import (
    END_MARKER,
    START_MARKER,
    between_markers,
    main,
    replace_between_markers,
    schema_reference,
)
from ketsim.apps.schema_doc.reference import cite_docs
from ketsim.core.pd.parameters import PDParameters

README = Path(__file__).resolve().parents[2] / "README.md"
REGENERATE = "python -m ketsim.apps.schema_doc --write README.md"


@pytest.fixture(scope="module")
def reference() -> str:
    return schema_reference()


def _sections(text: str) -> dict[str, str]:
    """``####`` heading -> body of the subsection."""
    parts = re.split(r"^#### (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (escaped pipes stay inside their cell)."""
    inner = line.strip()[1:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", inner)]


def _rows(body: str) -> dict[str, list[str]]:
    """Table rows of a subsection by key (``name`` for a row starting with `` `name` ``)."""
    rows = {}
    for line in body.splitlines():
        if line.startswith("| `"):
            cells = _cells(line)
            rows[cells[0].strip("`")] = cells
    return rows


def _row(reference: str, heading: str, key: str) -> list[str]:
    return _rows(_sections(reference)[heading])[key]


def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    """Pydantic models inside a type, found independently of ketsim.apps.schema_doc."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _all_models() -> list[type[BaseModel]]:
    todo, seen = [sc.Scenario], []
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            todo += _models_in(field.annotation)
    return seen


def test_readme_matches_the_schema(reference):
    """README.md between the markers is exactly the generated reference."""
    block = between_markers(README.read_text(encoding="utf-8"))
    assert block == reference, (
        "README.md's schema reference is out of date with the schema (ketsim/config/scenario.py, "
        f"ketsim/config/schema/); run `{REGENERATE}`"
    )


def test_every_field_of_every_reachable_model_is_listed(reference):
    """Each model has a subsection naming it, with one row per field; pd lists PDParameters."""
    sections = _sections(reference)
    models = _all_models()
    assert len(models) >= 20
    by_model = {}
    for heading, body in sections.items():
        m = re.match(r"\s*`(\w+)`", body)
        if m:
            by_model[m.group(1)] = heading
    for model in models:
        assert model.__name__ in by_model, f"no subsection for {model.__name__}"
        rows = _rows(sections[by_model[model.__name__]])
        for name, field in model.model_fields.items():
            assert (field.alias or name) in rows, f"{model.__name__}.{name} missing"
        assert len(rows) == len(model.model_fields)
    assert len(sections) == len(models) + 1  # + pd
    pd_rows = _rows(sections["pd"])
    assert list(pd_rows) == [f.name for f in dataclasses.fields(PDParameters)]


def test_tables_are_well_formed(reference):
    """Every table line has four cells; every internal link points at a README heading."""
    for line in reference.splitlines():
        if line.startswith("|"):
            assert len(_cells(line)) == 4, line
    # GitHub's anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 on repeats
    readme = re.sub(r"^```.*?^```", "", README.read_text(encoding="utf-8"), flags=re.M | re.S)
    slugs: list[str] = []
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+)$", readme, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.append(f"{slug}-{seen[slug]}" if seen.get(slug) else slug)
        seen[slug] = seen.get(slug, 0) + 1
    for target in set(re.findall(r"\]\(#([^)]+)\)", reference)):
        assert slugs.count(target) == 1, f"link #{target} does not reach exactly one heading"


def test_rendering_spot_checks(reference):
    """Literal, constrained int and number, rate, time and required fields."""
    # a Literal: allowed values joined by escaped pipes; 'null' quoted (YAML would read None)
    row = _row(reference, "switches", "cyp2b6_effect")
    assert row[1] == r'`in_vitro` \| `"null"`'
    assert row[2] == '`"in_vitro"`'
    assert row[3] == sc.SwitchesSpec.model_fields["cyp2b6_effect"].description
    # constrained ints and numbers, optional ones
    assert _row(reference, "regimens[]", "repeats")[1:3] == ["int in [1, 10000]", "`1`"]
    assert _row(reference, "endpoints[]", "week")[1] == "int ≥ 1 or null"
    assert _row(reference, "endpoints[]", "threshold_pct")[1:3] == ["number in (0, 100]", "`30.0`"]
    assert _row(reference, "statistics", "alpha")[1:3] == ["number in (0, 1)", "`0.05`"]
    # rates, amounts and times with their units
    step = _row(reference, "arms[].regimens[].titration", "step")
    assert step[1].startswith("dose rate (mg/h, ") and "µg/kg/min" in step[1]
    assert step[2] == '`"1.2 µg/kg/min"`'
    assert _row(reference, "regimens[]", "amount")[1].startswith("dose amount (mg, ")
    assert _row(reference, "regimens[]", "amount")[1].endswith(") or null")
    assert _row(reference, "output", "end")[1:3] == [
        "time (h, min, s, d, w; a bare number is hours)",
        '`"2016 h"`',
    ]
    # required keys, nested models and model defaults
    assert _row(reference, "(top level)", "name")[2] == "required"
    assert _row(reference, "design", "crossover")[1] == (
        "mapping ([`design.crossover`](#designcrossover)) or null"
    )
    assert _row(reference, "(top level)", "trial")[2] == "see [`trial`](#trial)"
    assert _row(reference, "population", "expectancy")[2] == "`{mean: 0.5, sd: 0.2}`"
    assert _row(reference, "(top level)", "endpoints")[2] == "`[]`"
    assert _row(reference, "switches", "iiv")[1:3] == ["boolean", "`true`"]


def test_pd_defaults_and_source_comments(reference):
    """pd rows carry the defaults and the trailing source comment of their line in the code."""
    rows = _rows(_sections(reference)["pd"])
    defaults = PDParameters()
    assert rows["acute_c50_ng_ml"][2] == f"`{defaults.acute_c50_ng_ml!r}`"
    source = inspect.getsource(PDParameters)
    commented = re.findall(r"^\s+(\w+): float = [^#\n]*#\s*(.+)$", source, re.MULTILINE)
    assert len(commented) >= 10
    for name, comment in commented:
        note = rows[name][3].replace("\\", "")
        # citations of the design notes point at their copies in docs/ (cite_docs)
        assert cite_docs(comment.strip()) in note, name


def test_source_notes_are_read_from_the_schema_modules():
    """Field comments are read from the module that defines a model (here ExpectedSpec)."""
    from ketsim.apps.schema_doc.source_notes import source_notes
    from ketsim.config.schema.expected import ExpectedSpec

    assert inspect.getsourcefile(ExpectedSpec).endswith("ketsim/config/schema/expected.py")
    notes = source_notes(ExpectedSpec)
    assert list(notes) == list(ExpectedSpec.model_fields)
    assert notes["arm"].section == "selectors"
    assert notes["value"].section == "the published number"
    assert notes["name"].section is None
    assert notes["se"].text == ""


def test_fields_added_at_run_time_are_documented(monkeypatch):
    """The walk follows the schema as it is at call time (e.g. a new ``expected:`` section)."""

    class ExpectedSpec(sc.StrictModel):
        """Expected results."""

        power: float = Field(0.8, gt=0, le=1, description="target power")

    class Extended(sc.Scenario):
        expected: ExpectedSpec | None = Field(None, description="expected results")

    monkeypatch.setattr(sc, "Scenario", Extended)
    text = schema_reference()
    assert _row(text, "expected", "power") == [
        "`power`",
        "number in (0, 1]",
        "`0.8`",
        "target power",
    ]
    assert _row(text, "(top level)", "expected")[1] == "mapping ([`expected`](#expected)) or null"


def test_write_replaces_only_the_marked_block(tmp_path, capsys):
    """--write fills the block, keeps the rest of the file and is idempotent."""
    path = tmp_path / "doc.md"
    path.write_text(f"# title\n\nbefore\n{START_MARKER}\nold\n{END_MARKER}\nafter\n", "utf-8")
    assert main(["--write", str(path)]) == 0
    text = path.read_text(encoding="utf-8")
    assert text.startswith(f"# title\n\nbefore\n{START_MARKER}\n")
    assert text.endswith(f"\n{END_MARKER}\nafter\n")
    assert between_markers(text) == schema_reference()
    assert main(["--write", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == text
    assert replace_between_markers(text, "x\n") == (
        f"# title\n\nbefore\n{START_MARKER}\nx\n{END_MARKER}\nafter\n"
    )


def test_write_without_markers_is_an_error(tmp_path, capsys):
    """A file without the marker lines is left alone and the error names the markers."""
    path = tmp_path / "doc.md"
    path.write_text("# no markers here\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["--write", str(path)])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert START_MARKER in err and END_MARKER in err and str(path) in err
    assert path.read_text(encoding="utf-8") == "# no markers here\n"
    with pytest.raises(SystemExit):
        main(["--write", str(tmp_path / "missing.md")])
    assert "cannot read" in capsys.readouterr().err


def test_print(capsys):
    """Without --write the reference goes to stdout."""
    assert main([]) == 0
    assert capsys.readouterr().out == schema_reference()
    assert schema_doc.__all__
