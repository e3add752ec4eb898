"""bench/protocol_bench.py measures what it says: its connection class really receives through
BufferedProtocol's get_buffer/buffer_updated, on uvloop as well as on the stdlib loop, and the
runner still answers correctly with it."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any, cast

import pytest
import uvloop

from runner_plugins import server
from runner_plugins.client import RunnerClient
from runner_plugins.config import RunnerConfig
from runner_plugins.plugin import Rewrite, Stop
from runner_plugins.registry import PluginRegistry

BENCH = Path(__file__).resolve().parents[2] / "bench" / "protocol_bench.py"
CONF = [("static-stop", '{"status": 200, "body": "ok", "content_type": "text/plain"}')]


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("protocol_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("loop_factory", [uvloop.new_event_loop, asyncio.new_event_loop])
def test_buffered_variant_reads_through_get_buffer(socket_path, monkeypatch, loop_factory):
    buffered = _bench_module().buffered_connection_class()
    assert not issubclass(buffered, asyncio.Protocol)  # else uvloop calls data_received
    monkeypatch.setattr(server, "_Connection", buffered)

    async def scenario() -> tuple[list[Stop | Rewrite | None], int]:
        registry = PluginRegistry.from_modules(["runner_plugins.examples.static_stop"])
        runner = server.RunnerServer(RunnerConfig(socket_path=socket_path), registry)
        await runner.start()
        client = RunnerClient(socket_path)
        try:
            replies = [
                await client.http_req_call(CONF, "k", method="GET", path=f"/{i}") for i in range(5)
            ]
            reads = sum(cast(Any, c).reads for c in runner._connections)
        finally:
            await client.close()
            await runner.shutdown()
        return replies, reads

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        replies, reads = runner.run(scenario())
    assert all(
        r == Stop(status=200, headers=(("content-type", "text/plain"),), body=b"ok")
        for r in replies
    )
    assert reads >= 6  # PrepareConf + 5 requests, each received through get_buffer
