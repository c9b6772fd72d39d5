"""Source comments of a class's fields, read from its code: the citations of defaults that
the code notes next to them (e.g. every ``PDParameters`` default).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize

from ketsim.core.pd.parameters import PDParameters

__all__ = [
    "SourceNote",
    "pd_parameter_sources",
    "source_notes",
]


#: a ``# -- title ---`` comment line that names the section of the fields below it
_SECTION = re.compile(r"^--\s*(.*?)\s*-{2,}\s*$")


@dataclasses.dataclass
class SourceNote:
    """The source note of one field: the section it is declared in and its comment text."""

    section: str | None = None
    text: str = ""


def source_notes(cls: type) -> dict[str, SourceNote]:
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

    notes: dict[str, SourceNote] = {}
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
        notes[name] = SourceNote(section, text)
        previous_end = end
    return notes


def pd_parameter_sources() -> dict[str, str]:
    """The source note of every PD parameter default, read from the comments of
    ``ketsim/core/pd/parameters.py`` (``{}`` when the source cannot be read)."""

    return {k: n.text for k, n in source_notes(PDParameters).items()}
