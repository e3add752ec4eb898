"""One JSON error shape for every failure the backend can answer.

Strategy: views raise werkzeug ``HTTPException``\\ s (``abort(404, ...)``,
:class:`ValidationError` for bad input); ONE handler renders them all as
``{"status", "error", "message"[, "details"]}`` (docs/interfaces.md), keeping
headers such as ``Allow`` on 405. Anything else is a bug: it is logged with
its traceback and answered as a bare 500 in the same shape, never an HTML page
or a stack trace.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, Response, jsonify
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from errorshape import error_body

logger = logging.getLogger(__name__)


class ValidationError(BadRequest):
    """400 with per-field messages (``details``: field -> message)."""

    def __init__(self, details: dict[str, str], message: str = "Invalid request.") -> None:
        super().__init__(description=message)
        self.details = details


# Werkzeug's stock descriptions address a person at a browser ("If you entered the URL
# manually..."); the readers here are programs and language models, so say what to do instead.
_ROUTING_MESSAGES = {
    404: "No API operation at this path; the operations are listed in /openapi.yaml.",
    405: "This method is not allowed on this path; the Allow header lists the ones that are.",
}


def _message(error: HTTPException, status: int) -> str:
    description = error.description
    if description is None or description == type(error).description:
        return _ROUTING_MESSAGES.get(status) or description or HTTPStatus(status).phrase
    return description


def _render_http(error: HTTPException) -> Response:
    status = error.code or 500
    details = getattr(error, "details", None)
    response = jsonify(error_body(status, _message(error, status), details))
    response.status_code = status
    # Keep protocol headers werkzeug attaches (Allow on 405, WWW-Authenticate).
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _render_unexpected(error: Exception) -> Response:
    logger.exception("unhandled error", exc_info=error)
    return _render_http(InternalServerError(description="Internal server error."))


def init_app(app: Flask) -> None:
    """Register the JSON handlers on ``app``."""
    app.register_error_handler(HTTPException, _render_http)
    app.register_error_handler(Exception, _render_unexpected)
