"""The context operations on the seed data (docs/interfaces.md "Seed facts"), and their agreement
with the plain API routes."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import assert_error_shape, json_body


def _context(chatgpt: httpx.Client, path: str, **params: str) -> httpx.Response:
    return chatgpt.get(path, params=params)


def test_context_by_id(chatgpt: httpx.Client) -> None:
    response = _context(chatgpt, "/speaker/1/context")
    assert response.status_code == 200, response.text[:300]
    doc = json_body(response)
    assert doc["speaker"]["id"] == 1
    assert doc["speaker"]["name"] == "Amelia Hartley"
    assert sorted(s["id"] for s in doc["sessions"]) == [129, 131, 187, 239, 261]
    assert len({t["id"] for t in doc["topics"]}) == 13
    assert doc["meta"]["complete"] is True
    assert response.headers["X-Context-Complete"] == "true"


def test_context_agrees_with_the_api(chatgpt: httpx.Client) -> None:
    doc = json_body(_context(chatgpt, "/speaker/16/context"))
    speaker = json_body(chatgpt.get("/speaker/16"))
    sessions = json_body(chatgpt.get("/speaker/16/sessions", params={"limit": 100}))
    assert doc["speaker"] == speaker
    assert sorted(s["id"] for s in doc["sessions"]) == sorted(s["id"] for s in sessions["items"])
    for session in doc["sessions"]:
        assert session == json_body(chatgpt.get(f"/session/{session['id']}"))
    topic_ids = {t["id"] for s in sessions["items"] for t in s["topics"]}
    assert {t["id"] for t in doc["topics"]} == topic_ids


def test_context_speaker_without_sessions(chatgpt: httpx.Client) -> None:
    doc = json_body(_context(chatgpt, "/speaker/64/context"))
    assert doc["speaker"]["name"] == "Oscar Lindgren"
    assert doc["sessions"] == []


def test_context_by_name(chatgpt: httpx.Client) -> None:
    doc = json_body(_context(chatgpt, "/speakers/context", speakername="Amelia Hartley"))
    assert doc["speaker"]["id"] == 1


@pytest.mark.parametrize(
    ("name", "speaker_id"),
    [
        pytest.param("lukasz", 4, id="ascii-for-non-ascii"),
        pytest.param("Łukasz Wiśniewski", 4, id="exact-non-ascii"),
        pytest.param("Søren", 5, id="o-slash"),
        pytest.param("JOSE", 2, id="case-and-accent"),
    ],
)
def test_context_non_ascii_names(chatgpt: httpx.Client, name: str, speaker_id: int) -> None:
    response = _context(chatgpt, "/speakers/context", speakername=name)
    assert response.status_code == 200, response.text[:300]
    assert json_body(response)["speaker"]["id"] == speaker_id


def test_context_ambiguous_name(chatgpt: httpx.Client) -> None:
    response = _context(chatgpt, "/speakers/context", speakername="maria")
    assert response.status_code == 200
    doc = json_body(response)
    assert "speaker" not in doc
    assert sorted(c["id"] for c in doc["candidates"]) == [6, 7]
    assert {"id", "name", "company"} <= set(doc["candidates"][0])


def test_context_unknown_name(chatgpt: httpx.Client) -> None:
    response = _context(chatgpt, "/speakers/context", speakername="Nobody Atall")
    assert_error_shape(response, 404)


def test_context_unknown_id(chatgpt: httpx.Client) -> None:
    assert_error_shape(_context(chatgpt, "/speaker/9999/context"), 404)


@pytest.mark.parametrize("path", ["/speaker/abc/context", "/speaker/-1/context"])
def test_context_bad_id(chatgpt: httpx.Client, path: str) -> None:
    assert_error_shape(_context(chatgpt, path), (400, 404))


def test_context_missing_name(chatgpt: httpx.Client) -> None:
    assert_error_shape(_context(chatgpt, "/speakers/context"), 400)
