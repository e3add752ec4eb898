"""Runner plugins used by the gateway's component tests to observe the ext-plugin path.

They run inside the REAL runner process (``python -m runner_plugins --plugin
tests.gateway.probe_plugins``); each one reports what the runner received or asks the gateway to
apply one kind of change, so the tests can check how the gateway talks to the runner.
"""

from __future__ import annotations

import json
from typing import Any

from runner_plugins.plugin import (
    ConfError,
    Plugin,
    Request,
    RequestAction,
    Response,
    ResponseChange,
    Rewrite,
    Stop,
)


def _conf(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ConfError(str(exc)) from exc
    if not isinstance(value, dict):
        raise ConfError("conf must be a JSON object")
    return value


class ProbeStop(Plugin[dict[str, Any]]):
    """Answers with what the runner saw of the request."""

    name = "probe-stop"

    def parse_conf(self, raw: str) -> dict[str, Any]:
        return _conf(raw)

    async def request_filter(self, conf: dict[str, Any], request: Request) -> RequestAction | None:
        seen = {
            "method": request.method,
            "path": request.path,
            "args": [list(a) for a in request.args],
            "headers": {k: v for k, v in request.headers},
            "route_id": await request.var("route_id"),
            "body": (await request.body()).decode(),
        }
        return Stop(
            status=int(conf.get("status", 200)),
            headers=(("content-type", "application/json"), ("x-probe", "stop")),
            body=json.dumps(seen).encode(),
        )


class ProbeRewrite(Plugin[dict[str, Any]]):
    """Rewrites path, headers, args and response headers, then lets the request go upstream."""

    name = "probe-rewrite"

    def parse_conf(self, raw: str) -> dict[str, Any]:
        return _conf(raw)

    async def request_filter(self, conf: dict[str, Any], request: Request) -> RequestAction | None:
        return Rewrite(
            path="/rewritten/path",
            headers=(("x-probe-added", "yes"), ("x-drop-me", None)),
            args=(("added", "1"), ("removed", None)),
            resp_headers=(("x-probe-resp", "from-runner"), ("content-type", "text/evil")),
        )


class ProbeResponse(Plugin[dict[str, Any]]):
    """Changes the upstream response (ext-plugin-post-resp)."""

    name = "probe-response"

    def parse_conf(self, raw: str) -> dict[str, Any]:
        return _conf(raw)

    async def response_filter(
        self, conf: dict[str, Any], response: Response
    ) -> ResponseChange | None:
        body = await response.body()
        return ResponseChange(
            status=203,
            headers=(("x-probe-upstream-status", str(response.status)),),
            body=b"changed:" + body,
        )


def plugins() -> list[Plugin[Any]]:
    return [ProbeStop(), ProbeRewrite(), ProbeResponse()]
