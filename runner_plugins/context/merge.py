"""Pure assembly of the context document from source results.

Strategy: every source lands in its own namespace (``speaker``, ``sessions``, ``topics``,
``meta``), so nothing can overwrite anything else - the "last writer wins" trap of root-level
merging (KrakenD without ``group``) cannot happen. Sessions are kept whole, with their topics and
all of their speakers (co-speakers included), de-duplicated by id and ordered by schedule so the
model reads them chronologically and trimming drops the latest ones first. Inputs are shared
with the cache and are never mutated; the document is built from new containers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from runner_plugins.context.backend import SourceResult

Document = dict[str, Any]


def build_meta(results: Sequence[SourceResult], request_id: str | None) -> dict[str, Any]:
    """The meta object: one entry per source, and what is missing or was not fetched."""
    entries = [result.meta() for result in results]
    missing = [result.name for result in results if not result.ok]
    not_fetched = {r.name: r.not_fetched for r in results if r.ok and r.not_fetched}
    truncated: bool | dict[str, Any] = False
    if not_fetched:
        truncated = {"not_fetched": not_fetched}
    return {
        "complete": not missing,
        "sources": entries,
        "missing": missing,
        "truncated": truncated,
        "request_id": request_id,
    }


def speaker_document(
    speaker: Mapping[str, Any],
    sessions: Sequence[Mapping[str, Any]] | None,
    topics: Sequence[Mapping[str, Any]] | None,
    meta: dict[str, Any],
) -> Document:
    """Merge one speaker's sources; a missing list source becomes an empty list."""
    return {
        "speaker": dict(speaker),
        "sessions": sorted(_unique(sessions or ()), key=schedule_key),
        "topics": _unique(topics or ()),
        "meta": meta,
    }


def candidates_document(speakers: Sequence[Mapping[str, Any]], meta: dict[str, Any]) -> Document:
    """The ambiguous-name answer: who the model may ask about next, by id."""
    return {
        "candidates": [
            {"id": item.get("id"), "name": item.get("name"), "company": item.get("company")}
            for item in _unique(speakers)
        ],
        "meta": meta,
    }


def _unique(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    seen: set[object] = set()
    out: list[dict[str, Any]] = []
    for item in items:
        key = item.get("id")
        if key in seen:
            continue
        seen.add(key)
        out.append(dict(item))
    return out


def schedule_key(session: Mapping[str, Any]) -> tuple[int, str, int]:
    """Sort key for sessions: by day, start time, then id (the context and the MCP tools)."""
    # Malformed fields sort last instead of raising: a bad session must not sink the answer.
    day, start, ident = session.get("day"), session.get("start"), session.get("id")
    return (
        day if isinstance(day, int) else 99,
        start if isinstance(start, str) else "~",
        ident if isinstance(ident, int) else 0,
    )
