"""The HTTP answers of the context plugin: JSON bodies, fixed headers, stable error shape.

Strategy: APISIX's Stop sets no Content-Type of its own (nginx would say text/plain), so every
answer built here carries ``application/json; charset=utf-8``. Errors use the project-wide
shape from docs/interfaces.md plus the request id, so a model (or a human with a log) can quote
it. Context answers are marked ``no-store``: a partial answer must never be replayed by a cache.
"""

from __future__ import annotations

from collections.abc import Mapping

from errorshape import error_body
from runner_plugins.context.trim import dumps, utf8
from runner_plugins.plugin import Stop

JSON_TYPE = "application/json; charset=utf-8"
COMPLETE_HEADER = "x-context-complete"


def document(body: bytes, complete: bool) -> Stop:
    """A 200 context or candidates answer whose body is already sized and encoded."""
    return Stop(
        status=200,
        headers=(
            ("content-type", JSON_TYPE),
            (COMPLETE_HEADER, "true" if complete else "false"),
            ("cache-control", "no-store"),
        ),
        body=body,
    )


def error(
    status: int,
    message: str,
    request_id: str | None,
    *,
    details: Mapping[str, str] | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    extra: Mapping[str, object] | None = None,
) -> Stop:
    """A JSON error in the shared shape; ``details`` only for validation errors, ``extra`` for
    further top-level fields (a 404's ``suggestions``)."""
    body = error_body(status, message, details)
    if extra:
        body.update(extra)
    body["request_id"] = request_id
    return Stop(
        status=status,
        headers=(("content-type", JSON_TYPE), ("cache-control", "no-store"), *headers),
        body=utf8(dumps(body)),
    )
