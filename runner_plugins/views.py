"""Lazy views of the requests APISIX sends, for plugins: ``HTTPReqCall`` and ``HTTPRespCall``.

Strategy: a view decodes ``id`` and ``conf_token`` up front and everything else on first access,
so a plugin that reads only the path never pays for the headers. What the call itself does not
carry (variables, bodies) is asked for through an injected :data:`ExtraInfoExchange` that the
server binds to the request's connection; tests pass a fake. This is the only runner module
that awaits anything while decoding.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeAlias

from runner_plugins.codec import decode_extra_info_result, encode_extra_info_query
from runner_plugins.errors import DecodeError
from runner_plugins.flatbuffer import Table, guard, text
from runner_plugins.plugin import Entry, first_value
from runner_plugins.protocol import METHODS

__all__ = ["ExtraInfoExchange", "HttpRequestView", "HttpResponseView"]

#: Sends one ExtraInfo.Req payload on the request's connection and returns the
#: ExtraInfo.Resp payload APISIX answered with.
ExtraInfoExchange: TypeAlias = Callable[[bytes], Awaitable[bytes]]


class _ExtraInfoSource:
    """Shared ExtraInfo plumbing of the request and response views."""

    __slots__ = ("_exchange", "_vars", "_body")

    def __init__(self, exchange: ExtraInfoExchange) -> None:
        self._exchange = exchange
        self._vars: dict[str, str | None] | None = None
        self._body: bytes | None = None

    async def var(self, name: str) -> str | None:
        """An nginx/APISIX variable (one ExtraInfo round trip, then cached)."""
        cache = self._vars
        if cache is None:
            cache = self._vars = {}
        elif name in cache:
            return cache[name]
        raw = decode_extra_info_result(await self._exchange(encode_extra_info_query("var", name)))
        value = None if raw is None else text(raw)
        cache[name] = value
        return value

    async def _fetch_body(self, kind: Literal["req_body", "resp_body"]) -> bytes:
        if self._body is None:
            result = await self._exchange(encode_extra_info_query(kind))
            self._body = decode_extra_info_result(result) or b""
        return self._body


class HttpRequestView(_ExtraInfoSource):
    """``A6.HTTPReqCall.Req`` decoded on demand; satisfies :class:`plugin.Request`."""

    __slots__ = ("_table", "id", "conf_token", "_path", "_args", "_headers", "_folded")

    def __init__(self, payload: bytes, exchange: ExtraInfoExchange) -> None:
        # Hot path: no helper closures here, only the two fields every request needs.
        self._exchange = exchange
        self._vars = None
        self._body = None
        try:
            table = self._table = Table.root(payload)
            self.id: int = table.u32(0)
            self.conf_token: int = table.u32(6)
        except (struct.error, IndexError) as exc:
            raise DecodeError(f"malformed HTTPReqCall.Req: {exc}") from exc
        self._path: str | None = None
        self._args: list[Entry] | None = None
        self._headers: list[Entry] | None = None
        self._folded: dict[str, str | None] | None = None

    @property
    def method(self) -> str:
        code = guard("HTTPReqCall.Req method", lambda: self._table.u8(2))
        if code >= len(METHODS):
            raise DecodeError(f"unknown method code {code}")
        return METHODS[code]

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = guard("HTTPReqCall.Req path", lambda: self._table.string(3)) or ""
        return self._path

    @property
    def src_ip(self) -> str:
        raw = guard("HTTPReqCall.Req src_ip", lambda: self._table.blob(1))
        if not raw:
            return ""
        if len(raw) == 4:
            return socket.inet_ntop(socket.AF_INET, raw)
        if len(raw) == 16:
            return socket.inet_ntop(socket.AF_INET6, raw)
        raise DecodeError(f"src_ip of {len(raw)} bytes is neither IPv4 nor IPv6")

    @property
    def args(self) -> Sequence[Entry]:
        if self._args is None:
            self._args = guard("HTTPReqCall.Req args", lambda: self._table.entries(4))
        return self._args

    @property
    def headers(self) -> Sequence[Entry]:
        if self._headers is None:
            self._headers = guard("HTTPReqCall.Req headers", lambda: self._table.entries(5))
        return self._headers

    def header(self, name: str) -> str | None:
        # Folded once on the first lookup: a request's plugins look up half a dozen headers
        # (request id, trace context, authorization...), each a scan of every entry otherwise.
        folded = self._folded
        if folded is None:
            folded = self._folded = {}
            for key, value in self.headers:
                folded.setdefault(key.lower(), value)  # the first entry of a name wins
        return folded.get(name.lower())

    def arg(self, name: str) -> str | None:
        return first_value(self.args, name, fold=False)

    async def body(self) -> bytes:
        """The request body (ExtraInfo ReqBody, then cached)."""
        return await self._fetch_body("req_body")


class HttpResponseView(_ExtraInfoSource):
    """``A6.HTTPRespCall.Req`` decoded on demand; satisfies :class:`plugin.Response`."""

    __slots__ = ("id", "conf_token", "status", "_table", "_headers")

    def __init__(self, payload: bytes, exchange: ExtraInfoExchange) -> None:
        super().__init__(exchange)

        def run() -> tuple[Table, int, int, int]:
            table = Table.root(payload)
            return table, table.u32(0), table.u16(1), table.u32(3)

        self._table, self.id, self.status, self.conf_token = guard("HTTPRespCall.Req", run)
        self._headers: list[Entry] | None = None

    @property
    def headers(self) -> Sequence[Entry]:
        if self._headers is None:
            self._headers = guard("HTTPRespCall.Req headers", lambda: self._table.entries(2))
        return self._headers

    def header(self, name: str) -> str | None:
        return first_value(self.headers, name, fold=True)

    async def body(self) -> bytes:
        """The upstream response body (ExtraInfo RespBody, then cached)."""
        return await self._fetch_body("resp_body")
