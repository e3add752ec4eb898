"""The plugin logo, drawn as a PNG in memory (no binary file in the repo).

Strategy: a 512x512 RGBA image (OpenAI's suggested size) built row by row
from byte runs -- a rounded dark-blue tile with three "speech lines" -- so it
costs a few milliseconds once per process, then encoded with zlib and CRC32
exactly as the PNG specification lays out chunks (signature, IHDR, IDAT,
IEND). The result is cached.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

SIZE = 512
_BACKGROUND = bytes((0, 0, 0, 0))
_TILE = bytes((21, 61, 122, 255))
_LINE = bytes((250, 250, 250, 255))
_ACCENT = bytes((239, 138, 36, 255))
_RADIUS = 64
#: (first row, last row, left, right, colour) of the bars on the tile.
_BARS = (
    (150, 190, 120, 392, _LINE),
    (236, 276, 120, 340, _LINE),
    (322, 362, 120, 260, _ACCENT),
)


@cache
def png_logo() -> bytes:
    """Return the logo as PNG bytes."""
    raw = b"".join(b"\x00" + _row(y) for y in range(SIZE))  # filter type 0 per row
    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _row(y: int) -> bytes:
    inset = _corner_inset(y)
    row = bytearray(_BACKGROUND * inset + _TILE * (SIZE - 2 * inset) + _BACKGROUND * inset)
    for top, bottom, left, right, colour in _BARS:
        if top <= y <= bottom:
            row[left * 4 : right * 4] = colour * (right - left)
    return bytes(row)


def _corner_inset(y: int) -> int:
    """Transparent pixels at each end of row ``y`` (rounded corners)."""
    distance = min(y, SIZE - 1 - y)
    if distance >= _RADIUS:
        return 0
    dy = _RADIUS - distance
    dx = int((_RADIUS**2 - dy**2) ** 0.5)
    return _RADIUS - dx


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
