"""FlatBuffers payloads of ext-plugin schema v0.6.1 <-> typed Python values.

Strategy: this is the only module that knows the wire layout of the tables
(reference ext-plugin-protocol.md §3; slot numbers are the schema's field
order). Decoding reads the few fields a caller asks for with ``struct`` straight
from the received bytes: :class:`HttpRequestView` decodes ``id`` and
``conf_token`` up front and everything else on first access, so a plugin that
reads only the path never pays for the headers. Encoding writes tables front to
back (every child after its parent, which keeps FlatBuffers' unsigned offsets
forward) with a small builder of our own instead of ``flatbuffers.Builder``,
whose per-field calls cost more than the whole rest of a request. The common
replies are templates: a Stop or an empty reply is encoded once, and per
request only its 4-byte ``id`` is spliced in. The reference bindings generated
by ``flatc`` from the schema are the oracle for all of this in the tests.

Strings cross the wire as UTF-8; bytes that are not UTF-8 are carried through
``surrogateescape`` so that they survive a decode/encode round trip unchanged.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, TypeVar

from runner_plugins.errors import DecodeError
from runner_plugins.plugin import Entry, ResponseChange, Rewrite, Stop, first_value
from runner_plugins.protocol import ErrorCode, RpcType, encode_frame

__all__ = [
    "METHODS",
    "ExtraInfoExchange",
    "ExtraInfoQuery",
    "HttpRequestView",
    "HttpResponseView",
    "PrepareConfRequest",
    "decode_error",
    "decode_extra_info_query",
    "decode_extra_info_result",
    "decode_prepare_conf",
    "decode_prepare_conf_reply",
    "decode_req_call_reply",
    "decode_resp_call_reply",
    "encode_error_frame",
    "encode_extra_info_query",
    "encode_extra_info_result",
    "encode_http_req_call",
    "encode_http_resp_call",
    "encode_prepare_conf",
    "encode_prepare_conf_reply",
    "encode_req_call_reply",
    "encode_resp_call_reply",
]

#: ``A6.Method`` in enum order: the wire value is the index.
METHODS: tuple[str, ...] = (
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "MKCOL",
    "COPY",
    "MOVE",
    "OPTIONS",
    "PROPFIND",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
    "PATCH",
    "TRACE",
)
_METHOD_CODES = {name: code for code, name in enumerate(METHODS)}

_R = TypeVar("_R")

_U8 = struct.Struct("<B").unpack_from
_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_PACK_U32 = struct.Struct("<I").pack_into
_PACK_U16 = struct.Struct("<H").pack_into
_PACK_U8 = struct.Struct("<B").pack_into
_PACK_I32 = struct.Struct("<i").pack_into

# Union tags (NONE is 0).
_ACTION_STOP = 1
_ACTION_REWRITE = 2
_INFO_VAR = 1
_INFO_REQ_BODY = 2
_INFO_RESP_BODY = 3

#: Sends one ExtraInfo.Req payload on the request's connection and returns the
#: ExtraInfo.Resp payload APISIX answered with.
ExtraInfoExchange: TypeAlias = Callable[[bytes], Awaitable[bytes]]


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- reading


class _Table:
    """Field access for one table; positions are absolute offsets into ``buf``."""

    __slots__ = ("buf", "pos", "vtable", "vt_size")

    def __init__(self, buf: bytes, pos: int) -> None:
        vtable = pos - _I32(buf, pos)[0]
        if vtable < 0 or pos < 0:
            raise DecodeError(f"table at {pos} has its vtable outside the payload")
        self.buf = buf
        self.pos = pos
        self.vtable = vtable
        self.vt_size = _U16(buf, vtable)[0]

    @classmethod
    def root(cls, buf: bytes) -> _Table:
        return cls(buf, _U32(buf, 0)[0])

    def field(self, slot: int) -> int:
        """Absolute position of a field, or 0 when the field is absent."""
        entry = 4 + 2 * slot
        if entry >= self.vt_size:
            return 0
        offset: int = _U16(self.buf, self.vtable + entry)[0]
        return self.pos + offset if offset else 0

    def u32(self, slot: int) -> int:
        at = self.field(slot)
        return int(_U32(self.buf, at)[0]) if at else 0

    def u16(self, slot: int) -> int:
        at = self.field(slot)
        return int(_U16(self.buf, at)[0]) if at else 0

    def u8(self, slot: int) -> int:
        at = self.field(slot)
        return int(_U8(self.buf, at)[0]) if at else 0

    def _target(self, slot: int) -> int:
        at = self.field(slot)
        return at + _U32(self.buf, at)[0] if at else 0

    def blob(self, slot: int) -> bytes | None:
        """A string or ``[ubyte]`` field as raw bytes; None when absent."""
        at = self._target(slot)
        if not at:
            return None
        length = _U32(self.buf, at)[0]
        end = at + 4 + length
        if end > len(self.buf):
            raise DecodeError(f"vector at {at} runs past the end of the payload")
        return self.buf[at + 4 : end]

    def string(self, slot: int) -> str | None:
        raw = self.blob(slot)
        return None if raw is None else _text(raw)

    def table(self, slot: int) -> _Table | None:
        at = self._target(slot)
        return _Table(self.buf, at) if at else None

    def entries(self, slot: int) -> list[Entry]:
        """A ``[TextEntry]`` field; a missing ``value`` stays None (valueless arg / delete)."""
        at = self._target(slot)
        if not at:
            return []
        buf = self.buf
        count = _U32(buf, at)[0]
        if at + 4 + 4 * count > len(buf):
            raise DecodeError(f"vector at {at} runs past the end of the payload")
        size = len(buf)
        out: list[Entry] = []
        # Unrolled TextEntry reads: headers are the bulk of a request, and a _Table object per
        # entry costs more than the reads themselves.
        for item in range(at + 4, at + 4 + 4 * count, 4):
            table = item + _U32(buf, item)[0]
            vtable = table - _I32(buf, table)[0]
            if vtable < 0:
                raise DecodeError(f"table at {table} has its vtable outside the payload")
            vt_size = _U16(buf, vtable)[0]
            name_at = _U16(buf, vtable + 4)[0] if vt_size > 4 else 0
            value_at = _U16(buf, vtable + 6)[0] if vt_size > 6 else 0
            out.append(
                (
                    _string_at(buf, table + name_at, size) if name_at else "",
                    _string_at(buf, table + value_at, size) if value_at else None,
                )
            )
        return out


def _string_at(buf: bytes, field: int, size: int) -> str:
    """The string a table's offset field at ``field`` points to."""
    start = field + _U32(buf, field)[0]
    end = start + 4 + _U32(buf, start)[0]
    if end > size:
        raise DecodeError(f"string at {start} runs past the end of the payload")
    return buf[start + 4 : end].decode("utf-8", "surrogateescape")


def _guard(what: str, decode: Callable[[], _R]) -> _R:
    try:
        return decode()
    except DecodeError:
        raise
    except (struct.error, IndexError, ValueError) as exc:
        raise DecodeError(f"malformed {what}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class PrepareConfRequest:
    """``A6.PrepareConf.Req``: the route's plugin confs in order, and the idempotency key."""

    conf: tuple[tuple[str, str], ...]
    key: str


def decode_prepare_conf(payload: bytes) -> PrepareConfRequest:
    def run() -> PrepareConfRequest:
        table = _Table.root(payload)
        conf = tuple((name, value or "") for name, value in table.entries(0))
        return PrepareConfRequest(conf=conf, key=table.string(1) or "")

    return _guard("PrepareConf.Req", run)


def decode_prepare_conf_reply(payload: bytes) -> int:
    return _guard("PrepareConf.Resp", lambda: _Table.root(payload).u32(0))


def decode_error(payload: bytes) -> int:
    """The ``A6.Err.Code`` of an error frame (BAD_REQUEST when the field is omitted)."""
    return _guard("Err.Resp", lambda: _Table.root(payload).u8(0))


_UNSET: object = object()


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
        value = None if raw is None else _text(raw)
        cache[name] = value
        return value

    async def _fetch_body(self, kind: Literal["req_body", "resp_body"]) -> bytes:
        if self._body is None:
            result = await self._exchange(encode_extra_info_query(kind))
            self._body = decode_extra_info_result(result) or b""
        return self._body


class HttpRequestView(_ExtraInfoSource):
    """``A6.HTTPReqCall.Req`` decoded on demand; satisfies :class:`plugin.Request`."""

    __slots__ = ("_table", "id", "conf_token", "_path", "_args", "_headers")

    def __init__(self, payload: bytes, exchange: ExtraInfoExchange) -> None:
        # Hot path: no helper closures here, only the two fields every request needs.
        self._exchange = exchange
        self._vars = None
        self._body = None
        try:
            table = self._table = _Table.root(payload)
            self.id: int = table.u32(0)
            self.conf_token: int = table.u32(6)
        except (struct.error, IndexError) as exc:
            raise DecodeError(f"malformed HTTPReqCall.Req: {exc}") from exc
        self._path: str | None = None
        self._args: list[Entry] | None = None
        self._headers: list[Entry] | None = None

    @property
    def method(self) -> str:
        code = _guard("HTTPReqCall.Req method", lambda: self._table.u8(2))
        if code >= len(METHODS):
            raise DecodeError(f"unknown method code {code}")
        return METHODS[code]

    @property
    def path(self) -> str:
        if self._path is None:
            self._path = _guard("HTTPReqCall.Req path", lambda: self._table.string(3)) or ""
        return self._path

    @property
    def src_ip(self) -> str:
        raw = _guard("HTTPReqCall.Req src_ip", lambda: self._table.blob(1))
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
            self._args = _guard("HTTPReqCall.Req args", lambda: self._table.entries(4))
        return self._args

    @property
    def headers(self) -> Sequence[Entry]:
        if self._headers is None:
            self._headers = _guard("HTTPReqCall.Req headers", lambda: self._table.entries(5))
        return self._headers

    def header(self, name: str) -> str | None:
        return first_value(self.headers, name, fold=True)

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

        def run() -> tuple[_Table, int, int, int]:
            table = _Table.root(payload)
            return table, table.u32(0), table.u16(1), table.u32(3)

        self._table, self.id, self.status, self.conf_token = _guard("HTTPRespCall.Req", run)
        self._headers: list[Entry] | None = None

    @property
    def headers(self) -> Sequence[Entry]:
        if self._headers is None:
            self._headers = _guard("HTTPRespCall.Req headers", lambda: self._table.entries(2))
        return self._headers

    def header(self, name: str) -> str | None:
        return first_value(self.headers, name, fold=True)

    async def body(self) -> bytes:
        """The upstream response body (ExtraInfo RespBody, then cached)."""
        return await self._fetch_body("resp_body")


@dataclass(frozen=True, slots=True)
class ExtraInfoQuery:
    """What the runner asks APISIX for: a variable, the request body or the response body."""

    kind: Literal["var", "req_body", "resp_body"]
    name: str = ""


def decode_extra_info_query(payload: bytes) -> ExtraInfoQuery:
    def run() -> ExtraInfoQuery:
        table = _Table.root(payload)
        tag = table.u8(0)
        if tag == _INFO_VAR:
            info = table.table(1)
            return ExtraInfoQuery("var", (info.string(0) if info else None) or "")
        if tag == _INFO_REQ_BODY:
            return ExtraInfoQuery("req_body")
        if tag == _INFO_RESP_BODY:
            return ExtraInfoQuery("resp_body")
        raise DecodeError(f"unsupported ExtraInfo type {tag}")

    return _guard("ExtraInfo.Req", run)


def decode_extra_info_result(payload: bytes) -> bytes | None:
    """``ExtraInfo.Resp.result``; None when APISIX omitted it (unset variable, no body)."""
    return _guard("ExtraInfo.Resp", lambda: _Table.root(payload).blob(0))


def decode_req_call_reply(payload: bytes) -> Stop | Rewrite | None:
    """``HTTPReqCall.Resp`` as the action APISIX would apply (None: no action)."""

    def run() -> Stop | Rewrite | None:
        table = _Table.root(payload)
        tag = table.u8(1)
        action = table.table(2) if tag else None
        if tag == _ACTION_STOP and action is not None:
            headers = tuple((name, value or "") for name, value in action.entries(1))
            return Stop(status=action.u16(0), headers=headers, body=action.blob(2) or b"")
        if tag == _ACTION_REWRITE and action is not None:
            return Rewrite(
                path=action.string(0),
                headers=tuple(action.entries(1)),
                args=tuple(action.entries(2)),
                resp_headers=tuple((n, v or "") for n, v in action.entries(3)),
                body=action.blob(4),
            )
        if tag == 0:
            return None
        raise DecodeError(f"unknown HTTPReqCall action {tag}")

    return _guard("HTTPReqCall.Resp", run)


def decode_resp_call_reply(payload: bytes) -> ResponseChange | None:
    """``HTTPRespCall.Resp``; None when it changes nothing (status 0, no headers, no body)."""

    def run() -> ResponseChange | None:
        table = _Table.root(payload)
        status = table.u16(1)
        headers = tuple((name, value or "") for name, value in table.entries(2))
        body = table.blob(3)
        if not status and not headers and not body:
            return None
        return ResponseChange(status=status or None, headers=headers, body=body or None)

    return _guard("HTTPRespCall.Resp", run)


# --------------------------------------------------------------------------- writing

# A field value for the builder: (kind, value) with kind one of
#   "u8" / "u16" / "u32": scalar   "str": string   "bytes": [ubyte]
#   "entries": [TextEntry]         "table": nested table (list of fields)
_Field: TypeAlias = "tuple[str, object] | None"
_INLINE_SIZE = {"u8": 1, "u16": 2, "u32": 4, "str": 4, "bytes": 4, "entries": 4, "table": 4}


class _Builder:
    """Writes one FlatBuffers message front to back: root offset, then tables, then children."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray(4)

    def finish(self, fields: Sequence[_Field]) -> bytes:
        root = self.table(fields)
        _PACK_U32(self.buf, 0, root)
        return bytes(self.buf)

    def _align(self, size: int) -> None:
        pad = -len(self.buf) % size
        if pad:
            self.buf += bytes(pad)

    def table(self, fields: Sequence[_Field]) -> int:
        buf = self.buf
        count = len(fields)
        offsets = [0] * count
        inline = 4  # the soffset to the vtable comes first
        # Widest fields first keeps every scalar naturally aligned without padding.
        for width in (4, 2, 1):
            for slot, spec in enumerate(fields):
                if spec is not None and _INLINE_SIZE[spec[0]] == width:
                    offsets[slot] = inline
                    inline += width
        self._align(2)
        vtable = len(buf)
        buf += struct.pack(f"<HH{count}H", 4 + 2 * count, inline, *offsets)
        self._align(4)
        start = len(buf)
        buf += bytes(inline)
        self._align(4)
        _PACK_I32(buf, start, start - vtable)
        children: list[tuple[int, str, object]] = []
        for slot, spec in enumerate(fields):
            if spec is None:
                continue
            kind, value = spec
            at = start + offsets[slot]
            if kind == "u32":
                _PACK_U32(buf, at, value)
            elif kind == "u16":
                _PACK_U16(buf, at, value)
            elif kind == "u8":
                _PACK_U8(buf, at, value)
            else:
                children.append((at, kind, value))
        for at, kind, value in children:
            _PACK_U32(buf, at, self._child(kind, value) - at)
        return start

    def _child(self, kind: str, value: object) -> int:
        if kind == "table":
            assert isinstance(value, list)
            return self.table(value)
        if kind == "entries":
            assert isinstance(value, (list, tuple))
            return self._entries(value)
        assert isinstance(value, bytes)
        self._align(4)
        at = len(self.buf)
        self.buf += len(value).to_bytes(4, "little")
        self.buf += value
        if kind == "str":
            self.buf.append(0)
        return at

    def _entries(self, entries: Sequence[Entry]) -> int:
        # TextEntry tables written inline (same layout as table() would produce): per entry an
        # 8-byte vtable, the table (soffset, name offset[, value offset]), then the strings.
        buf = self.buf
        self._align(4)
        at = len(buf)
        buf += len(entries).to_bytes(4, "little") + bytes(4 * len(entries))
        for i, (name, value) in enumerate(entries):
            slot = at + 4 + 4 * i
            raw_name = _raw(name)
            table = len(buf) + 8
            name_at = table + (8 if value is None else 12)
            _PACK_U32(buf, slot, table - slot)
            if value is None:
                buf += _TEXT_ENTRY_NAME_ONLY
                buf += _ENTRY_OFFSETS_1(8, name_at - table - 4)
            else:
                raw_value = _raw(value)
                name_end = name_at + 5 + len(raw_name)
                value_at = name_end + (-name_end % 4)
                buf += _TEXT_ENTRY_BOTH
                buf += _ENTRY_OFFSETS_2(8, name_at - table - 4, value_at - table - 8)
            buf += len(raw_name).to_bytes(4, "little")
            buf += raw_name
            buf.append(0)
            if value is not None:
                self._align(4)
                buf += len(raw_value).to_bytes(4, "little")
                buf += raw_value
                buf.append(0)
            self._align(4)
        return at


# TextEntry vtables: [vtable size, table size, name offset, value offset].
_TEXT_ENTRY_BOTH = struct.pack("<HHHH", 8, 12, 4, 8)
_TEXT_ENTRY_NAME_ONLY = struct.pack("<HHHH", 8, 8, 4, 0)
_ENTRY_OFFSETS_1 = struct.Struct("<iI").pack
_ENTRY_OFFSETS_2 = struct.Struct("<iII").pack


def _encode(fields: Sequence[_Field]) -> bytes:
    return _Builder().finish(fields)


class _IdTemplate:
    """A reply frame whose only per-request part is the leading uint32 ``id`` field."""

    __slots__ = ("head", "tail")

    def __init__(self, rpc_type: int, fields: Sequence[_Field]) -> None:
        # Encode with a marker id and split around it; the id is the first u32 of the
        # root table, so its place is fixed by the layout, found via the vtable.
        payload = _encode([("u32", 0), *fields[1:]])
        frame = encode_frame(rpc_type, payload)
        at = 4 + _Table.root(payload).field(0)
        self.head = frame[:at]
        self.tail = frame[at + 4 :]

    def render(self, req_id: int) -> bytes:
        return self.head + req_id.to_bytes(4, "little") + self.tail


def _stop_fields(stop: Stop) -> list[_Field]:
    return [
        ("u16", stop.status),
        ("entries", stop.headers) if stop.headers else None,
        ("bytes", stop.body) if stop.body else None,
    ]


def _rewrite_fields(rewrite: Rewrite) -> list[_Field]:
    return [
        None if rewrite.path is None else ("str", _raw(rewrite.path)),
        ("entries", rewrite.headers) if rewrite.headers else None,
        ("entries", rewrite.args) if rewrite.args else None,
        ("entries", rewrite.resp_headers) if rewrite.resp_headers else None,
        None if rewrite.body is None else ("bytes", rewrite.body),
    ]


_EMPTY_REPLY = _IdTemplate(RpcType.HTTP_REQ_CALL, [("u32", 0)])
_STOP_TEMPLATES: dict[int, tuple[Stop, _IdTemplate]] = {}
_STOP_TEMPLATES_MAX = 256
_STOP_TEMPLATE_MAX_BODY = 4096  # so the cache holds at most ~1 MiB of bodies


def _stop_template(stop: Stop) -> _IdTemplate:
    # Keyed by identity: plugins usually return the same prebuilt Stop, and holding
    # the object keeps its id() from being reused while the entry exists.
    cached = _STOP_TEMPLATES.get(id(stop))
    if cached is not None and cached[0] is stop:
        return cached[1]
    template = _IdTemplate(
        RpcType.HTTP_REQ_CALL,
        [("u32", 0), ("u8", _ACTION_STOP), ("table", _stop_fields(stop))],
    )
    if len(_STOP_TEMPLATES) >= _STOP_TEMPLATES_MAX:
        _STOP_TEMPLATES.clear()
    _STOP_TEMPLATES[id(stop)] = (stop, template)
    return template


def encode_req_call_reply(req_id: int, action: Stop | Rewrite | None) -> bytes:
    """The whole ``HTTPReqCall.Resp`` frame (type 2) for a plugin chain's outcome.

    :raise FrameTooLarge: the reply does not fit in one frame.
    """
    if action is None:
        return _EMPTY_REPLY.render(req_id)
    if isinstance(action, Stop):
        if len(action.body) > _STOP_TEMPLATE_MAX_BODY:
            # Large bodies are usually built per request: a template would only add a copy
            # and keep the body alive in the cache.
            payload = _encode(
                [("u32", req_id), ("u8", _ACTION_STOP), ("table", _stop_fields(action))]
            )
            return encode_frame(RpcType.HTTP_REQ_CALL, payload)
        return _stop_template(action).render(req_id)
    payload = _encode(
        [("u32", req_id), ("u8", _ACTION_REWRITE), ("table", _rewrite_fields(action))]
    )
    return encode_frame(RpcType.HTTP_REQ_CALL, payload)


def encode_resp_call_reply(req_id: int, change: ResponseChange | None) -> bytes:
    """The ``HTTPRespCall.Resp`` frame (type 4); None keeps the upstream response."""
    change = change or ResponseChange()
    payload = _encode(
        [
            ("u32", req_id),
            ("u16", change.status or 0),
            ("entries", change.headers) if change.headers else None,
            None if change.body is None else ("bytes", change.body),
        ]
    )
    return encode_frame(RpcType.HTTP_RESP_CALL, payload)


_ERROR_FRAMES = {
    code: encode_frame(RpcType.ERROR, _encode([("u8", int(code))])) for code in ErrorCode
}


def encode_error_frame(code: ErrorCode) -> bytes:
    """An ``Err.Resp`` frame; always type 0, whatever the request type was."""
    return _ERROR_FRAMES[code]


def encode_prepare_conf_reply(token: int) -> bytes:
    return encode_frame(RpcType.PREPARE_CONF, _encode([("u32", token)]))


_INFO_REQ_BODY_PAYLOAD = _encode([("u8", _INFO_REQ_BODY), ("table", [])])
_INFO_RESP_BODY_PAYLOAD = _encode([("u8", _INFO_RESP_BODY), ("table", [])])


def encode_extra_info_query(kind: Literal["var", "req_body", "resp_body"], name: str = "") -> bytes:
    """An ``ExtraInfo.Req`` payload."""
    if kind == "req_body":
        return _INFO_REQ_BODY_PAYLOAD
    if kind == "resp_body":
        return _INFO_RESP_BODY_PAYLOAD
    return _encode([("u8", _INFO_VAR), ("table", [("str", _raw(name))])])


# ------------------------------------------------------ the APISIX side (client.py)


def encode_prepare_conf(conf: Sequence[tuple[str, str]], key: str) -> bytes:
    """A ``PrepareConf.Req`` payload; the conf vector is omitted when empty, as APISIX does."""
    return _encode([("entries", list(conf)) if conf else None, ("str", _raw(key))])


def encode_http_req_call(
    *,
    req_id: int,
    conf_token: int,
    method: str,
    path: str,
    args: Sequence[Entry] = (),
    headers: Sequence[Entry] = (),
    src_ip: str = "127.0.0.1",
) -> bytes:
    """An ``HTTPReqCall.Req`` payload; ``src_ip`` is a dotted IPv4 or an IPv6 address."""
    family = socket.AF_INET6 if ":" in src_ip else socket.AF_INET
    method_code = _METHOD_CODES.get(method.upper())
    if method_code is None:
        raise ValueError(f"method {method!r} is not in the A6.Method enum")
    return _encode(
        [
            ("u32", req_id),
            ("bytes", socket.inet_pton(family, src_ip)),
            ("u8", method_code),
            ("str", _raw(path)),
            ("entries", args) if args else None,
            ("entries", headers) if headers else None,
            ("u32", conf_token),
        ]
    )


def encode_http_resp_call(
    *, req_id: int, conf_token: int, status: int, headers: Sequence[Entry] = ()
) -> bytes:
    """An ``HTTPRespCall.Req`` payload."""
    return _encode(
        [
            ("u32", req_id),
            ("u16", status),
            ("entries", headers) if headers else None,
            ("u32", conf_token),
        ]
    )


def encode_extra_info_result(result: bytes | None) -> bytes:
    """An ``ExtraInfo.Resp`` payload; None omits ``result`` (APISIX's "nil")."""
    return _encode([None if result is None else ("bytes", result)])
