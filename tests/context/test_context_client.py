"""One shared, pooled ``httpx.AsyncClient`` per runner process (issue 4, "Propagation").

Through the real runner over its socket: the client exists once the runner has started (its
``startup`` ran on the serving loop), every request and every route conf uses that same client,
its keep-alive pool reuses TCP connections to the backend, and runner shutdown closes it.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from runner_plugins.client import RunnerClient
from runner_plugins.config import DEFAULT_PLUGIN_MODULES, RunnerConfig
from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.plugin import Stop
from runner_plugins.registry import PluginRegistry
from runner_plugins.server import RunnerServer
from tests.context.conftest import TEST_SECRET
from tests.context.fake_backend import FakeBackend


class PeerRecordingBackend(FakeBackend):
    """The fault fake, also recording the client address of every call (one per TCP conn)."""

    peers: list[tuple[str, int]]

    async def _serve(self, source: str, request: web.Request, produce: Any) -> web.StreamResponse:
        assert request.transport is not None
        self.peers.append(request.transport.get_extra_info("peername"))
        return await super()._serve(source, request, produce)


async def test_one_pooled_client_per_runner_process_closed_at_shutdown(socket_path: str) -> None:
    fake = PeerRecordingBackend()
    fake.peers = []
    await fake.start()
    registry = PluginRegistry.from_modules(DEFAULT_PLUGIN_MODULES)
    plugin = registry.get("conference-context")
    assert isinstance(plugin, ContextPlugin)
    server = RunnerServer(RunnerConfig(socket_path=socket_path), registry)
    client = RunnerClient(socket_path, read_timeout=10.0)
    try:
        await server.start()
        http = plugin.backend.client  # created by startup(), before any request
        assert not http.is_closed

        # Two routes with different confs (cache off, so every context is 3 backend calls).
        routes = {
            f"route#{n}#ext-plugin-post-req#1": json.dumps(
                {"backend_url": fake.url, "secret": TEST_SECRET, "cache_ttl_s": 0, "budget_ms": n}
            )
            for n in (4000, 4500)
        }
        for i in range(6):
            key = list(routes)[i % 2]
            action = await client.http_req_call(
                [("conference-context", routes[key])],
                key,
                method="GET",
                path=f"/speaker/{1 + i}/context",
            )
            assert isinstance(action, Stop) and action.status == 200
            assert plugin.backend.client is http
        assert len(fake.peers) == 18
        # Keep-alive: a request fans out to at most 3 concurrent calls, and sequential requests
        # reuse those connections instead of opening 18.
        assert len(set(fake.peers)) <= 3
    finally:
        await client.close()
        await server.shutdown()
        await fake.stop()
    assert http.is_closed
