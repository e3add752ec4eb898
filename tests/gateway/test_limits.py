"""Faults and bounds: unreachable/slow upstream, oversize requests — always JSON, then still up."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest

from gateway.settings import Limits
from tests.gateway.conftest import Echo, body_json
from tests.processes import free_port


def _yaml(address: str, read_timeout: float = 10) -> str:
    return f"""
upstreams:
  - id: up
    nodes: {{"{address}": 1}}
    timeout: {{connect: 1, send: 1, read: {read_timeout}}}
routes:
  - {{id: r, uri: "/*", upstream_id: up}}
#END
"""


async def test_unreachable_upstream_is_502_json(start_gateway) -> None:
    running = await start_gateway(_yaml(f"127.0.0.1:{free_port()}"), {})
    response = await running.client.get("/x")
    assert (response.status_code, body_json(response)) == (502, {"error_msg": "502 Bad Gateway"})


async def test_slow_upstream_is_504_json_then_recovers(start_gateway, echo: Echo) -> None:
    running = await start_gateway(_yaml(echo.address, read_timeout=0.2), {})
    slow = await running.client.get("/slow?s=1")
    assert (slow.status_code, body_json(slow)) == (504, {"error_msg": "504 Gateway Timeout"})
    fast = await running.client.get("/fast")
    assert fast.status_code == 200


async def test_oversize_requests_get_json_and_the_gateway_keeps_serving(
    start_gateway, echo: Echo
) -> None:
    limits = Limits(max_uri_bytes=200, max_header_bytes=1000, max_body_bytes=100)
    running = await start_gateway(_yaml(echo.address), {}, limits=limits)
    client = running.client
    cases = [
        (await client.get("/q?" + "a" * 300), 414),
        (await client.get("/h", headers={"X-Big": "b" * 1200}), 431),
        (await client.post("/b", content=b"c" * 101), 413),
    ]
    for response, status in cases:
        assert response.status_code == status
        assert body_json(response)["error_msg"].startswith(str(status))
    assert echo.seen == []
    assert (await client.post("/b", content=b"c" * 100)).status_code == 200


async def test_chunked_body_over_the_limit_is_413(start_gateway, echo: Echo) -> None:
    running = await start_gateway(_yaml(echo.address), {}, limits=Limits(max_body_bytes=100))

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 50

    response = await running.client.post("/b", content=chunks())
    assert response.status_code == 413
    assert echo.seen == []


async def test_parser_level_errors_are_json_too(start_gateway, echo: Echo) -> None:
    running = await start_gateway(_yaml(echo.address), {}, limits=Limits(max_header_bytes=1000))
    host, port = running.url.removeprefix("http://").split(":")
    for raw, status in (
        # A header far beyond the parser's own limit (4 x max_header_bytes).
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"b" * 8000 + b"\r\n\r\n", 431),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == str(status).encode(), head
        assert json.loads(body)["error_msg"].startswith(str(status))
    assert echo.seen == []
    assert (await running.client.get("/still-up")).status_code == 200


async def test_parser_errors_are_logged_without_the_request_bytes(
    start_gateway, echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp quotes the offending bytes in its message; a sloppy client's request line or
    # header block carries its API key, which must not end up in the gateway's log.
    running = await start_gateway(_yaml(echo.address), {})
    host, port = running.url.removeprefix("http://").split(":")
    secret = "k3y-that-must-not-be-logged"
    caplog.set_level(logging.DEBUG, logger="gateway")
    for raw in (
        f"GET /x HTTP/1.1\nHost: a\napikey: {secret}\n\n".encode(),  # bare LF line ends
        f"GET /x HTTP/1.1\r\nHost: a\r\napikey : {secret}\r\n\r\n".encode(),
        f"GET /x HTTP/1.1\r\nHost: a\r\napikey: {secret}\x01\r\n\r\n".encode(),
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        await writer.drain()
        answer = await reader.read()
        writer.close()
        assert answer.split(b" ")[1] == b"400", answer
    rejected = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(rejected) == 3
    assert all(secret not in r.getMessage() for r in caplog.records)


async def test_an_early_error_answer_to_a_body_does_not_poison_the_pool(start_gateway) -> None:
    # gunicorn answers a too-large body with 413 and "Connection: keep-alive" before reading
    # it, drains at most 64 KiB and then drops the connection: a pooled reuse racing with the
    # drop was a 502 for whoever came next (about 1 in 7 through the local stack). nginx never
    # keeps a connection whose request body the upstream did not take.
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
        if length > 1000:
            # Like gunicorn, it honours a client's "Connection: close" (RFC 9112 9.6).
            close = b"connection: close" in head
            writer.write(
                b"HTTP/1.1 413 Payload Too Large\r\nConnection: "
                + (b"close" if close else b"keep-alive")
                + b'\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"status":413}'
            )
            await writer.drain()
            await reader.readexactly(length)
            if close:
                writer.close()
                return
            # The worst case of that race, made certain: the drop comes just as the next
            # request arrives on the connection.
            await reader.read(1)
            writer.transport.abort()
            return
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    running = await start_gateway(_yaml(f"127.0.0.1:{port}"), {})
    try:
        big = await running.client.post("/feedback", content=b"x" * 100_000)
        assert big.status_code == 413
        # A POST: aiohttp retries an idempotent request on a dropped reused connection itself.
        after = await running.client.post("/next", content=b'{"rating": 5}')
        assert (after.status_code, after.text) == (200, "ok")
    finally:
        server.close()
        await server.wait_closed()


async def test_expect_100_continue_gets_the_interim_answer(start_gateway, echo: Echo) -> None:
    # curl 7.x sends Expect: 100-continue for bodies over 1 KiB and waits for "100 Continue"
    # before the body; nginx sends it when it starts reading the body.
    running = await start_gateway(_yaml(echo.address), {})
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b'{"rating": 5}'
    writer.write(
        b"POST /b HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % len(body)
    )
    await writer.drain()
    # A generous bound only so that a missing interim answer fails instead of hanging.
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert echo.last["body"] == body.decode()


async def test_a_client_gone_mid_body_is_not_an_unexpected_error(
    start_gateway, echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    # nginx logs a premature close at info level (and a 400); it is no gateway bug.
    running = await start_gateway(_yaml(echo.address), {})
    host, port = running.url.removeprefix("http://").split(":")
    caplog.set_level(logging.INFO, logger="gateway")
    for raw in (
        b"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + b"x" * 10,
        b"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw)
        await writer.drain()
        writer.write_eof()
        assert await reader.read() == b""
        writer.close()
    assert (await running.client.get("/still-up")).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert echo.seen[-1]["path_qs"] == "/still-up" and len(echo.seen) == 1


async def _silence_then_close(host: str, port: int, parts: list[bytes], pause: float) -> bytes:
    """Send ``parts`` ``pause`` seconds apart; return all the gateway sent before it closed."""
    reader, writer = await asyncio.open_connection(host, port)
    received: list[bytes] = []

    async def _read_all() -> None:
        try:
            while chunk := await reader.read(65536):
                received.append(chunk)
        except ConnectionError:
            pass  # closed while we were still writing: what came before is in ``received``

    reading = asyncio.create_task(_read_all())
    try:
        for part in parts:
            try:
                writer.write(part)
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(pause)
        async with asyncio.timeout(10):
            await reading
    finally:
        reading.cancel()
        writer.close()
    return b"".join(received)


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([], id="nothing-sent"),
        pytest.param([b"GET /x HTTP/1.1\r\n", b"Host: a\r\n"], id="half-a-header"),
        # One byte per pause: the timer bounds the whole header, bytes do not re-arm it.
        pytest.param([bytes([b]) for b in b"GET /x HTTP/1.1\r\nHost: a\r\n"], id="drip"),
    ],
)
async def test_a_slow_header_is_cut_off_without_an_answer(
    start_gateway, echo: Echo, parts: list[bytes]
) -> None:
    limits = Limits(client_header_timeout=0.3)
    running = await start_gateway(_yaml(echo.address), {}, limits=limits)
    port = int(running.url.rsplit(":", 1)[1])
    answer = await _silence_then_close("127.0.0.1", port, parts, pause=0.05)
    # nginx terminates a request whose header timed out: no 408 on the wire (only in its log).
    assert answer == b""
    assert echo.seen == []


async def test_header_timeout_spares_complete_and_kept_alive_requests(
    start_gateway, echo: Echo
) -> None:
    running = await start_gateway(_yaml(echo.address), {}, limits=Limits(client_header_timeout=0.3))
    first = await running.client.get("/slow?s=0.5")  # a slow upstream is not a slow header
    await asyncio.sleep(0.5)  # idle on the kept-alive connection: keepalive_timeout applies
    second = await running.client.get("/after-idle")
    assert (first.status_code, second.status_code) == (200, 200)


async def test_a_stalled_body_is_cut_off_without_an_answer(
    start_gateway, echo: Echo, caplog: pytest.LogCaptureFixture
) -> None:
    running = await start_gateway(_yaml(echo.address), {}, limits=Limits(client_body_timeout=0.3))
    port = int(running.url.rsplit(":", 1)[1])
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"
    answer = await _silence_then_close("127.0.0.1", port, [head + b"0123456789"], pause=0.05)
    # Like nginx: the request is terminated, not answered (its 408 is only in the log).
    assert answer == b""
    assert echo.seen == []
    assert (await running.client.get("/still-up")).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_the_body_timeout_is_per_read_not_for_the_whole_body(
    start_gateway, echo: Echo
) -> None:
    # nginx's client_body_timeout runs between two reads: a slow but steady body goes through.
    running = await start_gateway(_yaml(echo.address), {}, limits=Limits(client_body_timeout=0.3))
    port = int(running.url.rsplit(":", 1)[1])
    body = b"0123456789" * 8
    head = b"POST /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 80\r\n\r\n"
    parts = [head] + [body[i : i + 10] for i in range(0, 80, 10)]
    answer = await _silence_then_close("127.0.0.1", port, parts, pause=0.1)
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert echo.seen[-1]["body"] == body.decode()
