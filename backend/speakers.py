"""Blueprint for speakers: ``/speakers`` and ``/speaker/<id>[/sessions|/topics]``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from backend.params import parse_id, parse_list_args
from backend.storage import current_store, found

bp = Blueprint("speakers", __name__)


@bp.get("/speakers")
def list_speakers() -> dict[str, Any]:
    args = parse_list_args(request.args, filters=("speakername", "dayno"))
    listing = current_store().speakers(args.page, name=args.speakername, day=args.dayno)
    return listing.as_json()


@bp.get("/speaker/<raw_id>")
def get_speaker(raw_id: str) -> dict[str, Any]:
    speaker_id = parse_id(raw_id)
    return found(current_store().speaker(speaker_id), "Speaker", speaker_id)


@bp.get("/speaker/<raw_id>/sessions")
def speaker_sessions(raw_id: str) -> dict[str, Any]:
    speaker_id = parse_id(raw_id)
    args = parse_list_args(request.args)
    listing = current_store().speaker_sessions(speaker_id, args.page)
    return found(listing, "Speaker", speaker_id).as_json()


@bp.get("/speaker/<raw_id>/topics")
def speaker_topics(raw_id: str) -> dict[str, Any]:
    speaker_id = parse_id(raw_id)
    args = parse_list_args(request.args)
    listing = current_store().speaker_topics(speaker_id, args.page)
    return found(listing, "Speaker", speaker_id).as_json()
