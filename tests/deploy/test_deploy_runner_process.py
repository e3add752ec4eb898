"""The runner as APISIX starts it, fed the context route's conf straight from apisix.yaml.

APISIX spawns ``ext-plugin.cmd`` with a cleared environment plus ``APISIX_LISTEN_ADDRESS`` and
``APISIX_CONF_EXPIRE_TIME``, then speaks the ext-plugin protocol on that socket. Here the same
console script runs as a real process, the real backend serves on loopback, and
``runner_plugins.client`` plays APISIX's part with the conf the deployment file contains.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from backend import create_app
from runner_plugins.client import RunnerClient
from runner_plugins.plugin import Stop
from tests.deploy.deploy_files import CONFIG_YAML, apisix_document, yaml_file
from tests.processes import oauth_public_key

SECRET = "dummy-shared-secret"
CONF_KEY = "route#speaker-context#ext-plugin-post-req#1"


@pytest.fixture
def backend_addr(tmp_path: Path) -> Iterator[str]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "SHARED_SECRET": SECRET,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture
def runner_socket() -> Iterator[str]:
    script = Path(yaml_file(CONFIG_YAML)["ext-plugin"]["cmd"][0]).name
    local = Path(sys.executable).parent / script
    if not local.exists():
        pytest.skip(f"{script} is not installed in this environment (make venv)")
    with tempfile.TemporaryDirectory(prefix="rn", dir="/tmp") as folder:
        path = os.path.join(folder, "apisix-1.sock")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "APISIX_LISTEN_ADDRESS": f"unix:{path}",
            "APISIX_CONF_EXPIRE_TIME": "3600",
        }
        process = subprocess.Popen([str(local)], env=env, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while not os.path.exists(path):
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "runner did not create its socket"
                time.sleep(0.05)
            yield path
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=30)
            assert process.returncode == 0, stderr
            assert not os.path.exists(path)


def _context_conf(backend_addr: str) -> list[tuple[str, str]]:
    env = {
        "CHATGPT_API_KEY": "k1",
        "READONLY_API_KEY": "k2",
        "CONFERENCE_SHARED_SECRET": SECRET,
        "CONFERENCE_BACKEND_ADDR": backend_addr,
        "OAUTH_PUBLIC_KEY": oauth_public_key(),
    }
    route = next(r for r in apisix_document(env)["routes"] if r["id"] == "speaker-context")
    return [(c["name"], c["value"]) for c in route["plugins"]["ext-plugin-post-req"]["conf"]]


def _json(stop: Stop | Any) -> tuple[int, dict[str, str], Any]:
    assert isinstance(stop, Stop)
    headers = {name.lower(): value for name, value in stop.headers}
    return stop.status, headers, json.loads(stop.body)


async def test_deployment_conf_answers_context_through_the_spawned_runner(
    backend_addr: str, runner_socket: str
) -> None:
    client = RunnerClient(runner_socket)
    conf = _context_conf(backend_addr)
    try:
        found = await client.http_req_call(
            conf,
            CONF_KEY,
            method="GET",
            path="/speaker/1/context",
            headers=[("x-request-id", "deploy-check-1")],
        )
        status, headers, body = _json(found)
        assert status == 200 and headers["content-type"].startswith("application/json")
        assert body["speaker"]["id"] == 1
        assert body["meta"]["complete"] is True

        missing = await client.http_req_call(
            conf,
            CONF_KEY,
            method="GET",
            path="/speaker/9999/context",
            headers=[("x-request-id", "deploy-check-2")],
        )
        status, _, body = _json(missing)
        assert status == 404
        assert {"status", "error", "message"} <= set(body) and body["status"] == 404
    finally:
        await client.close()


async def test_wrong_backend_secret_is_not_a_silent_success(
    backend_addr: str, runner_socket: str
) -> None:
    client = RunnerClient(runner_socket)
    check, (name, value) = _context_conf(backend_addr)
    wrong = json.dumps({**json.loads(value), "secret": "not-the-backend-secret"})
    try:
        answer = await client.http_req_call(
            [check, (name, wrong)], CONF_KEY + "-wrong", method="GET", path="/speaker/1/context"
        )
        status, _, body = _json(answer)
        assert status >= 500 and body["status"] == status
    finally:
        await client.close()
