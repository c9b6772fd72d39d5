"""Scenario-schema reference in Markdown, generated from the pydantic models.

The reference has one subsection per model reachable from :class:`ketsim.config.scenario.Scenario`
(headed by its YAML path, e.g. ``arms[].regimens[].titration``), each with a table of the model's
keys, their types or allowed values, defaults and descriptions, plus a subsection for the ``pd:``
overrides (every field of :class:`ketsim.core.pd.parameters.PDParameters` with its default and the
source noted in the code). Everything is read from the schema at run time, in declaration order,
so the output is deterministic and follows the schema when fields are added.

README.md holds a copy between the lines ``<!-- schema-reference:start -->`` and
``<!-- schema-reference:end -->``; refresh it with::

    python -m ketsim.apps.schema_doc --write README.md
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import io
import json
import re
import sys
import textwrap
import tokenize
import types
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel, BeforeValidator, TypeAdapter
from pydantic_core import PydanticUndefined

from ketsim.config import scenario as _sc
from ketsim.config.schema.regimen import expand_shorthand
from ketsim.core import units as _units
from ketsim.core.pd import parameters as _pdp

__all__ = [
    "END_MARKER",
    "START_MARKER",
    "between_markers",
    "main",
    "pd_parameter_sources",
    "reachable_models",
    "replace_between_markers",
    "schema_reference",
]

START_MARKER = "<!-- schema-reference:start -->"
END_MARKER = "<!-- schema-reference:end -->"

#: YAML path of the ``pd:`` overrides, which get their own subsection.
PD_PATH = "pd"
TOP_LEVEL = "(top level)"
REGENERATE = "python -m ketsim.apps.schema_doc --write README.md"

_NONE_TYPE = type(None)
_UNION_ORIGINS = (typing.Union, types.UnionType)


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


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def reachable_models(root: type[BaseModel] | None = None) -> dict[type[BaseModel], list[str]]:
    """Every model reachable from ``root`` with the YAML paths where it is used.

    Parameters
    ----------
    root
        The top model; :class:`ketsim.config.scenario.Scenario` when omitted (looked up at call
        time, so
        fields added to the schema are followed).

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
            for child, child_path in _child_paths(field.annotation, _join(path, key)):
                if child in found:
                    if child_path not in found[child]:
                        found[child].append(child_path)
                else:
                    found[child] = [child_path]
                    visit(child, child_path)

    visit(root, "")
    return found


# -- Markdown helpers ------------------------------------------------------------------------------
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_RST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def _md(text: str, *, table: bool = True) -> str:
    """Plain text as Markdown: code spans kept, emphasis and HTML characters escaped.

    In a table cell (``table``) pipes are escaped and newlines dropped.
    """
    text = _RST_ROLE.sub(r"`\1`", text)
    out, pos = [], 0
    for m in _CODE_SPAN.finditer(text):
        out.append(_escape(text[pos : m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(_escape(text[pos:]))
    result = "".join(out)
    return result.replace("|", r"\|").replace("\n", " ") if table else result


def _escape(text: str) -> str:
    """Escape characters that Markdown would read as emphasis or HTML (outside code spans)."""
    return re.sub(r"([*<\\])", r"\\\1", text)


def _code(text: str) -> str:
    """A code span (pipes escaped for tables)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", r"\|")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading (without the ``-1`` suffixes of duplicates)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _heading(path: str) -> str:
    return path or TOP_LEVEL


def _link(path: str) -> str:
    return f"[{_code(_heading(path))}](#{_slug(_heading(path))})"


def _paragraphs(doc: str | None) -> list[str]:
    """A docstring as Markdown blocks.

    Paragraphs are joined into single lines, RST definition lists (a term, then its indented
    definition) become bullet lists, and indented blocks after ``::`` become code blocks.
    """
    if not doc:
        return []
    blocks: list[str] = []
    literal_next = False
    for block in re.split(r"\n[ \t]*\n", inspect.cleandoc(doc)):
        lines = [ln.rstrip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        indented = [ln[:1].isspace() for ln in lines]
        if literal_next and all(indented):
            code = textwrap.dedent(block.strip("\n"))
            if blocks and blocks[-1].startswith("```"):  # the literal block goes on
                blocks[-1] = blocks[-1][: -len("```")] + "\n" + code + "\n```"
            else:
                blocks.append("```\n" + code + "\n```")
            continue
        literal_next = False
        if not indented[0] and any(indented[1:]):
            items: list[tuple[str, list[str]]] = []
            for ln, ind in zip(lines, indented, strict=True):
                if not ind:
                    items.append((ln.strip(), []))
                else:
                    items[-1][1].append(ln.strip())
            blocks.append(
                "\n".join(
                    f"- {_md(term, table=False)}"
                    + (f": {_md(' '.join(d), table=False)}" if d else "")
                    for term, d in items
                )
            )
            continue
        text = " ".join(ln.strip() for ln in lines)
        literal_next = text.endswith("::")
        if literal_next:
            text = text[:-1]
        blocks.append(_md(text, table=False))
    return blocks


def _value_cell(value: Any) -> str:
    """A value as a code span (an approximate number keeps its ``≈`` outside the span)."""
    text = _yaml(value)
    if text.startswith("≈ "):
        return "≈ " + _code(text[2:])
    return _code(text)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


# -- values ----------------------------------------------------------------------------------------
def _num(x: float) -> str:
    """A number as written in YAML (short, exact when short)."""
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    r = repr(float(x))
    return r if len(r) <= 10 else f"≈ {x:.6g}"


def _plain_ok(s: str) -> bool:
    """Whether a string reads back as itself when written unquoted in YAML."""
    if not s or s != s.strip() or any(c in s for c in ":#{}[],&*!|>'\"%@`"):
        return False
    try:
        return yaml.safe_load(s) == s
    except yaml.YAMLError:
        return False


def _yaml(value: Any, *, quote_strings: bool = True) -> str:
    """A JSON-able value in compact YAML flow style (strings quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return _num(value)
    if isinstance(value, str):
        if not quote_strings and _plain_ok(value):
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{_yaml(str(k), quote_strings=False)}: {_yaml(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def _jsonable(value: Any, annotation: Any, metadata: list[Any]) -> Any:
    """A default as it would be written in a scenario (through the field's serializer)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ann = typing.Annotated[annotation, *metadata] if metadata else annotation
            return TypeAdapter(ann).dump_python(value, mode="json")
    except Exception:  # fall back to the raw value
        return value


def _sub(here: str | None, suffix: str) -> str | None:
    return None if here is None else here + suffix


# -- types -----------------------------------------------------------------------------------------
def _unit_list(table: dict[str, Any]) -> str:
    """One spelling per distinct unit (µ preferred over its ASCII aliases)."""
    groups: dict[Any, list[str]] = {}
    for unit, value in table.items():
        groups.setdefault(value, []).append(unit)
    names = [next((u for u in us if "µ" in u), us[0]) for us in groups.values()]
    return ", ".join(names)


def _validator_funcs(annotated: Any) -> set[Any]:
    return {
        m.func for m in getattr(annotated, "__metadata__", ()) if isinstance(m, BeforeValidator)
    }


def _unit_kind(func: Any) -> str | None:
    """The quantity read by a before-validator of the schema's unit types, if it is one."""
    kinds = {
        "amount": getattr(_sc, "AmountField", None),
        "rate": getattr(_sc, "RateField", None),
        "time": getattr(_sc, "HoursField", None),
    }
    for kind, annotated in kinds.items():
        if annotated is not None and func in _validator_funcs(annotated):
            return kind
    return None


def _unit_type(kind: str) -> str:
    if kind == "amount":
        return f"dose amount ({_unit_list(_units.AMOUNT_UNITS)})"
    if kind == "rate":
        return f"dose rate ({_unit_list(_units.RATE_UNITS)})"
    return f"time ({_unit_list(_units.DURATION_UNITS)}; a bare number is hours)"


def _bounds(base: str, metadata: list[Any]) -> str:
    lo = hi = None
    lo_closed = hi_closed = True
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            lo, lo_closed = m.ge, True
        elif isinstance(m, annotated_types.Gt):
            lo, lo_closed = m.gt, False
        elif isinstance(m, annotated_types.Le):
            hi, hi_closed = m.le, True
        elif isinstance(m, annotated_types.Lt):
            hi, hi_closed = m.lt, False
    if lo is not None and hi is not None:
        left, right = "[" if lo_closed else "(", "]" if hi_closed else ")"
        return f"{base} in {left}{_num(lo)}, {_num(hi)}{right}"
    if lo is not None:
        return f"{base} {'≥' if lo_closed else '>'} {_num(lo)}"
    if hi is not None:
        return f"{base} {'≤' if hi_closed else '<'} {_num(hi)}"
    return base


def _lengths(metadata: list[Any]) -> tuple[int | None, int | None]:
    lo = hi = None
    for m in metadata:
        if isinstance(m, annotated_types.MinLen):
            lo = m.min_length
        elif isinstance(m, annotated_types.MaxLen):
            hi = m.max_length
    return lo, hi


def _pattern(metadata: list[Any]) -> str | None:
    for m in metadata:
        pattern = getattr(m, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return None


def _literal(values: list[Any]) -> str:
    out = []
    for v in values:
        out.append(_code(_yaml(v, quote_strings=False)))
    return r" \| ".join(out)


def _flat_metadata(items: Any) -> list[Any]:
    """Constraint objects; nested ``FieldInfo`` objects (``Annotated[int, Field(...)]``) opened."""
    out = []
    for m in items:
        inner = getattr(m, "metadata", None)
        if isinstance(inner, list) and hasattr(m, "annotation"):
            out.extend(inner)
            pattern = getattr(m, "pattern", None)
            if pattern:
                out.append(m)
        else:
            out.append(m)
    return out


def _type(
    ann: Any,
    metadata: list[Any],
    paths: dict[type[BaseModel], list[str]],
    here: str | None = None,
) -> str:
    """A field type for humans: constraints, allowed values, units, links to nested models.

    ``here`` is the YAML path of the value being described; a nested model used at another path
    than the one its subsection is headed by is shown as "mapping like <link>".
    """
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)

    if origin is typing.Annotated:
        extra = _flat_metadata(ann.__metadata__)
        funcs = {m.func for m in extra if isinstance(m, BeforeValidator)}
        for func in funcs:
            kind = _unit_kind(func)
            if kind:
                return _unit_type(kind)
        text = _type(args[0], metadata + extra, paths, here)
        if expand_shorthand in funcs:
            text += " or a one-line shorthand string (`ketsim.config.shorthand`)"
        return text

    # the field-level validators of a top-level Annotated type end up in the field's metadata
    for m in metadata:
        if isinstance(m, BeforeValidator):
            kind = _unit_kind(m.func)
            if kind:
                return _unit_type(kind)

    if origin in _UNION_ORIGINS:
        optional = _NONE_TYPE in args
        parts: list[str] = []
        literals: list[Any] = []
        for a in args:
            if a is _NONE_TYPE:
                continue
            if typing.get_origin(a) is typing.Literal:
                literals.extend(typing.get_args(a))
                continue
            if literals:
                parts.append(_literal(literals))
                literals = []
            parts.append(_type(a, metadata, paths, here))
        if literals:
            parts.append(_literal(literals))
        if optional:
            parts.append("null")
        return " or ".join(parts)

    if origin is typing.Literal:
        return _literal(list(args))

    if isinstance(ann, type) and issubclass(ann, BaseModel):
        target = paths[ann][0]
        if here is None or here == target:
            return f"mapping ({_link(target)})"
        return f"mapping like {_link(target)}"

    if origin in (list, set, frozenset) or (origin is tuple and Ellipsis in args):
        item = _type(args[0], [], paths, _sub(here, "[]")) if args else "any"
        lo, hi = _lengths(metadata)
        head = "non-empty list" if lo == 1 else "list"
        notes = []
        if lo is not None and lo > 1:
            notes.append(f"≥ {lo} items")
        if hi is not None:
            notes.append(f"≤ {hi} items")
        tail = f" ({', '.join(notes)})" if notes else ""
        if " or " in item:  # alternatives per item, not for the whole list
            item = re.sub(r"^mapping\b", "a mapping", item)
            return f"{head}{tail}, each item {item}"
        return f"{head} of {re.sub(r'^mapping', 'mappings', item)}{tail}"

    if origin is tuple:
        items = [_type(a, [], paths, _sub(here, "[]")) for a in args]
        m = re.fullmatch(r"(\w+) (\(.*\))", items[0]) if items else None
        if m and len(set(items)) == 1:  # [time, time] (units) rather than the units twice
            return f"[{', '.join([m.group(1)] * len(items))}] {m.group(2)}"
        return "[" + ", ".join(items) + "]"

    if origin is dict:
        key, value = (*args, Any, Any)[:2]
        value_type = _type(value, [], paths, _sub(here, ".<key>"))
        return f"mapping of {_type(key, [], paths)} → {value_type}"

    if ann is Any:
        return "any"
    if ann is bool:
        return "boolean"
    if ann is int:
        return _bounds("int", metadata)
    if ann is float:
        return _bounds("number", metadata)
    if ann is str:
        notes = []
        _, hi = _lengths(metadata)
        pattern = _pattern(metadata)
        if pattern:
            notes.append(f"matching {_code(pattern)}")
        if hi is not None:
            notes.append(f"≤ {hi} characters")
        return "string" + (f" ({', '.join(notes)})" if notes else "")
    if ann is _units.Amount:
        return _unit_type("amount")
    if ann is _units.Rate:
        return _unit_type("rate")
    return _code(getattr(ann, "__name__", str(ann)))


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
            value = _jsonable(getattr(instance, name), field.annotation, field.metadata)
            return f"{_value_cell(value)} {FILLED}", True
        return "required", False
    else:
        value = field.default
    if isinstance(value, BaseModel):
        sub = type(value)
        own = _default_instance(sub)
        target = paths.get(sub, [""])[0]
        if own is not None and own == value:
            return f"see {_link(target)}", False
        text = _yaml(value.model_dump(mode="json", exclude_defaults=True))
        if len(text) > 80:
            return f"see {_link(target)}", False
        return _code(text), False
    return _value_cell(_jsonable(value, field.annotation, field.metadata)), False


def _model_section(model: type[BaseModel], paths: dict[type[BaseModel], list[str]]) -> list[str]:
    where = paths[model]
    path = where[0]
    lines = [f"#### {_heading(path)}", ""]
    intro = f"`{model.__name__}`"
    if len(where) > 1:
        intro += ", also used at " + ", ".join(_code(p) for p in where[1:])
    doc = _paragraphs(model.__dict__.get("__doc__"))
    if doc and not doc[0].startswith(("- ", "```")):
        lines.append(f"{intro}: {doc[0]}")
        doc = doc[1:]
    else:
        lines.append(f"{intro}.")
    for para in doc:
        lines += ["", para]
    lines += [
        "",
        _row(["key", "type / allowed values", "default", "description"]),
        _row(["---"] * 4),
    ]
    instance = _default_instance(model)
    filled = False
    for name, field in model.model_fields.items():
        key = field.alias or name
        type_text = _type(field.annotation, list(field.metadata), paths, _join(path, key))
        if _join(path, key) == PD_PATH:
            type_text += f"; names and defaults: {_link(PD_PATH)}"
        default, was_filled = _default(model, name, paths, instance)
        filled |= was_filled
        lines.append(_row([_code(key), type_text, default, _md(field.description or "")]))
    if filled:
        lines += [
            "",
            f"{FILLED} required by the schema but filled in by the model's validator when left "
            "out; the value shown is the one filled in when the whole section is left out.",
        ]
    return [*lines, ""]


# -- pd: -------------------------------------------------------------------------------------------
_SECTION = re.compile(r"^--\s*(.*?)\s*-{2,}\s*$")


@dataclasses.dataclass
class _Note:
    section: str | None = None
    text: str = ""


def _source_notes(cls: type) -> dict[str, _Note]:
    """Source comments of a class's fields, read from its code.

    A field's note is its trailing comment, preceded by the comment block directly above it; the
    fields that follow such a block on consecutive lines without comments of their own point to
    the field that carries it. ``# -- title ---`` lines name sections. Returns ``{}`` when the
    source cannot be read.
    """
    try:
        source = textwrap.dedent(inspect.getsource(cls))
        tree = ast.parse(source)
        comments = {
            tok.start[0]: tok.string.lstrip("#").strip()
            for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT
        }
    except (OSError, TypeError, SyntaxError, tokenize.TokenError):
        return {}
    lines = source.splitlines()
    body = next((n for n in tree.body if isinstance(n, ast.ClassDef)), None)
    if body is None:
        return {}

    def comment_only(lineno: int) -> bool:
        return 1 <= lineno <= len(lines) and lines[lineno - 1].lstrip().startswith("#")

    notes: dict[str, _Note] = {}
    section = None
    headers = sorted(
        (ln, m.group(1))
        for ln, c in comments.items()
        if comment_only(ln) and (m := _SECTION.match(c))
    )
    owner: str | None = None
    previous_end = None
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        end = node.end_lineno or node.lineno
        section = next((t for ln, t in reversed(headers) if ln < node.lineno), None)
        block = []
        ln = node.lineno - 1
        while comment_only(ln) and not _SECTION.match(comments.get(ln, "")):
            block.insert(0, comments.get(ln, ""))
            ln -= 1
        trailing = [
            comments[i]
            for i in range(node.lineno, end + 1)
            if i in comments and not comment_only(i)
        ]
        text = " ".join(block + trailing)
        if block:
            owner = name if not trailing else None
        elif trailing or previous_end is None or node.lineno != previous_end + 1:
            owner = None
        elif owner is not None:
            text = f"see `{owner}`"
        notes[name] = _Note(section, text)
        previous_end = end
    return notes


def pd_parameter_sources() -> dict[str, str]:
    """The source note of every PD parameter default, read from the comments of
    ``ketsim/pd/parameters.py`` (``{}`` when the source cannot be read)."""
    from ketsim.core.pd.parameters import PDParameters

    return {k: n.text for k, n in _source_notes(PDParameters).items()}


def _module_paragraphs(module: Any) -> list[str]:
    """The body of a module docstring (title and References section left out)."""
    doc = inspect.cleandoc(module.__doc__ or "")
    doc = re.split(r"\n\s*References\n-+\n", doc)[0]
    return _paragraphs(doc)[1:]


def _pd_section() -> list[str]:
    cls = _pdp.PDParameters
    lines = [f"#### {PD_PATH}", ""]
    doc = _paragraphs(cls.__doc__)
    intro = f"`{cls.__module__}.{cls.__name__}`" + (f": {doc[0]}" if doc else ".")
    lines.append(intro)
    for para in _module_paragraphs(_pdp):
        lines += ["", para]
    lines += [
        "",
        _row(["key", "type", "default", "source / note (from the code)"]),
        _row(["---"] * 4),
    ]
    defaults = cls()
    hints = typing.get_type_hints(cls)
    notes = _source_notes(cls)
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
        meta = {f.name: dict(f.metadata) for f in dataclasses.fields(cls)}
    else:  # a pydantic model
        names = list(cls.model_fields)
        meta = {n: {"description": f.description} for n, f in cls.model_fields.items()}
    section = None
    for name in names:
        note = notes.get(name, _Note())
        if note.section and note.section != section:
            section = note.section
            lines.append(_row([f"**{_md(section)}**", "", "", ""]))
        text = " ".join(
            str(meta[name][k]) for k in ("source", "description", "doc") if meta[name].get(k)
        )
        text = " ".join(t for t in (text, note.text) if t)
        lines.append(
            _row(
                [
                    _code(name),
                    _type(hints.get(name, Any), [], {}),
                    _value_cell(getattr(defaults, name)),
                    _md(text),
                ]
            )
        )
    return [*lines, ""]


# -- the reference ---------------------------------------------------------------------------------
def _preamble(models: list[type[BaseModel]]) -> list[str]:
    strict = all(m.model_config.get("extra") == "forbid" for m in models)
    forbid = "; unknown keys are errors" if strict else ""
    return [
        "Generated from the pydantic schema in `ketsim/config/scenario.py`; "
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
    return "\n".join(lines) + "\n"


# -- README markers --------------------------------------------------------------------------------
def _marker_lines(text: str) -> tuple[int, int]:
    lines = text.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln.strip() == START_MARKER]
    ends = [i for i, ln in enumerate(lines) if ln.strip() == END_MARKER]
    if len(starts) != 1 or len(ends) != 1 or not starts[0] < ends[0]:
        raise ValueError(
            f"needs exactly one line {START_MARKER!r} followed later by exactly one line "
            f"{END_MARKER!r} (found {len(starts)} start and {len(ends)} end marker lines)"
        )
    return starts[0], ends[0]


def between_markers(text: str) -> str:
    """The text between the marker lines (exclusive).

    Raises
    ------
    ValueError
        If the markers are missing, repeated or out of order.
    """
    start, end = _marker_lines(text)
    return "".join(text.splitlines(keepends=True)[start + 1 : end])


def replace_between_markers(text: str, reference: str) -> str:
    """``text`` with everything between the marker lines replaced by ``reference``.

    Raises
    ------
    ValueError
        If the markers are missing, repeated or out of order.
    """
    start, end = _marker_lines(text)
    lines = text.splitlines(keepends=True)
    body = reference if reference.endswith("\n") or not reference else reference + "\n"
    return "".join(lines[: start + 1]) + body + "".join(lines[end:])


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or write it between the markers of a file (``--write PATH``).

    Returns
    -------
    int
        0 on success; exits with status 2 and a message when the file or its markers are missing.
    """
    parser = argparse.ArgumentParser(
        prog="python -m ketsim.apps.schema_doc",
        description="Markdown reference of the scenario schema, generated from its models.",
    )
    parser.add_argument(
        "--write",
        metavar="PATH",
        help=f"replace the text between {START_MARKER} and {END_MARKER} in PATH",
    )
    args = parser.parse_args(argv)
    reference = schema_reference()
    if args.write is None:
        sys.stdout.write(reference)
        return 0
    path = Path(args.write)
    try:
        with path.open(encoding="utf-8", newline="") as f:  # keep the file's line endings
            text = f.read()
    except OSError as err:
        parser.error(f"cannot read {path}: {err.strerror or err}")
    try:
        new = replace_between_markers(text, reference)
    except ValueError as err:
        parser.error(f"{path}: {err}")
    if new != text:
        with path.open("w", encoding="utf-8", newline="") as f:
            f.write(new)
        print(f"{path}: schema reference updated", file=sys.stderr)
    else:
        print(f"{path}: schema reference already up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
