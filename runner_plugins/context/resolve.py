"""Resolving a speaker name against the backend: the search first, the directory second.

Strategy: the backend's ``speakername`` search (accent- and case-insensitive substring) is cheap
and exact, so it runs first and :func:`runner_plugins.context.names.match` decides among what it
found. Only when that yields nothing - a model's phrasing such as "hartley amelia", "Dr. Amelia
Hartley" or "amelia hartly" is no substring of any name - the whole speaker directory
(``/speakers``, paginated, cached like every source) is matched instead, which also gives the
closest names for a 404. Any caller that holds a :class:`Fetcher` (the context plugin, MCP
tools) gets the same answer for the same name.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner_plugins.context.backend import Fetcher, SourceResult
from runner_plugins.context.names import NameMatch, match


@dataclass(frozen=True, slots=True)
class Resolution:
    """The source that decided (or failed) and, when it succeeded, the match."""

    source: SourceResult
    match: NameMatch | None

    @property
    def ok(self) -> bool:
        return self.match is not None


async def resolve_speaker(fetcher: Fetcher, name: str) -> Resolution:
    """Find who ``name`` means: a speaker, ranked candidates, or suggestions (never raises)."""
    search = await fetcher.fetch("resolve", "/speakers", "list", speakername=name)
    if not search.ok:
        return Resolution(search, None)
    found = match(name, search.data)
    if found.found:
        return Resolution(search, found)
    directory = await fetcher.fetch("resolve", "/speakers", "list")
    if not directory.ok:
        return Resolution(directory, None)
    return Resolution(directory, match(name, directory.data))
