"""The `conference-context` runner plugin: one merged, LLM-ready speaker context.

Strategy: route on the request path, then run the smallest dependency graph that answers it.
By id, the three sources (speaker, sessions, topics) start together, so the latency is one
backend round trip; the speaker's own fate decides the status (404/502/504/503) and the other
two are cancelled as soon as it fails. By name, the ``/speakers?speakername=`` search runs first
(its items are full speakers, so the speaker source is not fetched again), then sessions and
topics together: two round trips. A failing sessions or topics source degrades the answer to a
partial 200 with ``meta.complete = false``, never to an error. The plugin runs under
ext-plugin-post-req, i.e. after APISIX's key-auth and limit-count.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import unicodedata
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any

import httpx
from prometheus_client.core import Metric

from runner_plugins.context import answer, stats
from runner_plugins.context.backend import PROPAGATED_HEADERS, Backend, Fetcher, SourceResult
from runner_plugins.context.conf import ContextConf, parse_conf
from runner_plugins.context.merge import build_meta, candidates_document, speaker_document
from runner_plugins.context.resolve import resolve_speaker
from runner_plugins.context.trim import fit_utf8
from runner_plugins.plugin import Plugin, Request, RequestAction, Stop

logger = logging.getLogger(__name__)

_BY_ID = re.compile(r"^/speaker/([^/]+)/context/?$")
_BY_NAME = "/speakers/context"
_ID = re.compile(r"^[0-9]{1,10}$")
# The backend's own bounds (backend/params.py): anything beyond would come back as a backend
# 400, which the client would see as a 502 - reject it here, as the client's mistake.
MAX_ID = 2**31 - 1
MAX_NAME_CHARS = 100


class ContextPlugin(Plugin[ContextConf]):
    """Answers GET /speaker/{id}/context and GET /speakers/context?speakername=..."""

    name = "conference-context"

    def __init__(
        self, transport: httpx.AsyncBaseTransport | None = None, clock: Any = time.monotonic
    ) -> None:
        self.backend = Backend(transport=transport, clock=clock)

    def parse_conf(self, raw: str) -> ContextConf:
        return parse_conf(raw)

    async def startup(self) -> None:
        await self.backend.start()

    async def shutdown(self) -> None:
        await self.backend.close()

    def metrics(self) -> Iterable[Metric]:
        return stats.families(self.backend.stats, self.backend.breakers())

    async def request_filter(self, conf: ContextConf, request: Request) -> RequestAction | None:
        request_id = _valid_text(request.header("x-request-id"))
        if request.method not in ("GET", "HEAD"):
            return answer.error(
                405,
                f"{request.method} is not allowed here; use GET.",
                request_id,
                headers=(("allow", "GET, HEAD"),),
            )
        by_id = _BY_ID.match(request.path)
        if by_id is None and request.path.rstrip("/") != _BY_NAME:
            where = _valid_text(request.path)
            return answer.error(404, f"No context operation at {where}.", request_id)

        # startup() normally did this; being idempotent keeps a plugin usable on its own.
        await self.backend.start()
        headers = {name: request.header(name) or "" for name in PROPAGATED_HEADERS}
        fetcher = Fetcher(self.backend, conf, headers)
        try:
            if by_id is not None:
                return await self._by_id(conf, fetcher, by_id.group(1), request_id)
            name = _valid_text(request.arg("speakername"))
            return await self._by_name(conf, fetcher, name, request_id)
        finally:
            fetcher.close()

    async def _by_id(
        self, conf: ContextConf, fetcher: Fetcher, raw_id: str, request_id: str | None
    ) -> Stop:
        if not _ID.match(raw_id) or not 1 <= int(raw_id) <= MAX_ID:
            return answer.error(
                400,
                f"The speaker id must be an integer between 1 and {MAX_ID}.",
                request_id,
                details={"id": f"must be an integer between 1 and {MAX_ID}"},
            )
        ident = int(raw_id)
        base = f"/speaker/{ident}"
        async with _Round() as round_:
            speaker_task = round_.start(fetcher.fetch("speaker", base, "object"))
            sessions_task = round_.start(fetcher.fetch("sessions", base + "/sessions", "list"))
            topics_task = round_.start(fetcher.fetch("topics", base + "/topics", "list"))
            speaker = await speaker_task
            if not speaker.ok:
                return _source_error(speaker, f"Speaker {ident}", request_id)
            sessions, topics = await sessions_task, await topics_task
        return _context(conf, speaker.data, speaker, sessions, topics, request_id)

    async def _by_name(
        self, conf: ContextConf, fetcher: Fetcher, name: str | None, request_id: str | None
    ) -> Stop:
        name = (name or "").strip()
        if not name:
            return answer.error(
                400,
                f"Query parameter speakername is required (1 to {MAX_NAME_CHARS} characters).",
                request_id,
                details={"speakername": f"required, 1 to {MAX_NAME_CHARS} characters"},
            )
        if len(name) > MAX_NAME_CHARS:
            return answer.error(
                400,
                f"Query parameter speakername is too long ({len(name)} characters; "
                f"at most {MAX_NAME_CHARS}).",
                request_id,
                details={"speakername": f"too long: at most {MAX_NAME_CHARS} characters"},
            )
        if any(unicodedata.category(ch) == "Cc" for ch in name):
            # The backend refuses them too (400), which would reach the client as a 502.
            return answer.error(
                400,
                "Query parameter speakername must not contain control characters.",
                request_id,
                details={"speakername": "must not contain control characters"},
            )
        resolution = await resolve_speaker(fetcher, name)
        resolve = resolution.source
        choice = resolution.match
        if choice is None:
            return _source_error(resolve, "The speaker search", request_id)
        if not choice.found:
            return _not_found(name, choice.suggestions, request_id)
        if choice.speaker is None:
            meta = build_meta([resolve], request_id)
            document = candidates_document(choice.candidates, meta)
            return answer.document(fit_utf8(document, conf.max_response_chars), complete=True)

        base = f"/speaker/{choice.speaker['id']}"
        async with _Round() as round_:
            sessions_task = round_.start(fetcher.fetch("sessions", base + "/sessions", "list"))
            topics_task = round_.start(fetcher.fetch("topics", base + "/topics", "list"))
            sessions, topics = await sessions_task, await topics_task
        return _context(conf, choice.speaker, resolve, sessions, topics, request_id)


def _not_found(name: str, suggestions: Sequence[Mapping[str, Any]], request_id: str | None) -> Stop:
    """A 404 that names the closest speakers, so the model can ask "did you mean ...?"."""
    message = f"No speaker matches the name {name!r}."
    close = [{"id": item.get("id"), "name": item.get("name")} for item in suggestions]
    if close:
        message += " Closest names: " + ", ".join(str(item["name"]) for item in close) + "."
    return answer.error(404, message, request_id, extra={"suggestions": close})


def _valid_text(value: str | None) -> str | None:
    """``value`` with the bytes that were not UTF-8 as U+FFFD, as the backend reads them.

    The codec keeps such bytes as surrogate escapes, which no UTF-8 encoder (the JSON answer,
    the backend call) accepts.
    """
    if value is None:
        return None
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _Round:
    """Tasks started together; whatever is still running on exit is cancelled and awaited."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[SourceResult]] = []

    def start(self, work: Coroutine[Any, Any, SourceResult]) -> asyncio.Task[SourceResult]:
        task = asyncio.ensure_future(work)
        self._tasks.append(task)
        return task

    async def __aenter__(self) -> _Round:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        pending = [task for task in self._tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _context(
    conf: ContextConf,
    speaker: Any,
    found_by: SourceResult,
    sessions: SourceResult,
    topics: SourceResult,
    request_id: str | None,
) -> Stop:
    """The speaker's document; ``found_by`` is the source that produced ``speaker``."""
    results = [found_by, sessions, topics]
    meta = build_meta(results, request_id)
    for result in results:
        if not result.ok:
            _log_failure(logging.WARNING, result, request_id)
    document = speaker_document(
        speaker,
        sessions.data if sessions.ok else None,
        topics.data if topics.ok else None,
        meta,
    )
    return answer.document(fit_utf8(document, conf.max_response_chars), complete=meta["complete"])


def _source_error(result: SourceResult, subject: str, request_id: str | None) -> Stop:
    """Map a failed speaker/resolve source to the client-facing status."""
    # An open breaker refuses every request; one line per refusal would flood the log.
    _log_failure(
        logging.INFO if result.status == "skipped" else logging.WARNING, result, request_id
    )
    if result.status == "skipped":
        return answer.error(
            503,
            "The conference backend is failing; its circuit breaker is open. "
            f"Retry after {result.retry_after_s} s.",
            request_id,
            headers=(("retry-after", str(result.retry_after_s)),),
        )
    if result.http_status == 404:
        return answer.error(404, f"{subject} was not found.", request_id)
    if result.status == "timeout":
        return answer.error(504, f"{subject} timed out: {result.error}.", request_id)
    return answer.error(502, f"{subject} failed: {result.error}.", request_id)


def _log_failure(level: int, result: SourceResult, request_id: str | None) -> None:
    logger.log(
        level,
        "context request %s: source %s %s (%s)",
        request_id,
        result.name,
        result.status,
        result.error,
    )
