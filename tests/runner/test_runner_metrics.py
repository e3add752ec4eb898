"""Runner metrics: counted on the request path, served on the operator's address, off by default."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from runner_plugins.client import RunnerClient
from runner_plugins.config import RunnerConfig
from runner_plugins.errors import ConfigError
from runner_plugins.protocol import encode_frame
from runner_plugins.registry import PluginRegistry
from runner_plugins.server import RunnerServer
from tests.metrics_text import samples

from .helper_plugins import plugins
from .test_runner_server import close, open_raw

KEY = "route#metrics#ext-plugin-post-req#1"


async def _runner(socket_path: str, metrics: str | None) -> RunnerServer:
    server = RunnerServer(
        RunnerConfig(socket_path=socket_path, metrics_address=metrics), PluginRegistry(plugins())
    )
    await server.start()
    return server


async def _traffic(socket_path: str) -> None:
    client = RunnerClient(socket_path)
    try:
        for _ in range(3):
            await client.http_req_call([("stop-with", "201")], KEY, method="GET", path="/")
        await client.http_req_call([("noop", ""), ("tag", "x")], KEY + "b", method="GET", path="/")
        with pytest.raises(Exception):  # noqa: B017 - the runner's 503 in the client's words
            await client.http_req_call([("boom", "")], KEY + "c", method="GET", path="/")
    finally:
        await client.close()
    reader, writer = await open_raw(socket_path)
    writer.write(encode_frame(9, b""))  # an unknown RPC type: BAD_REQUEST, counted
    await reader.readexactly(16)
    await close(writer)


async def test_a_scrape_shows_requests_latency_confs_and_protocol_errors(socket_path) -> None:
    server = await _runner(socket_path, "127.0.0.1:0")
    try:
        await _traffic(socket_path)
        assert server.metrics is not None
        url = server.metrics.describe() + "/metrics"
        async with httpx.AsyncClient() as http:
            response = await http.get(url)
            missing = await http.get(url.replace("/metrics", "/other"))
    finally:
        await server.shutdown()
    assert response.status_code == 200 and missing.status_code == 404
    assert response.headers["content-type"].startswith("text/plain; version=")
    got = samples(response.text)
    requests = "runner_requests_total"
    assert got[(requests, (("outcome", "stop"), ("plugin", "stop-with")))] == 3
    assert got[(requests, (("outcome", "continue"), ("plugin", "noop")))] == 1
    assert got[(requests, (("outcome", "rewrite"), ("plugin", "tag")))] == 1
    assert got[(requests, (("outcome", "error"), ("plugin", "boom")))] == 1
    assert got[("runner_request_duration_seconds_count", (("rpc", "http_req_call"),))] == 5
    every = (("le", "+Inf"), ("rpc", "http_req_call"))
    assert got[("runner_request_duration_seconds_bucket", every)] == 5
    assert got[("runner_conf_cache_entries", ())] == 3
    assert got[("runner_protocol_errors_total", (("kind", "unknown RPC type"),))] == 1
    assert ("runner_process_resident_memory_bytes", ()) in got


async def test_metrics_on_a_unix_socket(socket_path) -> None:
    metrics_path = socket_path + ".metrics"
    server = await _runner(socket_path, f"unix:{metrics_path}")
    try:
        await _traffic(socket_path)
        transport = httpx.AsyncHTTPTransport(uds=metrics_path)
        async with httpx.AsyncClient(transport=transport) as http:
            response = await http.get("http://runner/metrics")
    finally:
        await server.shutdown()
    got = samples(response.text)
    assert got[("runner_requests_total", (("outcome", "stop"), ("plugin", "stop-with")))] == 3
    assert not __import__("os").path.exists(metrics_path)  # removed at shutdown


async def test_metrics_are_off_by_default_and_then_nothing_is_counted(socket_path) -> None:
    server = await _runner(socket_path, None)
    try:
        await _traffic(socket_path)
        assert server.metrics is None and server.stats is None
        # The RPC table holds the bare handlers: no timing wrapper on the request path.
        assert set(server.dispatcher.tasks.values()) == {
            server.dispatcher.http_req_call,
            server.dispatcher.http_resp_call,
        }
    finally:
        await server.shutdown()


async def test_a_bad_scrape_request_is_answered_and_bounded(socket_path) -> None:
    server = await _runner(socket_path, "127.0.0.1:0")
    try:
        assert server.metrics is not None
        host, port = server.metrics.describe().removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        await server.shutdown()
    assert answer.startswith(b"HTTP/1.0 405 ")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("", None, id="unset"),
        pytest.param("off", None, id="off"),
        pytest.param("127.0.0.1:9092", "127.0.0.1:9092", id="port"),
        pytest.param("[::1]:9092", "[::1]:9092", id="ipv6"),
        pytest.param("unix:/run/runner-metrics.sock", "unix:/run/runner-metrics.sock", id="unix"),
    ],
)
def test_metrics_address_from_the_environment(raw: str, expected: str | None) -> None:
    config = RunnerConfig.from_env({"RUNNER_METRICS": raw}, listen="/tmp/r.sock")
    assert config.metrics_address == expected


@pytest.mark.parametrize("raw", ["9092", "localhost:http", "unix:relative.sock", ":9092"])
def test_a_bad_metrics_address_is_refused(raw: str) -> None:
    with pytest.raises(ConfigError, match="RUNNER_METRICS"):
        RunnerConfig.from_env({"RUNNER_METRICS": raw}, listen="/tmp/r.sock")


def test_the_flag_beats_the_environment() -> None:
    config = RunnerConfig.from_env(
        {"RUNNER_METRICS": "127.0.0.1:1"}, listen="/tmp/r.sock", metrics="unix:/tmp/m.sock"
    )
    assert config.metrics_address == "unix:/tmp/m.sock"
