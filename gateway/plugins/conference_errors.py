"""``conference-errors``: the project's own APISIX plugin, as the local gateway runs it.

Strategy: real APISIX loads the same plugin from ``apisix/lua/apisix/plugins/conference-errors.lua``
(config.yaml ``extra_lua_path``); this class implements the same conf and the same behaviour, and
``tests/deploy/test_deploy_conference_errors.py`` runs one table of cases through both. The plugin
only touches answers the gateway made itself (no upstream status) whose status is listed in
``statuses``: APISIX sends the bodies of plugin rejections (key-auth 401, consumer-restriction
403, limit-count 429 with ``_meta.error_response``) without a Content-Type, so nginx says
``text/plain`` or takes a type from the URI's extension (``image/png`` on ``/logo.png``). Then:

* ``Content-Type: application/json``;
* on a 429 that carries limit-count's ``X-RateLimit-Reset`` (seconds, possibly fractional),
  ``Retry-After`` is that value rounded up to whole seconds, at least 1, and every
  ``{retry_after}`` in the body becomes the same number;
* each ``add_headers`` entry for that status is added (another ``WWW-Authenticate`` challenge on
  401, for instance), after the plugin's own.

Header and body filters only: it never answers or stops a request.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from multidict import CIMultiDict

from gateway.plugins.base import GatewayPlugin

if TYPE_CHECKING:
    from gateway.context import RequestContext

JSON_TYPE = "application/json"
PLACEHOLDER = b"{retry_after}"
_STATUS = {"type": "integer", "minimum": 400, "maximum": 599}


def retry_after(reset: str | None) -> int | None:
    """Whole seconds to wait, from ``X-RateLimit-Reset``; None when absent or not a number."""
    if reset is None:
        return None
    try:
        seconds = float(reset)
    except ValueError:
        return None
    if not math.isfinite(seconds):
        return None
    return max(1, math.ceil(seconds))


class ConferenceErrors(GatewayPlugin):
    name = "conference-errors"
    priority = 1
    #: Filters only: never part of the rewrite or access phase.
    phase = "filter"
    schema = {
        "type": "object",
        "properties": {
            "statuses": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _STATUS},
            "add_headers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "status": _STATUS,
                        "name": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"},
                        "value": {"type": "string", "minLength": 1},
                    },
                    "required": ["status", "name", "value"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["statuses"],
    }

    def _applies(self, ctx: RequestContext) -> bool:
        return ctx.upstream_status is None and ctx.status in self.conf["statuses"]

    def header_filter(self, ctx: RequestContext, headers: CIMultiDict[str]) -> None:
        if not self._applies(ctx):
            return
        headers["Content-Type"] = JSON_TYPE
        if ctx.status == 429:
            seconds = retry_after(headers.get("X-RateLimit-Reset"))
            if seconds is not None:
                headers["Retry-After"] = str(seconds)
                ctx.vars["conference_retry_after"] = str(seconds)
                headers.popall("Content-Length", None)
        for extra in self.conf.get("add_headers", ()):
            if extra["status"] == ctx.status:
                headers.add(extra["name"], extra["value"])

    def body_filter(self, ctx: RequestContext, body: bytes) -> bytes:
        seconds = ctx.vars.get("conference_retry_after")
        if seconds is None or not self._applies(ctx):
            return body
        return body.replace(PLACEHOLDER, seconds.encode())
