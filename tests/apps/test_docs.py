"""The README is self-contained: every design note it cites is in docs/, with the cited section."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_cites_only_notes_in_the_repository():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "shared/design" not in text
    assert not re.search(r"(?<![/\w])(MODEL|PARAMETERS|ARCHITECTURE)\.md", text)
    cites = re.findall(r"\[docs/(\w+)\.md\]\(docs/\w+\.md\)((?: §[\dA-Za-z.]+)?)", text)
    assert len(cites) > 20
    for doc, section in cites:
        note = (ROOT / "docs" / f"{doc}.md").read_text(encoding="utf-8")
        if section:
            num = section.strip(" §").rstrip(".")
            heads = re.findall(r"^#{2,3} (\S+?)\.? ", note, re.M)
            assert num in heads, f"docs/{doc}.md has no section {num}"


def test_quickstart_keeps_exactly_two_commands_and_is_followed_by_the_walkthrough():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert quick.count("<!-- quickstart-") == 2
    after = text.split("## Quickstart", 1)[1].split("\n## ", 2)[1]
    assert after.startswith("First ten minutes")
    assert after.count("$ ketsim ") >= 5
