"""The `conference-context` route conf: parsed and validated once, at PrepareConf.

Strategy: the conf arrives as a JSON string inside the APISIX route. We parse it into a frozen
dataclass so a request never re-validates anything, reject unknown keys (a typo must not silently
fall back to a default) and check every bound here, where the operator sees a clear
:class:`ConfError` instead of a misbehaving route. The budget is capped at 30 s because GPT
Actions give up after 45 s and APISIX's default upstream read timeout is 60 s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from runner_plugins.plugin import ConfError, json_object_conf

MAX_BUDGET_MS = 30_000

# RFC 9110 token characters: a header name outside this set would be rejected by the backend.
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


@dataclass(frozen=True, slots=True)
class ContextConf:
    """One route's settings; shared by every request carrying the same conf token."""

    backend_url: str
    secret: str = field(repr=False)
    secret_header: str = "X-Conference-Secret"
    call_timeout_ms: int = 2000
    budget_ms: int = 5000
    cache_ttl_s: float = 30.0
    cache_max_entries: int = 1024
    cache_max_bytes: int = 16 * 1024 * 1024
    max_concurrency: int = 32
    max_response_chars: int = 100_000
    breaker_failures: int = 5
    breaker_reset_s: float = 10.0

    @property
    def call_timeout_s(self) -> float:
        return self.call_timeout_ms / 1000.0

    @property
    def budget_s(self) -> float:
        return self.budget_ms / 1000.0


# key -> (kind, minimum, maximum); kind "int" or "number" (int or float).
_BOUNDS: dict[str, tuple[str, float, float]] = {
    "call_timeout_ms": ("int", 1, MAX_BUDGET_MS),
    "budget_ms": ("int", 1, MAX_BUDGET_MS),
    "cache_ttl_s": ("number", 0, 86_400),
    "cache_max_entries": ("int", 0, 1_000_000),
    "cache_max_bytes": ("int", 0, 1024 * 1024 * 1024),
    "max_concurrency": ("int", 1, 4096),
    "max_response_chars": ("int", 1000, 10_000_000),
    "breaker_failures": ("int", 1, 10_000),
    "breaker_reset_s": ("number", 0.001, 3600),
}
_STRINGS = ("backend_url", "secret", "secret_header")
_REQUIRED = ("backend_url", "secret")


def parse_conf(raw: str) -> ContextConf:
    """Parse the route's JSON conf string; raise ConfError naming the offending key."""
    data = json_object_conf(raw, "conference-context")
    unknown = sorted(set(data) - set(_BOUNDS) - set(_STRINGS))
    if unknown:
        raise ConfError(f"conference-context conf has unknown keys: {', '.join(unknown)}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ConfError(f"conference-context conf is missing: {', '.join(missing)}")

    values: dict[str, Any] = {}
    for key in _STRINGS:
        if key in data:
            value = data[key]
            if not isinstance(value, str) or not value.strip():
                raise ConfError(f"conference-context conf: {key} must be a non-empty string")
            values[key] = value.strip()
    for key, (kind, low, high) in _BOUNDS.items():
        if key in data:
            values[key] = _number(key, data[key], kind, low, high)

    values["backend_url"] = _backend_url(values["backend_url"])
    if "secret_header" in values and not _HEADER_NAME.match(values["secret_header"]):
        raise ConfError("conference-context conf: secret_header is not a valid header name")
    return ContextConf(**values)


def _number(key: str, value: object, kind: str, low: float, high: float) -> int | float:
    # bool is an int subclass in Python; `true` is never a sensible count or timeout.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfError(f"conference-context conf: {key} must be a number")
    if kind == "int" and not isinstance(value, int):
        raise ConfError(f"conference-context conf: {key} must be an integer")
    if not low <= value <= high:
        raise ConfError(f"conference-context conf: {key} must be between {low:g} and {high:g}")
    return value


def _backend_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfError("conference-context conf: backend_url must be an http(s) URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfError(
            "conference-context conf: backend_url must not carry a query, fragment or credentials"
        )
    try:
        parts.port  # noqa: B018 - urlsplit validates the port lazily; force it here.
    except ValueError:
        raise ConfError("conference-context conf: backend_url has an invalid port") from None
    return url.rstrip("/")
