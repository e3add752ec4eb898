"""The project's one JSON error shape: ``{"status", "error", "message"[, "details"]}``.

Strategy: every HTTP error a client of this project can see (the backend's, gunicorn's own
rejections, the context plugin's, and the bodies ``apisix/apisix.yaml`` gives the gateway's
plugins through ``_meta.error_response``) is built from, or checked against, :func:`error_body`,
so the shape docs/interfaces.md documents is written once. Pure standard library, so the
gateway image (runner only) and the backend image each carry it without the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

__all__ = ["error_body"]


def error_body(
    status: int,
    message: str,
    details: Mapping[str, str] | None = None,
    *,
    reason: str | None = None,
) -> dict[str, Any]:
    """The error document for ``status``; ``details`` (field -> message) only when given.

    ``error`` is the status's standard reason phrase; ``reason`` stands in for a status
    :class:`http.HTTPStatus` does not know (without it such a status raises ``ValueError``).
    """
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        if reason is None:
            raise
        phrase = reason
    body: dict[str, Any] = {"status": status, "error": phrase, "message": message}
    if details:
        body["details"] = dict(details)
    return body
