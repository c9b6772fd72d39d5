"""Command line of the schema reference: print it, or write it between the marker lines of a
file such as README.md (``python -m ketsim.apps.schema_doc --write README.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ketsim.apps.schema_doc.reference import schema_reference

__all__ = [
    "END_MARKER",
    "START_MARKER",
    "between_markers",
    "main",
    "replace_between_markers",
]


START_MARKER = "<!-- schema-reference:start -->"
END_MARKER = "<!-- schema-reference:end -->"


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
