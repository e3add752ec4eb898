"""Every error status answers the documented JSON shape, never HTML."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"status", "error", "message", "details"}
    return body


@pytest.mark.parametrize(
    ("path", "field"),
    [
        pytest.param("/speaker/abc", "id", id="speaker-non-integer"),
        pytest.param("/speaker/0", "id", id="speaker-zero"),
        pytest.param("/speaker/-1", "id", id="speaker-negative"),
        pytest.param("/speaker/1.5", "id", id="speaker-float"),
        pytest.param("/speaker/99999999999", "id", id="speaker-over-int32"),
        pytest.param("/speaker/%C2%B2", "id", id="superscript-digit"),
        pytest.param("/session/abc", "id", id="session"),
        pytest.param("/session/abc/topics", "id", id="session-topics"),
        pytest.param("/topic/x/sessions", "id", id="topic-sessions"),
        pytest.param("/speaker/x/sessions", "id", id="speaker-sessions"),
        pytest.param("/speakers?dayno=0", "dayno", id="dayno-low"),
        pytest.param("/speakers?dayno=4", "dayno", id="dayno-high"),
        pytest.param("/sessions?dayno=one", "dayno", id="dayno-text"),
        pytest.param("/topics?dayno=-1", "dayno", id="topics-dayno"),
        pytest.param("/speakers?limit=101", "limit", id="limit-too-large"),
        pytest.param("/speakers?limit=0", "limit", id="limit-zero"),
        pytest.param("/sessions?limit=ten", "limit", id="limit-text"),
        pytest.param("/speaker/1/sessions?offset=-1", "offset", id="offset-negative"),
        pytest.param("/speakers?offset=100001", "offset", id="offset-huge"),
        pytest.param("/speakers?speakername=" + "a" * 101, "speakername", id="name-too-long"),
        pytest.param("/sessions?keyword=" + "k" * 101, "keyword", id="keyword-too-long"),
        pytest.param("/speakers?speakername=a%00", "speakername", id="name-nul"),
        pytest.param("/sessions?keyword=%1B%5B31m", "keyword", id="keyword-escape-sequence"),
    ],
)
def test_bad_parameters_are_400_with_details(client: FlaskClient, path: str, field: str) -> None:
    body = _error(client.get(path), 400)
    assert body["error"] == "Bad Request"
    assert field in body["details"]


def test_all_bad_parameters_reported_at_once(client: FlaskClient) -> None:
    body = _error(client.get("/sessions?limit=500&offset=x&dayno=9"), 400)
    assert set(body["details"]) == {"limit", "offset", "dayno"}


def test_unknown_query_parameters_are_ignored(client: FlaskClient) -> None:
    plain = client.get("/speakers").get_json()
    assert client.get("/speakers?foo=bar&page=9&dayno_=7").get_json() == plain


@pytest.mark.parametrize("path", ["/no/such/path", "//speakers", "/speakers/", "/speaker/1/"])
def test_unknown_path_is_json_404(client: FlaskClient, path: str) -> None:
    body = _error(client.get(path), 404)
    assert body["error"] == "Not Found"
    # A message a program can act on, not werkzeug's advice to a person at a browser.
    assert "/openapi.yaml" in body["message"] and "manually" not in body["message"]


def test_specific_404_messages_are_kept(client: FlaskClient) -> None:
    body = _error(client.get("/speaker/999999"), 404)
    assert "/openapi.yaml" not in body["message"] and "999999" in body["message"]


def test_wrong_method_is_json_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/speaker/1")
    _error(response, 405)
    assert "GET" in response.headers["Allow"]
    assert "Allow header" in _error(client.delete("/speaker/1"), 405)["message"]
    _error(client.get("/session/101/feedback"), 405)
    _error(client.put("/speakers"), 405)


def test_unexpected_exception_is_json_500_without_trace(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(speaker_id: int) -> None:
        raise OperationalError("SELECT secret_internals", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.extensions["store"], "speaker", broken)
    response = client.get("/speaker/1")
    body = _error(response, 500)
    assert body == {
        "status": 500,
        "error": "Internal Server Error",
        "message": "Internal server error.",
    }
    assert b"secret_internals" not in response.data
    assert b"Traceback" not in response.data


def test_healthz_reports_database_failure_as_503(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = app.extensions["store"].engine

    def refuse() -> None:
        raise OperationalError("connect", {}, Exception("unable to open database file"))

    monkeypatch.setattr(engine, "connect", refuse)
    _error(client.get("/healthz"), 503)
