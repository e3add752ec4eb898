"""Quotas (limit-count): 429 with rate-limit headers, Retry-After and JSON; other consumers and
addresses unaffected.

Runs last: it exhausts the read-only consumer's quota and this client address's budget on the
public routes for the current window.
"""

from __future__ import annotations

import math
import re

import httpx

from tests.integration.conftest import assert_error_shape


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

    for _ in range(remaining):
        assert readonly.get("/topics", params={"limit": 1}).status_code == 200
    limited = readonly.get("/topics", params={"limit": 1})
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
    remaining = int(first.headers["X-RateLimit-Remaining"])
    for _ in range(remaining):
        assert client.get("/no-such-page").status_code == 404
    limited = client.get("/logo.png")
    # nginx would type this body image/png by the extension; it must say JSON.
    assert_error_shape(limited, 429)
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    _assert_retry_after(limited)
