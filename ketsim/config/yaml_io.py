"""Strict reading of scenario YAML: what plain ``yaml.safe_load`` would silently accept is refused.

* **Duplicate keys** are errors naming both lines (YAML 1.2 requires unique keys; PyYAML keeps
  the last value, so ``n: 5`` then ``n: 500`` would run 500 patients without a word).
* **Text must be UTF-8**: a binary or Latin-1 file gets a one-line error with the offending byte
  offset, not a ``UnicodeDecodeError`` traceback.
* **Alias expansion is bounded**: aliases make PyYAML share objects, so a "billion laughs"
  document loads small and explodes only later, when it is validated, swept or written out
  resolved. The loaded document is walked once, counting every node as expanded, and refused
  above :data:`MAX_EXPANDED_NODES`.

Everything else is PyYAML's safe loader (no arbitrary Python objects).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["MAX_EXPANDED_NODES", "YAMLProblem", "load_yaml_text", "read_yaml_text"]

#: a scenario with every list written out stays far below this (the largest shipped one has a
#: few thousand nodes); an alias bomb passes it within a few levels
MAX_EXPANDED_NODES = 200_000


class YAMLProblem(ValueError):
    """A YAML document that cannot be accepted; ``args[0]`` is the ``(yaml): ...`` line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a mapping that repeats a key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # unhashable key: PyYAML's own error says so below
                continue
            if first is not None:
                raise YAMLProblem(
                    f"(yaml): duplicate key {key!r} at line {line} (first at line {first}); "
                    "each key may appear once in a mapping"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _expanded_size(doc: Any, limit: int) -> int:
    """Nodes of ``doc`` with every shared (aliased) object counted each time it is reached."""
    count = 0
    stack = [doc]
    while stack:
        x = stack.pop()
        count += 1
        if count > limit:
            return count
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return count


def load_yaml_text(text: str, max_nodes: int = MAX_EXPANDED_NODES) -> Any:
    """Parse one YAML document strictly (see the module docstring).

    Raises
    ------
    YAMLProblem
        Duplicate key, alias expansion above ``max_nodes``, or a YAML syntax error, each as one
        ``(yaml): ...`` line.
    """
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(err, "problem", None) or str(err)
        raise YAMLProblem(f"(yaml): syntax error at {where}: {problem}") from None
    if _expanded_size(doc, max_nodes) > max_nodes:
        raise YAMLProblem(
            f"(yaml): the document expands to more than {max_nodes:,} nodes through its aliases "
            "(&anchor / *alias); write the values out or use a sweep instead"
        )
    return doc


def read_yaml_text(path: Path) -> str:
    """The file's text, decoded as UTF-8.

    Raises
    ------
    OSError
        When the file cannot be read.
    YAMLProblem
        ``(file): ...`` when it is not UTF-8 text.
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise YAMLProblem(
            f"(file): {path} is not UTF-8 text (byte 0x{data[err.start]:02x} at offset "
            f"{err.start}); save the scenario as UTF-8"
        ) from None
