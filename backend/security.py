"""Gateway-only access: the shared secret every request must carry.

Strategy: APISIX adds the secret header on its way upstream, so a request
without it did not come through the gateway. The check runs before routing,
so an unauthenticated caller cannot even learn which paths exist (404 vs 405).
Only ``/healthz`` is open, for orchestrators' probes. Comparison is
constant-time on bytes (``hmac.compare_digest``).
"""

from __future__ import annotations

import hmac
import logging

from flask import Flask, current_app, request
from werkzeug.exceptions import Unauthorized

logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/healthz"})


def init_app(app: Flask) -> None:
    """Install the secret check on ``app``.

    :func:`backend.config.require_secret` already refused an empty secret unless a
    test configuration opted out explicitly; only then is there nothing to install.
    """
    secret: str = app.config["SHARED_SECRET"]
    if not secret:
        logger.warning("test configuration without a shared secret: every request is accepted")
        return
    app.extensions["shared_secret"] = secret.encode("utf-8")
    app.before_request(_require_secret)


def _require_secret() -> None:
    if request.path in OPEN_PATHS:
        return
    expected: bytes = current_app.extensions["shared_secret"]
    given = request.headers.get(current_app.config["SECRET_HEADER"], "")
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected):
        # Deliberately the same answer for "missing" and "wrong".
        raise Unauthorized(description="This API is only reachable through the gateway.")
