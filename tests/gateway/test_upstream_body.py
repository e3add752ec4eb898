"""Upstream bodies are read to the end within a bound; past it the client gets a JSON 502.

Real APISIX streams upstream bodies without a size bound; the stand-in buffers them (its
pipeline hands whole bodies to ext-plugin-post-resp), so it must read them whole and refuse
the ones it cannot hold instead of answering a truncated 200.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.settings import MAX_UPSTREAM_BODY
from tests.gateway.conftest import body_json

MEGABYTE = 1024 * 1024


def _pattern(size: int) -> bytes:
    # Not one repeated byte: a reordered or partly repeated body must not compare equal.
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


async def _fixed(request: web.Request) -> web.Response:
    return web.Response(body=_pattern(int(request.query["n"])), content_type="text/plain")


async def _streamed(request: web.Request) -> web.StreamResponse:
    """Chunked (no Content-Length), ``chunks`` writes of ``size`` bytes ``delay`` s apart."""
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    size, chunks = int(request.query["size"]), int(request.query["chunks"])
    delay = float(request.query.get("delay", "0"))
    body = _pattern(size * chunks)
    for index in range(chunks):
        await response.write(body[index * size : (index + 1) * size])
        if delay:
            await asyncio.sleep(delay)
    await response.write_eof()
    return response


@pytest.fixture
async def bodies() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/fixed", _fixed)
    app.router.add_get("/streamed", _streamed)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


def _yaml(address: str) -> str:
    return f"""
upstreams:
  - id: up
    nodes: {{"{address}": 1}}
    timeout: {{connect: 1, send: 1, read: 10}}
routes:
  - {{id: r, uri: "/*", upstream_id: up}}
#END
"""


async def test_a_one_megabyte_body_arrives_whole(start_gateway, bodies: str) -> None:
    running = await start_gateway(_yaml(bodies), {})
    response = await running.client.get(f"/fixed?n={MEGABYTE}")
    assert response.status_code == 200
    assert len(response.content) == MEGABYTE
    assert response.content == _pattern(MEGABYTE)


async def test_a_slowly_streamed_body_arrives_whole(start_gateway, bodies: str) -> None:
    running = await start_gateway(_yaml(bodies), {})
    # 16 writes of 64 KiB, 50 ms apart: each read returns only what has arrived so far.
    response = await running.client.get("/streamed?size=65536&chunks=16&delay=0.05")
    assert response.status_code == 200
    assert response.content == _pattern(MEGABYTE)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(f"/fixed?n={MAX_UPSTREAM_BODY + 1}", id="declared-length"),
        pytest.param(
            f"/streamed?size={MEGABYTE}&chunks={MAX_UPSTREAM_BODY // MEGABYTE + 1}",
            id="chunked",
        ),
    ],
)
async def test_a_body_past_the_bound_is_a_json_502(start_gateway, bodies: str, path: str) -> None:
    running = await start_gateway(_yaml(bodies), {})
    response = await running.client.get(path)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert body_json(response) == {"error_msg": "502 Bad Gateway"}
    # A body exactly at the bound still passes, and the gateway keeps serving.
    exact = await running.client.get(f"/fixed?n={MAX_UPSTREAM_BODY}")
    assert (exact.status_code, len(exact.content)) == (200, MAX_UPSTREAM_BODY)
