"""Shared fixtures: the flatc reference bindings on sys.path, short socket paths, a live runner."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner_plugins.client import RunnerClient
from runner_plugins.conf_cache import ConfCache
from runner_plugins.config import RunnerConfig
from runner_plugins.plugin import Plugin
from runner_plugins.registry import PluginRegistry
from runner_plugins.server import RunnerServer

# The generated bindings import themselves as the top-level package "A6".
GENERATED = Path(__file__).resolve().parent / "_generated"
if str(GENERATED) not in sys.path:
    sys.path.insert(0, str(GENERATED))


@pytest.fixture
def socket_path() -> Iterator[str]:
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="rt-", dir="/tmp") as tmp:
        yield str(Path(tmp) / "r.sock")


class LiveRunner:
    """A RunnerServer on the test's event loop plus a client speaking to it."""

    def __init__(self, server: RunnerServer, client: RunnerClient) -> None:
        self.server = server
        self.client = client


async def start_runner(
    path: str, plugins: list[Plugin[Any]], cache: ConfCache | None = None, **config: Any
) -> RunnerServer:
    server = RunnerServer(
        RunnerConfig(socket_path=path, **config), PluginRegistry(plugins), cache=cache
    )
    await server.start()
    return server


@pytest.fixture
async def live(socket_path: str, request: pytest.FixtureRequest) -> AsyncIterator[LiveRunner]:
    from .helper_plugins import plugins

    server = await start_runner(socket_path, plugins())
    client = RunnerClient(socket_path, read_timeout=10.0)
    try:
        yield LiveRunner(server, client)
    finally:
        await client.close()
        await server.shutdown()
