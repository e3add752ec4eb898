"""Fixtures for the conference-context tests: a fake clock, the fault fake, a started plugin."""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from backend import create_app
from runner_plugins.context.conf import ContextConf, parse_conf
from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.plugin import StaticRequest, Stop
from tests.context.fake_backend import FakeBackend

#: Not a real credential: the fake backends accept anything, the tests only check propagation.
TEST_SECRET = "test-only-shared-value"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    text: str


def make_conf(backend_url: str, **overrides: Any) -> ContextConf:
    raw = {"backend_url": backend_url, "secret": TEST_SECRET, **overrides}
    return parse_conf(json.dumps(raw))


def to_answer(stop: Stop) -> Answer:
    headers: dict[str, str] = {}
    for name, value in stop.headers:
        assert name == name.lower(), "header names are sent lower-case"
        headers[name] = value
    text = stop.body.decode("utf-8")
    return Answer(stop.status, headers, json.loads(text), text)


async def ask(
    plugin: ContextPlugin,
    conf: ContextConf,
    path: str,
    *,
    args: tuple[tuple[str, str | None], ...] = (),
    headers: tuple[tuple[str, str | None], ...] = (("X-Request-Id", "req-1"),),
    method: str = "GET",
) -> Answer:
    action = await plugin.request_filter(
        conf, StaticRequest(path=path, method=method, args=args, headers=headers)
    )
    assert isinstance(action, Stop)
    return to_answer(action)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBackend]:
    backend = FakeBackend()
    await backend.start()
    try:
        yield backend
    finally:
        await backend.stop()


@pytest.fixture
async def plugin(clock: FakeClock) -> AsyncIterator[ContextPlugin]:
    instance = ContextPlugin(clock=clock)
    await instance.startup()
    try:
        yield instance
    finally:
        await instance.shutdown()


@pytest.fixture
async def real_plugin() -> AsyncIterator[ContextPlugin]:
    """A started plugin on the real monotonic clock."""
    instance = ContextPlugin()
    await instance.startup()
    try:
        yield instance
    finally:
        await instance.shutdown()


@pytest.fixture
def conf_for() -> Callable[..., ContextConf]:
    return make_conf


# --- the real Flask backend, live on a loopback port --------------------------------------
# Live HTTP (werkzeug's threaded server in a background thread) rather than an in-process
# ASGI bridge: the plugin cancels sibling calls when the speaker fails, and a real socket is
# the only transport whose cancellation behaves like production.


@pytest.fixture(scope="module")
def flask_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    # One seeded database for the module: every test here only reads.
    database = tmp_path_factory.mktemp("context-seed") / "conference.sqlite3"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{database}",
            "SHARED_SECRET": TEST_SECRET,
        },
        environ={},
    )
    yield app
    app.extensions["store"].engine.dispose()


@pytest.fixture(scope="module")
def backend_url(flask_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="flask-backend", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def socket_path() -> Iterator[str]:
    """A runner socket path; Unix socket paths are limited to ~107 bytes, tmp_path can be longer."""
    with tempfile.TemporaryDirectory(prefix="ctx-", dir="/tmp") as tmp:
        yield str(Path(tmp) / "r.sock")


def strict_json(text: str | bytes) -> Any:
    """``text`` parsed as strict JSON: NaN and Infinity, which the stdlib reads, fail the test."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)
