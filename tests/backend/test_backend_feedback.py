"""POST /session/<id>/feedback: storage and validation."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from backend import drain
from backend.schema import feedback
from tests.backend.conftest import FIXED_NOW


def test_feedback_is_stored_and_returned(app: Flask, client: FlaskClient) -> None:
    response = client.post("/session/104/feedback", json={"rating": 5, "comment": "Très bien"})
    assert response.status_code == 201
    assert response.get_json() == {
        "id": 1,
        "session_id": 104,
        "rating": 5,
        "comment": "Très bien",
        "created_at": FIXED_NOW.isoformat(),
    }
    second = client.post("/session/104/feedback", json={"rating": 1})
    assert second.get_json()["id"] == 2
    assert second.get_json()["comment"] == ""
    with app.extensions["store"].engine.connect() as conn:
        rows = conn.execute(select(feedback.c.session_id, feedback.c.rating, feedback.c.comment))
        assert [tuple(r) for r in rows] == [(104, 5, "Très bien"), (104, 1, "")]


def test_comment_keeps_newlines_and_tabs(client: FlaskClient) -> None:
    response = client.post("/session/101/feedback", json={"rating": 4, "comment": "a\n\tb\r\n"})
    assert response.status_code == 201
    assert response.get_json()["comment"] == "a\n\tb\r\n"


def test_comment_at_the_limit_is_accepted(client: FlaskClient) -> None:
    response = client.post("/session/101/feedback", json={"rating": 3, "comment": "é" * 2000})
    assert response.status_code == 201


def test_feedback_for_unknown_session_is_404(app: Flask, client: FlaskClient) -> None:
    response = client.post("/session/9999/feedback", json={"rating": 5})
    assert response.status_code == 404
    with app.extensions["store"].engine.connect() as conn:
        assert conn.execute(select(feedback)).first() is None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param({}, {"rating"}, id="missing-rating"),
        pytest.param({"rating": 0}, {"rating"}, id="rating-zero"),
        pytest.param({"rating": 6}, {"rating"}, id="rating-six"),
        pytest.param({"rating": 4.5}, {"rating"}, id="rating-float"),
        pytest.param({"rating": "5"}, {"rating"}, id="rating-string"),
        pytest.param({"rating": True}, {"rating"}, id="rating-bool"),
        pytest.param({"rating": None}, {"rating"}, id="rating-null"),
        pytest.param({"rating": 3, "comment": 7}, {"comment"}, id="comment-number"),
        pytest.param({"rating": 3, "comment": "x" * 2001}, {"comment"}, id="comment-too-long"),
        pytest.param({"rating": 3, "stars": 5}, {"stars"}, id="unknown-field"),
        pytest.param({"rating": 3, "comment": "a\x00b"}, {"comment"}, id="comment-nul"),
        pytest.param({"rating": 9, "comment": None}, {"rating", "comment"}, id="two-fields"),
    ],
)
def test_invalid_feedback_is_400(
    client: FlaskClient, body: dict[str, Any], fields: set[str]
) -> None:
    response = client.post("/session/101/feedback", json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["status"] == 400
    assert set(error["details"]) == fields


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        pytest.param(rb'{"rating": 5, "comment": "a\ud800"}', {"comment"}, id="lone-high"),
        pytest.param(rb'{"rating": 5, "comment": "\udfffb"}', {"comment"}, id="lone-low"),
        pytest.param(rb'{"rating": 5, "\ud800": 1}', {"?"}, id="surrogate-field-name"),
    ],
)
def test_lone_surrogates_are_400_not_500(client: FlaskClient, raw: bytes, fields: set[str]) -> None:
    # json.loads accepts an escaped lone surrogate; the database cannot store one as UTF-8.
    response = client.post(
        "/session/101/feedback", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.get_json()["details"]) == fields


def test_escaped_surrogate_pair_is_one_character(client: FlaskClient) -> None:
    raw = rb'{"rating": 5, "comment": "\ud83d\ude00"}'
    response = client.post(
        "/session/101/feedback", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201
    assert response.get_json()["comment"] == "\N{GRINNING FACE}"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{not json", id="malformed"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b"[" * 30000 + b"]" * 30000, id="deeply-nested"),
    ],
)
def test_body_must_be_a_json_object(client: FlaskClient, raw: bytes) -> None:
    response = client.post(
        "/session/101/feedback", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["details"] == {"body": "must be a JSON object"}


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_non_json_body_is_415(client: FlaskClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/session/101/feedback", data=b'{"rating": 5}', headers=headers)
    assert response.status_code == 415
    assert response.get_json()["error"] == "Unsupported Media Type"


def test_json_with_charset_is_accepted(client: FlaskClient) -> None:
    response = client.post(
        "/session/101/feedback",
        data=json.dumps({"rating": 2}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


def test_body_over_64_kib_is_413(client: FlaskClient) -> None:
    big = json.dumps({"rating": 5, "comment": "x" * (64 * 1024)})
    response = client.post("/session/101/feedback", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"] == "Request Entity Too Large"


@pytest.mark.parametrize(
    ("content_type", "status"),
    [("application/json", 413), ("text/plain", 415)],
)
def test_an_early_answer_still_reads_the_rest_of_the_body(
    client: FlaskClient, content_type: str, status: int
) -> None:
    # gunicorn drops a kept-alive connection whose unread body exceeds 64 KiB (after
    # announcing keep-alive): the gateway's next request on it failed as a 502.
    body = b'{"rating": 5, "comment": "' + b"x" * 200_000 + b'"}'
    stream = io.BytesIO(body)
    response = client.post(
        "/session/101/feedback",
        input_stream=stream,
        headers={"Content-Type": content_type, "Content-Length": str(len(body))},
        buffered=False,
    )
    assert response.status_code == status
    response.close()  # the body is read after the answer went out
    assert stream.tell() == len(body)


def test_the_drain_is_bounded() -> None:
    endless = io.BytesIO(b"y" * (drain.MAX_DRAIN_BYTES + 10))
    assert drain.drain(endless) == drain.MAX_DRAIN_BYTES
