"""Field types of the scenario schema described for humans: constraints, allowed values, units
and links to the subsections of nested models (:func:`describe_type`).
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel, BeforeValidator

from ketsim.apps.schema_doc.markdown import code_span, heading_link, yaml_flow, yaml_number
from ketsim.config.schema.base import AmountField, HoursField, RateField
from ketsim.config.schema.regimen import expand_shorthand
from ketsim.core import units as _units

__all__ = [
    "describe_type",
]


_NONE_TYPE = type(None)
_UNION_ORIGINS = (typing.Union, types.UnionType)


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
        "amount": AmountField,
        "rate": RateField,
        "time": HoursField,
    }
    for kind, annotated in kinds.items():
        if func in _validator_funcs(annotated):
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
        return f"{base} in {left}{yaml_number(lo)}, {yaml_number(hi)}{right}"
    if lo is not None:
        return f"{base} {'≥' if lo_closed else '>'} {yaml_number(lo)}"
    if hi is not None:
        return f"{base} {'≤' if hi_closed else '<'} {yaml_number(hi)}"
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
        out.append(code_span(yaml_flow(v, quote_strings=False)))
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


def describe_type(
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
        text = describe_type(args[0], metadata + extra, paths, here)
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
            parts.append(describe_type(a, metadata, paths, here))
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
            return f"mapping ({heading_link(target)})"
        return f"mapping like {heading_link(target)}"

    if origin in (list, set, frozenset) or (origin is tuple and Ellipsis in args):
        item = describe_type(args[0], [], paths, _sub(here, "[]")) if args else "any"
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
        items = [describe_type(a, [], paths, _sub(here, "[]")) for a in args]
        m = re.fullmatch(r"(\w+) (\(.*\))", items[0]) if items else None
        if m and len(set(items)) == 1:  # [time, time] (units) rather than the units twice
            return f"[{', '.join([m.group(1)] * len(items))}] {m.group(2)}"
        return "[" + ", ".join(items) + "]"

    if origin is dict:
        key, value = (*args, Any, Any)[:2]
        value_type = describe_type(value, [], paths, _sub(here, ".<key>"))
        return f"mapping of {describe_type(key, [], paths)} → {value_type}"

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
            notes.append(f"matching {code_span(pattern)}")
        if hi is not None:
            notes.append(f"≤ {hi} characters")
        return "string" + (f" ({', '.join(notes)})" if notes else "")
    if ann is _units.Amount:
        return _unit_type("amount")
    if ann is _units.Rate:
        return _unit_type("rate")
    return code_span(getattr(ann, "__name__", str(ann)))
