"""Database access for the Conference API: engine setup and every query.

Strategy: one :class:`Store` per app (``app.extensions["store"]``) wrapping a
SQLAlchemy engine built by :func:`create_db_engine` in the app factory, never
at import time. Reads are SQLAlchemy Core SELECTs returning plain dicts ready
for JSON. A list is always three steps, whatever its size: ``COUNT`` of the
filtered set, the page itself (``ORDER BY id LIMIT/OFFSET``) and, for
sessions, two ``IN (...)`` queries that embed the speakers and topics of the
whole page -- so a speaker's sessions cost a bounded number of queries (no
N+1). Relations are filtered with ``EXISTS`` sub-selects so a row never
appears twice and the SQL stays portable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from flask import abort, current_app
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    create_engine,
    event,
    exists,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from backend.folding import LIKE_ESCAPE, contains_pattern
from backend.schema import feedback, session_speakers, session_topics, sessions, speakers, topics

logger = logging.getLogger(__name__)

Item = dict[str, Any]
T = TypeVar("T")

_SPEAKER_COLUMNS = (speakers.c.id, speakers.c.name, speakers.c.company, speakers.c.bio)
_TOPIC_COLUMNS = (topics.c.id, topics.c.name, topics.c.description)
_SESSION_COLUMNS = (
    sessions.c.id,
    sessions.c.title,
    sessions.c.abstract,
    sessions.c.day,
    sessions.c.start_time.label("start"),
    sessions.c.end_time.label("end"),
    sessions.c.room,
    sessions.c.level,
)

# The hot single-item reads are built once; SQLAlchemy then reuses their
# compiled form from its cache on every request.
_SPEAKER_BY_ID = select(*_SPEAKER_COLUMNS).where(speakers.c.id == bindparam("id"))
_SESSION_BY_ID = select(*_SESSION_COLUMNS).where(sessions.c.id == bindparam("id"))
_TOPIC_BY_ID = select(*_TOPIC_COLUMNS).where(topics.c.id == bindparam("id"))
_EMBED_SPEAKERS = (
    select(session_speakers.c.session_id, speakers.c.id, speakers.c.name)
    .join(speakers, speakers.c.id == session_speakers.c.speaker_id)
    .where(session_speakers.c.session_id.in_(bindparam("ids", expanding=True)))
    .order_by(session_speakers.c.session_id, speakers.c.id)
)
_EMBED_TOPICS = (
    select(session_topics.c.session_id, topics.c.id, topics.c.name)
    .join(topics, topics.c.id == session_topics.c.topic_id)
    .where(session_topics.c.session_id.in_(bindparam("ids", expanding=True)))
    .order_by(session_topics.c.session_id, topics.c.id)
)


@dataclass(frozen=True, slots=True)
class Page:
    """Which slice of an ordered list to return."""

    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class Listing:
    """One page of a list plus the size of the whole (filtered) list."""

    items: list[Item]
    total: int
    page: Page

    def as_json(self) -> Item:
        return {
            "items": self.items,
            "total": self.total,
            "limit": self.page.limit,
            "offset": self.page.offset,
        }


def create_db_engine(url: str) -> Engine:
    """Create the engine for ``url``; SQLite gets its directory, WAL and FK checks."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # pool_timeout bounds the wait for a pooled connection under load.
        return create_engine(parsed, pool_pre_ping=True, pool_timeout=5)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or "mode=memory" in database
    if in_memory:
        # One shared connection, or every thread would see its own empty DB.
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        if not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # timeout: seconds a writer waits for SQLite's lock instead of failing.
        engine = create_engine(parsed, connect_args={"timeout": 5})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if not in_memory:
                # WAL lets gunicorn workers read while another writes feedback.
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    return engine


class Store:
    """Every read and write the HTTP layer needs, returning JSON-ready dicts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- speakers -----------------------------------------------------------

    def speaker(self, speaker_id: int) -> Item | None:
        with self.engine.connect() as conn:
            row = conn.execute(_SPEAKER_BY_ID, {"id": speaker_id}).first()
        return None if row is None else dict(row._mapping)

    def speakers(self, page: Page, name: str | None = None, day: int | None = None) -> Listing:
        where: list[ColumnElement[bool]] = []
        if name:
            where.append(speakers.c.search_name.like(contains_pattern(name), escape=LIKE_ESCAPE))
        if day is not None:
            where.append(_speaker_talks_on(day))
        with self.engine.connect() as conn:
            return _plain_listing(conn, select(*_SPEAKER_COLUMNS), speakers.c.id, where, page)

    def speaker_sessions(self, speaker_id: int, page: Page) -> Listing | None:
        where = [_session_has_speaker(speaker_id)]
        with self.engine.connect() as conn:
            if not _exists(conn, speakers.c.id, speaker_id):
                return None
            return _session_listing(conn, where, page)

    def speaker_topics(self, speaker_id: int, page: Page) -> Listing | None:
        talks = (
            select(session_topics.c.topic_id)
            .join(
                session_speakers,
                session_speakers.c.session_id == session_topics.c.session_id,
            )
            .where(session_speakers.c.speaker_id == speaker_id)
        )
        where = [topics.c.id.in_(talks)]
        with self.engine.connect() as conn:
            if not _exists(conn, speakers.c.id, speaker_id):
                return None
            return _plain_listing(conn, select(*_TOPIC_COLUMNS), topics.c.id, where, page)

    # -- sessions -----------------------------------------------------------

    def session(self, session_id: int) -> Item | None:
        with self.engine.connect() as conn:
            row = conn.execute(_SESSION_BY_ID, {"id": session_id}).first()
            if row is None:
                return None
            return _embed(conn, [dict(row._mapping)])[0]

    def sessions(
        self,
        page: Page,
        name: str | None = None,
        day: int | None = None,
        keyword: str | None = None,
    ) -> Listing:
        where: list[ColumnElement[bool]] = []
        if name:
            pattern = contains_pattern(name)
            where.append(
                exists()
                .where(session_speakers.c.session_id == sessions.c.id)
                .where(speakers.c.id == session_speakers.c.speaker_id)
                .where(speakers.c.search_name.like(pattern, escape=LIKE_ESCAPE))
            )
        if day is not None:
            where.append(sessions.c.day == day)
        if keyword:
            where.append(sessions.c.search_text.like(contains_pattern(keyword), escape=LIKE_ESCAPE))
        with self.engine.connect() as conn:
            return _session_listing(conn, where, page)

    def session_topics(self, session_id: int, page: Page) -> Listing | None:
        where = [
            exists()
            .where(session_topics.c.topic_id == topics.c.id)
            .where(session_topics.c.session_id == session_id)
        ]
        with self.engine.connect() as conn:
            if not _exists(conn, sessions.c.id, session_id):
                return None
            return _plain_listing(conn, select(*_TOPIC_COLUMNS), topics.c.id, where, page)

    def add_feedback(
        self, session_id: int, rating: int, comment: str, created_at: datetime
    ) -> Item | None:
        """Store feedback for a session; None when the session does not exist."""
        with self.engine.begin() as conn:
            if not _exists(conn, sessions.c.id, session_id):
                return None
            result = conn.execute(
                insert(feedback).values(
                    session_id=session_id, rating=rating, comment=comment, created_at=created_at
                )
            )
            (new_id,) = result.inserted_primary_key or (None,)
        return {
            "id": new_id,
            "session_id": session_id,
            "rating": rating,
            "comment": comment,
            "created_at": created_at.isoformat(),
        }

    # -- topics -------------------------------------------------------------

    def topic(self, topic_id: int) -> Item | None:
        with self.engine.connect() as conn:
            row = conn.execute(_TOPIC_BY_ID, {"id": topic_id}).first()
        return None if row is None else dict(row._mapping)

    def topics(self, page: Page, day: int | None = None) -> Listing:
        where: list[ColumnElement[bool]] = []
        if day is not None:
            where.append(
                exists()
                .where(session_topics.c.topic_id == topics.c.id)
                .where(sessions.c.id == session_topics.c.session_id)
                .where(sessions.c.day == day)
            )
        with self.engine.connect() as conn:
            return _plain_listing(conn, select(*_TOPIC_COLUMNS), topics.c.id, where, page)

    def topic_speakers(self, topic_id: int, page: Page) -> Listing | None:
        on_topic = (
            select(session_speakers.c.speaker_id)
            .join(session_topics, session_topics.c.session_id == session_speakers.c.session_id)
            .where(session_topics.c.topic_id == topic_id)
        )
        where = [speakers.c.id.in_(on_topic)]
        with self.engine.connect() as conn:
            if not _exists(conn, topics.c.id, topic_id):
                return None
            return _plain_listing(conn, select(*_SPEAKER_COLUMNS), speakers.c.id, where, page)

    def topic_sessions(self, topic_id: int, page: Page) -> Listing | None:
        where = [
            exists()
            .where(session_topics.c.session_id == sessions.c.id)
            .where(session_topics.c.topic_id == topic_id)
        ]
        with self.engine.connect() as conn:
            if not _exists(conn, topics.c.id, topic_id):
                return None
            return _session_listing(conn, where, page)


def _speaker_talks_on(day: int) -> ColumnElement[bool]:
    return (
        exists()
        .where(session_speakers.c.speaker_id == speakers.c.id)
        .where(sessions.c.id == session_speakers.c.session_id)
        .where(sessions.c.day == day)
    )


def _session_has_speaker(speaker_id: int) -> ColumnElement[bool]:
    return (
        exists()
        .where(session_speakers.c.session_id == sessions.c.id)
        .where(session_speakers.c.speaker_id == speaker_id)
    )


def _exists(conn: Connection, id_column: Any, value: int) -> bool:
    return conn.execute(select(id_column).where(id_column == value)).first() is not None


def _plain_listing(
    conn: Connection,
    query: Select[Any],
    order: Any,
    where: Sequence[ColumnElement[bool]],
    page: Page,
) -> Listing:
    condition = _all(where)
    total = conn.execute(
        select(func.count()).select_from(query.where(condition).subquery())
    ).scalar_one()
    rows = conn.execute(
        query.where(condition).order_by(order).limit(page.limit).offset(page.offset)
    )
    return Listing([dict(row._mapping) for row in rows], int(total), page)


def _session_listing(conn: Connection, where: Sequence[ColumnElement[bool]], page: Page) -> Listing:
    listing = _plain_listing(conn, select(*_SESSION_COLUMNS), sessions.c.id, where, page)
    return Listing(_embed(conn, listing.items), listing.total, page)


def _embed(conn: Connection, items: list[Item]) -> list[Item]:
    """Attach speakers and topics to a page of sessions with two IN queries."""
    if not items:
        return items
    ids = [item["id"] for item in items]
    by_id: Mapping[int, Item] = {item["id"]: item for item in items}
    for item in items:
        item["speakers"] = []
        item["topics"] = []
    for session_id, speaker_id, name in conn.execute(_EMBED_SPEAKERS, {"ids": ids}):
        by_id[session_id]["speakers"].append({"id": speaker_id, "name": name})
    for session_id, topic_id, name in conn.execute(_EMBED_TOPICS, {"ids": ids}):
        by_id[session_id]["topics"].append({"id": topic_id, "name": name})
    return items


def _all(where: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = true()
    for clause in where:
        condition = condition & clause
    return condition


def current_store() -> Store:
    """The :class:`Store` of the app handling the current request."""
    store = current_app.extensions["store"]
    assert isinstance(store, Store)
    return store


def found(value: T | None, what: str, ident: int) -> T:
    """Return ``value`` or answer 404 naming the missing resource."""
    if value is None:
        abort(404, description=f"{what} {ident} does not exist.")
    return value
