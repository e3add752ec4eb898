"""Validation of the session feedback body (``POST /session/<id>/feedback``).

Strategy: the body is checked by hand against a tiny, closed schema so every
problem is reported per field in one 400, unknown fields included (this is
the API's only write, and an LLM client should learn about a typo rather than
have it silently dropped). Size (413) and media type (415) are checked before
any parsing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Request
from werkzeug.exceptions import UnsupportedMediaType

from backend.errors import ValidationError
from backend.params import has_control_characters

MAX_COMMENT = 2000


@dataclass(frozen=True, slots=True)
class Feedback:
    rating: int
    comment: str


def parse_feedback(request: Request) -> Feedback:
    """Return the validated feedback of ``request`` or raise 400/413/415."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(description="Send the feedback as application/json.")
    # get_data enforces MAX_CONTENT_LENGTH (413) before anything is buffered.
    raw = request.get_data(cache=False)
    try:
        document = json.loads(raw)
    # RecursionError: 64 KiB of "[[[[..." nests deeper than the decoder allows.
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValidationError({"body": "must be a JSON object"}, "Malformed JSON body.") from None
    if not isinstance(document, dict):
        raise ValidationError({"body": "must be a JSON object"})
    details: dict[str, str] = {}
    rating = document.get("rating")
    # bool is an int subclass: true must not count as a rating of 1.
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        details["rating"] = "required integer between 1 and 5"
    comment = document.get("comment", "")
    if not isinstance(comment, str):
        details["comment"] = "must be a string"
    elif len(comment) > MAX_COMMENT:
        details["comment"] = f"must be at most {MAX_COMMENT} characters"
    elif has_control_characters(comment, allowed="\n\r\t"):
        details["comment"] = "must not contain control characters other than newlines and tabs"
    elif _has_lone_surrogate(comment):
        # json.loads turns an escaped "\ud800" into a str that no UTF-8 encoder (database,
        # response) accepts.
        details["comment"] = "must not contain lone surrogate escapes"
    for name in sorted(set(document) - {"rating", "comment"})[:10]:
        # The name is echoed in the answer, so it must survive UTF-8 encoding.
        details[name[:50].encode("utf-8", "replace").decode("utf-8")] = "unknown field"
    if details:
        raise ValidationError(details)
    assert isinstance(rating, int) and isinstance(comment, str)
    return Feedback(rating=rating, comment=comment)


def _has_lone_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)
