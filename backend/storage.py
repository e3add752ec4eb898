"""Database access for the Conference API: engine setup and every query.

Strategy: one :class:`Store` per app (``app.extensions["store"]``) wrapping a
SQLAlchemy engine built by :func:`create_db_engine` in the app factory, never
at import time. Reads are SQLAlchemy Core SELECTs returning plain dicts ready
for JSON. Every statement is built ONCE with bind parameters (module constants,
or a tiny cache keyed by which filters are present), because building a
SELECT costs more than running it on this data set; user text only ever
travels as a bound LIKE pattern. A list is always the same few steps,
whatever its size: the page itself (``ORDER BY id LIMIT/OFFSET``), a
``COUNT`` of the filtered set only when the page cannot tell the total, and,
for sessions, two ``IN (...)`` queries that embed the speakers and topics of
the whole page -- so a speaker's sessions cost a bounded number of queries
(no N+1). Relations are filtered
with ``EXISTS``/``IN`` sub-selects so a row never appears twice and the SQL
stays portable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import abort, current_app
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from backend.folding import LIKE_ESCAPE, contains_pattern
from backend.schema import (
    feedback,
    metadata,
    session_speakers,
    session_topics,
    sessions,
    speakers,
    topics,
)

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


# -- statements (built once; see the module docstring) ----------------------

_SPEAKER_BY_ID = select(*_SPEAKER_COLUMNS).where(speakers.c.id == bindparam("id"))
_SESSION_BY_ID = select(*_SESSION_COLUMNS).where(sessions.c.id == bindparam("id"))
_TOPIC_BY_ID = select(*_TOPIC_COLUMNS).where(topics.c.id == bindparam("id"))
_SPEAKER_EXISTS = select(speakers.c.id).where(speakers.c.id == bindparam("id"))
_SESSION_EXISTS = select(sessions.c.id).where(sessions.c.id == bindparam("id"))
_TOPIC_EXISTS = select(topics.c.id).where(topics.c.id == bindparam("id"))
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
class _ListQuery:
    """COUNT and page statements of one filtered, id-ordered list."""

    count: Select[Any]
    page: Select[Any]


def _list_query(columns: Sequence[Any], order: Any, *where: ColumnElement[bool]) -> _ListQuery:
    base = select(*columns).where(*where)
    return _ListQuery(
        count=select(func.count()).select_from(base.subquery()),
        page=base.order_by(order).limit(bindparam("limit")).offset(bindparam("offset")),
    )


def _name_like(column: Any) -> ColumnElement[bool]:
    return cast(ColumnElement[bool], column.like(bindparam("name"), escape=LIKE_ESCAPE))


def _session_on_day() -> ColumnElement[bool]:
    return sessions.c.day == bindparam("day")


_SPEAKER_SESSIONS = _list_query(
    _SESSION_COLUMNS,
    sessions.c.id,
    sessions.c.id.in_(
        select(session_speakers.c.session_id).where(
            session_speakers.c.speaker_id == bindparam("parent")
        )
    ),
)
_SPEAKER_TOPICS = _list_query(
    _TOPIC_COLUMNS,
    topics.c.id,
    topics.c.id.in_(
        select(session_topics.c.topic_id)
        .join(session_speakers, session_speakers.c.session_id == session_topics.c.session_id)
        .where(session_speakers.c.speaker_id == bindparam("parent"))
    ),
)
_SESSION_TOPICS = _list_query(
    _TOPIC_COLUMNS,
    topics.c.id,
    topics.c.id.in_(
        select(session_topics.c.topic_id).where(session_topics.c.session_id == bindparam("parent"))
    ),
)
_TOPIC_SPEAKERS = _list_query(
    _SPEAKER_COLUMNS,
    speakers.c.id,
    speakers.c.id.in_(
        select(session_speakers.c.speaker_id)
        .join(session_topics, session_topics.c.session_id == session_speakers.c.session_id)
        .where(session_topics.c.topic_id == bindparam("parent"))
    ),
)
_TOPIC_SESSIONS = _list_query(
    _SESSION_COLUMNS,
    sessions.c.id,
    sessions.c.id.in_(
        select(session_topics.c.session_id).where(session_topics.c.topic_id == bindparam("parent"))
    ),
)


@cache
def _speaker_list(by_name: bool, by_day: bool) -> _ListQuery:
    where: list[ColumnElement[bool]] = []
    if by_name:
        where.append(_name_like(speakers.c.search_name))
    if by_day:
        talks_that_day = (
            select(session_speakers.c.speaker_id)
            .join(sessions, sessions.c.id == session_speakers.c.session_id)
            .where(_session_on_day())
        )
        where.append(speakers.c.id.in_(talks_that_day))
    return _list_query(_SPEAKER_COLUMNS, speakers.c.id, *where)


@cache
def _session_list(by_name: bool, by_day: bool, by_keyword: bool) -> _ListQuery:
    where: list[ColumnElement[bool]] = []
    if by_name:
        named = (
            select(session_speakers.c.session_id)
            .join(speakers, speakers.c.id == session_speakers.c.speaker_id)
            .where(_name_like(speakers.c.search_name))
        )
        where.append(sessions.c.id.in_(named))
    if by_day:
        where.append(_session_on_day())
    if by_keyword:
        where.append(
            cast(
                ColumnElement[bool],
                sessions.c.search_text.like(bindparam("keyword"), escape=LIKE_ESCAPE),
            )
        )
    return _list_query(_SESSION_COLUMNS, sessions.c.id, *where)


@cache
def _topic_list(by_day: bool) -> _ListQuery:
    where: list[ColumnElement[bool]] = []
    if by_day:
        that_day = (
            select(session_topics.c.topic_id)
            .join(sessions, sessions.c.id == session_topics.c.session_id)
            .where(_session_on_day())
        )
        where.append(topics.c.id.in_(that_day))
    return _list_query(_TOPIC_COLUMNS, topics.c.id, *where)


class Store:
    """Every read and write the HTTP layer needs, returning JSON-ready dicts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- speakers -----------------------------------------------------------

    def speaker(self, speaker_id: int) -> Item | None:
        return self._one(_SPEAKER_BY_ID, speaker_id)

    def speakers(self, page: Page, name: str | None = None, day: int | None = None) -> Listing:
        query = _speaker_list(bool(name), day is not None)
        params = {"name": contains_pattern(name) if name else None, "day": day}
        with self.engine.connect() as conn:
            return _listing(conn, query, params, page)

    def speaker_sessions(self, speaker_id: int, page: Page) -> Listing | None:
        return self._children(_SPEAKER_SESSIONS, _SPEAKER_EXISTS, speaker_id, page, embed=True)

    def speaker_topics(self, speaker_id: int, page: Page) -> Listing | None:
        return self._children(_SPEAKER_TOPICS, _SPEAKER_EXISTS, speaker_id, page)

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
        query = _session_list(bool(name), day is not None, bool(keyword))
        params = {
            "name": contains_pattern(name) if name else None,
            "day": day,
            "keyword": contains_pattern(keyword) if keyword else None,
        }
        with self.engine.connect() as conn:
            listing = _listing(conn, query, params, page)
            return Listing(_embed(conn, listing.items), listing.total, page)

    def session_topics(self, session_id: int, page: Page) -> Listing | None:
        return self._children(_SESSION_TOPICS, _SESSION_EXISTS, session_id, page)

    def add_feedback(
        self, session_id: int, rating: int, comment: str, created_at: datetime
    ) -> Item | None:
        """Store feedback for a session; None when the session does not exist."""
        with self.engine.begin() as conn:
            if conn.execute(_SESSION_EXISTS, {"id": session_id}).first() is None:
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
        return self._one(_TOPIC_BY_ID, topic_id)

    def topics(self, page: Page, day: int | None = None) -> Listing:
        with self.engine.connect() as conn:
            return _listing(conn, _topic_list(day is not None), {"day": day}, page)

    def topic_speakers(self, topic_id: int, page: Page) -> Listing | None:
        return self._children(_TOPIC_SPEAKERS, _TOPIC_EXISTS, topic_id, page)

    def topic_sessions(self, topic_id: int, page: Page) -> Listing | None:
        return self._children(_TOPIC_SESSIONS, _TOPIC_EXISTS, topic_id, page, embed=True)

    def count(self, table: str) -> int:
        """Rows in one of the schema's tables (operator commands, not the API)."""
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(metadata.tables[table]))
            return int(total.scalar_one())

    # -- helpers ------------------------------------------------------------

    def _one(self, statement: Select[Any], ident: int) -> Item | None:
        with self.engine.connect() as conn:
            row = conn.execute(statement, {"id": ident}).first()
        return None if row is None else dict(row._mapping)

    def _children(
        self,
        query: _ListQuery,
        parent_exists: Select[Any],
        parent: int,
        page: Page,
        *,
        embed: bool = False,
    ) -> Listing | None:
        """A sub-resource list; None when the parent does not exist."""
        with self.engine.connect() as conn:
            listing = _listing(conn, query, {"parent": parent}, page)
            # Only an empty list can hide a missing parent: skip the check otherwise.
            if not listing.total and conn.execute(parent_exists, {"id": parent}).first() is None:
                return None
            if embed:
                return Listing(_embed(conn, listing.items), listing.total, page)
            return listing


def _listing(conn: Connection, query: _ListQuery, params: dict[str, Any], page: Page) -> Listing:
    rows = conn.execute(query.page, {**params, "limit": page.limit, "offset": page.offset})
    items = [dict(row._mapping) for row in rows]
    # A page that is neither full nor past the end tells the total by itself:
    # COUNT is only needed for a full page or an empty page after an offset.
    if 0 < len(items) < page.limit or (not items and page.offset == 0):
        return Listing(items, page.offset + len(items), page)
    total = conn.execute(query.count, params).scalar_one()
    return Listing(items, int(total), page)


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
