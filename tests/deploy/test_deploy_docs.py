"""The project's documentation stands on its own (issue 13, item 10).

The docs must not send a reader to notes that are not in the repository (the team's private
reference files): facts are stated in the docs' own words, with public sources linked. Every
relative link in the docs must also resolve inside the repository. The same holds for the code's
docstrings and comments, and for the configuration files, which are read as documentation too.
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
#: Code and configuration: every tracked kind of source file outside the virtualenv and var/.
_SOURCE_SUFFIXES = {".py", ".yaml", ".yml", ".lua", ".toml", ".sh", ".cfg", ".ini"}
_SKIP_DIRS = {".venv", "var", ".git", "__pycache__", "_generated", ".mypy_cache", ".ruff_cache"}
SOURCES = sorted(
    path
    for path in ROOT.rglob("*")
    if path.is_file()
    and (path.suffix in _SOURCE_SUFFIXES or path.name in {"Makefile", "Dockerfile"}
         or path.name.endswith(".Dockerfile") or path.parent.name == ".ci")
    and not _SKIP_DIRS.intersection(path.relative_to(ROOT).parts)
    and path != Path(__file__).resolve()
)  # fmt: skip
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_no_citation_of_files_outside_the_repository(path: Path) -> None:
    hits = [
        f"{path.name}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if PRIVATE.search(line)
    ]
    assert hits == []


def test_no_citation_in_code_docstrings_comments_or_config() -> None:
    assert len(SOURCES) > 100, "the scan must see the code (runner_plugins, gateway, tests...)"
    assert ROOT / "runner_plugins" / "dispatch.py" in SOURCES
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in SOURCES
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
