"""The protocol state of one APISIX connection, without sockets: bytes in, events out.

Strategy (h11's split): :class:`ConnectionState` owns the rules of an ext-plugin connection and
nothing else. APISIX runs one exchange at a time per connection (it opens or reuses a pooled
connection per RPC, ``rpc_call`` in its client), so a connection is either idle or busy with one
request; while busy, the only frames it may receive are the answers to the ExtraInfo questions it
sent, in order, and anything else APISIX pipelined stays buffered until the request is answered. The
transport layer (``server._Connection``) feeds received bytes with :meth:`receive`, asks
:meth:`next_event` what to do until it says :data:`NEED_DATA` or :data:`PAUSED`, sends the bytes
:meth:`ask` returns, and calls :meth:`finish` when the request's reply is written. Tests drive it
with plain bytes.

Events:

* ``(rpc_type, payload)``  a request frame to dispatch; the connection is now busy;
* :class:`ExtraInfoAnswer`  the answer to the oldest question still owed;
* :class:`Broken`           the peer broke the protocol: drop the connection;
* :data:`NEED_DATA`         nothing complete is buffered;
* :data:`PAUSED`            a request is in flight (or the peer is not reading): wait.
"""

from __future__ import annotations

from enum import Enum
from typing import Final, TypeAlias

from runner_plugins.errors import ProtocolError
from runner_plugins.protocol import MAX_PAYLOAD, FrameReader, RpcType, encode_frame

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "READ_HIGH_WATER",
    "Broken",
    "ConnectionState",
    "Event",
    "ExtraInfoAnswer",
]

_EXTRA_INFO = int(RpcType.EXTRA_INFO)
#: Past this much unread input while a request is in flight, the transport stops reading.
READ_HIGH_WATER: Final = MAX_PAYLOAD + 4


class _Wait(Enum):
    NEED_DATA = "need data"
    PAUSED = "paused"


NEED_DATA: Final = _Wait.NEED_DATA
PAUSED: Final = _Wait.PAUSED


class ExtraInfoAnswer:
    """APISIX's ``ExtraInfo.Resp`` payload for the oldest question still owed."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


class Broken:
    """The peer broke the protocol; the connection must be dropped."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


Event: TypeAlias = "tuple[int, bytes] | ExtraInfoAnswer | Broken | _Wait"


class ConnectionState:
    """Idle or busy with one request; counts the ExtraInfo answers still owed."""

    __slots__ = ("_reader", "_ready", "busy", "owed", "writable", "high_water")

    def __init__(self, high_water: int = READ_HIGH_WATER, max_payload: int = MAX_PAYLOAD) -> None:
        self._reader = FrameReader(max_payload)
        # A whole request frame taken by the fast path, handed out by the next next_event().
        self._ready: tuple[int, bytes] | None = None
        self.busy = False
        self.owed = 0
        #: False while the peer does not read our replies: no new request is started then.
        self.writable = True
        self.high_water = high_water

    @property
    def buffered(self) -> int:
        """Bytes received and not yet handed out as events."""
        return self._reader.buffered

    @property
    def should_pause_reading(self) -> bool:
        """True when the transport should stop reading until the current request is done."""
        return self._reader.buffered > self.high_water

    def at_frame_boundary(self) -> bool:
        """True when no partial frame is pending (EOF here is a clean close)."""
        return self._ready is None and self._reader.at_frame_boundary()

    def receive(self, data: bytes) -> None:
        """Take bytes exactly as they arrived (one byte or many frames at a time)."""
        if not self.busy and self.writable and self._ready is None:
            # The common case: an idle connection receives exactly one request frame.
            self._ready = self._reader.feed_one(data)
        else:
            self._reader.feed(data)

    def next_event(self) -> Event:
        """What the transport should do next; see the module docstring."""
        if self.owed:
            return self._answer()
        if self.busy or not self.writable:
            return PAUSED
        frame = self._ready
        if frame is not None:
            self._ready = None
        else:
            try:
                frame = self._reader.next_frame()
            except ProtocolError as exc:
                return Broken(f"bad frame: {exc}")
            if frame is None:
                return NEED_DATA
        self.busy = True
        return frame

    def ask(self, payload: bytes) -> bytes:
        """The ExtraInfo.Req frame to send for the current request; one more answer is owed.

        :raise RuntimeError: no request is in flight (a plugin kept its request object past
            the request: this connection may already carry another exchange).
        """
        if not self.busy:
            raise RuntimeError("ExtraInfo asked after the request finished")
        self.owed += 1
        return encode_frame(_EXTRA_INFO, payload)

    def finish(self) -> bool:
        """The current request was answered; True when the connection must close because
        ExtraInfo answers are still owed (they would arrive later and be read as requests)."""
        unanswered = self.owed > 0
        self.busy = False
        self.owed = 0
        return unanswered

    def _answer(self) -> Event:
        try:
            frame = self._reader.next_frame()
        except ProtocolError as exc:
            return Broken(f"bad frame: {exc}")
        if frame is None:
            return NEED_DATA
        rpc_type, payload = frame
        if rpc_type != _EXTRA_INFO:
            return Broken(f"expected an ExtraInfo answer, got frame type {rpc_type}")
        self.owed -= 1
        return ExtraInfoAnswer(payload)
