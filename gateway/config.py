"""Load APISIX's standalone ``apisix.yaml`` into validated, immutable plain data.

Strategy: mirror APISIX's own two steps. First ``${{NAME}}`` / ``${{NAME:=default}}`` are
substituted on the raw text (:mod:`gateway.variables`), so an unset variable without default is a
startup error exactly as it is for APISIX. Then the YAML is walked strictly: every key the stand-in
does not implement is a :class:`ConfigError` naming the object and the field — a silently ignored
field would make the local stack behave differently from the real gateway without anyone noticing.
Errors name fields, never the values of plugin confs or of the YAML text: those hold API keys and
the backend's shared secret (after substitution), and the message is logged. Plugin confs stay
raw here: :mod:`gateway.build` hands them to :mod:`gateway.plugins`, which validates them against
per-plugin JSON schemas, so this module never imports a plugin.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import ConfigError
from gateway.variables import expand

_ROUTE_KEYS = frozenset(
    {
        "id",
        "name",
        "desc",
        "uri",
        "uris",
        "methods",
        "priority",
        "upstream_id",
        "upstream",
        "plugins",
        "status",
    }
)
_UPSTREAM_KEYS = frozenset(
    {
        "id",
        "name",
        "desc",
        "type",
        "scheme",
        "pass_host",
        "upstream_host",
        "nodes",
        "timeout",
        "keepalive_pool",
    }
)
_CONSUMER_KEYS = frozenset({"username", "desc", "plugins"})
_TOP_KEYS = frozenset({"routes", "upstreams", "consumers"})
_METHODS = frozenset(
    {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE"}
)


@dataclass(frozen=True, slots=True)
class Node:
    host: str
    port: int
    weight: int


@dataclass(frozen=True, slots=True)
class Upstream:
    id: str
    scheme: str
    pass_host: str
    upstream_host: str | None
    nodes: tuple[Node, ...]
    connect_timeout: float
    send_timeout: float
    read_timeout: float
    keepalive_idle_timeout: float


@dataclass(frozen=True, slots=True)
class ConsumerConf:
    username: str
    #: Plugin name -> its conf as written (validated when :mod:`gateway.build` builds it).
    plugins: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RouteConf:
    id: str
    uris: tuple[str, ...]
    methods: frozenset[str] | None
    priority: int
    upstream_id: str | None
    #: Plugin name -> its conf as written (validated when :mod:`gateway.build` builds it).
    plugins: Mapping[str, Any]
    #: Changes whenever the route's definition changes; part of the PrepareConf key.
    version: str


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    routes: tuple[RouteConf, ...]
    upstreams: Mapping[str, Upstream]
    consumers: tuple[ConsumerConf, ...]


def _reject_unknown(obj: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise ConfigError(f"{where}: field {key!r} is not implemented by the local gateway")


def _kind(value: Any) -> str:
    """A value's YAML type, for messages that must not print the value itself."""
    return "null" if value is None else f"a {type(value).__name__}"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f"{exc.problem} at line {mark.line + 1}, column {mark.column + 1}"
    return type(exc).__name__


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected an object, got {_kind(value)}")
    return value


def _number(obj: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{where}: field {key!r} must be a positive number, got {_kind(value)}")
    return float(value)


def _upstream(raw: Any, where: str) -> Upstream:
    obj = _mapping(raw, where)
    _reject_unknown(obj, _UPSTREAM_KEYS, where)
    if "id" not in obj:
        raise ConfigError(f"{where}: field 'id' is required")
    kind = obj.get("type", "roundrobin")
    if kind != "roundrobin":
        raise ConfigError(f"{where}: field 'type' value {kind!r} is not implemented")
    scheme = obj.get("scheme", "http")
    if scheme not in ("http", "https"):
        raise ConfigError(f"{where}: field 'scheme' value {scheme!r} is not implemented")
    pass_host = obj.get("pass_host", "pass")
    if pass_host not in ("pass", "node", "rewrite"):
        raise ConfigError(f"{where}: field 'pass_host' value {pass_host!r} is not valid")
    upstream_host = obj.get("upstream_host")
    if pass_host == "rewrite" and not upstream_host:
        raise ConfigError(f"{where}: pass_host 'rewrite' needs 'upstream_host'")
    nodes: list[Node] = []
    for address, weight in _mapping(obj.get("nodes"), f"{where} nodes").items():
        host, sep, port = str(address).rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ConfigError(f"{where}: node {address!r} is not host:port")
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise ConfigError(f"{where}: node {address!r} weight {weight!r} is not valid")
        nodes.append(Node(host.strip("[]"), int(port), weight))
    if not any(node.weight > 0 for node in nodes):
        raise ConfigError(f"{where}: no node with a positive weight")
    timeout = _mapping(obj.get("timeout", {}), f"{where} timeout")
    _reject_unknown(timeout, frozenset({"connect", "send", "read"}), f"{where} timeout")
    pool = _mapping(obj.get("keepalive_pool", {}), f"{where} keepalive_pool")
    # aiohttp's pool has no cap on idle connections and no per-connection request budget, so
    # keepalive_pool.size and .requests are refused rather than accepted and ignored.
    _reject_unknown(pool, frozenset({"idle_timeout"}), f"{where} keepalive_pool")
    return Upstream(
        id=str(obj["id"]),
        scheme=scheme,
        pass_host=pass_host,
        upstream_host=str(upstream_host) if upstream_host else None,
        nodes=tuple(nodes),
        # APISIX's defaults are nginx's proxy_*_timeout: 60 s each.
        connect_timeout=_number(timeout, "connect", 60, where),
        send_timeout=_number(timeout, "send", 60, where),
        read_timeout=_number(timeout, "read", 60, where),
        keepalive_idle_timeout=_number(pool, "idle_timeout", 60, where),
    )


def _plugins(raw: Any, where: str) -> dict[str, Any]:
    return {
        str(name): conf
        for name, conf in _mapping(raw if raw is not None else {}, f"{where} plugins").items()
    }


def _route(raw: Any, index: int, upstreams: Mapping[str, Upstream]) -> RouteConf:
    obj = _mapping(raw, f"route #{index}")
    route_id = str(obj.get("id", index))
    where = f"route {route_id!r}"
    _reject_unknown(obj, _ROUTE_KEYS, where)
    if "upstream" in obj:
        raise ConfigError(f"{where}: inline 'upstream' is not implemented; use upstream_id")
    if obj.get("status", 1) != 1:
        raise ConfigError(f"{where}: field 'status' value {obj['status']!r} is not implemented")
    if ("uri" in obj) == ("uris" in obj):
        raise ConfigError(f"{where}: exactly one of 'uri' and 'uris' is required")
    uris = (obj["uri"],) if "uri" in obj else tuple(obj["uris"])
    for uri in uris:
        if not isinstance(uri, str) or not uri.startswith("/"):
            raise ConfigError(f"{where}: uri {uri!r} must be a string starting with '/'")
    methods = None
    if "methods" in obj:
        methods = frozenset(str(m) for m in obj["methods"])
        unknown = methods - _METHODS
        if unknown:
            raise ConfigError(f"{where}: field 'methods' value {sorted(unknown)!r} is not valid")
    priority = obj.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise ConfigError(f"{where}: field 'priority' value {priority!r} is not an integer")
    upstream_id = obj.get("upstream_id")
    if upstream_id is not None and str(upstream_id) not in upstreams:
        raise ConfigError(f"{where}: upstream_id {upstream_id!r} is not defined")
    version = hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return RouteConf(
        id=route_id,
        uris=uris,
        methods=methods,
        priority=priority,
        upstream_id=str(upstream_id) if upstream_id is not None else None,
        plugins=_plugins(obj.get("plugins"), where),
        version=version,
    )


def parse(text: str, environ: Mapping[str, str]) -> GatewayConfig:
    """The gateway configuration in the raw text of an ``apisix.yaml``, plugin confs unbuilt."""
    if not text.rstrip().endswith("#END"):
        # Standalone APISIX ignores a file without the end marker (it may be half written).
        raise ConfigError("apisix.yaml must end with the '#END' marker line")
    try:
        doc = yaml.safe_load(expand(text, environ).text)
    except yaml.YAMLError as exc:
        # str(exc) quotes the offending line, which may hold a substituted secret.
        raise ConfigError(f"apisix.yaml is not valid YAML: {_yaml_problem(exc)}") from None
    top = _mapping(doc, "apisix.yaml")
    _reject_unknown(top, _TOP_KEYS, "apisix.yaml")

    upstreams: dict[str, Upstream] = {}
    for i, raw in enumerate(_sequence(top.get("upstreams"), "upstreams")):
        upstream = _upstream(raw, f"upstream #{i}")
        if upstream.id in upstreams:
            raise ConfigError(f"upstream {upstream.id!r} is defined twice")
        upstreams[upstream.id] = upstream

    consumers: list[ConsumerConf] = []
    for i, raw in enumerate(_sequence(top.get("consumers"), "consumers")):
        obj = _mapping(raw, f"consumer #{i}")
        username = obj.get("username")
        where = f"consumer {username!r}"
        _reject_unknown(obj, _CONSUMER_KEYS, where)
        if not isinstance(username, str) or not username:
            raise ConfigError(f"consumer #{i}: field 'username' is required")
        consumers.append(ConsumerConf(username, _plugins(obj.get("plugins"), where)))

    routes = tuple(
        _route(raw, i, upstreams) for i, raw in enumerate(_sequence(top.get("routes"), "routes"))
    )
    seen: set[str] = set()
    for route in routes:
        if route.id in seen:
            raise ConfigError(f"route {route.id!r} is defined twice")
        seen.add(route.id)
        if route.upstream_id is None and not _answers_itself(route):
            raise ConfigError(f"route {route.id!r}: needs an upstream_id")
    return GatewayConfig(routes=routes, upstreams=upstreams, consumers=tuple(consumers))


def _answers_itself(route: RouteConf) -> bool:
    # A route without upstream is legal when a runner plugin always answers (the context route).
    return any(name in route.plugins for name in ("ext-plugin-post-req", "ext-plugin-pre-req"))


def _sequence(value: Any, where: str) -> Sequence[Any]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {_kind(value)}")
    return value


def load(path: Path, environ: Mapping[str, str]) -> GatewayConfig:
    """Read and parse an ``apisix.yaml`` file."""
    return parse(path.read_text(encoding="utf-8"), environ)
