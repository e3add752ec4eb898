"""A fault-injecting, seed-shaped Conference API served over real loopback HTTP (aiohttp).

Strategy: the happy paths are tested against the real Flask backend; this fake exists for the
faults the real one cannot produce on demand - a slow source, a 500, malformed JSON, a dropped
connection - and for observing the runner from the backend's side: which headers arrived, how
many calls were in flight at once. Behaviour is set per source ("speaker", "sessions",
"topics", "resolve") so a test can break exactly one of them. The benchmark reuses it with a
fixed delay on every call.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from backend.folding import fold

FAULTS = ("500", "malformed", "drop", "wrong-shape", "404")


def seed(n_speakers: int = 8, sessions_per_speaker: int = 3) -> dict[str, Any]:
    """Small seed-shaped data: speakers, sessions (some shared), topics."""
    names = [
        "Amelia Hartley",
        "Maria Rossi",
        "María González",
        "Łukasz Wiśniewski",
        "Oscar Lindgren",
        "Søren Lindqvist",
        "Daniel Kim",
        "Daniel Okafor",
    ]
    speakers = {
        i: {
            "id": i,
            "name": names[(i - 1) % len(names)] if i <= len(names) else f"Speaker {i}",
            "company": f"Company {i}",
            "bio": f"Bio of speaker {i}.",
        }
        for i in range(1, n_speakers + 1)
    }
    topics = {
        t: {"id": t, "name": f"Topic {t}", "description": f"About topic {t}."} for t in range(1, 9)
    }
    sessions: dict[int, dict[str, Any]] = {}
    by_speaker: dict[int, list[int]] = {i: [] for i in speakers}
    next_id = 101
    for i in speakers:
        if speakers[i]["name"] == "Oscar Lindgren":
            continue  # the speaker with no sessions
        for k in range(sessions_per_speaker):
            partner = i % n_speakers + 1
            shared = k == 0 and speakers[partner]["name"] != "Oscar Lindgren" and partner != i
            co = [i, partner] if shared else [i]
            topic_ids = [(i + k) % 8 + 1, (i + 2 * k + 3) % 8 + 1]
            sessions[next_id] = {
                "id": next_id,
                "title": f"Session {next_id}",
                "abstract": f"Abstract of session {next_id}. " * 3,
                "day": 3 - k % 3,
                "start": f"{9 + k % 9:02d}:00",
                "end": f"{9 + k % 9:02d}:45",
                "room": f"Room {k}",
                "level": "intermediate",
                "speakers": [{"id": s, "name": speakers[s]["name"]} for s in co],
                "topics": [{"id": t, "name": topics[t]["name"]} for t in sorted(set(topic_ids))],
            }
            for s in co:
                by_speaker[s].append(next_id)
            next_id += 1
    return {"speakers": speakers, "sessions": sessions, "topics": topics, "by_speaker": by_speaker}


@dataclass
class FakeBackend:
    """Serve seed-shaped data on 127.0.0.1 with injectable per-source faults and delays."""

    data: dict[str, Any] = field(default_factory=seed)
    delay: dict[str, float] = field(default_factory=dict)
    fault: dict[str, str] = field(default_factory=dict)
    all_delay: float = 0.0
    max_limit: int = 100
    calls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/speakers", self._resolve)
        app.router.add_get("/speaker/{id}", self._speaker)
        app.router.add_get("/speaker/{id}/sessions", self._sessions)
        app.router.add_get("/speaker/{id}/topics", self._topics)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=0.1,
            handler_cancellation=True,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def calls_to(self, source: str) -> int:
        return sum(1 for name, _, _ in self.calls if name == source)

    async def _serve(self, source: str, request: web.Request, produce: Any) -> web.StreamResponse:
        self.calls.append((source, request.path_qs, dict(request.headers)))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            wait = self.all_delay + self.delay.get(source, 0.0)
            if wait:
                await asyncio.sleep(wait)
            fault = self.fault.get(source)
            if fault == "500":
                return web.json_response({"status": 500, "error": "boom"}, status=500)
            if fault == "404":
                return web.json_response({"status": 404, "error": "Not Found"}, status=404)
            if fault == "malformed":
                return web.Response(text='{"id": 1, "name": ', content_type="application/json")
            if fault == "wrong-shape":
                return web.json_response(["not", "an", "object"])
            if fault == "drop":
                assert request.transport is not None
                request.transport.close()
                return web.Response()
            status, body = produce()
            return web.json_response(body, status=status, dumps=_dumps)
        finally:
            self.in_flight -= 1

    def _page(self, request: web.Request, items: list[Any]) -> tuple[int, dict[str, Any]]:
        limit = min(int(request.query.get("limit", "50")), self.max_limit)
        offset = int(request.query.get("offset", "0"))
        return 200, {
            "items": items[offset : offset + limit],
            "total": len(items),
            "limit": limit,
            "offset": offset,
        }

    def _ident(self, request: web.Request) -> int:
        return int(request.match_info["id"])

    async def _speaker(self, request: web.Request) -> web.StreamResponse:
        def produce() -> tuple[int, Any]:
            speaker = self.data["speakers"].get(self._ident(request))
            if speaker is None:
                return 404, {"status": 404, "error": "Not Found", "message": "no such speaker"}
            return 200, speaker

        return await self._serve("speaker", request, produce)

    async def _sessions(self, request: web.Request) -> web.StreamResponse:
        def produce() -> tuple[int, Any]:
            ident = self._ident(request)
            if ident not in self.data["speakers"]:
                return 404, {"status": 404, "error": "Not Found", "message": "no such speaker"}
            ids = self.data["by_speaker"][ident]
            return self._page(request, [self.data["sessions"][s] for s in ids])

        return await self._serve("sessions", request, produce)

    async def _topics(self, request: web.Request) -> web.StreamResponse:
        def produce() -> tuple[int, Any]:
            ident = self._ident(request)
            if ident not in self.data["speakers"]:
                return 404, {"status": 404, "error": "Not Found", "message": "no such speaker"}
            ids = sorted(
                {t["id"] for s in self.data["by_speaker"][ident] for t in _topics_of(self, s)}
            )
            return self._page(request, [self.data["topics"][t] for t in ids])

        return await self._serve("topics", request, produce)

    async def _resolve(self, request: web.Request) -> web.StreamResponse:
        def produce() -> tuple[int, Any]:
            # The real backend's folding, so the fake's search does not borrow the plugin's.
            wanted = fold(request.query.get("speakername", ""))
            found = [s for s in self.data["speakers"].values() if wanted in fold(s["name"])]
            return self._page(request, found)

        return await self._serve("resolve", request, produce)


def _topics_of(fake: FakeBackend, session_id: int) -> list[dict[str, Any]]:
    topics: list[dict[str, Any]] = fake.data["sessions"][session_id]["topics"]
    return topics


def _dumps(value: Any) -> str:
    # A lone surrogate (a test's broken data) goes out as its \uXXXX escape, as any JSON
    # writer in ASCII mode sends it: valid JSON that aiohttp can encode.
    text = json.dumps(value, ensure_ascii=False)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
