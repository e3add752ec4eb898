"""Real conversations over the runner's Unix socket (in-process server, real client)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from typing import Any

import pytest

from runner_plugins import codec
from runner_plugins.client import ExtraInfoQuery, RunnerClient
from runner_plugins.client.codec import (
    decode_prepare_conf_reply,
    encode_http_req_call,
    encode_prepare_conf,
)
from runner_plugins.conf_cache import ConfCache
from runner_plugins.errors import ConfigError, RunnerUnavailable
from runner_plugins.plugin import ResponseChange, Rewrite, Stop
from runner_plugins.protocol import MAX_PAYLOAD, ErrorCode, RpcType, encode_frame, encode_header
from runner_plugins.service import raise_open_file_limit
from runner_plugins.views import HttpRequestView

from . import oracle
from .barrier_plugin import Barrier
from .conftest import LiveRunner, start_runner
from .helper_plugins import Noop, plugins

KEY = "route#1#ext-plugin-pre-req#1"


async def open_raw(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(path, limit=2**25)


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await asyncio.wait_for(reader.readexactly(4), 5)
    length = int.from_bytes(header[1:], "big")
    return header[0], await asyncio.wait_for(reader.readexactly(length), 5)


async def raw_prepare(reader, writer, conf) -> int:
    writer.write(encode_frame(RpcType.PREPARE_CONF, encode_prepare_conf(conf, "")))
    rpc_type, payload = await read_frame(reader)
    assert rpc_type == RpcType.PREPARE_CONF
    return decode_prepare_conf_reply(payload)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the runner may have closed first


def req_frame(token: int, req_id: int = 1) -> bytes:
    return encode_frame(
        RpcType.HTTP_REQ_CALL,
        encode_http_req_call(req_id=req_id, conf_token=token, method="GET", path="/"),
    )


def echo(reply: object) -> dict[str, Any]:
    assert isinstance(reply, Stop), reply
    doc: dict[str, Any] = json.loads(reply.body)
    return doc


async def test_request_fields_arrive_intact(live: LiveRunner):
    args = [("q", "ünïcödé ✓"), ("flag", None), ("q", "second"), ("empty", "")]
    headers = [("x-multi", "1"), ("x-multi", "2"), ("x-name", "Zoë 日本"), ("host", "h")]
    for src_ip in ("203.0.113.9", "2001:db8::1"):
        reply = await live.client.http_req_call(
            [("echo-request", "")],
            KEY,
            method="PATCH",
            path="/spéaker/ü/context",
            args=args,
            headers=headers,
            src_ip=src_ip,
            request_id=0,
        )
        assert echo(reply) == {
            "id": 0,
            "method": "PATCH",
            "path": "/spéaker/ü/context",
            "src_ip": src_ip,
            "args": [list(a) for a in args],
            "headers": [list(h) for h in headers],
        }


async def test_extra_info_is_interleaved_and_cached(live: LiveRunner):
    asked: list[ExtraInfoQuery] = []

    async def answer(query: ExtraInfoQuery) -> bytes | None:
        asked.append(query)
        if query.kind == "req_body":
            return "corps: éà 🎉".encode()
        return {"route_id": "rt-1", "http_x_ñ": "valüe"}.get(query.name, "").encode() or None

    reply = await live.client.http_req_call(
        [("echo-extra", '["route_id", "http_x_ñ", "unset"]')],
        KEY,
        method="POST",
        path="/",
        extra_info=answer,
    )
    doc = echo(reply)
    assert doc["vars"] == {"route_id": "rt-1", "http_x_ñ": "valüe", "unset": None}
    assert doc["again"] == doc["vars"]
    assert doc["body"] == "corps: éà 🎉"
    assert [q.kind for q in asked] == ["var", "var", "var", "req_body"]  # each asked once


async def test_concurrent_extra_info_questions_are_answered_in_order(live: LiveRunner):
    async def answer(query: ExtraInfoQuery) -> bytes | None:
        await asyncio.sleep(0.01)
        return b"the body" if query.kind == "req_body" else query.name.upper().encode()

    reply = await live.client.http_req_call(
        [("gather-extra", "")], KEY, method="GET", path="/", extra_info=answer
    )
    assert echo(reply) == {"first": "FIRST", "second": "SECOND", "body": "the body"}


async def test_deadline_while_waiting_for_extra_info_closes_that_connection(socket_path):
    server = await start_runner(socket_path, plugins(), request_timeout=0.1, sweep_interval=0.02)
    client = RunnerClient(socket_path)

    async def slow_apisix(query: ExtraInfoQuery) -> bytes | None:
        # Answer only once the runner has given up on the request and closed the connection.
        while server.connection_count:
            await asyncio.sleep(0.01)
        return b"late"

    try:
        with pytest.raises(RunnerUnavailable) as failed:
            await client.http_req_call(
                [("echo-extra", '["x"]')], KEY, method="GET", path="/", extra_info=slow_apisix
            )
        assert failed.value.code == ErrorCode.SERVICE_UNAVAILABLE
        await asyncio.sleep(0.05)
        assert server.connection_count == 0  # the late answer cannot be misread as a request
        assert await client.http_req_call([("stop-with", "200")], KEY, method="GET", path="/")
    finally:
        await client.close()
        await server.shutdown()


async def test_http_resp_call_with_response_body(live: LiveRunner):
    async def answer(query: ExtraInfoQuery) -> bytes | None:
        return b'{"upstream": true}' if query.kind == "resp_body" else b"10.0.0.1:8000"

    change = await live.client.http_resp_call(
        [("resp-editor", "")],
        "route#1#ext-plugin-post-resp#1",
        status=200,
        headers=[("content-type", "application/json"), ("set-cookie", "a"), ("set-cookie", "b")],
        extra_info=answer,
    )
    assert isinstance(change, ResponseChange) and change.status == 299
    assert json.loads(change.body or b"") == {
        "status": 200,
        "headers": [["content-type", "application/json"], ["set-cookie", "a"], ["set-cookie", "b"]],
        "body": '{"upstream": true}',
        "var": "10.0.0.1:8000",
    }
    assert await live.client.http_resp_call([("noop", "")], "k-noop", status=500) is None


async def test_rewrite_over_the_wire(live: LiveRunner):
    conf = json.dumps({"path": "/new", "headers": [["x-gone", None]], "body": "b"})
    reply = await live.client.http_req_call([("rewrite", conf)], KEY, method="GET", path="/")
    assert reply == Rewrite(path="/new", headers=(("x-gone", None),), body=b"b")


async def test_errors_are_type_zero_and_keep_the_connection(live: LiveRunner):
    reader, writer = await open_raw(live.server.config.socket_path)
    writer.write(req_frame(token=12345))  # never prepared
    assert await read_frame(reader) == (
        0,
        codec.encode_error_frame(ErrorCode.CONF_TOKEN_NOT_FOUND)[4:],
    )
    writer.write(encode_frame(7, b"whatever"))  # no such RPC type
    rpc_type, payload = await read_frame(reader)
    assert rpc_type == 0 and oracle.read_error(payload) == ErrorCode.BAD_REQUEST
    token = await raw_prepare(reader, writer, [("boom", "")])
    writer.write(req_frame(token))
    rpc_type, payload = await read_frame(reader)
    assert rpc_type == 0 and oracle.read_error(payload) == ErrorCode.SERVICE_UNAVAILABLE
    token = await raw_prepare(reader, writer, [("stop-with", "202")])  # same connection still fine
    writer.write(req_frame(token))
    rpc_type, payload = await read_frame(reader)
    assert (
        rpc_type == RpcType.HTTP_REQ_CALL and oracle.read_req_call_reply(payload)["status"] == 202
    )
    await close(writer)


async def test_plugin_failure_fails_only_that_request(live: LiveRunner):
    with pytest.raises(RunnerUnavailable) as failed:
        await live.client.http_req_call([("boom", "")], "k-boom", method="GET", path="/")
    assert failed.value.code == ErrorCode.SERVICE_UNAVAILABLE
    ok = await live.client.http_req_call([("stop-with", "200")], "k-ok", method="GET", path="/")
    assert ok == Stop(status=200)


@pytest.mark.parametrize(
    "bad",
    [
        encode_frame(RpcType.HTTP_REQ_CALL, b"\xff\xff\xff\x7f garbage that is no table"),
        encode_frame(RpcType.PREPARE_CONF, b"\x01\x00"),
        b"\x02\x00\x01\x00" + b"truncated",  # announces 256 bytes, then the peer goes away
    ],
)
async def test_garbage_or_truncated_frame_closes_only_that_connection(live: LiveRunner, bad):
    path = live.server.config.socket_path
    good_reader, good_writer = await open_raw(path)
    token = await raw_prepare(good_reader, good_writer, [("stop-with", "201")])
    bad_reader, bad_writer = await open_raw(path)
    bad_writer.write(bad)
    if bad.startswith(b"\x02\x00\x01\x00"):
        bad_writer.write_eof()
    assert await asyncio.wait_for(bad_reader.read(), 5) == b""  # closed by the runner
    good_writer.write(req_frame(token))
    rpc_type, payload = await read_frame(good_reader)
    assert (
        rpc_type == RpcType.HTTP_REQ_CALL and oracle.read_req_call_reply(payload)["status"] == 201
    )
    await close(good_writer)
    await close(bad_writer)


async def test_pipelined_frames_in_one_write_are_answered_in_order(live: LiveRunner):
    reader, writer = await open_raw(live.server.config.socket_path)
    token = await raw_prepare(reader, writer, [("stop-with", "203")])
    writer.write(req_frame(token, 1) + req_frame(token, 2) + req_frame(token + 99, 3))
    replies = [await read_frame(reader) for _ in range(3)]
    assert [oracle.read_req_call_reply(p)["id"] for _, p in replies[:2]] == [1, 2]
    assert replies[2][0] == 0
    await close(writer)


async def test_many_sequential_requests_share_one_connection(live: LiveRunner):
    client = RunnerClient(live.server.config.socket_path, max_idle=1)
    try:
        for i in range(2000):
            reply = await client.http_req_call(
                [("stop-with", "200")], KEY, method="GET", path="/", request_id=i
            )
            assert reply == Stop(status=200)
        assert live.server.connection_count == 1
    finally:
        await client.close()


async def test_a_thousand_concurrent_connections(socket_path):
    # Client and server share this process: 2,000 sockets, above Debian's default soft limit.
    raise_open_file_limit(2 * 1000 + 256)
    # The barrier answers only once all 1,000 requests are inside the runner at the same time,
    # so this proves 1,000 concurrent requests (one per connection), not 1,000 quick ones.
    server = await start_runner(socket_path, [Barrier()])
    client = RunnerClient(socket_path, max_idle=1000, read_timeout=60)
    try:
        replies = await asyncio.gather(
            *(
                client.http_req_call([("barrier", "1000")], KEY, method="GET", path=f"/{i}")
                for i in range(1000)
            )
        )
        assert all(r == Stop(status=200, body=b"together") for r in replies)
        assert server.connection_count >= 1000
    finally:
        await client.close()
        await server.shutdown()


async def test_client_reprepares_when_the_runner_lost_its_tokens(socket_path):
    server = await start_runner(socket_path, plugins())
    client = RunnerClient(socket_path)
    try:
        assert await client.http_req_call([("stop-with", "200")], KEY, method="GET", path="/")
        await server.shutdown()  # a restarted runner knows none of the old tokens
        server = await start_runner(socket_path, plugins())
        reply = await client.http_req_call([("stop-with", "200")], KEY, method="GET", path="/")
        assert reply == Stop(status=200)
    finally:
        await client.close()
        await server.shutdown()


async def test_client_gives_up_after_three_token_failures(socket_path):
    prepares = 0
    handlers: list[asyncio.Task[None]] = []

    async def forgetful(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal prepares
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        while True:
            try:
                rpc_type, _ = await read_frame(reader)
            except asyncio.IncompleteReadError:
                break
            if rpc_type == RpcType.PREPARE_CONF:
                prepares += 1
                writer.write(codec.encode_prepare_conf_reply(prepares))
            else:
                writer.write(codec.encode_error_frame(ErrorCode.CONF_TOKEN_NOT_FOUND))
        await close(writer)

    fake = await asyncio.start_unix_server(forgetful, socket_path)
    client = RunnerClient(socket_path)
    try:
        with pytest.raises(RunnerUnavailable) as failed:
            await client.http_req_call([("x", "")], KEY, method="GET", path="/")
        assert failed.value.code == ErrorCode.CONF_TOKEN_NOT_FOUND
        assert prepares == 3
    finally:
        await client.close()
        fake.close()
        await asyncio.wait(handlers, timeout=5)


async def test_client_reports_a_missing_runner(socket_path):
    client = RunnerClient(socket_path)
    with pytest.raises(RunnerUnavailable, match="failed to connect"):
        await client.http_req_call([("x", "")], KEY, method="GET", path="/")


async def test_maximum_payload_both_directions(live: LiveRunner):
    # Largest PrepareConf the runner must accept: pad the key so the payload is exactly MAX.
    base = len(encode_prepare_conf([("stop-with", "200")], "")) - 1
    key = "k" * (MAX_PAYLOAD - base - 1)
    payload = encode_prepare_conf([("stop-with", "200")], key)
    assert len(payload) == MAX_PAYLOAD
    reader, writer = await open_raw(live.server.config.socket_path)
    writer.write(encode_frame(RpcType.PREPARE_CONF, payload))
    rpc_type, reply = await read_frame(reader)
    assert rpc_type == RpcType.PREPARE_CONF
    await close(writer)

    # Largest Stop the runner may send back, and one byte more.
    overhead = len(codec.encode_req_call_reply(0, Stop(body=b"b"))) - 4 - 1
    exact = MAX_PAYLOAD - overhead
    assert len(codec.encode_req_call_reply(0, Stop(body=b"b" * exact))) - 4 == MAX_PAYLOAD
    reply_stop = await live.client.http_req_call(
        [("big", str(exact))], "k-big", method="GET", path="/"
    )
    assert isinstance(reply_stop, Stop) and len(reply_stop.body) == exact
    with pytest.raises(RunnerUnavailable) as failed:
        await live.client.http_req_call([("big", str(exact + 1))], "k-big2", method="GET", path="/")
    assert failed.value.code == ErrorCode.SERVICE_UNAVAILABLE

    # The client refuses to send a frame over the maximum, and the runner stays healthy.
    with pytest.raises(RunnerUnavailable, match="exceeds the maximum"):
        await live.client.http_req_call(
            [("stop-with", "200")], "k-huge", method="GET", path="/" + "p" * MAX_PAYLOAD
        )
    assert await live.client.http_req_call([("stop-with", "200")], KEY, method="GET", path="/")


async def test_request_timeout_answers_service_unavailable(socket_path):
    server = await start_runner(socket_path, plugins(), request_timeout=0.1)
    client = RunnerClient(socket_path)
    try:
        with pytest.raises(RunnerUnavailable) as failed:
            await client.http_req_call([("slow", "30")], KEY, method="GET", path="/")
        assert failed.value.code == ErrorCode.SERVICE_UNAVAILABLE
    finally:
        await client.close()
        await server.shutdown()


async def test_socket_mode_and_stale_socket(socket_path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(socket_path)  # bound, never listening: what a killed runner leaves behind
    stale.close()
    server = await start_runner(socket_path, plugins())
    try:
        assert stat.S_IMODE(os.stat(socket_path).st_mode) == 0o766
        with pytest.raises(ConfigError, match="already serving"):
            await start_runner(socket_path, plugins())
        assert os.path.exists(socket_path)  # the refused second runner left it alone
    finally:
        await server.shutdown()
    assert not os.path.exists(socket_path)


async def test_refuses_to_replace_a_regular_file(socket_path):
    with open(socket_path, "w") as handle:
        handle.write("not a socket")
    with pytest.raises(ConfigError, match="not a socket"):
        await start_runner(socket_path, plugins())
    assert os.path.isfile(socket_path)


async def test_expired_conf_answers_not_found_then_reprepares(socket_path):
    now = [0.0]
    cache = ConfCache(ttl=7200, clock=lambda: now[0])
    server = await start_runner(socket_path, plugins(), cache=cache)
    client = RunnerClient(socket_path)
    try:
        await client.http_req_call([("stop-with", "200")], KEY, method="GET", path="/")
        (old,) = list(cache._entries)
        now[0] += 7201
        assert await client.http_req_call([("stop-with", "200")], KEY, method="GET", path="/")
        assert cache.get(old) is None and len(cache) == 1
    finally:
        await client.close()
        await server.shutdown()


async def test_lazy_decode_failure_inside_a_plugin_closes_only_that_connection(live: LiveRunner):
    path = live.server.config.socket_path
    reader, writer = await open_raw(path)
    token = await raw_prepare(reader, writer, [("echo-request", "")])
    payload = bytearray(
        encode_http_req_call(
            req_id=3, conf_token=token, method="GET", path="/", headers=[("a", "b")]
        )
    )
    # Make the last string (the header value "b", length 1) claim 10**6 bytes: id, token and
    # path still decode, so the damage surfaces only when the plugin reads the headers.
    vector = payload.rfind(b"\x01\x00\x00\x00")
    assert HttpRequestView(bytes(payload), None).path == "/"  # type: ignore[arg-type]
    payload[vector : vector + 4] = (10**6).to_bytes(4, "little")
    writer.write(encode_frame(RpcType.HTTP_REQ_CALL, bytes(payload)))
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await close(writer)
    reply = await live.client.http_req_call([("echo-request", "")], KEY, method="GET", path="/ok")
    assert echo(reply)["path"] == "/ok"


async def test_connection_limit(socket_path):
    server = await start_runner(socket_path, plugins(), max_connections=2)
    try:
        conns = [await open_raw(socket_path) for _ in range(2)]
        for reader, writer in conns:
            await raw_prepare(reader, writer, [("noop", "")])
        reader, writer = await open_raw(socket_path)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the third is refused
        await close(writer)
        for _, open_writer in conns:
            await close(open_writer)
    finally:
        await server.shutdown()


async def test_plugin_lifecycle_runs_on_the_serving_loop(socket_path):
    events: list[tuple[str, asyncio.AbstractEventLoop]] = []

    class Lifecycle(Noop):
        name = "lifecycle"

        async def startup(self) -> None:
            events.append(("startup", asyncio.get_running_loop()))

        async def shutdown(self) -> None:
            events.append(("shutdown", asyncio.get_running_loop()))

    server = await start_runner(socket_path, [Lifecycle()])
    assert events == [("startup", asyncio.get_running_loop())]
    await server.shutdown()
    assert [name for name, _ in events] == ["startup", "shutdown"]


async def test_client_pool_keeps_at_most_max_idle(live: LiveRunner):
    client = RunnerClient(live.server.config.socket_path, max_idle=4)
    try:
        replies = await asyncio.gather(
            *(
                client.http_req_call([("slow", "0.05")], KEY, method="GET", path="/")
                for _ in range(10)
            )
        )
        assert len(replies) == 10 and len(client._idle) == 4
        await asyncio.sleep(0.05)
        assert live.server.connection_count == 4  # the other six were closed by the client
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (encode_frame(RpcType.HTTP_RESP_CALL, b""), "expected a type 2 reply, got type 4"),
        (None, "did not answer within"),
        (encode_frame(RpcType.HTTP_REQ_CALL, b"\x00\x00"), "undecodable reply"),
        # Refused from the header: the client never buffers a payload over its cap.
        (encode_header(RpcType.HTTP_REQ_CALL, 1 << 20), "over the limit of 64"),
    ],
)
async def test_client_turns_misbehaving_runners_into_unavailable(socket_path, reply, message):
    handlers: list[asyncio.Task[None]] = []

    async def faulty(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while True:
                rpc_type, _ = await read_frame(reader)
                if rpc_type == RpcType.PREPARE_CONF:
                    writer.write(codec.encode_prepare_conf_reply(1))
                elif reply is not None:
                    writer.write(reply)
        except (asyncio.IncompleteReadError, TimeoutError):
            pass
        await close(writer)

    fake = await asyncio.start_unix_server(faulty, socket_path)
    client = RunnerClient(socket_path, read_timeout=0.2, max_payload=64)
    try:
        with pytest.raises(RunnerUnavailable, match=message):
            await client.http_req_call([("x", "")], KEY, method="GET", path="/")
        assert len(client._idle) == 0  # the connection that failed is not reused
    finally:
        await client.close()
        fake.close()
        await asyncio.wait(handlers, timeout=6)


async def test_reading_pauses_while_busy_and_resumes(live: LiveRunner):
    reader, writer = await open_raw(live.server.config.socket_path)
    slow = await raw_prepare(reader, writer, [("slow", "0.3")])
    fast = await raw_prepare(reader, writer, [("stop-with", "200")])
    (connection,) = live.server._connections
    connection._state.high_water = 64
    writer.write(req_frame(slow, 0))
    await asyncio.sleep(0.05)  # the slow request is in flight
    writer.write(b"".join(req_frame(fast, i) for i in range(1, 51)))  # ~2.5 KB queued behind it
    await asyncio.sleep(0.1)
    paused_while_busy: bool = connection._read_paused
    assert paused_while_busy  # not buffering without bound while busy
    ids = [oracle.read_req_call_reply((await read_frame(reader))[1])["id"] for _ in range(51)]
    assert ids == list(range(51))
    assert not connection._read_paused
    await close(writer)


async def test_request_pipelined_into_an_extra_info_exchange_drops_the_connection(
    live: LiveRunner,
):
    reader, writer = await open_raw(live.server.config.socket_path)
    token = await raw_prepare(reader, writer, [("echo-extra", '["route_id"]')])
    # Two requests back to back: the second arrives where the runner expects an ExtraInfo answer.
    writer.write(req_frame(token, 1) + req_frame(token, 2))
    rpc_type, _ = await read_frame(reader)
    assert rpc_type == RpcType.EXTRA_INFO  # the question for request 1
    assert await asyncio.wait_for(reader.read(), 5) == b""  # then the connection is dropped
    await close(writer)


async def test_a_blocking_plugin_is_reported(socket_path, caplog):
    import time

    class Blocking(Noop):
        name = "blocking"

        async def request_filter(self, conf: None, request: object) -> None:
            time.sleep(0.4)  # the mistake being detected: blocking the shared loop

    server = await start_runner(socket_path, [Blocking()], sweep_interval=0.05)
    client = RunnerClient(socket_path)
    try:
        assert await client.http_req_call([("blocking", "")], KEY, method="GET", path="/") is None
        await asyncio.sleep(0.15)
        assert "event loop was blocked for 0." in caplog.text
    finally:
        await client.close()
        await server.shutdown()
