"""Route matching with the precedence of APISIX's ``radixtree_uri_with_parameter`` router.

Strategy: lua-resty-radixtree looks up an exact path first (a hash), then walks the radix tree
for the longest prefix; a path with a ``:param`` is stored under the prefix before its first
parameter and checked against a compiled pattern when reached, and ``/a/*`` is the prefix
``/a/``. Routes sharing the same key are tried by descending ``priority``, then the longer uri
pattern first (radixtree's ``sort_route``), then file order, and a route whose methods do not
match is skipped so the next candidate gets its chance. We compute the same
candidate order with a sort instead of a tree: the route table is tiny, and the order (not the
data structure) is what clients observe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.context import Route
from gateway.errors import ConfigError

_PARAM = re.compile(r":(\w+)")


@dataclass(frozen=True, slots=True)
class _Entry:
    route: Route
    exact: str | None
    prefix: str
    pattern: re.Pattern[str] | None
    order: int
    #: The uri as written (radixtree breaks a priority tie by its length).
    uri: str


@dataclass(frozen=True, slots=True)
class Match:
    route: Route
    params: dict[str, str]


def _entry(route: Route, uri: str, order: int) -> _Entry:
    star = uri.find("*")
    if star != -1 and star != len(uri) - 1:
        raise ConfigError(f"route {route.id!r}: uri {uri!r}: a '*' is only implemented at the end")
    colon = uri.find(":")
    if colon == -1:
        if star == -1:
            return _Entry(route, uri, uri, None, order, uri)
        return _Entry(route, None, uri[:-1], None, order, uri)
    pattern = ""
    for piece in re.split(r"(:\w+)", uri.rstrip("*")):
        if piece.startswith(":"):
            pattern += f"(?P<{piece[1:]}>[^/]+)"
        else:
            pattern += re.escape(piece)
    pattern += ".*" if uri.endswith("*") else ""
    return _Entry(route, None, uri[:colon], re.compile(pattern + r"\Z"), order, uri)


class Router:
    """Finds the route of a request: exact paths, then longest prefix, then priority."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._exact: dict[str, list[_Entry]] = {}
        self._prefixed: list[_Entry] = []
        order = 0
        for route in routes:
            for uri in route.uris:
                entry = _entry(route, uri, order)
                order += 1
                if entry.exact is not None:
                    self._exact.setdefault(entry.exact, []).append(entry)
                else:
                    self._prefixed.append(entry)
        for entries in self._exact.values():
            entries.sort(key=lambda e: (-e.route.priority, e.order))
        self._prefixed.sort(key=lambda e: (-len(e.prefix), -e.route.priority, -len(e.uri), e.order))

    def match(self, method: str, path: str) -> Match | None:
        for entry in self._exact.get(path, ()):
            if _method_ok(entry.route, method):
                return Match(entry.route, {})
        for entry in self._prefixed:
            if not path.startswith(entry.prefix):
                continue
            params: dict[str, str] = {}
            if entry.pattern is not None:
                found = entry.pattern.match(path)
                if found is None:
                    continue
                params = found.groupdict()
            if _method_ok(entry.route, method):
                return Match(entry.route, params)
        return None


def _method_ok(route: Route, method: str) -> bool:
    return route.methods is None or method in route.methods
