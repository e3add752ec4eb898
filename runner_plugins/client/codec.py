"""The APISIX side of the ext-plugin messages: what APISIX encodes and how it reads the replies.

Strategy: the mirror image of :mod:`runner_plugins.codec`, for the runner's clients (the
:class:`~runner_plugins.client.RunnerClient`, the local gateway, tests and benchmarks). APISIX
omits empty vectors and unset results; so does this module, so the runner sees the same bytes
it would see behind APISIX.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from runner_plugins.errors import DecodeError
from runner_plugins.flatbuffer import (
    Table,
    blob,
    encode,
    entries,
    guard,
    string,
    u8,
    u16,
    u32,
)
from runner_plugins.plugin import Entry, ResponseChange, Rewrite, Stop
from runner_plugins.protocol import (
    ACTION_REWRITE,
    ACTION_STOP,
    INFO_REQ_BODY,
    INFO_RESP_BODY,
    INFO_VAR,
    METHODS,
)

__all__ = [
    "ExtraInfoQuery",
    "decode_error",
    "decode_extra_info_query",
    "decode_prepare_conf_reply",
    "decode_req_call_reply",
    "decode_resp_call_reply",
    "encode_extra_info_result",
    "encode_http_req_call",
    "encode_http_resp_call",
    "encode_prepare_conf",
]

_METHOD_CODES = {name: code for code, name in enumerate(METHODS)}


def decode_prepare_conf_reply(payload: bytes) -> int:
    return guard("PrepareConf.Resp", lambda: Table.root(payload).u32(0))


def decode_error(payload: bytes) -> int:
    """The ``A6.Err.Code`` of an error frame (BAD_REQUEST when the field is omitted)."""
    return guard("Err.Resp", lambda: Table.root(payload).u8(0))


@dataclass(frozen=True, slots=True)
class ExtraInfoQuery:
    """What the runner asks APISIX for: a variable, the request body or the response body."""

    kind: Literal["var", "req_body", "resp_body"]
    name: str = ""


def decode_extra_info_query(payload: bytes) -> ExtraInfoQuery:
    def run() -> ExtraInfoQuery:
        root = Table.root(payload)
        tag = root.u8(0)
        if tag == INFO_VAR:
            info = root.table(1)
            return ExtraInfoQuery("var", (info.string(0) if info else None) or "")
        if tag == INFO_REQ_BODY:
            return ExtraInfoQuery("req_body")
        if tag == INFO_RESP_BODY:
            return ExtraInfoQuery("resp_body")
        raise DecodeError(f"unsupported ExtraInfo type {tag}")

    return guard("ExtraInfo.Req", run)


def decode_req_call_reply(payload: bytes) -> Stop | Rewrite | None:
    """``HTTPReqCall.Resp`` as the action APISIX would apply (None: no action)."""

    def run() -> Stop | Rewrite | None:
        root = Table.root(payload)
        tag = root.u8(1)
        action = root.table(2) if tag else None
        if tag == ACTION_STOP and action is not None:
            headers = tuple((name, value or "") for name, value in action.entries(1))
            return Stop(status=action.u16(0), headers=headers, body=action.blob(2) or b"")
        if tag == ACTION_REWRITE and action is not None:
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

    return guard("HTTPReqCall.Resp", run)


def decode_resp_call_reply(payload: bytes) -> ResponseChange | None:
    """``HTTPRespCall.Resp``; None when it changes nothing (status 0, no headers, no body)."""

    def run() -> ResponseChange | None:
        root = Table.root(payload)
        status = root.u16(1)
        headers = tuple((name, value or "") for name, value in root.entries(2))
        body = root.blob(3)
        if not status and not headers and not body:
            return None
        return ResponseChange(status=status or None, headers=headers, body=body or None)

    return guard("HTTPRespCall.Resp", run)


def encode_prepare_conf(conf: Sequence[tuple[str, str]], key: str) -> bytes:
    """A ``PrepareConf.Req`` payload; the conf vector is omitted when empty, as APISIX does."""
    return encode([entries(list(conf)) if conf else None, string(key)])


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
    return encode(
        [
            u32(req_id),
            blob(socket.inet_pton(family, src_ip)),
            u8(method_code),
            string(path),
            entries(args) if args else None,
            entries(headers) if headers else None,
            u32(conf_token),
        ]
    )


def encode_http_resp_call(
    *, req_id: int, conf_token: int, status: int, headers: Sequence[Entry] = ()
) -> bytes:
    """An ``HTTPRespCall.Req`` payload."""
    return encode(
        [
            u32(req_id),
            u16(status),
            entries(headers) if headers else None,
            u32(conf_token),
        ]
    )


def encode_extra_info_result(result: bytes | None) -> bytes:
    """An ``ExtraInfo.Resp`` payload; None omits ``result`` (APISIX's "nil")."""
    if result is None:
        return _NO_RESULT
    # The [ubyte] vector is the message's last child, so everything before its length is the
    # same for every result: spliced, not rebuilt (a body answer is asked for on every POST).
    return b"".join((_RESULT_HEAD, len(result).to_bytes(4, "little"), result))


_NO_RESULT = encode([None])
_RESULT_HEAD = encode([blob(b"")])[:-4]
