"""Seed data: committed file == generator output, required properties, idempotent loading."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from backend import seed_generator
from backend.schema import sessions, speakers
from backend.seed import DEFAULT_SEED_PATH, load_seed, prepare_database
from backend.storage import create_db_engine


@pytest.fixture(scope="module")
def seed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEFAULT_SEED_PATH.read_text(encoding="utf-8"))
    return document


def test_committed_file_matches_the_generator() -> None:
    assert DEFAULT_SEED_PATH.read_text(encoding="utf-8") == seed_generator.render()


def test_seed_sizes(seed: dict[str, Any]) -> None:
    assert len(seed["speakers"]) >= 60
    assert len(seed["sessions"]) >= 150
    assert len(seed["topics"]) >= 30
    for speaker in seed["speakers"]:
        assert speaker["name"] and speaker["company"] and speaker["bio"]


def test_sessions_are_well_formed(seed: dict[str, Any]) -> None:
    speaker_ids = {s["id"] for s in seed["speakers"]}
    topic_ids = {t["id"] for t in seed["topics"]}
    busy = set()
    for session in seed["sessions"]:
        assert session["day"] in (1, 2, 3)
        assert session["start"] < session["end"]
        assert session["level"] in ("beginner", "intermediate", "advanced")
        assert 1 <= len(session["topic_ids"]) <= 4
        assert set(session["topic_ids"]) <= topic_ids
        assert session["speaker_ids"] and set(session["speaker_ids"]) <= speaker_ids
        for speaker_id in session["speaker_ids"]:
            slot = (speaker_id, session["day"], session["start"])
            assert slot not in busy, "a speaker is double-booked"
            busy.add(slot)
    rooms = Counter((s["day"], s["start"], s["room"]) for s in seed["sessions"])
    assert max(rooms.values()) == 1


def test_seed_has_the_tricky_cases(seed: dict[str, Any]) -> None:
    names = [s["name"] for s in seed["speakers"]]
    firsts = Counter(n.split()[0] for n in names)
    lasts = Counter(n.split()[-1] for n in names)
    assert max(firsts.values()) >= 2 and max(lasts.values()) >= 2
    for needle in ("José", "Zoë", "Łukasz", "Søren"):
        assert any(needle in n for n in names)
    talking = {p for s in seed["sessions"] for p in s["speaker_ids"]}
    assert {s["id"] for s in seed["speakers"]} - talking == {64}
    assert any(len(s["speaker_ids"]) == 2 for s in seed["sessions"])


def _count(engine: Any, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_loading_twice_changes_nothing(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'seed.sqlite3'}")
    assert prepare_database(engine, DEFAULT_SEED_PATH) is True
    assert prepare_database(engine, DEFAULT_SEED_PATH) is False
    assert load_seed(engine, DEFAULT_SEED_PATH) is False
    assert _count(engine, speakers) == 64
    assert _count(engine, sessions) == 162
    engine.dispose()


def test_restarting_the_app_keeps_data(make_app: Callable[..., Flask]) -> None:
    first = make_app()
    first.test_client().post("/session/101/feedback", json={"rating": 5})
    second = make_app()
    engine = second.extensions["store"].engine
    assert _count(engine, speakers) == 64
    again = second.test_client().post("/session/101/feedback", json={"rating": 4})
    assert again.get_json()["id"] == 2  # the first feedback survived the restart


def test_seed_can_be_disabled(make_app: Callable[..., Flask]) -> None:
    app = make_app(SEED_ON_START=False)
    assert app.test_client().get("/speakers").get_json()["total"] == 0


def test_flask_seed_command(make_app: Callable[..., Flask]) -> None:
    app = make_app(SEED_ON_START=False)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "seed loaded" in result.output
    assert app.test_client().get("/speakers").get_json()["total"] == 64
    result = runner.invoke(args=["seed"])
    assert "already seeded" in result.output
    assert "64 speakers, 162 sessions, 32 topics, 0 feedback" in result.output
    assert app.test_client().get("/speakers").get_json()["total"] == 64
