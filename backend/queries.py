"""Every SQL statement of the Conference API, built once with bind parameters.

Strategy: building a SQLAlchemy SELECT costs more than running it on this
data set, so statements are module constants, or come from a tiny cache keyed
by which filters are present (at most 8 variants per list). User text only
ever travels as a bound LIKE pattern (:mod:`backend.folding`), ids and pages
as bound integers. Relations are filtered with ``IN`` sub-selects so a row
never appears twice and the SQL stays portable (a test compiles every
statement for PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, bindparam, func, select

from backend.folding import LIKE_ESCAPE
from backend.schema import session_speakers, session_topics, sessions, speakers, topics

SPEAKER_COLUMNS = (speakers.c.id, speakers.c.name, speakers.c.company, speakers.c.bio)
TOPIC_COLUMNS = (topics.c.id, topics.c.name, topics.c.description)
SESSION_COLUMNS = (
    sessions.c.id,
    sessions.c.title,
    sessions.c.abstract,
    sessions.c.day,
    sessions.c.start_time.label("start"),
    sessions.c.end_time.label("end"),
    sessions.c.room,
    sessions.c.level,
)

SPEAKER_BY_ID = select(*SPEAKER_COLUMNS).where(speakers.c.id == bindparam("id"))
SESSION_BY_ID = select(*SESSION_COLUMNS).where(sessions.c.id == bindparam("id"))
TOPIC_BY_ID = select(*TOPIC_COLUMNS).where(topics.c.id == bindparam("id"))
SPEAKER_EXISTS = select(speakers.c.id).where(speakers.c.id == bindparam("id"))
SESSION_EXISTS = select(sessions.c.id).where(sessions.c.id == bindparam("id"))
TOPIC_EXISTS = select(topics.c.id).where(topics.c.id == bindparam("id"))
EMBED_SPEAKERS = (
    select(session_speakers.c.session_id, speakers.c.id, speakers.c.name)
    .join(speakers, speakers.c.id == session_speakers.c.speaker_id)
    .where(session_speakers.c.session_id.in_(bindparam("ids", expanding=True)))
    .order_by(session_speakers.c.session_id, speakers.c.id)
)
EMBED_TOPICS = (
    select(session_topics.c.session_id, topics.c.id, topics.c.name)
    .join(topics, topics.c.id == session_topics.c.topic_id)
    .where(session_topics.c.session_id.in_(bindparam("ids", expanding=True)))
    .order_by(session_topics.c.session_id, topics.c.id)
)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """COUNT and page statements of one filtered, id-ordered list."""

    count: Select[Any]
    page: Select[Any]


def _list_query(columns: Sequence[Any], order: Any, *where: ColumnElement[bool]) -> ListQuery:
    base = select(*columns).where(*where)
    return ListQuery(
        count=select(func.count()).select_from(base.subquery()),
        page=base.order_by(order).limit(bindparam("limit")).offset(bindparam("offset")),
    )


def _like(column: Any, param: str) -> ColumnElement[bool]:
    return cast(ColumnElement[bool], column.like(bindparam(param), escape=LIKE_ESCAPE))


def _session_on_day() -> ColumnElement[bool]:
    return sessions.c.day == bindparam("day")


SPEAKER_SESSIONS = _list_query(
    SESSION_COLUMNS,
    sessions.c.id,
    sessions.c.id.in_(
        select(session_speakers.c.session_id).where(
            session_speakers.c.speaker_id == bindparam("parent")
        )
    ),
)
SPEAKER_TOPICS = _list_query(
    TOPIC_COLUMNS,
    topics.c.id,
    topics.c.id.in_(
        select(session_topics.c.topic_id)
        .join(session_speakers, session_speakers.c.session_id == session_topics.c.session_id)
        .where(session_speakers.c.speaker_id == bindparam("parent"))
    ),
)
SESSION_TOPICS = _list_query(
    TOPIC_COLUMNS,
    topics.c.id,
    topics.c.id.in_(
        select(session_topics.c.topic_id).where(session_topics.c.session_id == bindparam("parent"))
    ),
)
TOPIC_SPEAKERS = _list_query(
    SPEAKER_COLUMNS,
    speakers.c.id,
    speakers.c.id.in_(
        select(session_speakers.c.speaker_id)
        .join(session_topics, session_topics.c.session_id == session_speakers.c.session_id)
        .where(session_topics.c.topic_id == bindparam("parent"))
    ),
)
TOPIC_SESSIONS = _list_query(
    SESSION_COLUMNS,
    sessions.c.id,
    sessions.c.id.in_(
        select(session_topics.c.session_id).where(session_topics.c.topic_id == bindparam("parent"))
    ),
)


@cache
def speaker_list(by_name: bool, by_day: bool) -> ListQuery:
    where: list[ColumnElement[bool]] = []
    if by_name:
        where.append(_like(speakers.c.search_name, "name"))
    if by_day:
        talks_that_day = (
            select(session_speakers.c.speaker_id)
            .join(sessions, sessions.c.id == session_speakers.c.session_id)
            .where(_session_on_day())
        )
        where.append(speakers.c.id.in_(talks_that_day))
    return _list_query(SPEAKER_COLUMNS, speakers.c.id, *where)


@cache
def session_list(by_name: bool, by_day: bool, by_keyword: bool) -> ListQuery:
    where: list[ColumnElement[bool]] = []
    if by_name:
        named = (
            select(session_speakers.c.session_id)
            .join(speakers, speakers.c.id == session_speakers.c.speaker_id)
            .where(_like(speakers.c.search_name, "name"))
        )
        where.append(sessions.c.id.in_(named))
    if by_day:
        where.append(_session_on_day())
    if by_keyword:
        where.append(_like(sessions.c.search_text, "keyword"))
    return _list_query(SESSION_COLUMNS, sessions.c.id, *where)


@cache
def topic_list(by_day: bool) -> ListQuery:
    where: list[ColumnElement[bool]] = []
    if by_day:
        that_day = (
            select(session_topics.c.topic_id)
            .join(sessions, sessions.c.id == session_topics.c.session_id)
            .where(_session_on_day())
        )
        where.append(topics.c.id.in_(that_day))
    return _list_query(TOPIC_COLUMNS, topics.c.id, *where)
