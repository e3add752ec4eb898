"""Sans-IO framing: read-exact under any split, several frames per read, the size limit."""

from __future__ import annotations

import pytest

from runner_plugins.errors import FrameTooLarge
from runner_plugins.protocol import MAX_PAYLOAD, FrameReader, encode_frame, encode_header

FRAMES = [(2, b"hello"), (1, b""), (3, bytes(range(256)) * 3), (0, b"\x00")]
STREAM = b"".join(encode_frame(t, p) for t, p in FRAMES)


def _drain(reader: FrameReader) -> list[tuple[int, bytes]]:
    out = []
    while (frame := reader.next_frame()) is not None:
        out.append(frame)
    return out


def test_header_layout():
    assert encode_header(2, 300) == b"\x02\x00\x01\x2c"
    assert encode_frame(4, b"ab") == b"\x04\x00\x00\x02ab"


def test_byte_at_a_time():
    reader = FrameReader()
    got = []
    for i in range(len(STREAM)):
        reader.feed(STREAM[i : i + 1])
        got.extend(_drain(reader))
    assert got == FRAMES
    assert reader.at_frame_boundary()


@pytest.mark.parametrize("cut", range(1, len(encode_frame(2, b"hello")) + 7))
def test_split_at_every_boundary(cut):
    reader = FrameReader()
    reader.feed(STREAM[:cut])
    first = _drain(reader)
    reader.feed(STREAM[cut:])
    assert first + _drain(reader) == FRAMES


def test_several_frames_in_one_read_and_a_partial_tail():
    reader = FrameReader()
    reader.feed(STREAM + b"\x02\x00\x00")
    assert _drain(reader) == FRAMES
    assert not reader.at_frame_boundary()
    assert reader.buffered == 3


def test_maximum_payload_is_accepted():
    payload = b"\xab" * MAX_PAYLOAD
    frame = encode_frame(2, payload)
    assert frame[:4] == b"\x02\xff\xff\xff"
    reader = FrameReader()
    reader.feed(frame[:1000])
    assert reader.next_frame() is None  # waits for the rest, no error
    reader.feed(frame[1000:])
    assert reader.next_frame() == (2, payload)


def test_one_over_the_maximum_is_refused_when_encoding():
    with pytest.raises(FrameTooLarge):
        encode_header(2, MAX_PAYLOAD + 1)
    with pytest.raises(FrameTooLarge):
        encode_frame(2, bytes(MAX_PAYLOAD + 1))


def test_a_configured_limit_is_enforced_from_the_header_alone():
    reader = FrameReader(max_payload=10)
    reader.feed(encode_header(2, 10) + bytes(10))
    assert reader.next_frame() == (2, bytes(10))
    reader.feed(encode_header(2, 11))  # no payload yet: refused before buffering it
    with pytest.raises(FrameTooLarge):
        reader.next_frame()


def test_feed_one_fast_path_agrees_with_the_buffer():
    reader = FrameReader()
    whole = encode_frame(2, b"one frame")
    assert reader.feed_one(whole) == (2, b"one frame")
    assert reader.at_frame_boundary()
    # Anything but exactly one whole frame on an empty buffer goes through the buffer.
    assert reader.feed_one(whole[:5]) is None
    assert reader.feed_one(whole[5:]) is None  # buffer not empty: appended, not parsed
    assert reader.next_frame() == (2, b"one frame")
    assert reader.feed_one(whole + whole) is None
    assert _drain(reader) == [(2, b"one frame")] * 2
    limited = FrameReader(max_payload=3)
    assert limited.feed_one(encode_frame(2, b"four")) is None
    with pytest.raises(FrameTooLarge):
        limited.next_frame()
