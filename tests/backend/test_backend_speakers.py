"""Speaker endpoints against the seed (facts from docs/interfaces.md)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


def test_get_speaker(client: FlaskClient) -> None:
    response = client.get("/speaker/1")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "id": 1,
        "name": "Amelia Hartley",
        "company": "Northwind Cloud",
        "bio": "Amelia works at Northwind Cloud on Resilience; "
        "before that they built Security tooling.",
    }


def test_non_ascii_is_sent_as_utf8(client: FlaskClient) -> None:
    response = client.get("/speaker/4")
    assert "Łukasz Wiśniewski".encode() in response.data


def test_unknown_speaker_is_404(client: FlaskClient) -> None:
    response = client.get("/speaker/9999")
    assert response.status_code == 404
    assert response.get_json() == {
        "status": 404,
        "error": "Not Found",
        "message": "Speaker 9999 does not exist.",
    }


def test_list_speakers_defaults(client: FlaskClient) -> None:
    body = client.get("/speakers").get_json()
    assert body["total"] == 64
    assert body["limit"] == 50
    assert body["offset"] == 0
    assert [s["id"] for s in body["items"]] == list(range(1, 51))


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        pytest.param("limit=10&offset=60", [61, 62, 63, 64], id="last-partial-page"),
        pytest.param("limit=100", list(range(1, 65)), id="max-limit"),
        pytest.param("limit=1&offset=63", [64], id="last-item"),
        pytest.param("limit=32&offset=32", list(range(33, 65)), id="exactly-full-last-page"),
        pytest.param("limit=64", list(range(1, 65)), id="one-full-page"),
        pytest.param("offset=64", [], id="offset-at-end"),
        pytest.param("offset=1000", [], id="offset-past-end"),
        pytest.param("limit=", list(range(1, 51)), id="empty-limit-is-default"),
    ],
)
def test_speaker_pagination(client: FlaskClient, query: str, ids: list[int]) -> None:
    body = client.get(f"/speakers?{query}").get_json()
    assert [s["id"] for s in body["items"]] == ids
    assert body["total"] == 64


def test_pages_cover_the_list_once_in_order(client: FlaskClient) -> None:
    seen: list[int] = []
    for offset in range(0, 64, 7):
        seen += [
            s["id"] for s in client.get(f"/speakers?limit=7&offset={offset}").get_json()["items"]
        ]
    assert seen == list(range(1, 65))


def test_speakers_by_day(client: FlaskClient) -> None:
    day1 = client.get("/speakers?dayno=1&limit=100").get_json()
    ids = {s["id"] for s in day1["items"]}
    assert day1["total"] == len(ids)
    sessions = client.get("/sessions?dayno=1&limit=100").get_json()["items"]
    expected = {sp["id"] for s in sessions for sp in s["speakers"]}
    assert ids == expected
    assert 64 not in ids  # the speaker without sessions speaks on no day


def test_speakers_name_and_day_combine(client: FlaskClient) -> None:
    everyone = client.get("/speakers?speakername=maria").get_json()["items"]
    for day in (1, 2, 3):
        items = client.get(f"/speakers?speakername=maria&dayno={day}").get_json()["items"]
        assert {s["id"] for s in items} <= {s["id"] for s in everyone}


def test_speaker_sessions_embed_speakers_and_topics(client: FlaskClient) -> None:
    body = client.get("/speaker/1/sessions").get_json()
    assert body["total"] == 5
    assert [s["id"] for s in body["items"]] == [129, 131, 187, 239, 261]
    for session in body["items"]:
        assert {"id": 1, "name": "Amelia Hartley"} in session["speakers"]
        assert 1 <= len(session["topics"]) <= 4
        assert set(session["topics"][0]) == {"id", "name"}


def test_two_speaker_session_via_each_speaker(client: FlaskClient) -> None:
    for speaker_id in (16, 53):
        items = client.get(f"/speaker/{speaker_id}/sessions").get_json()["items"]
        session = next(s for s in items if s["id"] == 104)
        assert session["speakers"] == [
            {"id": 16, "name": "François Dubois"},
            {"id": 53, "name": "Hannah Schmidt"},
        ]


def test_speaker_without_sessions(client: FlaskClient) -> None:
    body = client.get("/speaker/64/sessions").get_json()
    assert body == {"items": [], "total": 0, "limit": 50, "offset": 0}
    assert client.get("/speaker/64/topics").get_json()["total"] == 0


def test_speaker_sessions_paginate(client: FlaskClient) -> None:
    body = client.get("/speaker/1/sessions?limit=2&offset=2").get_json()
    assert [s["id"] for s in body["items"]] == [187, 239]
    assert body["total"] == 5


def test_speaker_topics_are_the_union_of_session_topics(client: FlaskClient) -> None:
    sessions = client.get("/speaker/1/sessions").get_json()["items"]
    expected = sorted({t["id"] for s in sessions for t in s["topics"]})
    body = client.get("/speaker/1/topics").get_json()
    assert [t["id"] for t in body["items"]] == expected
    assert body["total"] == len(expected) == 13
    assert set(body["items"][0]) == {"id", "name", "description"}


@pytest.mark.parametrize("path", ["/speaker/9999/sessions", "/speaker/9999/topics"])
def test_sub_resources_of_unknown_speaker_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["message"] == "Speaker 9999 does not exist."
