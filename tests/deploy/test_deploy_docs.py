"""The project's documentation stands on its own (issue 13, item 10).

The docs must not send a reader to notes that are not in the repository (the team's private
reference files): facts are stated in the docs' own words, with public sources linked. Every
relative link in the docs must also resolve inside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
#: The private notes' folder and file names, and their "§N" citation style.
PRIVATE = re.compile(
    r"shared/reference|reference/|apisix-behaviour\.md|ext-plugin-protocol\.md|"
    r"official-runners|seed-system\.md|mcp-and-oauth\.md|style-anchors\.md|"
    r"aggregation-and-llm-anchors\.md|protocol §"
)
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_no_citation_of_files_outside_the_repository(path: Path) -> None:
    hits = [
        f"{path.name}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PRIVATE.search(line)
    ]
    assert hits == []


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_relative_links_resolve(path: Path) -> None:
    missing = [
        target
        for target in _LINK.findall(path.read_text(encoding="utf-8"))
        if "://" not in target
        and not target.startswith("mailto:")
        and not (path.parent / target).exists()
    ]
    assert missing == []


def test_the_check_catches_a_private_citation() -> None:
    assert PRIVATE.search("observed on 3.18 (`shared/reference/apisix-behaviour.md`)")
    assert PRIVATE.search("APISIX gives up at 60, protocol §6")
    assert not PRIVATE.search("[RFC 9110 §10.2.3](https://www.rfc-editor.org/rfc/rfc9110)")
