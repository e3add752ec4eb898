"""The shared quota's store (Redis) down or hung: authenticated routes keep serving, auth holds.

Needs ``QUOTA_STORE_CONTROL``: a command that takes ``stop``, ``start``, ``pause`` or ``unpause``
and does that to the Redis the gateway nodes count in (for the Docker ``scale`` profile, see
docs/deployment.md "When Redis is away"); run with ``GATEWAY_URL`` on the nodes' load balancer.
The local stack has no Redis (its gateway counts locally) and skips this file.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import assert_error_shape

#: CONFERENCE_REDIS_TIMEOUT's default is 1 s; a hung store must not cost much more than that.
HUNG_BOUND_S = 5.0

pytestmark = pytest.mark.disrupts


def _control(action: str) -> None:
    command = os.environ["QUOTA_STORE_CONTROL"]
    subprocess.run([*shlex.split(command), action], check=True, timeout=120)


def _outage(down: str, up: str, chatgpt: httpx.Client) -> Iterator[None]:
    if not os.environ.get("QUOTA_STORE_CONTROL"):
        pytest.skip("QUOTA_STORE_CONTROL is not set: this gateway's quota store cannot be stopped")
    _control(down)
    try:
        yield
    finally:
        _control(up)
        # Counting again (the quota headers are back) before the next test relies on them.
        deadline = time.monotonic() + 60
        while "X-RateLimit-Limit" not in chatgpt.get("/topics", params={"limit": 1}).headers:
            assert time.monotonic() < deadline, "the quota did not come back with its store"
            time.sleep(0.5)


@pytest.fixture
def store_down(chatgpt: httpx.Client) -> Iterator[None]:
    yield from _outage("stop", "start", chatgpt)


@pytest.fixture
def store_hung(chatgpt: httpx.Client) -> Iterator[None]:
    yield from _outage("pause", "unpause", chatgpt)


def _serves_without_quota(chatgpt: httpx.Client, client: httpx.Client) -> None:
    started = time.monotonic()
    response = chatgpt.get("/speakers", params={"limit": 1})
    elapsed = time.monotonic() - started
    # allow_degradation: served, not APISIX's 500 (which carried the 429 body).
    assert response.status_code == 200, response.text[:300]
    assert response.json()["items"]
    assert elapsed < HUNG_BOUND_S, f"took {elapsed:.1f} s"
    # Authentication runs before the quota and is never degraded.
    assert_error_shape(client.get("/speakers"), 401)
    assert_error_shape(client.get("/speakers", headers={"apikey": "not-a-key"}), 401)


def test_quota_store_down_serves_authenticated_requests(
    store_down: None, chatgpt: httpx.Client, client: httpx.Client
) -> None:
    _serves_without_quota(chatgpt, client)


def test_quota_store_hung_serves_within_the_timeout(
    store_hung: None, chatgpt: httpx.Client, client: httpx.Client
) -> None:
    _serves_without_quota(chatgpt, client)
