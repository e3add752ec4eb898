"""The `conference-mcp` route conf: parsed and validated once, at PrepareConf.

Strategy: like the context plugin's conf, a JSON object with no unknown keys and every bound
checked here. ``context`` holds the aggregation settings and is parsed by the context plugin's
own parser, so the MCP tools run with exactly the budget, timeouts, cache, breaker, cap and
size limit of ``GET /speaker/{id}/context`` (apisix/apisix.yaml repeats the same object on both
routes; a test keeps them equal). ``feedback_consumers`` names the consumers that may use the
write tool, as the REST feedback route's consumer-restriction does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from runner_plugins.context.conf import ContextConf
from runner_plugins.context.conf import parse_conf as parse_context_conf
from runner_plugins.plugin import ConfError, json_object_conf

#: nginx's client_max_body_size in apisix/config.yaml; a larger limit here could never apply.
MAX_BODY_LIMIT = 1024 * 1024
_KEYS = {"public_url", "allowed_origins", "max_body_bytes", "feedback_consumers", "context"}


@dataclass(frozen=True, slots=True)
class McpConf:
    """One route's MCP settings; shared by every request carrying the same conf token."""

    public_url: str
    context: ContextConf
    allowed_origins: frozenset[str] = frozenset()
    feedback_consumers: frozenset[str] = frozenset()
    max_body_bytes: int = 65536


def parse_conf(raw: str) -> McpConf:
    """Parse the route's JSON conf string; raise ConfError naming the offending key."""
    data = json_object_conf(raw, "conference-mcp")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ConfError(f"conference-mcp conf has unknown keys: {', '.join(unknown)}")
    for key in ("public_url", "context"):
        if key not in data:
            raise ConfError(f"conference-mcp conf is missing: {key}")
    if not isinstance(data["context"], dict):
        raise ConfError("conference-mcp conf: context must be an object (the context conf)")
    try:
        context = parse_context_conf(json.dumps(data["context"]))
    except ConfError as exc:
        raise ConfError(f"conference-mcp conf: context: {exc}") from None
    max_body = data.get("max_body_bytes", 65536)
    if isinstance(max_body, bool) or not isinstance(max_body, int):
        raise ConfError("conference-mcp conf: max_body_bytes must be an integer")
    if not 1024 <= max_body <= MAX_BODY_LIMIT:
        raise ConfError(
            f"conference-mcp conf: max_body_bytes must be between 1024 and {MAX_BODY_LIMIT}"
        )
    return McpConf(
        public_url=_public_url(data["public_url"]),
        context=context,
        allowed_origins=_names(data, "allowed_origins"),
        feedback_consumers=_names(data, "feedback_consumers"),
        max_body_bytes=max_body,
    )


def _names(data: dict[str, Any], key: str) -> frozenset[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfError(f"conference-mcp conf: {key} must be a list of non-empty strings")
    return frozenset(v.strip() for v in value)


def _public_url(url: object) -> str:
    if not isinstance(url, str):
        raise ConfError("conference-mcp conf: public_url must be a string")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfError("conference-mcp conf: public_url must be an http(s) URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfError(
            "conference-mcp conf: public_url must not carry a query, fragment or credentials"
        )
    return url.strip().rstrip("/")
