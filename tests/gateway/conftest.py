"""Fixtures for the local gateway's component tests.

The gateway is the real one, on a real loopback port, reading the real ``apisix/apisix.yaml``
(or a small YAML written by a test). Its upstream is an echo server: like the echo upstream
APISIX's behaviour was recorded with (a standalone APISIX 3.18.0), it shows exactly what the
gateway forwarded. The runner, when a test needs one, is the real runner process on a real Unix
socket.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from gateway.app import Gateway
from gateway.config import parse
from gateway.settings import Limits
from runner_plugins.client import RunnerClient
from stack.probes import socket_accepts, wait_until
from tests.processes import oauth_public_key, stop

REPO = Path(__file__).resolve().parents[2]
APISIX_YAML = REPO / "apisix" / "apisix.yaml"


@dataclass
class Echo:
    """What the echo upstream received, newest last."""

    port: int
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def last(self) -> dict[str, Any]:
        return self.seen[-1]


async def _echo_handler(echo: Echo, request: web.BaseRequest) -> web.StreamResponse:
    body = await request.read()
    record = {
        "method": request.method,
        "path_qs": request.raw_path,
        "headers": [[k, v] for k, v in request.headers.items()],
        "body": body.decode("utf-8", "replace"),
    }
    echo.seen.append(record)
    if request.path.startswith("/slow"):
        await asyncio.sleep(float(request.query.get("s", "5")))
    status = int(request.query.get("status", "200"))
    headers = {"X-Upstream": "echo"}
    if "request_id_from_upstream" in request.query:
        headers["X-Request-Id"] = "from-upstream"
    return web.json_response(record, status=status, headers=headers)


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    state = Echo(port=0)
    server = web.Server(lambda request: _echo_handler(state, request))
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = runner.addresses[0][1]
    yield state
    await runner.cleanup()


@pytest.fixture
def keys() -> dict[str, str]:
    """Fresh secrets per test: no secret literal lives in the repository."""
    return {
        "CHATGPT_API_KEY": secrets.token_urlsafe(24),
        "READONLY_API_KEY": secrets.token_urlsafe(24),
        "CONFERENCE_SHARED_SECRET": secrets.token_urlsafe(24),
        "OAUTH_PUBLIC_KEY": oauth_public_key(),
    }


def header(record: Mapping[str, Any], name: str) -> list[str]:
    """All values of a header the echo upstream received."""
    return [v for k, v in record["headers"] if k.lower() == name.lower()]


@dataclass
class Running:
    gateway: Gateway
    client: httpx.AsyncClient
    url: str


GatewayFactory = Callable[..., Any]


@pytest.fixture
async def start_gateway() -> AsyncIterator[GatewayFactory]:
    """Start gateways from YAML text; all are closed at teardown."""
    started: list[Running] = []

    async def _start(
        text: str,
        env: Mapping[str, str],
        *,
        runner_socket: str | None = None,
        limits: Limits | None = None,
    ) -> Running:
        config = parse(text, env)
        runner = RunnerClient(runner_socket) if runner_socket else None
        gateway = Gateway(config, runner, limits)
        port = await gateway.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}"
        running = Running(gateway, httpx.AsyncClient(base_url=url, timeout=30), url)
        started.append(running)
        return running

    yield _start
    for running in started:
        await running.client.aclose()
        await running.gateway.close()


@pytest.fixture
async def project_gateway(
    start_gateway: GatewayFactory, echo: Echo, keys: dict[str, str]
) -> Running:
    """The project's apisix.yaml with the echo server as backend; its runner socket is missing."""
    env = {**keys, "CONFERENCE_BACKEND_ADDR": echo.address, "READONLY_RATE_LIMIT": "3"}
    missing = os.path.join(tempfile.mkdtemp(prefix="gw-", dir="/tmp"), "absent.sock")
    running: Running = await start_gateway(APISIX_YAML.read_text(), env, runner_socket=missing)
    return running


@pytest.fixture(scope="session")
def runner_socket() -> Iterator[str]:
    """The real runner, as a process, with the project plugins and the test probes."""
    directory = tempfile.mkdtemp(prefix="gw-", dir="/tmp")
    path = os.path.join(directory, "runner.sock")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner_plugins",
            "--listen",
            path,
            "--plugin",
            "runner_plugins.context",
            "--plugin",
            "tests.gateway.probe_plugins",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_socket(path, process)
        yield path
    finally:
        stop(process, timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def _wait_for_socket(path: str, process: subprocess.Popen[bytes]) -> None:
    try:
        wait_until(partial(socket_accepts, path), timeout=20, what="runner socket", process=process)
    except RuntimeError as exc:
        err = (
            process.stderr.read().decode() if process.stderr and process.poll() is not None else ""
        )
        raise RuntimeError(f"{exc}: {err}") from None


def body_json(response: httpx.Response) -> Any:
    return json.loads(response.content)
