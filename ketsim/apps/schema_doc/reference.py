"""The scenario-schema reference in Markdown: walks the models reachable from
:class:`ketsim.config.scenario.Scenario`, renders one subsection per model and one for the ``pd:``
overrides (:func:`schema_reference`).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from ketsim.apps.schema_doc.field_types import describe_type
from ketsim.apps.schema_doc.markdown import (
    as_written,
    code_span,
    docstring_blocks,
    heading,
    heading_link,
    md_text,
    table_row,
    value_cell,
    yaml_flow,
)
from ketsim.apps.schema_doc.source_notes import SourceNote, source_notes
from ketsim.config import scenario as _sc
from ketsim.core import units as _units
from ketsim.core.pd import parameters as _pdp

__all__ = [
    "FILLED",
    "PD_PATH",
    "REGENERATE",
    "reachable_models",
    "schema_reference",
]


#: YAML path of the ``pd:`` overrides, which get their own subsection.
PD_PATH = "pd"

#: the command that refreshes README.md's copy of the reference
REGENERATE = "python -m ketsim.apps.schema_doc --write README.md"


# -- walking the models ----------------------------------------------------------------------------
def _child_paths(ann: Any, path: str) -> Iterator[tuple[type[BaseModel], str]]:
    """(model, YAML path) of every model inside a field type, in order of appearance."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        yield ann, path
        return
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Annotated:
        yield from _child_paths(args[0], path)
    elif origin in (list, tuple, set, frozenset):
        for a in args:
            if a is not Ellipsis:
                yield from _child_paths(a, path + "[]")
    elif origin is dict:
        if len(args) == 2:
            yield from _child_paths(args[1], path + ".<key>")
    else:
        for a in args:
            yield from _child_paths(a, path)


def _join_path(path: str, key: str) -> str:
    """The YAML path of ``key`` inside the mapping at ``path``."""
    return f"{path}.{key}" if path else key


def reachable_models(root: type[BaseModel] | None = None) -> dict[type[BaseModel], list[str]]:
    """Every model reachable from ``root`` with the YAML paths where it is used.

    Parameters
    ----------
    root
        The top model; :class:`ketsim.config.scenario.Scenario` when omitted (looked up at call
        time, so fields added to the schema are followed).

    Returns
    -------
    dict
        Model class -> YAML paths (``""`` for the root), in depth-first declaration order.
    """
    root = root or _sc.Scenario
    found: dict[type[BaseModel], list[str]] = {root: [""]}

    def visit(model: type[BaseModel], path: str) -> None:
        for name, field in model.model_fields.items():
            key = field.alias or name
            for child, child_path in _child_paths(field.annotation, _join_path(path, key)):
                if child in found:
                    if child_path not in found[child]:
                        found[child].append(child_path)
                else:
                    found[child] = [child_path]
                    visit(child, child_path)

    visit(root, "")
    return found


# -- one model -------------------------------------------------------------------------------------
FILLED = "†"


def _default_instance(model: type[BaseModel]) -> BaseModel | None:
    """The model built from no keys at all, if its validators allow that."""
    try:
        return model()
    except Exception:  # required keys are missing
        return None


def _default(
    model: type[BaseModel],
    name: str,
    paths: dict[type[BaseModel], list[str]],
    instance: BaseModel | None,
) -> tuple[str, bool]:
    """The default column, and whether it is a value filled in by a validator."""
    field = model.model_fields[name]
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "computed", False
    elif field.default is PydanticUndefined:
        if instance is not None:
            value = as_written(getattr(instance, name), field.annotation, field.metadata)
            return f"{value_cell(value)} {FILLED}", True
        return "required", False
    else:
        value = field.default
    if isinstance(value, BaseModel):
        sub = type(value)
        own = _default_instance(sub)
        target = paths.get(sub, [""])[0]
        if own is not None and own == value:
            return f"see {heading_link(target)}", False
        text = yaml_flow(value.model_dump(mode="json", exclude_defaults=True))
        if len(text) > 80:
            return f"see {heading_link(target)}", False
        return code_span(text), False
    return value_cell(as_written(value, field.annotation, field.metadata)), False


def _model_section(model: type[BaseModel], paths: dict[type[BaseModel], list[str]]) -> list[str]:
    where = paths[model]
    path = where[0]
    lines = [f"#### {heading(path)}", ""]
    intro = f"`{model.__name__}`"
    if len(where) > 1:
        intro += ", also used at " + ", ".join(code_span(p) for p in where[1:])
    doc = docstring_blocks(model.__dict__.get("__doc__"))
    if doc and not doc[0].startswith(("- ", "```")):
        lines.append(f"{intro}: {doc[0]}")
        doc = doc[1:]
    else:
        lines.append(f"{intro}.")
    for para in doc:
        lines += ["", para]
    lines += [
        "",
        table_row(["key", "type / allowed values", "default", "description"]),
        table_row(["---"] * 4),
    ]
    instance = _default_instance(model)
    filled = False
    for name, field in model.model_fields.items():
        key = field.alias or name
        type_text = describe_type(
            field.annotation, list(field.metadata), paths, _join_path(path, key)
        )
        if _join_path(path, key) == PD_PATH:
            type_text += f"; names and defaults: {heading_link(PD_PATH)}"
        default, was_filled = _default(model, name, paths, instance)
        filled |= was_filled
        lines.append(
            table_row([code_span(key), type_text, default, md_text(field.description or "")])
        )
    if filled:
        lines += [
            "",
            f"{FILLED} required by the schema but filled in by the model's validator when left "
            "out; the value shown is the one filled in when the whole section is left out.",
        ]
    return [*lines, ""]


def _module_paragraphs(module: Any) -> list[str]:
    """The body of a module docstring (title and References section left out)."""
    doc = inspect.cleandoc(module.__doc__ or "")
    doc = re.split(r"\n\s*References\n-+\n", doc)[0]
    return docstring_blocks(doc)[1:]


def _pd_section() -> list[str]:
    cls = _pdp.PDParameters
    lines = [f"#### {PD_PATH}", ""]
    doc = docstring_blocks(cls.__doc__)
    intro = f"`{cls.__module__}.{cls.__name__}`" + (f": {doc[0]}" if doc else ".")
    lines.append(intro)
    for para in _module_paragraphs(_pdp):
        lines += ["", para]
    lines += [
        "",
        table_row(["key", "type", "default", "source / note (from the code)"]),
        table_row(["---"] * 4),
    ]
    defaults = cls()
    hints = typing.get_type_hints(cls)
    notes = source_notes(cls)
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
        meta = {f.name: dict(f.metadata) for f in dataclasses.fields(cls)}
    else:  # a pydantic model
        names = list(cls.model_fields)
        meta = {n: {"description": f.description} for n, f in cls.model_fields.items()}
    section = None
    for name in names:
        note = notes.get(name, SourceNote())
        if note.section and note.section != section:
            section = note.section
            lines.append(table_row([f"**{md_text(section)}**", "", "", ""]))
        text = " ".join(
            str(meta[name][k]) for k in ("source", "description", "doc") if meta[name].get(k)
        )
        text = " ".join(t for t in (text, note.text) if t)
        lines.append(
            table_row(
                [
                    code_span(name),
                    describe_type(hints.get(name, Any), [], {}),
                    value_cell(getattr(defaults, name)),
                    md_text(text),
                ]
            )
        )
    return [*lines, ""]


# -- the reference ---------------------------------------------------------------------------------
def _source_files(models: list[type[BaseModel]]) -> list[str]:
    """Repository paths of the modules defining ``models``, in order of first appearance."""
    modules = dict.fromkeys(m.__module__ for m in models)
    return [module.replace(".", "/") + ".py" for module in modules]


def _preamble(models: list[type[BaseModel]]) -> list[str]:
    strict = all(m.model_config.get("extra") == "forbid" for m in models)
    forbid = "; unknown keys are errors" if strict else ""
    files = [code_span(f) for f in _source_files(models)]
    where = files[0] if len(files) == 1 else f"{', '.join(files[:-1])} and {files[-1]}"
    return [
        f"Generated from the pydantic schema in {where}; "
        "do not edit by hand, run "
        f"`{REGENERATE}`. Keys are listed in declaration order{forbid}.",
        "",
        'Quantities with units are strings such as `"20 mg/h"` or mappings '
        "`{value: 20, unit: mg/h}`; unit names ignore case and accept ASCII `ug`/`mcg` for `µg`. "
        f"Amounts: {', '.join(_units.AMOUNT_UNITS)}. "
        f"Rates: {', '.join(_units.RATE_UNITS)}. "
        f"Times: {', '.join(_units.DURATION_UNITS)} (a bare number is hours).",
        "",
    ]


def schema_reference() -> str:
    """The scenario-schema reference as Markdown.

    Returns
    -------
    str
        A preamble, one ``####`` subsection per model reachable from
        :class:`ketsim.config.scenario.Scenario` (depth-first, in declaration order) and one for the
        ``pd:`` parameters; ends with a blank line so that a following HTML comment is not read
        as a table row.
    """
    paths = reachable_models()
    lines = _preamble(list(paths))
    for model in paths:
        lines += _model_section(model, paths)
    if PD_PATH in _sc.Scenario.model_fields:
        lines += _pd_section()
    return cite_docs("\n".join(lines) + "\n")


#: the design notes the code cites, and their copies in the repository's docs/
DESIGN_NOTES = {
    "MODEL.md": "docs/model.md",
    "PARAMETERS.md": "docs/parameters.md",
    "ARCHITECTURE.md": "docs/architecture.md",
}
_NOTE = re.compile(
    r"`?(?:\.\./shared/design/|shared/design/)?(MODEL|PARAMETERS|ARCHITECTURE)\.md`?"
)


def cite_docs(text: str, markdown: bool = True) -> str:
    """``text`` with each citation of a design note (``MODEL.md §4``) pointing at its version in
    the repository (``docs/model.md §4``, a Markdown link unless ``markdown`` is false), so that
    the README and the report resolve without the notes."""

    def link(m: re.Match) -> str:
        doc = DESIGN_NOTES[f"{m.group(1)}.md"]
        return f"[{doc}]({doc})" if markdown else doc

    return _NOTE.sub(link, text)
