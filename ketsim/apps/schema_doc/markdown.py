"""Markdown and YAML text for the schema reference: escaping, code spans, headings and their
anchors, docstrings as Markdown blocks, table rows, and values written as in a scenario file.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
import typing
import warnings
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter

__all__ = [
    "TOP_LEVEL",
    "as_written",
    "code_span",
    "docstring_blocks",
    "heading",
    "heading_link",
    "md_text",
    "table_row",
    "value_cell",
    "yaml_flow",
    "yaml_number",
]


#: heading of the root model's subsection
TOP_LEVEL = "(top level)"


_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_RST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def md_text(text: str, *, table: bool = True) -> str:
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


def code_span(text: str) -> str:
    """A code span (pipes escaped for tables)."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", r"\|")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading (without the ``-1`` suffixes of duplicates)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def heading(path: str) -> str:
    return path or TOP_LEVEL


def heading_link(path: str) -> str:
    return f"[{code_span(heading(path))}](#{_slug(heading(path))})"


def docstring_blocks(doc: str | None) -> list[str]:
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
                    f"- {md_text(term, table=False)}"
                    + (f": {md_text(' '.join(d), table=False)}" if d else "")
                    for term, d in items
                )
            )
            continue
        text = " ".join(ln.strip() for ln in lines)
        literal_next = text.endswith("::")
        if literal_next:
            text = text[:-1]
        blocks.append(md_text(text, table=False))
    return blocks


def value_cell(value: Any) -> str:
    """A value as a code span (an approximate number keeps its ``≈`` outside the span)."""
    text = yaml_flow(value)
    if text.startswith("≈ "):
        return "≈ " + code_span(text[2:])
    return code_span(text)


def table_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def yaml_number(x: float) -> str:
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


def yaml_flow(value: Any, *, quote_strings: bool = True) -> str:
    """A JSON-able value in compact YAML flow style (strings quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return yaml_number(value)
    if isinstance(value, str):
        if not quote_strings and _plain_ok(value):
            return value
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{yaml_flow(str(k), quote_strings=False)}: {yaml_flow(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def as_written(value: Any, annotation: Any, metadata: list[Any]) -> Any:
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
