"""Relational schema of the Conference API (SQLAlchemy Core tables).

Strategy: Core tables, not ORM classes. Every read is a handful of explicit
SELECTs whose rows go straight into JSON dicts, which is cheaper per request
than building ORM objects and keeps the query count visible. Only portable
types are used, so any SQLAlchemy URL (SQLite, PostgreSQL, ...) works.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

speakers = Table(
    "speakers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("company", String(200), nullable=False),
    Column("bio", Text, nullable=False),
    # fold(name): what name search matches against (see backend.folding).
    Column("search_name", String(200), nullable=False, index=True),
)

topics = Table(
    "topics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("title", String(300), nullable=False),
    Column("abstract", Text, nullable=False),
    Column("day", SmallInteger, nullable=False, index=True),
    # "start"/"end" are SQL keywords; the JSON keys keep the short names.
    Column("start_time", String(5), nullable=False),
    Column("end_time", String(5), nullable=False),
    Column("room", String(100), nullable=False),
    Column("level", String(20), nullable=False),
    # fold(title + abstract + topic names): what keyword search matches.
    Column("search_text", Text, nullable=False),
)

session_speakers = Table(
    "session_speakers",
    metadata,
    Column("session_id", ForeignKey("sessions.id"), primary_key=True),
    Column("speaker_id", ForeignKey("speakers.id"), primary_key=True),
    Index("ix_session_speakers_speaker", "speaker_id"),
)

session_topics = Table(
    "session_topics",
    metadata,
    Column("session_id", ForeignKey("sessions.id"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id"), primary_key=True),
    Index("ix_session_topics_topic", "topic_id"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", ForeignKey("sessions.id"), nullable=False, index=True),
    Column("rating", SmallInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
