"""Speaker-name matching (runner_plugins.context.names) on the seed's real speaker directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runner_plugins.context.names import MATCH_SCORE, match, name_tokens, rank

SEED = Path(__file__).resolve().parents[2] / "backend" / "data" / "conference.json"


@pytest.fixture(scope="module")
def directory() -> list[dict[str, Any]]:
    speakers = json.loads(SEED.read_text(encoding="utf-8"))["speakers"]
    # The backend numbers speakers in seed order from 1 when the seed gives no id.
    return [{"id": s.get("id", n), **s} for n, s in enumerate(speakers, start=1)]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        pytest.param("hartley amelia", "Amelia Hartley", id="any-order"),
        pytest.param("Dr. Amelia Hartley", "Amelia Hartley", id="title-and-dot"),
        pytest.param("tomas obrien", "Tomás O'Brien", id="apostrophe-dropped"),
        pytest.param("tomas o brien", "Tomás O'Brien", id="apostrophe-as-space"),
        pytest.param("amelia hartly", "Amelia Hartley", id="typo"),
        pytest.param("hartly", "Amelia Hartley", id="one-token-with-typo"),
        pytest.param("Prof. GARCIA, José", "José García", id="comma-case-accent-title"),
        pytest.param("MARIA gonzalez", "María González", id="full-name-beats-shared-first-name"),
        pytest.param("lukasz", "Łukasz Wiśniewski", id="undecomposed-letter"),
        pytest.param("chri", None, id="prefix-of-nobody"),
    ],
)
def test_a_model_phrasing_finds_the_speaker(
    directory: list[dict[str, Any]], query: str, name: str | None
) -> None:
    result = match(query, directory)
    if name is None:
        assert not result.found
    else:
        assert result.speaker is not None, (query, rank(query, directory)[:3])
        assert result.speaker["name"] == name


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("maria", {"Maria Rossi", "María González"}),
        ("daniel", {"Daniel Kim", "Daniel Okafor"}),
        ("cohen", {"Sarah Cohen", "David Cohen"}),
    ],
)
def test_ambiguous_names_give_every_close_candidate(
    directory: list[dict[str, Any]], query: str, names: set[str]
) -> None:
    result = match(query, directory)
    assert result.speaker is None
    assert {c["name"] for c in result.candidates} == names


def test_candidates_are_ranked_best_first(directory: list[dict[str, Any]]) -> None:
    # "mari": both Marias start with it (prefix), Marta is a near miss below the match score.
    ranked = rank("maria rossi", directory)
    assert ranked[0].speaker["name"] == "Maria Rossi"
    assert [r.score for r in ranked] == sorted((r.score for r in ranked), reverse=True)


def test_no_match_suggests_the_closest_names(directory: list[dict[str, Any]]) -> None:
    result = match("Amilia Hatrleigh", directory)
    assert not result.found
    assert result.suggestions, rank("Amilia Hatrleigh", directory)[:3]
    assert result.suggestions[0]["name"] == "Amelia Hartley"
    assert len(result.suggestions) <= 3


def test_nonsense_matches_nobody(directory: list[dict[str, Any]]) -> None:
    result = match("zzzz qqqq", directory)
    assert not result.found and not result.suggestions


def test_empty_directory_and_empty_query() -> None:
    assert not match("amelia", []).found
    assert not match("", [{"id": 1, "name": "Amelia Hartley"}]).found


def test_name_tokens_fold_and_drop_titles_and_punctuation() -> None:
    assert name_tokens("  Dr. Tomás O’Brien-Smith, PhD ") == ("tomas", "obrien", "smith")
    # A name that is only a title-like word stays a name.
    assert name_tokens("Sir") == ("sir",)


def test_every_seed_name_finds_itself(directory: list[dict[str, Any]]) -> None:
    for speaker in directory:
        result = match(speaker["name"], directory)
        assert result.speaker is not None and result.speaker["id"] == speaker["id"], speaker
        assert rank(speaker["name"], directory)[0].score >= MATCH_SCORE
