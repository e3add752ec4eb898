"""The tool catalogue of ``/mcp``: names, descriptions for a model, schemas and hints.

Strategy: plain data, built once. Every tool has a JSON Schema input (closed: unknown arguments
are a mistake worth reporting), an ``outputSchema`` describing its ``structuredContent``, and all
four annotations set explicitly because their defaults assume the worst (a write that destroys
and reaches the open world). The read tools wrap the same documents the REST routes return;
``search``/``fetch`` follow the argument and result shapes ChatGPT documents for connectors used
by deep research and company knowledge. ``permission`` is what ``access.Access`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mcp_types as types

from runner_plugins.mcp.access import Permission

MAX_ID = 2**31 - 1
MAX_TEXT = 100
MAX_COMMENT = 2000
DEFAULT_LIMIT = 20

_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_DAY = {"type": "integer", "minimum": 1, "maximum": 3, "description": "Conference day, 1 to 3."}
_LIMIT = {
    "type": "integer",
    "minimum": 1,
    "maximum": 100,
    "default": DEFAULT_LIMIT,
    "description": f"Most results to return (default {DEFAULT_LIMIT}).",
}
_NAMED = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    "required": ["id", "name"],
}
SPEAKER = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "company": {"type": "string"},
        "bio": {"type": "string"},
    },
    "required": ["id", "name"],
}
SESSION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "title": {"type": "string"},
        "abstract": {"type": "string"},
        "day": {"type": "integer"},
        "start": {"type": "string"},
        "end": {"type": "string"},
        "room": {"type": "string"},
        "level": {"type": "string"},
        "speakers": {"type": "array", "items": _NAMED},
        "topics": {"type": "array", "items": _NAMED},
    },
    "required": ["id", "title"],
}
TOPIC = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "description": {"type": "string"},
    },
    "required": ["id", "name"],
}
#: The context document's meta (docs/interfaces.md): completeness and per-source status.
META = {
    "type": "object",
    "properties": {
        "complete": {"type": "boolean"},
        "sources": {"type": "array", "items": {"type": "object"}},
        "missing": {"type": "array", "items": {"type": "string"}},
        "truncated": {"type": ["boolean", "object"]},
        "request_id": {"type": ["string", "null"]},
    },
    "required": ["complete", "sources", "missing"],
}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def _listing(key: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            key: {"type": "array", "items": item},
            "total": {"type": "integer", "description": "Matches before the limit was applied."},
            "meta": META,
        },
        "required": [key, "total", "meta"],
    }


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: its MCP definition and the permission it needs."""

    tool: types.Tool
    permission: Permission


_READ_ONLY = types.ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)


def _read(
    name: str, title: str, description: str, inputs: dict[str, Any], output: dict[str, Any]
) -> ToolSpec:
    annotations = _READ_ONLY.model_copy(update={"title": title})
    tool = types.Tool(
        name=name,
        title=title,
        description=description,
        input_schema=inputs,
        output_schema=output,
        annotations=annotations,
    )
    return ToolSpec(tool, "read")


CATALOGUE: tuple[ToolSpec, ...] = (
    _read(
        "get_speaker_context",
        "Speaker context",
        "Everything about one conference speaker in one call: the speaker, all their sessions "
        "(schedule, room, abstract, co-speakers, topics) and their topics. Give either `id` "
        "(exact) or `name` (case and accents do not matter). If a name matches several "
        "speakers, the answer lists `candidates` (id, name, company): call again with the id "
        "the user means. `meta.complete` is false when part of the data could not be fetched.",
        _closed(
            {
                "id": {**_ID, "description": "Speaker id."},
                "name": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_TEXT,
                    "description": "Speaker name or part of it, e.g. 'José' or 'maria'.",
                },
            }
        ),
        {
            "type": "object",
            "properties": {
                "speaker": SPEAKER,
                "sessions": {"type": "array", "items": SESSION},
                "topics": {"type": "array", "items": TOPIC},
                "candidates": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "name": {"type": "string"},
                            "company": {"type": ["string", "null"]},
                        },
                        "required": ["id", "name"],
                    },
                },
                "meta": META,
            },
            "required": ["meta"],
        },
    ),
    _read(
        "search_speakers",
        "Search speakers",
        "Find conference speakers by name (case- and accent-insensitive part of the name) "
        "and/or by the day they speak. Returns the speakers with id, company and bio; use "
        "get_speaker_context with an id for their sessions.",
        _closed(
            {
                "name": {
                    "type": "string",
                    "maxLength": MAX_TEXT,
                    "description": "Part of the speaker's name.",
                },
                "day": _DAY,
                "limit": _LIMIT,
            }
        ),
        _listing("speakers", SPEAKER),
    ),
    _read(
        "search_sessions",
        "Search sessions",
        "Find conference sessions. Every filter is optional and they combine: `keyword` "
        "(in title or abstract), `day` (1-3), `time` (HH:MM, 24 h: sessions running at that "
        "time), `topic` (topic name, e.g. 'Kubernetes') and `speaker` (part of a speaker's "
        "name). Sessions come in schedule order with room, level, speakers and topics.",
        _closed(
            {
                "keyword": {"type": "string", "maxLength": MAX_TEXT},
                "day": _DAY,
                "time": {
                    "type": "string",
                    "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$",
                    "description": "Time of day as HH:MM (24 h), e.g. '14:30'.",
                },
                "topic": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                "speaker": {"type": "string", "maxLength": MAX_TEXT},
                "limit": _LIMIT,
            }
        ),
        _listing("sessions", SESSION),
    ),
    _read(
        "get_session",
        "Session details",
        "One conference session by id: title, abstract, day, start and end time, room, level, "
        "speakers and topics.",
        _closed({"id": {**_ID, "description": "Session id."}}, ["id"]),
        {
            "type": "object",
            "properties": {"session": SESSION, "meta": META},
            "required": ["session", "meta"],
        },
    ),
    _read(
        "list_topics",
        "List topics",
        "All conference topics (id, name, description), optionally only those with sessions "
        "on a given day.",
        _closed({"day": _DAY}),
        _listing("topics", TOPIC),
    ),
    ToolSpec(
        types.Tool(
            name="submit_session_feedback",
            title="Submit session feedback",
            description="Record the user's rating (1-5) and optional comment for one session. "
            "Only call this when the user asked to give feedback; it stores a new entry "
            "every time it is called. Some API keys may only read: then the result says so.",
            input_schema=_closed(
                {
                    "session_id": {**_ID, "description": "Session id."},
                    "rating": {"type": "integer", "minimum": 1, "maximum": 5},
                    "comment": {"type": "string", "maxLength": MAX_COMMENT},
                },
                ["session_id", "rating"],
            ),
            output_schema={
                "type": "object",
                "properties": {
                    "feedback": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "session_id": {"type": "integer"},
                            "rating": {"type": "integer"},
                            "comment": {"type": "string"},
                            "created_at": {"type": "string"},
                        },
                        "required": ["id", "session_id", "rating"],
                    }
                },
                "required": ["feedback"],
            },
            annotations=types.ToolAnnotations(
                title="Submit session feedback",
                read_only_hint=False,
                destructive_hint=False,
                idempotent_hint=False,
                open_world_hint=False,
            ),
        ),
        "feedback",
    ),
    _read(
        "search",
        "Search the conference",
        "Search conference speakers (by name) and sessions (by keyword in title or abstract). "
        "Returns ids for `fetch`, titles and citation URLs.",
        _closed({"query": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}}, ["query"]),
        {
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "url": {"type": "string"},
                        },
                        "required": ["id", "title", "url"],
                    },
                }
            },
            "required": ["results"],
        },
    ),
    _read(
        "fetch",
        "Fetch a speaker or session",
        "The full text of one search result by its id ('speaker:<n>' or 'session:<n>').",
        _closed({"id": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}}, ["id"]),
        {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "text": {"type": "string"},
                "url": {"type": "string"},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["id", "title", "text", "url"],
        },
    ),
)

BY_NAME: dict[str, ToolSpec] = {spec.tool.name: spec for spec in CATALOGUE}
LIST_RESULT = types.ListToolsResult(tools=[spec.tool for spec in CATALOGUE])
