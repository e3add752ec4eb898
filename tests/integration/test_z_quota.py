"""Quotas (limit-count): 429 with rate-limit headers, Retry-After and JSON; other consumers and
addresses unaffected.

Runs last (marker ``exhausts_quota``, sorted by conftest.py, whatever the file order): it exhausts
the read-only consumer's quota and this client address's budget on the public routes for the
current window. It does not depend on where in the window it starts: it spends until the first
429, and a window that rolls over meanwhile only means spending one more window (bounded).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import httpx
import pytest

from tests.integration.conftest import assert_error_shape

pytestmark = pytest.mark.exhausts_quota


def _spend_until_limited(send: Callable[[], httpx.Response], ok: int, limit: int) -> httpx.Response:
    """Send until the first 429 and return it; at most two windows' worth of requests.

    Every answer before it must be ``ok`` with a ``X-RateLimit-Remaining`` that counts down
    (or jumps back up once, when the window rolled over meanwhile).
    """
    rollovers = 0
    previous = limit
    for _ in range(2 * limit + 2):
        response = send()
        if response.status_code == 429:
            return response
        assert response.status_code == ok, response.text[:300]
        remaining = int(response.headers["X-RateLimit-Remaining"])
        if remaining >= previous:
            rollovers += 1
            assert rollovers <= 1, "the quota never ran out within two windows"
        previous = remaining
    pytest.fail(f"no 429 after {2 * limit + 2} requests (limit {limit})")


def _assert_retry_after(limited: httpx.Response) -> int:
    """Retry-After in whole seconds, agreeing with X-RateLimit-Reset and the message."""
    seconds = int(limited.headers["Retry-After"])
    reset = float(limited.headers["X-RateLimit-Reset"])
    assert 1 <= seconds <= 60
    # Rounded up from the reset; the reset may have moved on by a fraction since.
    assert seconds - 1 <= math.ceil(reset) <= seconds
    message = limited.json()["message"]
    assert re.search(rf"\bretry after {seconds} seconds\b", message), message
    return seconds


def test_quota_exhaustion_is_429_for_that_consumer_only(
    readonly: httpx.Client, chatgpt: httpx.Client
) -> None:
    first = readonly.get("/topics", params={"limit": 1})
    assert first.status_code == 200
    limit = int(first.headers["X-RateLimit-Limit"])
    remaining = int(first.headers["X-RateLimit-Remaining"])
    assert 0 <= remaining < limit
    assert float(first.headers["X-RateLimit-Reset"]) > 0
    assert "Retry-After" not in first.headers

    limited = _spend_until_limited(
        lambda: readonly.get("/topics", params={"limit": 1}), ok=200, limit=limit
    )
    assert_error_shape(limited, 429)  # application/json included
    assert limited.headers["X-RateLimit-Limit"] == str(limit)
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert float(limited.headers["X-RateLimit-Reset"]) > 0
    _assert_retry_after(limited)
    # The quota is the consumer's, across routes (same limit-count group).
    context = readonly.get("/speaker/1/context")
    assert_error_shape(context, 429)
    _assert_retry_after(context)

    other = chatgpt.get("/topics", params={"limit": 1})
    assert other.status_code == 200
    assert int(other.headers["X-RateLimit-Remaining"]) > 0


def test_public_limit_on_the_logo_is_json_with_retry_after(client: httpx.Client) -> None:
    # One budget per address over the public surface and the 404 route: spend it on 404s.
    first = client.get("/.well-known/ai-plugin.json")
    assert first.status_code == 200
    limit = int(first.headers["X-RateLimit-Limit"])
    spent = _spend_until_limited(lambda: client.get("/no-such-page"), ok=404, limit=limit)
    assert_error_shape(spent, 429)
    limited = client.get("/logo.png")
    # nginx would type this body image/png by the extension; it must say JSON.
    assert_error_shape(limited, 429)
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    _assert_retry_after(limited)
