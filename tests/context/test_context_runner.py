"""The context plugin through the REAL runner over its Unix socket, driven like APISIX does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from runner_plugins.client import RunnerClient
from runner_plugins.config import DEFAULT_PLUGIN_MODULES, RunnerConfig
from runner_plugins.plugin import Stop
from runner_plugins.registry import PluginRegistry
from runner_plugins.server import RunnerServer
from tests.context.conftest import TEST_SECRET, to_answer
from tests.context.fake_backend import FakeBackend

KEY = "route#speaker-context#ext-plugin-post-req#1"


@pytest.fixture
async def runner(socket_path: str) -> AsyncIterator[RunnerClient]:
    # The runner's default plugin modules, exactly as `python -m runner_plugins` loads them.
    registry = PluginRegistry.from_modules(DEFAULT_PLUGIN_MODULES)
    assert "conference-context" in registry.names()
    server = RunnerServer(RunnerConfig(socket_path=socket_path), registry)
    await server.start()
    client = RunnerClient(socket_path, read_timeout=10.0)
    try:
        yield client
    finally:
        await client.close()
        await server.shutdown()


def _conf(fake: FakeBackend, **extra: object) -> list[tuple[str, str]]:
    value = {"backend_url": fake.url, "secret": TEST_SECRET, **extra}
    return [("conference-context", json.dumps(value))]


async def test_context_through_the_runner_socket(runner: RunnerClient, fake: FakeBackend) -> None:
    action = await runner.http_req_call(
        _conf(fake),
        KEY,
        method="GET",
        path="/speaker/1/context",
        headers=[("x-request-id", "rid-sock"), ("apikey", "client-key")],
    )
    assert isinstance(action, Stop)
    got = to_answer(action)
    assert got.status == 200
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert got.headers["x-context-complete"] == "true"
    assert got.body["speaker"]["id"] == 1 and got.body["meta"]["request_id"] == "rid-sock"
    assert all("apikey" not in {k.lower() for k in sent} for _, _, sent in fake.calls)


async def test_partial_and_error_answers_through_the_runner_socket(
    runner: RunnerClient, fake: FakeBackend
) -> None:
    fake.fault["topics"] = "500"
    partial = await runner.http_req_call(_conf(fake), KEY, method="GET", path="/speaker/2/context")
    assert isinstance(partial, Stop)
    got = to_answer(partial)
    assert got.status == 200 and got.headers["x-context-complete"] == "false"
    assert got.body["meta"]["missing"] == ["topics"]

    missing = await runner.http_req_call(
        _conf(fake), KEY, method="GET", path="/speakers/context", args=[("speakername", "zz")]
    )
    assert isinstance(missing, Stop) and to_answer(missing).status == 404


async def test_concurrent_requests_share_one_cap(runner: RunnerClient, fake: FakeBackend) -> None:
    fake.all_delay = 0.01
    conf = _conf(fake, max_concurrency=3, cache_ttl_s=0)
    actions = await asyncio.gather(
        *(
            runner.http_req_call(conf, KEY, method="GET", path=f"/speaker/{1 + i % 8}/context")
            for i in range(24)
        )
    )
    assert all(isinstance(a, Stop) and a.status == 200 for a in actions)
    assert fake.max_in_flight <= 3 and len(fake.calls) == 72


async def test_non_ascii_correlation_headers_and_invalid_utf8_are_served(
    runner: RunnerClient, fake: FakeBackend
) -> None:
    # APISIX hands header and argument bytes over as they came; "\udce9" is the raw byte 0xE9
    # (the client encodes with surrogateescape), i.e. not UTF-8.
    action = await runner.http_req_call(
        _conf(fake),
        KEY,
        method="GET",
        path="/speaker/1/context",
        headers=[("x-request-id", "\udce9-rid"), ("traceparent", "é"), ("tracestate", "日本")],
    )
    assert isinstance(action, Stop)
    got = to_answer(action)
    assert got.status == 200 and got.body["meta"]["request_id"] == "\ufffd-rid"
    assert fake.calls, "the sources were fetched"
    for _, _, sent in fake.calls:
        lowered = {k.lower() for k in sent}
        # Not valid in an HTTP/1.1 header sent by httpx: dropped, not a crash.
        assert not {"x-request-id", "traceparent", "tracestate"} & lowered

    by_name = await runner.http_req_call(
        _conf(fake),
        KEY,
        method="GET",
        path="/speakers/context",
        args=[("speakername", "ma\udce9")],
        headers=[("x-request-id", "rid-2")],
    )
    assert isinstance(by_name, Stop)
    answer = to_answer(by_name)
    assert answer.status == 404 and answer.body["request_id"] == "rid-2"
    assert "ma\ufffd" in answer.body["message"]
