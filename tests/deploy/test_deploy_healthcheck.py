"""docker/gateway_healthcheck.py against a real HTTP server and real Unix sockets."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from tests.deploy.deploy_files import ROOT

SCRIPT = ROOT / "docker" / "gateway_healthcheck.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_healthcheck", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


health = _load()


class _Metrics(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        code = 200 if self.path == "/apisix/prometheus/metrics" else 404
        code = type(self).status if code == 200 else code
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def metrics_url() -> Iterator[tuple[str, type[_Metrics]]]:
    handler = type("Handler", (_Metrics,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/apisix/prometheus/metrics", handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # Short path: Unix socket paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="hc", dir="/tmp") as name:
        yield Path(name)


def _listening(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    return server


def _stale(path: Path) -> None:
    """A socket file whose process is gone: connecting is refused."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.close()


def test_apisix_answers(metrics_url: tuple[str, type[_Metrics]]) -> None:
    url, handler = metrics_url
    assert health.apisix_answers(url, timeout=2) is True
    handler.status = 503
    assert health.apisix_answers(url, timeout=2) is False
    assert health.apisix_answers(url.replace("metrics", "other"), timeout=2) is False


def test_nothing_listening_is_unhealthy() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert health.apisix_answers(f"http://127.0.0.1:{port}/", timeout=1) is False


def test_runner_listens_only_when_a_socket_accepts(sock_dir: Path) -> None:
    pattern = str(sock_dir / "apisix-*.sock")
    assert health.runner_listens(pattern) is False
    _stale(sock_dir / "apisix-1.sock")
    assert health.runner_listens(pattern) is False
    server = _listening(sock_dir / "apisix-7.sock")
    try:
        assert health.runner_listens(pattern) is True
    finally:
        server.close()


def _run(url: str, pattern: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_HEALTH_METRICS_URL": url, "GATEWAY_HEALTH_SOCKET_GLOB": pattern}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


def test_script_exit_status(metrics_url: tuple[str, type[_Metrics]], sock_dir: Path) -> None:
    url, _ = metrics_url
    pattern = str(sock_dir / "apisix-*.sock")
    missing = _run(url, pattern)
    assert missing.returncode == 1 and "runner socket" in missing.stderr
    server = _listening(sock_dir / "apisix-1.sock")
    try:
        healthy = _run(url, pattern)
        assert (healthy.returncode, healthy.stderr) == (0, "")
    finally:
        server.close()


@pytest.mark.parametrize(
    ("address", "url"),
    [
        pytest.param("", None, id="off"),
        pytest.param("off", None, id="off-word"),
        pytest.param("unix:/run/m.sock", None, id="unix"),
        pytest.param("0.0.0.0:9092", "http://127.0.0.1:9092/metrics", id="all-interfaces"),
        pytest.param("127.0.0.1:9100", "http://127.0.0.1:9100/metrics", id="loopback"),
    ],
)
def test_runner_metrics_url_follows_runner_metrics(address: str, url: str | None) -> None:
    assert health.runner_metrics_url(address) == url


async def test_a_real_runner_metrics_endpoint_counts_as_healthy(sock_dir: Path) -> None:
    from runner_plugins.config import RunnerConfig
    from runner_plugins.registry import PluginRegistry
    from runner_plugins.server import RunnerServer

    server = RunnerServer(
        RunnerConfig(socket_path=str(sock_dir / "r.sock"), metrics_address="127.0.0.1:0"),
        PluginRegistry([]),
    )
    await server.start()
    try:
        assert server.metrics is not None
        url = health.runner_metrics_url(server.metrics.describe().removeprefix("http://"))
        import asyncio

        assert await asyncio.to_thread(health.apisix_answers, url)
    finally:
        await server.shutdown()
    assert not await asyncio.to_thread(health.apisix_answers, url)
