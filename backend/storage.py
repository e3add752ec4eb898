"""Database access for the Conference API: the engine and the :class:`Store`.

Strategy: one :class:`Store` per app (``app.extensions["store"]``) wrapping a
SQLAlchemy engine built by :func:`create_db_engine` in the app factory, never
at import time. It runs the prebuilt statements of :mod:`backend.queries` and
returns plain dicts ready for JSON. A list is always the same few steps,
whatever its size: the page itself (``ORDER BY id LIMIT/OFFSET``), a ``COUNT``
of the filtered set only when the page cannot tell the total, and, for
sessions, two ``IN (...)`` queries that embed the speakers and topics of the
whole page -- so a speaker's sessions cost a bounded number of queries (no
N+1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from flask import abort, current_app
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    create_engine,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from backend import queries
from backend.folding import contains_pattern
from backend.schema import feedback, metadata

Item = dict[str, Any]
T = TypeVar("T")


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
    if parsed.get_backend_name() == "postgresql":
        # Bounded connect and statement time (libpq options; psycopg 3 and psycopg2). Each
        # gunicorn worker builds its own engine after the fork; application_name carries the
        # pid so pg_stat_activity tells which process holds a connection.
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_timeout=5,
            connect_args={
                "connect_timeout": 5,
                "options": "-c statement_timeout=5000",
                "application_name": f"conference-backend/{os.getpid()}",
            },
        )
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
        engine = create_engine(parsed, connect_args={"timeout": 5}, pool_timeout=5)

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
        return self._one(queries.SPEAKER_BY_ID, speaker_id)

    def speakers(self, page: Page, name: str | None = None, day: int | None = None) -> Listing:
        query = queries.speaker_list(bool(name), day is not None)
        params = {"name": contains_pattern(name) if name else None, "day": day}
        with self.engine.connect() as conn:
            return _listing(conn, query, params, page)

    def speaker_sessions(self, speaker_id: int, page: Page) -> Listing | None:
        return self._children(
            queries.SPEAKER_SESSIONS, queries.SPEAKER_EXISTS, speaker_id, page, embed=True
        )

    def speaker_topics(self, speaker_id: int, page: Page) -> Listing | None:
        return self._children(queries.SPEAKER_TOPICS, queries.SPEAKER_EXISTS, speaker_id, page)

    # -- sessions -----------------------------------------------------------

    def session(self, session_id: int) -> Item | None:
        with self.engine.connect() as conn:
            row = conn.execute(queries.SESSION_BY_ID, {"id": session_id}).first()
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
        query = queries.session_list(bool(name), day is not None, bool(keyword))
        params = {
            "name": contains_pattern(name) if name else None,
            "day": day,
            "keyword": contains_pattern(keyword) if keyword else None,
        }
        with self.engine.connect() as conn:
            listing = _listing(conn, query, params, page)
            return Listing(_embed(conn, listing.items), listing.total, page)

    def session_topics(self, session_id: int, page: Page) -> Listing | None:
        return self._children(queries.SESSION_TOPICS, queries.SESSION_EXISTS, session_id, page)

    def add_feedback(
        self, session_id: int, rating: int, comment: str, created_at: datetime
    ) -> Item | None:
        """Store feedback for a session; None when the session does not exist."""
        with self.engine.begin() as conn:
            if conn.execute(queries.SESSION_EXISTS, {"id": session_id}).first() is None:
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
        return self._one(queries.TOPIC_BY_ID, topic_id)

    def topics(self, page: Page, day: int | None = None) -> Listing:
        with self.engine.connect() as conn:
            return _listing(conn, queries.topic_list(day is not None), {"day": day}, page)

    def topic_speakers(self, topic_id: int, page: Page) -> Listing | None:
        return self._children(queries.TOPIC_SPEAKERS, queries.TOPIC_EXISTS, topic_id, page)

    def topic_sessions(self, topic_id: int, page: Page) -> Listing | None:
        return self._children(
            queries.TOPIC_SESSIONS, queries.TOPIC_EXISTS, topic_id, page, embed=True
        )

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
        query: queries.ListQuery,
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


def _listing(
    conn: Connection, query: queries.ListQuery, params: dict[str, Any], page: Page
) -> Listing:
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
    for session_id, speaker_id, name in conn.execute(queries.EMBED_SPEAKERS, {"ids": ids}):
        by_id[session_id]["speakers"].append({"id": speaker_id, "name": name})
    for session_id, topic_id, name in conn.execute(queries.EMBED_TOPICS, {"ids": ids}):
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
