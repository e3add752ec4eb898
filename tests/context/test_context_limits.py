"""Backend answers are read with a bound (common rules: no unbounded read).

A source whose answer is larger than ``MAX_SOURCE_BYTES`` is a source error, whether the
backend declares the size (Content-Length) or streams it chunked without one; the runner never
buffers more than the bound plus one chunk, and the rest of the document still arrives.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from runner_plugins.context import backend as context_backend
from runner_plugins.context.conf import ContextConf
from runner_plugins.context.plugin import ContextPlugin
from tests.context.conftest import ask

ConfFor = Callable[..., ContextConf]
LIMIT = 64 * 1024


async def _speaker(request: web.Request) -> web.Response:
    return web.json_response({"id": 1, "name": "Amelia Hartley", "company": "X", "bio": ""})


async def _declared_too_big(request: web.Request) -> web.Response:
    items = [{"id": i, "name": "t" * 100} for i in range(1, 1000)]  # ~110 KB, Content-Length set
    return web.json_response({"items": items, "total": len(items), "limit": 100, "offset": 0})


async def _streamed_too_big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()  # no Content-Length: only counting can stop it
    await response.prepare(request)
    await response.write(b'{"items": [')
    for _ in range(200):  # 200 x 4 KiB, far past the limit
        await response.write(b'"' + b"s" * 4094 + b'",')
    await response.write(b'"end"], "total": 201}')
    await response.write_eof()
    return response


@pytest.fixture
async def oversize_backend() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/speaker/1", _speaker)
    app.router.add_get("/speaker/1/sessions", _streamed_too_big)
    app.router.add_get("/speaker/1/topics", _declared_too_big)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_oversize_sources_are_errors_not_unbounded_reads(
    plugin: ContextPlugin,
    oversize_backend: str,
    conf_for: ConfFor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context_backend, "MAX_SOURCE_BYTES", LIMIT)
    got = await ask(plugin, conf_for(oversize_backend, cache_ttl_s=0), "/speaker/1/context")
    assert got.status == 200 and got.headers["x-context-complete"] == "false"
    assert got.headers["cache-control"] == "no-store"  # a partial answer is never replayed
    assert got.body["speaker"]["id"] == 1
    assert got.body["meta"]["missing"] == ["sessions", "topics"]
    errors = {s["name"]: s["error"] for s in got.body["meta"]["sources"]}
    assert "size limit" in errors["sessions"] and "size limit" in errors["topics"]
    assert len(json.dumps(got.body)) < LIMIT
