"""Name and keyword search: folding, non-ASCII names and injection attempts."""

from __future__ import annotations

import unicodedata

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.folding import contains_pattern, fold


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        pytest.param("José García", "jose garcia", id="acute"),
        pytest.param("Zoë", "zoe", id="diaeresis"),
        pytest.param("Łukasz", "lukasz", id="l-stroke"),
        pytest.param("Søren", "soren", id="o-slash"),
        pytest.param("STRASSE straße", "strasse strasse", id="sharp-s"),
        pytest.param("  Nguyễn   Thị ", "nguyen thi", id="stacked-marks-and-spaces"),
        pytest.param("ﬁle", "file", id="compatibility-ligature"),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_contains_pattern_escapes_wildcards() -> None:
    assert contains_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"


def _names(client: FlaskClient, query: str) -> list[str]:
    response = client.get("/speakers", query_string={"speakername": query})
    assert response.status_code == 200
    return [s["name"] for s in response.get_json()["items"]]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        pytest.param("jose", ["José García"], id="ascii-finds-accented"),
        pytest.param("JOSÉ", ["José García"], id="upper-accented"),
        pytest.param("zoe", ["Zoë Fischer"], id="zoe"),
        pytest.param("lukasz", ["Łukasz Wiśniewski"], id="lukasz"),
        pytest.param("Łukasz", ["Łukasz Wiśniewski"], id="lukasz-as-written"),
        pytest.param("soren", ["Søren Lindqvist"], id="soren"),
        pytest.param("nguyen", ["Nguyễn Thị Lan", "Minh Nguyen"], id="shared-surname-folded"),
        pytest.param("maria", ["Maria Rossi", "María González"], id="ambiguous-first-name"),
        pytest.param("daniel", ["Daniel Kim", "Daniel Okafor"], id="ambiguous-daniel"),
        pytest.param("o'brien", ["Tomás O'Brien"], id="apostrophe"),
        pytest.param("qqq", [], id="no-match"),
    ],
)
def test_name_search(client: FlaskClient, query: str, names: list[str]) -> None:
    assert _names(client, query) == names


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("' OR 1=1 --", id="sql-or"),
        pytest.param("'; DROP TABLE speakers; --", id="sql-drop"),
        pytest.param("%", id="percent"),
        pytest.param("_", id="underscore"),
        pytest.param("%%", id="double-percent"),
        pytest.param("\\", id="backslash"),
        pytest.param('" OR ""="', id="double-quote"),
    ],
)
def test_injection_attempts_are_plain_text(client: FlaskClient, query: str) -> None:
    assert _names(client, query) == []
    sessions = client.get("/sessions", query_string={"keyword": query, "speakername": query})
    assert sessions.status_code == 200
    assert sessions.get_json()["total"] == 0
    # The tables are intact afterwards.
    assert client.get("/speakers").get_json()["total"] == 64


def test_keyword_with_percent_matches_literally(app, client: FlaskClient) -> None:
    from sqlalchemy import update

    from backend.folding import fold
    from backend.schema import sessions

    with app.extensions["store"].engine.begin() as conn:
        conn.execute(
            update(sessions)
            .where(sessions.c.id == 150)
            .values(search_text=fold("cut p99 by 50% now"))
        )
    assert [s["id"] for s in client.get("/sessions?keyword=50%25").get_json()["items"]] == [150]
    assert client.get("/sessions?keyword=5_%25").get_json()["total"] == 0


def test_blank_filters_are_ignored(client: FlaskClient) -> None:
    assert client.get("/speakers?speakername=%20%20").get_json()["total"] == 64
    assert client.get("/sessions?keyword=&dayno=").get_json()["total"] == 162


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=st.text(
        alphabet=st.characters(exclude_categories=["Cs"]),
        min_size=1,
        max_size=12,
    )
    | st.sampled_from(["jo", "ÖZ", "ł", "ø", "%", "_", "\\", "a_b", " maria ", "NGUYỄN"])
)
def test_name_search_equals_folded_substring(client: FlaskClient, query: str) -> None:
    """The SQL search agrees with a plain Python model of it, for any text."""
    everyone = client.get("/speakers?limit=100").get_json()["items"]
    response = client.get("/speakers", query_string={"speakername": query, "limit": 100})
    # Blank (Python's notion, which includes \x1c-\x1f and \x85) means "no filter".
    if query.strip() and any(unicodedata.category(ch) == "Cc" for ch in query):
        assert response.status_code == 400
        assert "speakername" in response.get_json()["details"]
        return
    assert response.status_code == 200
    got = [s["name"] for s in response.get_json()["items"]]
    if not query.strip():
        expected = [s["name"] for s in everyone]
    else:
        expected = [s["name"] for s in everyone if fold(query.strip()) in fold(s["name"])]
    assert got == expected


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    query=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)
    | st.sampled_from(["kubernetes", "API gateways", "Q&A", "zero to", "%", "_s"])
)
def test_keyword_search_equals_folded_substring(client: FlaskClient, query: str) -> None:
    """Keyword search matches title, abstract and topic names exactly like the Python model."""
    everything = client.get("/sessions?limit=100").get_json()["items"]
    everything += client.get("/sessions?limit=100&offset=100").get_json()["items"]
    response = client.get("/sessions", query_string={"keyword": query, "limit": 100})
    assert response.status_code == 200
    body = response.get_json()
    needle = fold(query.strip())
    expected = [
        s["id"]
        for s in everything
        if needle in fold(" ".join([s["title"], s["abstract"], *(t["name"] for t in s["topics"])]))
    ]
    assert body["total"] == len(expected)
    assert [s["id"] for s in body["items"]] == expected[:100]
