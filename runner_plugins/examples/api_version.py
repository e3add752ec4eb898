"""``api-version``: pin an API version header, the "Write your own plugin" example.

Conf (JSON): ``{"header": "x-api-version", "allowed": ["1", "2"], "default": "2"}``.

* header missing   -> Rewrite: add the default version before the request goes upstream;
* header allowed   -> no change;
* header not allowed -> Stop 400 with the project's JSON error shape, naming the route
  (fetched from APISIX with ``await request.var("route_id")`` only on this path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from runner_plugins.plugin import ConfError, Plugin, Request, Rewrite, Stop

__all__ = ["ApiVersion", "ApiVersionConf", "plugins"]


@dataclass(frozen=True, slots=True)
class ApiVersionConf:
    header: str
    allowed: frozenset[str]
    default: str


class ApiVersion(Plugin[ApiVersionConf]):
    name = "api-version"

    def parse_conf(self, raw: str) -> ApiVersionConf:
        try:
            conf = json.loads(raw)
        except ValueError as exc:
            raise ConfError(f"conf is not JSON: {exc}") from None
        if not isinstance(conf, dict) or set(conf) != {"header", "allowed", "default"}:
            raise ConfError('expected exactly {"header", "allowed", "default"}')
        header, allowed, default = conf["header"], conf["allowed"], conf["default"]
        if not isinstance(header, str) or not header:
            raise ConfError("header must be a non-empty string")
        if not isinstance(allowed, list) or not all(isinstance(v, str) for v in allowed):
            raise ConfError("allowed must be a list of strings")
        if default not in allowed:
            raise ConfError("default must be one of allowed")
        return ApiVersionConf(header.lower(), frozenset(allowed), default)

    async def request_filter(self, conf: ApiVersionConf, request: Request) -> Stop | Rewrite | None:
        version = request.header(conf.header)
        if version is None:
            return Rewrite(headers=((conf.header, conf.default),))
        if version in conf.allowed:
            return None
        route = await request.var("route_id")
        body = {
            "status": 400,
            "error": "Bad Request",
            "message": f"unsupported {conf.header} {version!r}",
            "details": {conf.header: f"one of {sorted(conf.allowed)}", "route": route},
        }
        return Stop(
            status=400,
            headers=(("content-type", "application/json"),),
            body=json.dumps(body).encode(),
        )


def plugins() -> list[Plugin[Any]]:
    return [ApiVersion()]
