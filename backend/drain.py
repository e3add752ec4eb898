"""Reading what is left of a request body after the answer has gone out.

Strategy: an early answer (401 before routing, 413 over ``MAX_CONTENT_LENGTH``, 415) leaves the
body unread. gunicorn drains at most 64 KiB of it before the next request and otherwise drops
the connection, although its answer announced keep-alive: the gateway's next request on that
pooled connection then fails (a 502 for somebody else). So once the response is sent, the rest
of the body is read and discarded here, bounded in bytes and time; beyond the bounds gunicorn's
own behaviour applies.
"""

from __future__ import annotations

import time
from typing import IO

from flask import Flask, Response, request

#: The gateway refuses bodies over 1 MiB (413), so a forwarded body never reaches this bound.
MAX_DRAIN_BYTES = 2 * 1024 * 1024
MAX_DRAIN_SECONDS = 2.0
_CHUNK = 64 * 1024


def init_app(app: Flask) -> None:
    app.after_request(_drain_after_sending)


def _drain_after_sending(response: Response) -> Response:
    stream = request.environ.get("wsgi.input")
    if stream is not None and request.content_length != 0:
        response.call_on_close(lambda: drain(stream))
    return response


def drain(stream: IO[bytes]) -> int:
    """Read ``stream`` to its end or the bounds; returns the bytes discarded."""
    deadline = time.monotonic() + MAX_DRAIN_SECONDS
    discarded = 0
    while discarded < MAX_DRAIN_BYTES and time.monotonic() < deadline:
        try:
            chunk = stream.read(min(_CHUNK, MAX_DRAIN_BYTES - discarded))
        except (OSError, ValueError):
            break
        if not chunk:
            break
        discarded += len(chunk)
    return discarded
