"""Session and topic endpoints, filters and pagination."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient


def test_get_session(client: FlaskClient) -> None:
    body = client.get("/session/104").get_json()
    assert body["id"] == 104
    assert body["title"] == "From zero to API Gateways"
    assert body["day"] == 1
    assert (body["start"], body["end"]) == ("09:00", "09:45")
    assert body["room"] == "Room C"
    assert body["level"] == "intermediate"
    assert [s["id"] for s in body["speakers"]] == [16, 53]
    assert [t["id"] for t in body["topics"]] == [2, 8, 26]
    assert body["topics"][0] == {"id": 2, "name": "API Gateways"}


def test_unknown_session_is_404(client: FlaskClient) -> None:
    response = client.get("/session/9999")
    assert response.status_code == 404
    assert response.get_json()["message"] == "Session 9999 does not exist."


def test_sessions_total_and_order(client: FlaskClient) -> None:
    body = client.get("/sessions?limit=100&offset=100").get_json()
    assert body["total"] == 162
    assert [s["id"] for s in body["items"]] == list(range(201, 263))


@pytest.mark.parametrize("day", [1, 2, 3])
def test_sessions_by_day(client: FlaskClient, day: int) -> None:
    body = client.get(f"/sessions?dayno={day}&limit=100").get_json()
    assert body["total"] == 54
    assert {s["day"] for s in body["items"]} == {day}


def test_sessions_by_speaker_name(client: FlaskClient) -> None:
    body = client.get("/sessions?speakername=hartley").get_json()
    assert [s["id"] for s in body["items"]] == [129, 131, 187, 239, 261]


def test_sessions_by_keyword_searches_title_abstract_and_topics(client: FlaskClient) -> None:
    items = client.get("/sessions?keyword=KUBERNETES&limit=100").get_json()["items"]
    assert items
    for session in items:
        text = " ".join(
            [session["title"], session["abstract"]] + [t["name"] for t in session["topics"]]
        )
        assert "kubernetes" in text.lower()
    everything = client.get("/sessions?limit=100").get_json()["items"]
    everything += client.get("/sessions?limit=100&offset=100").get_json()["items"]
    expected = [
        s["id"]
        for s in everything
        if "kubernetes"
        in " ".join([s["title"], s["abstract"]] + [t["name"] for t in s["topics"]]).lower()
    ]
    assert [s["id"] for s in items] == expected


def test_session_filters_combine(client: FlaskClient) -> None:
    body = client.get("/sessions?speakername=hartley&dayno=1").get_json()
    assert [s["id"] for s in body["items"]] == [129, 131]
    body = client.get("/sessions?speakername=hartley&keyword=no-such-word").get_json()
    assert body == {"items": [], "total": 0, "limit": 50, "offset": 0}


def test_session_topics(client: FlaskClient) -> None:
    body = client.get("/session/104/topics").get_json()
    assert [t["id"] for t in body["items"]] == [2, 8, 26]
    assert body["items"][0]["description"]
    assert client.get("/session/9999/topics").status_code == 404


def test_topics_list_and_item(client: FlaskClient) -> None:
    body = client.get("/topics?limit=100").get_json()
    assert body["total"] == 32
    assert [t["id"] for t in body["items"]] == list(range(1, 33))
    topic = client.get("/topic/3").get_json()
    assert topic["name"] == "Observability"
    assert client.get("/topic/9999").status_code == 404


@pytest.mark.parametrize("day", [1, 2, 3])
def test_topics_by_day(client: FlaskClient, day: int) -> None:
    sessions = client.get(f"/sessions?dayno={day}&limit=100").get_json()["items"]
    expected = sorted({t["id"] for s in sessions for t in s["topics"]})
    body = client.get(f"/topics?dayno={day}&limit=100").get_json()
    assert [t["id"] for t in body["items"]] == expected


def test_topic_sessions_and_speakers_agree(client: FlaskClient) -> None:
    sessions = client.get("/topic/2/sessions?limit=100").get_json()
    assert sessions["total"] > 0
    assert all(2 in [t["id"] for t in s["topics"]] for s in sessions["items"])
    expected = sorted({sp["id"] for s in sessions["items"] for sp in s["speakers"]})
    speakers = client.get("/topic/2/speakers?limit=100").get_json()
    assert [s["id"] for s in speakers["items"]] == expected
    assert speakers["total"] == len(expected)


@pytest.mark.parametrize("path", ["/topic/9999/sessions", "/topic/9999/speakers"])
def test_sub_resources_of_unknown_topic_are_404(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["message"] == "Topic 9999 does not exist."


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_head_is_answered_without_body(client: FlaskClient) -> None:
    response = client.head("/speaker/1")
    assert response.status_code == 200
    assert response.data == b""
