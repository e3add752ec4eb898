"""Authentication (key-auth) and authorization (consumer-restriction) through the gateway."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.conftest import assert_error_shape, json_body

PROTECTED = [
    "/speakers",
    "/speaker/1",
    "/sessions",
    "/topics",
    "/speaker/1/context",
    "/speakers/context?speakername=maria",
]


@pytest.mark.parametrize("path", PROTECTED)
def test_no_key_is_401(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert_error_shape(response, 401)  # application/json included
    # The OAuth challenge (RFC 9728) names the protected-resource metadata, which the gateway
    # serves publicly; other challenges (APISIX's inner plugins') may come before it.
    challenges = response.headers.get_list("WWW-Authenticate")
    bearer = [c for c in challenges if c.startswith('Bearer resource_metadata="')]
    assert bearer, challenges
    url = bearer[0].split('"')[1]
    assert url.endswith("/.well-known/oauth-protected-resource")
    metadata = client.get(urlsplit(url).path)
    assert metadata.status_code == 200
    assert metadata.json()["authorization_servers"]


@pytest.mark.parametrize("path", PROTECTED)
def test_wrong_key_is_401(client: httpx.Client, path: str) -> None:
    response = client.get(path, headers={"apikey": "not-the-key"})
    assert_error_shape(response, 401)


@pytest.mark.parametrize("path", PROTECTED)
def test_right_key_is_200(chatgpt: httpx.Client, path: str) -> None:
    response = chatgpt.get(path)
    assert response.status_code == 200, response.text[:300]
    assert isinstance(json_body(response), dict)


def test_key_in_query_string(client: httpx.Client, chatgpt_key: str) -> None:
    response = client.get("/speaker/1", params={"apikey": chatgpt_key})
    assert response.status_code == 200
    assert json_body(response)["id"] == 1


def test_readonly_cannot_post_feedback(readonly: httpx.Client) -> None:
    response = readonly.post("/session/101/feedback", json={"rating": 4, "comment": "ro"})
    assert_error_shape(response, 403)


def test_readonly_can_read(readonly: httpx.Client) -> None:
    assert readonly.get("/session/101").status_code == 200


def test_chatgpt_posts_feedback(chatgpt: httpx.Client) -> None:
    response = chatgpt.post(
        "/session/101/feedback", json={"rating": 5, "comment": "Great talk — merci!"}
    )
    assert response.status_code == 201, response.text[:300]
    feedback = json_body(response)
    assert feedback["session_id"] == 101
    assert feedback["rating"] == 5
    assert feedback["comment"] == "Great talk — merci!"


def test_feedback_validation_error_is_clean(chatgpt: httpx.Client) -> None:
    response = chatgpt.post("/session/101/feedback", json={"rating": 9})
    body = assert_error_shape(response, 400)
    assert "rating" in body.get("details", {})
