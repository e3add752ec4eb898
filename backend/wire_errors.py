"""JSON bodies for the errors gunicorn answers itself (before Flask sees a request).

Strategy: a malformed request line, an over-long URI or too many headers are
rejected by gunicorn's HTTP parser, which writes a small HTML page. Our
contract is "every error is JSON", so the gunicorn config replaces
``gunicorn.util.write_error`` (the one function every such path calls) with
:func:`write_json_error`. The parser's message can echo raw client bytes, so
it is logged by gunicorn but never sent back; the body only names the status.
"""

from __future__ import annotations

import json
import socket
from typing import Any

from errorshape import error_body


def render(status: int, reason: str) -> bytes:
    """Return the full HTTP/1.1 response gunicorn should write for ``status``."""
    message = (
        "Internal server error."
        if status >= 500
        else f"The HTTP request was rejected by the server: {reason}."
    )
    # gunicorn's reason phrase stands in for a status http.HTTPStatus does not know.
    body = json.dumps(error_body(status, message, reason=reason)).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` (same signature; ``mesg`` unused)."""
    from gunicorn import util

    util.write_nonblock(sock, render(status_int, reason))


def install() -> None:
    """Route gunicorn's own error responses through :func:`write_json_error`."""
    from gunicorn import util

    patched: Any = write_json_error
    util.write_error = patched
