"""Repeated protocol warnings are bounded: a burst, then a count and a periodic summary."""

from __future__ import annotations

import asyncio
import logging

import pytest

from runner_plugins.config import RunnerConfig
from runner_plugins.protocol import RpcType, encode_frame
from runner_plugins.registry import PluginRegistry
from runner_plugins.server import RunnerServer
from runner_plugins.warning_limiter import WarningLimiter

from .helper_plugins import plugins
from .test_runner_server import close, open_raw


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _messages(caplog: pytest.LogCaptureFixture, name: str = "test.limiter") -> list[str]:
    # The sweep's own "event loop was blocked" warning may show up on a busy machine (10,000
    # frames are handled in one go): it is not one of the peer-caused warnings counted here.
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(name) and not r.getMessage().startswith("event loop was blocked")
    ]


def test_a_flood_logs_a_burst_then_one_summary_per_window(caplog) -> None:
    clock = FakeClock()
    limiter = WarningLimiter(logging.getLogger("test.limiter"), burst=5, window=60, clock=clock)
    for i in range(10_000):
        limiter.warning("bad frame", "closing connection: frame %d", i)
    lines = _messages(caplog)
    assert lines[:5] == [f"closing connection: frame {i}" for i in range(5)]
    assert lines[5:] == ["bad frame: 5 warnings in 60 s, further ones are counted and summarized"]
    clock.now += 59.9
    limiter.flush()
    assert len(_messages(caplog)) == 6  # the window has not passed yet
    clock.now += 0.1
    limiter.flush()
    assert _messages(caplog)[6:] == [
        "bad frame: 9995 more in the last 60 s (last: closing connection: frame 9999)"
    ]
    assert limiter.totals == {"bad frame": 10_000}
    limiter.flush()
    assert len(_messages(caplog)) == 7  # nothing new to summarize


def test_a_new_window_logs_again_and_kinds_are_separate(caplog) -> None:
    clock = FakeClock()
    limiter = WarningLimiter(logging.getLogger("test.limiter"), burst=1, window=10, clock=clock)
    limiter.warning("a", "a %d", 1)
    limiter.warning("a", "a %d", 2)
    limiter.warning("b", "b %d", 1)  # another kind has its own burst
    clock.now += 10
    limiter.warning("a", "a %d", 3)  # summary of the old window first, then logged again
    assert _messages(caplog) == [
        "a 1",
        "a: 1 warnings in 10 s, further ones are counted and summarized",
        "b 1",
        "b: 1 warnings in 10 s, further ones are counted and summarized",
        "a: 1 more in the last 10 s (last: a 2)",
        "a 3",
        "a: 1 warnings in 10 s, further ones are counted and summarized",
    ]


async def test_ten_thousand_bad_frames_write_a_handful_of_lines(socket_path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    clock = FakeClock()
    config = RunnerConfig(socket_path=socket_path, sweep_interval=0.02)
    server = RunnerServer(config, PluginRegistry(plugins()), clock=clock)
    await server.start()
    try:
        # 10,000 frames of an unknown type on one connection (each answered BAD_REQUEST)...
        reader, writer = await open_raw(socket_path)
        writer.write(encode_frame(9, b"") * 10_000)
        await writer.drain()
        replies = await asyncio.wait_for(reader.readexactly(10_000 * 16), 30)
        assert replies[:1] == bytes([RpcType.ERROR])
        await close(writer)
        # ...and 300 connections that each send a frame that is no frame at all.
        for _ in range(300):
            bad_reader, bad_writer = await open_raw(socket_path)
            bad_writer.write(encode_frame(RpcType.PREPARE_CONF, b"\x01\x00"))
            assert await asyncio.wait_for(bad_reader.read(), 5) == b""
            await close(bad_writer)
        flood = _messages(caplog, "runner_plugins")
        assert len(flood) == 12, flood  # 5 + a notice, for each of the two kinds
        clock.now += 60
        for _ in range(250):  # the sweep (every 20 ms) writes the summaries
            if len(_messages(caplog, "runner_plugins")) >= 14:
                break
            await asyncio.sleep(0.02)
        summaries = _messages(caplog, "runner_plugins")[12:]
        assert sorted(line.split(" (last")[0] for line in summaries) == [
            "closing connection: 295 more in the last 60 s",
            "unknown RPC type: 9995 more in the last 60 s",
        ]
        assert server.warnings.totals == {"closing connection": 300}
        assert server.dispatcher.warnings.totals == {"unknown RPC type": 10_000}
    finally:
        await server.shutdown()
