"""Listing a speaker's sessions costs a bounded number of SQL statements (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, insert

from backend.schema import session_speakers, session_topics, sessions


@contextmanager
def _counting(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.extensions["store"].engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _give_sessions(app: Flask, speaker_id: int, count: int) -> None:
    """Add ``count`` sessions (each with 3 topics) to a speaker."""
    with app.extensions["store"].engine.begin() as conn:
        for offset in range(count):
            session_id = 1000 + offset
            conn.execute(
                insert(sessions).values(
                    id=session_id,
                    title=f"Extra {offset}",
                    abstract="",
                    day=1 + offset % 3,
                    start_time="09:00",
                    end_time="09:45",
                    room="Annex",
                    level="beginner",
                    search_text=f"extra {offset}",
                )
            )
            conn.execute(
                insert(session_speakers).values(session_id=session_id, speaker_id=speaker_id)
            )
            for topic_id in (1, 2, 3):
                conn.execute(
                    insert(session_topics).values(session_id=session_id, topic_id=topic_id)
                )


def test_speaker_sessions_query_count_does_not_grow(app: Flask, client: FlaskClient) -> None:
    with _counting(app) as few:
        small = client.get("/speaker/64/sessions?limit=100").get_json()
    assert small["total"] == 0
    _give_sessions(app, 64, 80)
    with _counting(app) as many:
        big = client.get("/speaker/64/sessions?limit=100").get_json()
    assert big["total"] == 80
    assert len(big["items"]) == 80
    assert all(len(s["topics"]) == 3 for s in big["items"])
    # page (+ count when the page is full) + embedded speakers + embedded topics
    assert len(many) <= 4
    assert len(few) <= len(many)


def test_session_list_query_count_is_constant(app: Flask, client: FlaskClient) -> None:
    counts = []
    for limit in (1, 10, 100):
        with _counting(app) as statements:
            assert len(client.get(f"/sessions?limit={limit}").get_json()["items"]) == limit
        counts.append(len(statements))
    assert counts == [4, 4, 4]


def test_single_speaker_is_one_query(app: Flask, client: FlaskClient) -> None:
    with _counting(app) as statements:
        assert client.get("/speaker/1").status_code == 200
    assert len(statements) == 1


def test_every_statement_compiles_for_postgresql() -> None:
    """No SQLite-only SQL: the schema and every prebuilt query compile for PostgreSQL."""
    from itertools import product

    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    from backend import queries
    from backend.schema import metadata

    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for table in metadata.sorted_tables:
        assert "CREATE TABLE" in str(CreateTable(table).compile(dialect=dialect))
        for index in table.indexes:
            str(CreateIndex(index).compile(dialect=dialect))
    lists = [
        queries.SPEAKER_SESSIONS,
        queries.SPEAKER_TOPICS,
        queries.SESSION_TOPICS,
        queries.TOPIC_SPEAKERS,
        queries.TOPIC_SESSIONS,
    ]
    lists += [queries.speaker_list(*flags) for flags in product((False, True), repeat=2)]
    lists += [queries.session_list(*flags) for flags in product((False, True), repeat=3)]
    lists += [queries.topic_list(flag) for flag in (False, True)]
    for query in lists:
        for statement in (query.count, query.page):
            sql = str(statement.compile(dialect=dialect))
            assert "%(" in sql or "count" in sql.lower()
            assert "pragma" not in sql.lower() and "glob" not in sql.lower()
    keyword = str(queries.session_list(False, False, True).page.compile(dialect=dialect))
    assert "LIKE" in keyword and "ESCAPE" in keyword
    assert "LIMIT %(limit)s OFFSET %(offset)s" in keyword
