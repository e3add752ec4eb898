"""What each MCP tool does, on the context plugin's own aggregation objects.

Strategy: no second copy of anything. ``get_speaker_context`` (and ``fetch`` of a speaker) runs
the context plugin itself on the equivalent REST request, so the document, the name matching,
the fan-out, cache, breaker, concurrency cap, budget and 100,000-character trim are the ones of
``GET /speaker/{id}/context`` by construction. The other reads go through the same
``Fetcher`` (same per-backend cache, breaker, cap and budget) and the same ``fit`` trim; the
one write (feedback) shares the backend's client and concurrency cap. Every failure a model can
act on (bad arguments, not found, backend down, not allowed) is an error *result* in plain
words, as MCP asks for tool execution errors; only an unknown tool is a protocol error.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import jsonschema
import jsonschema_rs
import orjson
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from bearer import token_scopes
from runner_plugins.context.backend import PROPAGATED_HEADERS, Fetcher, SourceResult, is_timeout
from runner_plugins.context.merge import build_meta, schedule_key
from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.context.trim import dumps, fit, utf8
from runner_plugins.mcp.access import Access, Caller
from runner_plugins.mcp.conf import McpConf
from runner_plugins.mcp.tools import BY_NAME, DEFAULT_LIMIT
from runner_plugins.plugin import Request, StaticRequest, Stop
from textfold import fold

logger = logging.getLogger(__name__)

SEARCH_RESULTS_PER_KIND = 10
_LATE = "The conference backend did not answer in time; the feedback was not stored."
_UNREACHABLE = "The conference backend is unreachable; the feedback was not stored."


class ToolFailure(Exception):
    """A failure to report to the model as an error result (``isError: true``)."""


@dataclass(slots=True)
class Call:
    """One tools/call: the route conf, the runner request it came in, and derived values."""

    conf: McpConf
    request: Request
    access: Access

    @property
    def request_id(self) -> str | None:
        return self.request.header("x-request-id")

    def propagated(self) -> dict[str, str]:
        return {name: self.request.header(name) or "" for name in PROPAGATED_HEADERS}

    async def caller(self) -> Caller:
        # One ExtraInfo round trip; only the write tool needs it.
        consumer = await self.request.var("consumer_name") or None
        return Caller(consumer, token_scopes(self.request.header("authorization")))


@dataclass(frozen=True, slots=True)
class Prepared:
    """A tool's structured result as the context plugin serialized and sized it (no re-encoding)."""

    body: bytes

    @property
    def structured(self) -> dict[str, Any]:
        return dict(orjson.loads(self.body))


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    """A tool's result before it is shaped for a protocol version.

    ``text`` is the text block; ``structured`` the UTF-8 JSON of ``structuredContent`` (the very
    document ``text`` holds, so older clients that read only the text lose nothing), or None
    for an error result (``isError: true``). Keeping the JSON as bytes lets the endpoint splice
    the document into the answer instead of parsing and re-encoding it, which is sound because
    every document is written by the context trim's ``dumps``: strict JSON, no NaN.
    """

    text: str
    structured: bytes | None = None

    @property
    def is_error(self) -> bool:
        return self.structured is None

    def wire(self) -> dict[str, Any]:
        """The wire form of ``CallToolResult`` (the SDK validates and shapes it per version)."""
        result: dict[str, Any] = {"content": [{"type": "text", "text": self.text}]}
        if self.structured is not None:
            result["structuredContent"] = json.loads(self.structured)
        result["isError"] = self.is_error
        # Required from 2026-07-28 on (the model's default); the SDK drops it for older versions.
        result["resultType"] = "complete"
        return result


Handler = Callable[["Toolbox", Call, dict[str, Any]], Awaitable["dict[str, Any] | Prepared"]]


class Toolbox:
    """Runs tools; holds the context plugin whose aggregation every read uses."""

    def __init__(self, context: ContextPlugin) -> None:
        self.context = context
        # Two validators per schema, both for JSON Schema 2020-12 (MCP's default dialect): the
        # compiled one decides the common case, valid arguments, in well under a microsecond;
        # the reference one is the judge of anything the first refuses and writes the message.
        self._gates = {
            name: jsonschema_rs.Draft202012Validator(spec.tool.input_schema)
            for name, spec in BY_NAME.items()
        }
        self._validators = {
            name: jsonschema.Draft202012Validator(spec.tool.input_schema)
            for name, spec in BY_NAME.items()
        }

    async def call(self, call: Call, name: str, arguments: dict[str, Any] | None) -> ToolAnswer:
        spec = BY_NAME.get(name)
        if spec is None:
            # The spec's own example of a protocol error: the model named a tool that is not there.
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {name}", data=name)
        arguments = arguments or {}
        if not self._passes_gate(name, arguments):
            problems = sorted(
                self._validators[name].iter_errors(arguments),
                key=lambda e: [str(part) for part in e.absolute_path],
            )
            if problems:
                return failure(
                    f"Invalid arguments for {name}: " + "; ".join(_explain(p) for p in problems)
                )
        if call.access.needs_caller(spec.permission):
            decision = call.access.decide(await call.caller(), spec.permission)
            if not decision.allowed:
                return failure(decision.reason)
        await self.context.backend.start()
        try:
            produced = await _HANDLERS[name](self, call, arguments)
        except ToolFailure as exc:
            return failure(str(exc))
        return success(produced, call.conf.context.max_response_chars)

    def _passes_gate(self, name: str, arguments: dict[str, Any]) -> bool:
        try:
            return bool(self._gates[name].is_valid(arguments))
        except Exception:
            # A value it cannot take in (a non-string key, say): refusing here only means the
            # reference validator decides, so nothing is let through unchecked.
            return False

    # ---------------------------------------------------------------- context

    async def context_document(self, call: Call, arguments: Mapping[str, Any]) -> Prepared:
        """The REST context route's document (and its exact text), from the context plugin."""
        ident, name = arguments.get("id"), arguments.get("name")
        if (ident is None) == (name is None):
            raise ToolFailure("Give exactly one of `id` (a speaker id) or `name`.")
        headers = tuple((k, v) for k, v in call.propagated().items() if v)
        if ident is not None:
            request = StaticRequest(path=f"/speaker/{ident}/context", headers=headers)
        else:
            request = StaticRequest(
                path="/speakers/context", args=(("speakername", str(name)),), headers=headers
            )
        stop = await self.context.request_filter(call.conf.context, request)
        if not isinstance(stop, Stop):
            raise ToolFailure("The speaker context could not be produced.")
        if stop.status != 200:
            body = orjson.loads(stop.body)
            raise ToolFailure(
                str(body.get("message") or f"The context request failed ({stop.status}).")
            )
        return Prepared(stop.body)

    # ------------------------------------------------------------------ reads

    async def fetch_sources(
        self, call: Call, *requests: tuple[str, str, str, dict[str, str]]
    ) -> list[SourceResult]:
        """Fetch sources concurrently through the context plugin's Fetcher."""
        fetcher = Fetcher(self.context.backend, call.conf.context, call.propagated())
        try:
            return list(
                await asyncio.gather(
                    *(
                        fetcher.fetch(name, path, "list" if kind == "list" else "object", **params)
                        for name, path, kind, params in requests
                    )
                )
            )
        finally:
            fetcher.close()


# --------------------------------------------------------------------- handlers


async def _get_speaker_context(box: Toolbox, call: Call, args: dict[str, Any]) -> Prepared:
    return await box.context_document(call, args)


async def _search_speakers(box: Toolbox, call: Call, args: dict[str, Any]) -> dict[str, Any]:
    params = _params(speakername=args.get("name"), dayno=args.get("day"))
    (result,) = await box.fetch_sources(call, ("speakers", "/speakers", "list", params))
    items = _items(result, "The speaker search")
    return _listing("speakers", items, args, [result], call)


async def _search_sessions(box: Toolbox, call: Call, args: dict[str, Any]) -> dict[str, Any]:
    params = _params(
        keyword=args.get("keyword"), speakername=args.get("speaker"), dayno=args.get("day")
    )
    (result,) = await box.fetch_sources(call, ("sessions", "/sessions", "list", params))
    items = _items(result, "The session search")
    topic, time = args.get("topic"), args.get("time")
    if topic is not None:
        items = [s for s in items if _has_topic(s, str(topic))]
    if time is not None:
        items = [s for s in items if _runs_at(s, str(time))]
    items.sort(key=schedule_key)
    return _listing("sessions", items, args, [result], call)


async def _get_session(box: Toolbox, call: Call, args: dict[str, Any]) -> dict[str, Any]:
    ident = args["id"]
    (result,) = await box.fetch_sources(call, ("session", f"/session/{ident}", "object", {}))
    if not result.ok:
        raise ToolFailure(_source_problem(result, f"Session {ident}"))
    return {"session": result.data, "meta": build_meta([result], call.request_id)}


async def _list_topics(box: Toolbox, call: Call, args: dict[str, Any]) -> dict[str, Any]:
    (result,) = await box.fetch_sources(
        call, ("topics", "/topics", "list", _params(dayno=args.get("day")))
    )
    items = _items(result, "The topic list")
    return _listing("topics", items, {"limit": 100}, [result], call)


async def _submit_feedback(box: Toolbox, call: Call, args: dict[str, Any]) -> dict[str, Any]:
    conf = call.conf.context
    ident = args["session_id"]
    payload = {"rating": args["rating"], "comment": args.get("comment", "")}
    headers = {k: v for k, v in call.propagated().items() if v.isascii() and v}
    headers[conf.secret_header] = conf.secret
    upstream = box.context.backend.upstream(conf)
    try:
        async with asyncio.timeout(conf.budget_s), upstream.semaphore:
            response = await box.context.backend.client.post(
                f"{conf.backend_url}/session/{ident}/feedback",
                json=payload,
                headers=headers,
                timeout=httpx.Timeout(conf.call_timeout_s),
            )
    except TimeoutError:
        raise ToolFailure(_LATE) from None
    except httpx.HTTPError as exc:
        raise ToolFailure(_LATE if is_timeout(exc) else _UNREACHABLE) from None
    if response.status_code == 201:
        return {"feedback": response.json()}
    if response.status_code == 404:
        raise ToolFailure(f"Session {ident} does not exist; nothing was stored.")
    try:
        message = str(response.json().get("message", ""))
    except ValueError:
        message = ""
    logger.warning("feedback for session %s: backend answered HTTP %d", ident, response.status_code)
    status = response.status_code
    raise ToolFailure(
        f"The feedback was not stored (backend answered HTTP {status}). {message}".strip()
    )


async def _search(box: Toolbox, call: Call, args: dict[str, Any]) -> dict[str, Any]:
    query = str(args["query"]).strip()
    if not query:
        raise ToolFailure("The query must not be blank.")
    speakers, sessions = await box.fetch_sources(
        call,
        ("speakers", "/speakers", "list", {"speakername": query}),
        ("sessions", "/sessions", "list", {"keyword": query}),
    )
    if not speakers.ok and not sessions.ok:
        raise ToolFailure(_source_problem(speakers, "The search"))
    base = call.conf.public_url
    results: list[dict[str, str]] = []
    for item in (speakers.data or [])[:SEARCH_RESULTS_PER_KIND] if speakers.ok else []:
        company = f" ({item['company']})" if item.get("company") else ""
        results.append(
            {
                "id": f"speaker:{item['id']}",
                "title": f"{item.get('name', '')}{company}",
                "url": _speaker_url(base, item["id"]),
            }
        )
    for item in (sessions.data or [])[:SEARCH_RESULTS_PER_KIND] if sessions.ok else []:
        results.append(
            {
                "id": f"session:{item['id']}",
                "title": str(item.get("title", "")),
                "url": _session_url(base, item["id"]),
            }
        )
    return {"results": results}


async def _fetch(box: Toolbox, call: Call, args: dict[str, Any]) -> dict[str, Any]:
    raw = str(args["id"]).strip()
    kind, _, number = raw.partition(":")
    if kind not in ("speaker", "session") or not number.isdigit() or not 1 <= int(number) < 2**31:
        raise ToolFailure("Ids look like 'speaker:1' or 'session:101' (as returned by search).")
    ident = int(number)
    base = call.conf.public_url
    if kind == "speaker":
        document = (await box.context_document(call, {"id": ident})).structured
        speaker = document.get("speaker") or {}
        return {
            "id": raw,
            "title": str(speaker.get("name", raw)),
            "text": dumps(document),
            "url": _speaker_url(base, ident),
            "metadata": {
                "type": "speaker",
                "complete": "true" if document["meta"].get("complete") else "false",
            },
        }
    session = (await _get_session(box, call, {"id": ident}))["session"]
    return {
        "id": raw,
        "title": str(session.get("title", raw)),
        "text": dumps(session),
        "url": _session_url(base, ident),
        "metadata": {"type": "session", "day": str(session.get("day", ""))},
    }


_HANDLERS: dict[str, Handler] = {
    "get_speaker_context": _get_speaker_context,
    "search_speakers": _search_speakers,
    "search_sessions": _search_sessions,
    "get_session": _get_session,
    "list_topics": _list_topics,
    "submit_session_feedback": _submit_feedback,
    "search": _search,
    "fetch": _fetch,
}


# --------------------------------------------------------------------- results


def success(produced: dict[str, Any] | Prepared, max_chars: int) -> ToolAnswer:
    """structuredContent plus the same JSON as text (older clients read only the text)."""
    if isinstance(produced, Prepared):
        # Already serialized and sized by the context plugin: no second encoding.
        return ToolAnswer(produced.body.decode("utf-8"), produced.body)
    text = dumps(produced)
    if len(text) > max_chars:
        # Trimmed: the structured copy is the trimmed text, so both say exactly the same.
        text = fit(produced, max_chars)
    return ToolAnswer(text, utf8(text))


def failure(message: str) -> ToolAnswer:
    """A tool execution error the model can read and act on."""
    return ToolAnswer(message)


def _explain(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        return str(error.message)
    return f"{where}: {error.message}" if where else str(error.message)


def _params(**values: object) -> dict[str, str]:
    """Query parameters without the empty ones (the backend ignores blanks anyway)."""
    return {k: str(v) for k, v in values.items() if v is not None and str(v).strip()}


def _items(result: SourceResult, subject: str) -> list[dict[str, Any]]:
    if not result.ok:
        raise ToolFailure(_source_problem(result, subject))
    return [dict(item) for item in result.data]


def _listing(
    key: str,
    items: list[dict[str, Any]],
    args: Mapping[str, Any],
    results: Sequence[SourceResult],
    call: Call,
) -> dict[str, Any]:
    limit = int(args.get("limit", DEFAULT_LIMIT))
    meta = build_meta(list(results), call.request_id)
    return {key: items[:limit], "total": len(items), "meta": meta}


def _source_problem(result: SourceResult, subject: str) -> str:
    if result.http_status == 404:
        return f"{subject} was not found."
    if result.status == "skipped":
        return (
            "The conference backend is failing right now (its circuit breaker is open); "
            f"try again in {result.retry_after_s} s."
        )
    if result.status == "timeout":
        return f"{subject} timed out ({result.error}); try again shortly."
    if result.http_status == 400:
        return f"{subject} was refused by the backend as invalid input."
    return f"{subject} failed: the conference backend is unavailable ({result.error})."


def _has_topic(session: Mapping[str, Any], wanted: str) -> bool:
    target = fold(wanted)
    for topic in session.get("topics") or ():
        if wanted.isdigit() and topic.get("id") == int(wanted):
            return True
        if target and target in fold(str(topic.get("name", ""))):
            return True
    return False


def _runs_at(session: Mapping[str, Any], time: str) -> bool:
    start, end = session.get("start"), session.get("end")
    return isinstance(start, str) and isinstance(end, str) and start <= time < end


def _speaker_url(base: str, ident: object) -> str:
    return f"{base}/speaker/{quote(str(ident))}/context"


def _session_url(base: str, ident: object) -> str:
    return f"{base}/session/{quote(str(ident))}"
