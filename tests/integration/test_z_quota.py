"""Per-consumer quotas (limit-count): 429 with rate-limit headers; other consumers unaffected.

Runs last: it exhausts the read-only consumer's quota for the current window.
"""

from __future__ import annotations

import httpx

from tests.integration.conftest import assert_error_shape


def test_quota_exhaustion_is_429_for_that_consumer_only(
    readonly: httpx.Client, chatgpt: httpx.Client
) -> None:
    first = readonly.get("/topics", params={"limit": 1})
    assert first.status_code == 200
    limit = int(first.headers["X-RateLimit-Limit"])
    remaining = int(first.headers["X-RateLimit-Remaining"])
    assert 0 <= remaining < limit
    assert float(first.headers["X-RateLimit-Reset"]) > 0

    for _ in range(remaining):
        assert readonly.get("/topics", params={"limit": 1}).status_code == 200
    limited = readonly.get("/topics", params={"limit": 1})
    assert_error_shape(limited, 429)
    assert limited.headers["X-RateLimit-Limit"] == str(limit)
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert float(limited.headers["X-RateLimit-Reset"]) > 0
    # The quota is the consumer's, across routes (same limit-count group).
    assert_error_shape(readonly.get("/speaker/1/context"), 429)

    other = chatgpt.get("/topics", params={"limit": 1})
    assert other.status_code == 200
    assert int(other.headers["X-RateLimit-Remaining"]) > 0
