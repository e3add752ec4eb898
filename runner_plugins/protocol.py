"""Sans-IO framing of the APISIX ext-plugin protocol.

Strategy: every message is ``type:u8 | length:u24 big-endian | payload`` (``send``/``receive`` in
APISIX's client, https://github.com/apache/apisix/blob/3.18.0/apisix/plugins/ext-plugin/init.lua).
:class:`FrameReader` accumulates bytes exactly as they arrive (one byte or many frames at a time)
and hands out whole frames, so no caller ever depends on how the kernel split a read; nothing here
touches a socket. The length field caps payloads at 2**24 - 1 bytes; a reader may be configured with
a lower cap, which is enforced from the header alone so an oversized frame is refused before its
payload is buffered.
"""

from __future__ import annotations

import struct
from enum import IntEnum

from runner_plugins.errors import FrameTooLarge

__all__ = [
    "ACTION_REWRITE",
    "ACTION_STOP",
    "HEADER_SIZE",
    "INFO_REQ_BODY",
    "INFO_RESP_BODY",
    "INFO_VAR",
    "METHODS",
    "MAX_PAYLOAD",
    "ErrorCode",
    "FrameReader",
    "RpcType",
    "decode_header",
    "encode_frame",
    "encode_header",
]

HEADER_SIZE = 4
MAX_PAYLOAD = (1 << 24) - 1
_WORD = struct.Struct(">I").unpack_from


class RpcType(IntEnum):
    """Frame type byte (apisix/constants.lua)."""

    ERROR = 0
    PREPARE_CONF = 1
    HTTP_REQ_CALL = 2
    EXTRA_INFO = 3
    HTTP_RESP_CALL = 4


class ErrorCode(IntEnum):
    """``A6.Err.Code``; only CONF_TOKEN_NOT_FOUND changes APISIX's behaviour (a retry)."""

    BAD_REQUEST = 0
    SERVICE_UNAVAILABLE = 1
    CONF_TOKEN_NOT_FOUND = 2


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

# Union tags (NONE is 0).
ACTION_STOP = 1
ACTION_REWRITE = 2
INFO_VAR = 1
INFO_REQ_BODY = 2
INFO_RESP_BODY = 3


def encode_header(rpc_type: int, length: int) -> bytes:
    """The 4-byte frame header; refuses lengths the 3-byte field cannot carry."""
    if length > MAX_PAYLOAD:
        raise FrameTooLarge(f"payload of {length} bytes exceeds the maximum of {MAX_PAYLOAD}")
    return ((rpc_type << 24) | length).to_bytes(4, "big")


def encode_frame(rpc_type: int, payload: bytes) -> bytes:
    """One whole frame (header + payload)."""
    return encode_header(rpc_type, len(payload)) + payload


def decode_header(header: bytes | bytearray, max_payload: int = MAX_PAYLOAD) -> tuple[int, int]:
    """``(type, payload length)`` of a 4-byte frame header.

    :raise FrameTooLarge: the header announces more than ``max_payload``.
    """
    word = _WORD(header, 0)[0]
    length: int = word & 0xFFFFFF
    if length > max_payload:
        raise FrameTooLarge(f"frame announces {length} bytes, over the limit of {max_payload}")
    return word >> 24, length


class FrameReader:
    """Incremental frame parser: ``feed`` bytes, then ``next_frame`` until it returns None.

    ``buffered`` tells how many bytes wait unparsed, which a server uses for
    back-pressure while it is busy with the previous frame.
    """

    __slots__ = ("_buf", "_max_payload")

    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self._buf = bytearray()
        self._max_payload = max_payload

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data

    def feed_one(self, data: bytes) -> tuple[int, bytes] | None:
        """Fast path: when nothing is buffered and ``data`` is exactly one whole frame, return
        it without copying through the buffer; otherwise ``feed`` it and return None.

        :raise FrameTooLarge: as :meth:`next_frame`.
        """
        if not self._buf and len(data) >= HEADER_SIZE:
            word = _WORD(data, 0)[0]
            length = word & 0xFFFFFF
            if len(data) == HEADER_SIZE + length and length <= self._max_payload:
                return word >> 24, data[HEADER_SIZE:]
        self._buf += data
        return None

    def next_frame(self) -> tuple[int, bytes] | None:
        """The next complete ``(type, payload)``, or None when more bytes are needed.

        :raise FrameTooLarge: the header announces more than the configured cap.
        """
        buf = self._buf
        if len(buf) < HEADER_SIZE:
            return None
        rpc_type, length = decode_header(buf, self._max_payload)
        end = HEADER_SIZE + length
        if len(buf) < end:
            return None
        payload = bytes(buf[HEADER_SIZE:end])
        del buf[:end]
        return rpc_type, payload

    def at_frame_boundary(self) -> bool:
        """True when no partial frame is pending (EOF here is a clean close)."""
        return not self._buf
