"""The plugin contract: what a runner plugin sees and what it may answer.

Strategy: plugins never touch the wire format. The runner decodes APISIX's
HTTPReqCall lazily into an object satisfying :class:`Request`, calls the
plugins of the route's conf in order, and encodes the first :class:`Stop`
(or the merged :class:`Rewrite`) back. A plugin parses its conf once, at
PrepareConf time; the parsed object is handed back on every request.

A plugin:

* has a unique ``name`` (the ``conf[].name`` of the APISIX route),
* implements ``parse_conf(raw) -> C`` (raise :class:`ConfError` on bad input),
* overrides ``request_filter`` (ext-plugin-pre-req / post-req) and/or
  ``response_filter`` (ext-plugin-post-resp); both are coroutines and must
  never block the event loop,
* may override ``startup``/``shutdown`` to own resources bound to the running
  loop (an HTTP client pool, for example).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from prometheus_client.core import Metric

C = TypeVar("C")

#: A header or query argument. ``value is None`` means "valueless" on the way
#: in (``?flag``) and "delete" on the way out (Rewrite headers/args).
Entry = tuple[str, str | None]


def first_value(entries: Sequence[Entry], name: str, fold: bool) -> str | None:
    """The value of the first entry called ``name``; ``fold`` compares case-insensitively."""
    wanted = name.lower() if fold else name
    for key, value in entries:
        if (key.lower() if fold else key) == wanted:
            return value
    return None


class ConfError(ValueError):
    """A plugin conf that cannot be accepted; the message is shown to operators."""


def json_object_conf(raw: str, plugin: str) -> dict[str, Any]:
    """The route's conf string parsed as a JSON object, or ConfError naming the plugin."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfError(f"{plugin} conf is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfError(f"{plugin} conf must be a JSON object")
    return data


class Request(Protocol):
    """A request as APISIX describes it in HTTPReqCall (read-only, decoded on demand)."""

    @property
    def id(self) -> int: ...
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def src_ip(self) -> str: ...
    @property
    def args(self) -> Sequence[Entry]: ...
    @property
    def headers(self) -> Sequence[Entry]: ...

    def header(self, name: str) -> str | None:
        """First value of a header, case-insensitively; None when absent."""
        ...

    def arg(self, name: str) -> str | None:
        """First value of a query argument; None when absent or valueless."""
        ...

    async def var(self, name: str) -> str | None:
        """An nginx/APISIX variable, fetched through ExtraInfo once and cached."""
        ...

    async def body(self) -> bytes:
        """The request body, fetched through ExtraInfo once and cached."""
        ...


class Response(Protocol):
    """An upstream response as APISIX describes it in HTTPRespCall."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> Sequence[Entry]: ...

    def header(self, name: str) -> str | None: ...

    async def var(self, name: str) -> str | None: ...

    async def body(self) -> bytes:
        """The upstream response body (ExtraInfo RespBody), fetched once and cached."""
        ...


@dataclass(frozen=True, slots=True)
class Stop:
    """Answer the client directly; the upstream is never called."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Rewrite:
    """Change the request before it goes upstream; only what is set is sent."""

    path: str | None = None
    headers: tuple[Entry, ...] = ()
    args: tuple[Entry, ...] = ()
    resp_headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class ResponseChange:
    """Change the upstream response (ext-plugin-post-resp).

    ``status`` None keeps the upstream status; ``body`` None keeps the body.
    """

    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None


RequestAction = Stop | Rewrite


class Plugin(Generic[C]):
    """Base class for runner plugins; override what you need."""

    name: ClassVar[str]

    def parse_conf(self, raw: str) -> C:
        """Parse and validate the route's conf value once (raise ConfError)."""
        raise NotImplementedError

    async def request_filter(self, conf: C, request: Request) -> RequestAction | None:
        """Inspect a request; return Stop, Rewrite, or None for "no change"."""
        return None

    async def response_filter(self, conf: C, response: Response) -> ResponseChange | None:
        """Inspect an upstream response; return a change or None."""
        return None

    async def startup(self) -> None:
        """Acquire loop-bound resources; called once on the running loop."""

    async def shutdown(self) -> None:
        """Release what startup acquired; called once at runner shutdown."""

    def metrics(self) -> Iterable[Metric]:
        """Prometheus metric families describing the plugin, built when the runner is scraped.

        Called from the event loop only while metrics are on (``RUNNER_METRICS``); keep the
        counting on the request path to plain integers and build the families here.
        """
        return ()


@dataclass(slots=True)
class StaticRequest:
    """A plain, fully materialised :class:`Request` (tests, tools, replays)."""

    path: str = "/"
    method: str = "GET"
    args: Sequence[Entry] = ()
    headers: Sequence[Entry] = ()
    src_ip: str = "127.0.0.1"
    id: int = 0
    vars: dict[str, str] = field(default_factory=dict)
    request_body: bytes = b""

    def header(self, name: str) -> str | None:
        return first_value(self.headers, name, fold=True)

    def arg(self, name: str) -> str | None:
        return first_value(self.args, name, fold=False)

    async def var(self, name: str) -> str | None:
        return self.vars.get(name)

    async def body(self) -> bytes:
        return self.request_body
