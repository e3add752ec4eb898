"""Blueprint for topics: ``/topics`` and ``/topic/<id>[/speakers|/sessions]``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from backend.params import parse_id, parse_list_args
from backend.storage import current_store, found

bp = Blueprint("topics", __name__)


@bp.get("/topics")
def list_topics() -> dict[str, Any]:
    args = parse_list_args(request.args, filters=("dayno",))
    return current_store().topics(args.page, day=args.dayno).as_json()


@bp.get("/topic/<raw_id>")
def get_topic(raw_id: str) -> dict[str, Any]:
    topic_id = parse_id(raw_id)
    return found(current_store().topic(topic_id), "Topic", topic_id)


@bp.get("/topic/<raw_id>/speakers")
def topic_speakers(raw_id: str) -> dict[str, Any]:
    topic_id = parse_id(raw_id)
    args = parse_list_args(request.args)
    listing = current_store().topic_speakers(topic_id, args.page)
    return found(listing, "Topic", topic_id).as_json()


@bp.get("/topic/<raw_id>/sessions")
def topic_sessions(raw_id: str) -> dict[str, Any]:
    topic_id = parse_id(raw_id)
    args = parse_list_args(request.args)
    listing = current_store().topic_sessions(topic_id, args.page)
    return found(listing, "Topic", topic_id).as_json()
