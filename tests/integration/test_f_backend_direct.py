"""The backend refuses requests that did not come through the gateway (no shared secret)."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.integration.conftest import assert_error_shape


@pytest.fixture(scope="module")
def backend_url() -> str:
    url = os.environ.get("BACKEND_URL")
    if not url:
        pytest.skip("BACKEND_URL is not set (the backend is not reachable from here)")
    return url.rstrip("/")


@pytest.mark.parametrize("path", ["/speakers", "/speaker/1", "/openapi.yaml"])
def test_direct_request_without_secret_is_refused(backend_url: str, path: str) -> None:
    response = httpx.get(backend_url + path, timeout=10)
    assert_error_shape(response, (401, 403))


def test_direct_request_with_a_wrong_secret_is_refused(backend_url: str) -> None:
    response = httpx.get(
        backend_url + "/speakers", headers={"X-Conference-Secret": "guess"}, timeout=10
    )
    assert_error_shape(response, (401, 403))
