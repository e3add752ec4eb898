"""Traffic control: limit-count.

The rate-limit window uses the ``limits`` library (fixed window starting at the first hit, as
APISIX's local ``limit-count`` policy does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from limits import RateLimitItemPerSecond

from gateway.errors import ConfigError, Exit, json_exit, status_exit
from gateway.plugins.base import BOOL, STRING, GatewayPlugin

if TYPE_CHECKING:
    from gateway.context import RequestContext

logger = logging.getLogger(__name__)

__all__ = ["LimitCount"]


class LimitCount(GatewayPlugin):
    name = "limit-count"
    priority = 1002
    phase = "access"
    schema = {
        "type": "object",
        "properties": {
            "count": {"type": "integer", "exclusiveMinimum": 0},
            "time_window": {"type": "integer", "exclusiveMinimum": 0},
            # var_combination and the redis policies are not implemented.
            "key_type": {"enum": ["var", "constant"]},
            "key": STRING,
            "group": STRING,
            "rejected_code": {"type": "integer", "minimum": 200, "maximum": 599},
            "rejected_msg": {"type": "string", "minLength": 1},
            "policy": {"enum": ["local"]},
            # Read by APISIX only with a redis policy; accepted (and unused) with "local".
            "redis_host": STRING,
            "redis_port": {"type": "integer"},
            "redis_password": STRING,
            "redis_database": {"type": "integer"},
            "redis_timeout": {"type": "integer"},
            "show_limit_quota_header": BOOL,
            "allow_degradation": BOOL,
        },
        "required": ["count", "time_window"],
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        self._item = RateLimitItemPerSecond(conf["count"], conf["time_window"])
        key_type = conf.get("key_type", "var")
        key = conf.get("key", "remote_addr")
        if key_type == "var" and not (
            key in ("remote_addr", "consumer_name", "route_id") or key.startswith("http_")
        ):
            raise ConfigError(f"plugin 'limit-count': var key {key!r} is not implemented")
        # Without a group APISIX keys the counter by the plugin instance, so keep one per object.
        self._scope = conf.get("group") or f"instance-{id(self)}"

    def _key(self, ctx: RequestContext) -> str:
        key = str(self.conf.get("key", "remote_addr"))
        if self.conf.get("key_type", "var") == "var":
            # APISIX falls back to remote_addr when the variable is empty.
            return ctx.variable(key) or ctx.src_ip
        return key

    async def run(self, ctx: RequestContext) -> Exit | None:
        limiter = ctx.services.limiter
        ident = (self._scope, self._key(ctx))
        allowed = await limiter.hit(self._item, *ident)
        stats = await limiter.get_window_stats(self._item, *ident)
        headers: list[tuple[str, str]] = []
        if self.conf.get("show_limit_quota_header", True):
            headers = [
                ("X-RateLimit-Limit", str(self.conf["count"])),
                ("X-RateLimit-Remaining", str(max(0, stats.remaining))),
                ("X-RateLimit-Reset", _seconds(stats.reset_time - time.time())),
            ]
        if allowed:
            ctx.resp_headers.extend(headers)
            return None
        if "rejected_msg" in self.conf:
            return json_exit(
                self.conf.get("rejected_code", 503),
                {"error_msg": self.conf["rejected_msg"]},
                headers,
            )
        result = status_exit(self.conf.get("rejected_code", 503))
        result.headers.extend(headers)
        return result


def _seconds(value: float) -> str:
    """Format seconds like APISIX's Reset header: ``60``, ``59.98``."""
    text = f"{max(0.0, value):.2f}".rstrip("0").rstrip(".")
    return text or "0"
