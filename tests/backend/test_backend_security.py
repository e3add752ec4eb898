"""Gateway-only access: the shared-secret header."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.backend.conftest import TEST_SECRET

HEADER = "X-Conference-Secret"


@pytest.mark.parametrize(
    "path",
    ["/speaker/1", "/speakers", "/sessions", "/topics", "/openapi.yaml", "/no/such/path"],
)
def test_missing_secret_is_401(secret_client: FlaskClient, path: str) -> None:
    response = secret_client.get(path)
    assert response.status_code == 401
    assert response.get_json() == {
        "status": 401,
        "error": "Unauthorized",
        "message": "This API is only reachable through the gateway.",
    }


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("wrong", id="wrong"),
        pytest.param(TEST_SECRET + "x", id="longer"),
        pytest.param(TEST_SECRET[:-1], id="prefix"),
        pytest.param(TEST_SECRET.upper(), id="case"),
        pytest.param("", id="empty"),
        pytest.param("sécret", id="non-ascii"),
    ],
)
def test_wrong_secret_is_401(secret_client: FlaskClient, value: str) -> None:
    response = secret_client.get("/speaker/1", headers={HEADER: value})
    assert response.status_code == 401


def test_right_secret_passes(secret_client: FlaskClient) -> None:
    response = secret_client.get("/speaker/1", headers={HEADER: TEST_SECRET})
    assert response.status_code == 200
    assert response.get_json()["id"] == 1


def test_post_needs_the_secret_too(secret_client: FlaskClient) -> None:
    body = {"rating": 4}
    assert secret_client.post("/session/101/feedback", json=body).status_code == 401
    ok = secret_client.post("/session/101/feedback", json=body, headers={HEADER: TEST_SECRET})
    assert ok.status_code == 201


def test_secret_checked_before_routing(secret_client: FlaskClient) -> None:
    # Without the secret a caller cannot tell an existing path from a missing one.
    assert secret_client.delete("/speaker/1").status_code == 401
    assert secret_client.get("/speaker/abc").status_code == 401


def test_healthz_is_open(secret_client: FlaskClient) -> None:
    assert secret_client.get("/healthz").status_code == 200


def test_no_secret_configured_means_open(client: FlaskClient) -> None:
    assert client.get("/speaker/1").status_code == 200
