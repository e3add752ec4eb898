"""Speaker names as a model phrases them, through the gateway (docs/context.md, "Names")."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.conftest import assert_error_shape, json_body


@pytest.mark.parametrize(
    ("phrasing", "name"),
    [
        ("hartley amelia", "Amelia Hartley"),
        ("Dr. Amelia Hartley", "Amelia Hartley"),
        ("tomas obrien", "Tomás O'Brien"),
        ("tomas o brien", "Tomás O'Brien"),
        ("amelia hartly", "Amelia Hartley"),
    ],
)
def test_model_phrasings_find_the_speaker(chatgpt: httpx.Client, phrasing: str, name: str) -> None:
    response = chatgpt.get("/speakers/context", params={"speakername": phrasing})
    assert response.status_code == 200, response.text[:300]
    assert json_body(response)["speaker"]["name"] == name


def test_ambiguous_name_still_gives_candidates(chatgpt: httpx.Client) -> None:
    doc = json_body(chatgpt.get("/speakers/context", params={"speakername": "Daniel"}))
    assert "speaker" not in doc
    assert {c["name"] for c in doc["candidates"]} == {"Daniel Kim", "Daniel Okafor"}


def test_unknown_name_suggests_the_closest(chatgpt: httpx.Client) -> None:
    response = chatgpt.get("/speakers/context", params={"speakername": "Amilia Hatrleigh"})
    body = assert_error_shape(response, 404)
    assert body["suggestions"][0]["name"] == "Amelia Hartley"
    assert "Amelia Hartley" in body["message"]


def test_too_long_name_says_too_long(chatgpt: httpx.Client) -> None:
    response = chatgpt.get("/speakers/context", params={"speakername": "x" * 101})
    body = assert_error_shape(response, 400)
    assert "too long" in body["message"]
    assert "required" not in body["message"]
    assert "too long" in body["details"]["speakername"]
