"""Errors of the local gateway and the exits it answers by itself.

Strategy: APISIX answers with a handful of fixed JSON shapes (``{"error_msg": ...}`` for the router
and rate limits, ``{"message": ...}`` for auth plugins) without a content type of its own, because
``core.response.exit`` never sets one: nginx then types them by the URI's extension
(:mod:`gateway.mime`, ``text/plain`` mostly). We reproduce that byte for byte so that a client
built against the stand-in behaves identically against the real gateway: cjson escapes ``/`` and
``core.response.exit`` ends every table body with a newline (apisix/core/response.lua). Where
nginx itself answers a bare status (413, 414, 431, 502, 503, 504...), real APISIX would send an
HTML page; our ``apisix/config.yaml`` turns those into ``application/json`` with ``error_page``
directives, and the stand-in answers the very same bytes, ``{"error_msg": "<code> <reason>"}``
(tests/deploy/test_deploy_error_pages.py keeps the two identical). Such an exit is marked
``error_page``: nginx serves it from an ``internal`` location without APISIX's Lua phases, so
the pipeline skips the plugins' header and body filters for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

#: ``default_type`` of the error-page locations; ``charset`` does not apply to this type.
ERROR_PAGE_CONTENT_TYPE = "application/json"
#: config.yaml's error pages are the ``internal`` locations ``/_json_error/<status>``.
ERROR_PAGE_PREFIX = "/_json_error/"
ERROR_PAGE_STATUSES = frozenset({400, 404, 408, 413, 414, 429, 431, 500, 502, 503, 504})


def is_error_page_uri(path: str) -> bool:
    """Whether ``path`` is one of the error pages' ``internal`` locations.

    nginx answers a client's own request for such a URI with 404 (then the 404 error page).
    """
    code = path.removeprefix(ERROR_PAGE_PREFIX)
    return code != path and code.isdigit() and int(code) in ERROR_PAGE_STATUSES


class GatewayError(Exception):
    """Base class of the local gateway's own errors."""


class ConfigError(GatewayError):
    """The configuration uses something the stand-in does not implement, or is invalid."""


@dataclass(slots=True)
class Exit:
    """A response the gateway answers without (or instead of) the upstream."""

    status: int
    body: bytes = b""
    #: Headers in order; a repeated name adds a value (APISIX: set first, add the rest).
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: A bare status that nginx answers through config.yaml's ``error_page`` (no Lua phases).
    error_page: bool = False


def table_body(doc: Any) -> bytes:
    """``doc`` as ``core.response.exit`` sends a Lua table: cjson, ``/`` escaped, newline-ended."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    # "/" only occurs inside JSON strings, so escaping it textually is exact.
    return text.replace("/", "\\/").encode() + b"\n"


def json_exit(status: int, doc: Any, headers: list[tuple[str, str]] | None = None) -> Exit:
    """An exit whose body is APISIX's encoding of the table ``doc``."""
    return Exit(status, table_body(doc), list(headers or ()))


def status_exit(status: int) -> Exit:
    """What config.yaml's ``error_page`` sends where nginx would send its HTML status page."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps({"error_msg": f"{status} {phrase}"}, separators=(",", ":")).encode()
    return Exit(status, body, [("Content-Type", ERROR_PAGE_CONTENT_TYPE)], error_page=True)
