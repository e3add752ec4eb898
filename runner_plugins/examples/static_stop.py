"""``static-stop``: answer every request with a fixed response (the benchmark plugin).

Conf (JSON): ``{"status": 200, "body": "text", "content_type": "text/plain"}``, all optional.
The Stop is built once at PrepareConf and returned as-is, so the runner's reply
template cache applies and the request path does no work of its own.
"""

from __future__ import annotations

import json
from typing import Any

from runner_plugins.plugin import ConfError, Plugin, Request, Stop

__all__ = ["StaticStop", "plugins"]


class StaticStop(Plugin[Stop]):
    name = "static-stop"

    def parse_conf(self, raw: str) -> Stop:
        try:
            conf = json.loads(raw or "{}")
        except ValueError as exc:
            raise ConfError(f"conf is not JSON: {exc}") from None
        if not isinstance(conf, dict) or set(conf) - {"status", "body", "content_type"}:
            raise ConfError('expected {"status": int, "body": str, "content_type": str}')
        status = conf.get("status", 200)
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ConfError("status must be an integer in 100..599")
        body = conf.get("body", "")
        content_type = conf.get("content_type", "text/plain; charset=utf-8")
        if not isinstance(body, str) or not isinstance(content_type, str):
            raise ConfError("body and content_type must be strings")
        return Stop(status=status, headers=(("content-type", content_type),), body=body.encode())

    async def request_filter(self, conf: Stop, request: Request) -> Stop:
        return conf


def plugins() -> list[Plugin[Any]]:
    return [StaticStop()]
