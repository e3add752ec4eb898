"""The sans-IO connection state: bytes in, events out, no sockets and no event loop."""

from __future__ import annotations

import pytest

from runner_plugins.connection import (
    NEED_DATA,
    PAUSED,
    Broken,
    ConnectionState,
    Event,
    ExtraInfoAnswer,
)
from runner_plugins.protocol import MAX_PAYLOAD, RpcType, encode_frame

REQ = encode_frame(RpcType.HTTP_REQ_CALL, b"request-1")
REQ2 = encode_frame(RpcType.HTTP_REQ_CALL, b"request-2")
ANSWER = encode_frame(RpcType.EXTRA_INFO, b"answer")


def _drain(state: ConnectionState) -> list[Event]:
    """Events until the state waits (the transport's loop, without the transport)."""
    events: list[Event] = []
    while True:
        event = state.next_event()
        events.append(event)
        if event is NEED_DATA or event is PAUSED or isinstance(event, Broken):
            return events


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([REQ], id="whole"),
        pytest.param([bytes([b]) for b in REQ], id="one-byte-at-a-time"),
        pytest.param([REQ[:3], REQ[3:]], id="split-header"),
    ],
)
def test_a_request_however_it_is_split(chunks: list[bytes]) -> None:
    state = ConnectionState()
    events: list[Event] = []
    for chunk in chunks:
        state.receive(chunk)
        events += _drain(state)
    assert events[-2:] == [(int(RpcType.HTTP_REQ_CALL), b"request-1"), PAUSED]
    assert state.busy and state.at_frame_boundary()


def test_pipelined_requests_wait_for_the_reply() -> None:
    state = ConnectionState()
    state.receive(REQ + REQ2)
    assert _drain(state) == [(int(RpcType.HTTP_REQ_CALL), b"request-1"), PAUSED]
    assert state.buffered == len(REQ2)
    assert state.finish() is False
    assert _drain(state) == [(int(RpcType.HTTP_REQ_CALL), b"request-2"), PAUSED]


def test_extra_info_answers_come_in_question_order() -> None:
    state = ConnectionState()
    state.receive(REQ)
    _drain(state)
    questions = [state.ask(b"q1"), state.ask(b"q2")]
    assert questions == [
        encode_frame(RpcType.EXTRA_INFO, b"q1"),
        encode_frame(RpcType.EXTRA_INFO, b"q2"),
    ]
    state.receive(ANSWER + encode_frame(RpcType.EXTRA_INFO, b"second"))
    events = _drain(state)
    answers = [e.payload for e in events if isinstance(e, ExtraInfoAnswer)]
    assert answers == [b"answer", b"second"] and events[-1] is PAUSED
    assert state.owed == 0


def test_a_request_where_an_answer_is_owed_breaks_the_connection() -> None:
    state = ConnectionState()
    state.receive(REQ)
    _drain(state)
    state.ask(b"q")
    state.receive(REQ2)
    (event,) = _drain(state)
    assert isinstance(event, Broken) and "expected an ExtraInfo answer" in event.reason


def test_finishing_with_answers_owed_asks_for_a_close() -> None:
    state = ConnectionState()
    state.receive(REQ)
    _drain(state)
    state.ask(b"q")
    assert state.finish() is True
    assert not state.busy and state.owed == 0


def test_extra_info_outside_a_request_is_refused() -> None:
    with pytest.raises(RuntimeError, match="after the request finished"):
        ConnectionState().ask(b"q")


def test_an_oversized_header_breaks_the_connection_before_its_payload() -> None:
    state = ConnectionState()
    state.receive(bytes([int(RpcType.HTTP_REQ_CALL)]) + (MAX_PAYLOAD).to_bytes(3, "big"))
    assert _drain(state) == [NEED_DATA]  # a legal length: the payload may still come
    capped = ConnectionState(max_payload=8)
    capped.receive(REQ)
    (event,) = _drain(capped)
    assert isinstance(event, Broken) and "bad frame" in event.reason


def test_no_new_request_while_the_peer_does_not_read_replies() -> None:
    state = ConnectionState()
    state.writable = False
    state.receive(REQ)
    assert _drain(state) == [PAUSED]
    state.writable = True
    assert _drain(state)[0] == (int(RpcType.HTTP_REQ_CALL), b"request-1")


def test_reading_should_pause_past_the_high_water_mark_while_busy() -> None:
    state = ConnectionState(high_water=len(REQ2))
    state.receive(REQ)
    _drain(state)
    state.receive(REQ2)
    assert not state.should_pause_reading
    state.receive(b"\x02")
    assert state.should_pause_reading


def test_a_partial_frame_is_not_a_frame_boundary() -> None:
    state = ConnectionState()
    state.receive(REQ[:5])
    assert _drain(state) == [NEED_DATA]
    assert not state.at_frame_boundary()
