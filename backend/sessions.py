"""Blueprint for sessions: ``/sessions``, ``/session/<id>[/topics|/feedback]``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from backend.feedback import parse_feedback
from backend.params import parse_id, parse_list_args
from backend.storage import current_store, found

bp = Blueprint("sessions", __name__)


@bp.get("/sessions")
def list_sessions() -> dict[str, Any]:
    args = parse_list_args(request.args, filters=("speakername", "dayno", "keyword"))
    listing = current_store().sessions(
        args.page, name=args.speakername, day=args.dayno, keyword=args.keyword
    )
    return listing.as_json()


@bp.get("/session/<raw_id>")
def get_session(raw_id: str) -> dict[str, Any]:
    session_id = parse_id(raw_id)
    return found(current_store().session(session_id), "Session", session_id)


@bp.get("/session/<raw_id>/topics")
def session_topics(raw_id: str) -> dict[str, Any]:
    session_id = parse_id(raw_id)
    args = parse_list_args(request.args)
    listing = current_store().session_topics(session_id, args.page)
    return found(listing, "Session", session_id).as_json()


@bp.post("/session/<raw_id>/feedback")
def submit_feedback(raw_id: str) -> tuple[dict[str, Any], int]:
    session_id = parse_id(raw_id)
    body = parse_feedback(request)
    now = current_app.extensions["clock"]()
    stored = current_store().add_feedback(session_id, body.rating, body.comment, now)
    return found(stored, "Session", session_id), 201
