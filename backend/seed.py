"""Schema creation and seed loading, both idempotent.

Strategy: the seed is loaded in ONE transaction and only into an empty
``speakers`` table, so running it again (a second worker, a restart, the
``flask seed`` command) changes nothing. If two processes race on a fresh
database, the loser's INSERTs hit the primary keys the winner committed; that
IntegrityError means "already seeded", not a failure. gunicorn avoids the race
anyway by preparing the database once in the master (``on_starting``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from backend.folding import fold
from backend.schema import metadata, session_speakers, session_topics, sessions, speakers, topics

logger = logging.getLogger(__name__)

#: The committed seed document (see backend/seed_generator.py).
DEFAULT_SEED_PATH = Path(__file__).resolve().parent / "data" / "conference.json"


def prepare_database(engine: Engine, seed_path: Path | None) -> bool:
    """Create missing tables and load the seed into an empty database.

    Returns True when this call loaded the seed.
    """
    metadata.create_all(engine)
    if seed_path is None:
        return False
    return load_seed(engine, seed_path)


def load_seed(engine: Engine, seed_path: Path) -> bool:
    """Load the seed file unless speakers already exist; True when loaded."""
    document = json.loads(seed_path.read_text(encoding="utf-8"))
    rows = _rows(document)
    try:
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(speakers)).scalar_one():
                return False
            conn.execute(insert(speakers), rows["speakers"])
            conn.execute(insert(topics), rows["topics"])
            conn.execute(insert(sessions), rows["sessions"])
            conn.execute(insert(session_speakers), rows["session_speakers"])
            conn.execute(insert(session_topics), rows["session_topics"])
    except IntegrityError:
        logger.info("seed already loaded by another process")
        return False
    logger.info(
        "seed loaded: %d speakers, %d sessions, %d topics",
        len(rows["speakers"]),
        len(rows["sessions"]),
        len(rows["topics"]),
    )
    return True


def _rows(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Turn the seed document into INSERT parameter lists, search keys included."""
    topic_names = {t["id"]: t["name"] for t in document["topics"]}
    speaker_rows = [
        {
            "id": s["id"],
            "name": s["name"],
            "company": s["company"],
            "bio": s["bio"],
            "search_name": fold(s["name"]),
        }
        for s in document["speakers"]
    ]
    session_rows = []
    links_speakers = []
    links_topics = []
    for s in document["sessions"]:
        searchable = " ".join(
            [s["title"], s["abstract"], *(topic_names[t] for t in s["topic_ids"])]
        )
        session_rows.append(
            {
                "id": s["id"],
                "title": s["title"],
                "abstract": s["abstract"],
                "day": s["day"],
                "start_time": s["start"],
                "end_time": s["end"],
                "room": s["room"],
                "level": s["level"],
                "search_text": fold(searchable),
            }
        )
        links_speakers += [{"session_id": s["id"], "speaker_id": p} for p in s["speaker_ids"]]
        links_topics += [{"session_id": s["id"], "topic_id": t} for t in s["topic_ids"]]
    topic_rows = [
        {"id": t["id"], "name": t["name"], "description": t["description"]}
        for t in document["topics"]
    ]
    return {
        "speakers": speaker_rows,
        "topics": topic_rows,
        "sessions": session_rows,
        "session_speakers": links_speakers,
        "session_topics": links_topics,
    }
