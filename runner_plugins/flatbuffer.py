"""The FlatBuffers primitives both codecs share: a table reader and a front-to-back builder.

Strategy: the ext-plugin messages (schema v0.6.1) are small tables, so instead of the
``flatbuffers`` library this module reads fields with ``struct`` straight from the received
bytes and writes tables front to back (every child after its parent, which keeps FlatBuffers'
unsigned offsets forward): ``flatbuffers.Builder``'s per-field calls cost more than the whole
rest of a request. Nothing here knows a message: ``codec`` (runner side) and ``client.codec``
(APISIX side) name the slots. Strings cross the wire as UTF-8; bytes that are not UTF-8 are
carried through ``surrogateescape`` so that they survive a decode/encode round trip unchanged.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeAlias, TypeVar

from runner_plugins.errors import DecodeError
from runner_plugins.plugin import Entry

__all__ = [
    "Builder",
    "Field",
    "Table",
    "blob",
    "encode",
    "entries",
    "guard",
    "raw",
    "string",
    "table",
    "text",
    "u8",
    "u16",
    "u32",
]

_R = TypeVar("_R")

_U8 = struct.Struct("<B").unpack_from
_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_PACK_U32 = struct.Struct("<I").pack_into
_PACK_U16 = struct.Struct("<H").pack_into
_PACK_U8 = struct.Struct("<B").pack_into
_PACK_I32 = struct.Struct("<i").pack_into


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


# --------------------------------------------------------------------------- reading


class Table:
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
    def root(cls, buf: bytes) -> Table:
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
        return None if raw is None else text(raw)

    def table(self, slot: int) -> Table | None:
        at = self._target(slot)
        return Table(self.buf, at) if at else None

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
        # Unrolled TextEntry reads: headers are the bulk of a request, and a Table object per
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


def guard(what: str, decode: Callable[[], _R]) -> _R:
    try:
        return decode()
    except DecodeError:
        raise
    except (struct.error, IndexError, ValueError) as exc:
        raise DecodeError(f"malformed {what}: {exc}") from exc


# --------------------------------------------------------------------------- writing

# A field of a table being built: one of the four shapes below, made by the typed functions
# u8/u16/u32/string/blob/entries/table; None leaves the slot absent.


class _Scalar(NamedTuple):
    width: int  # 1, 2 or 4 bytes, stored inline
    value: int


class _Blob(NamedTuple):
    data: bytes
    nul: bool  # strings carry a trailing NUL, [ubyte] vectors do not


class _Entries(NamedTuple):
    entries: Sequence[Entry]


class _Nested(NamedTuple):
    fields: Sequence[Field]


Field: TypeAlias = "_Scalar | _Blob | _Entries | _Nested | None"
# tuple.__new__ directly: a NamedTuple's generated __new__ is a Python call per field, and a
# request's reply builds a dozen fields.
_new = tuple.__new__
_Child: TypeAlias = "_Blob | _Entries | _Nested"
_PACK_SCALAR = {1: _PACK_U8, 2: _PACK_U16, 4: _PACK_U32}


def u8(value: int) -> Field:
    return _new(_Scalar, (1, value))


def u16(value: int) -> Field:
    return _new(_Scalar, (2, value))


def u32(value: int) -> Field:
    return _new(_Scalar, (4, value))


def string(value: str) -> Field:
    """A ``string`` field (UTF-8, undecodable bytes kept through ``surrogateescape``)."""
    return _new(_Blob, (raw(value), True))


def blob(value: bytes) -> Field:
    """A ``[ubyte]`` field."""
    return _new(_Blob, (value, False))


def entries(value: Sequence[Entry]) -> Field:
    """A ``[TextEntry]`` field; a None value leaves that entry's ``value`` absent."""
    return _new(_Entries, (value,))


def table(fields: Sequence[Field]) -> Field:
    """A nested table (or union member) with ``fields`` in slot order."""
    return _new(_Nested, (fields,))


class Builder:
    """Writes one FlatBuffers message front to back: root offset, then tables, then children."""

    __slots__ = ("buf",)

    def __init__(self) -> None:
        self.buf = bytearray(4)

    def finish(self, fields: Sequence[Field]) -> bytes:
        root = self.table(fields)
        _PACK_U32(self.buf, 0, root)
        return bytes(self.buf)

    def _align(self, size: int) -> None:
        pad = -len(self.buf) % size
        if pad:
            self.buf += bytes(pad)

    def table(self, fields: Sequence[Field]) -> int:
        buf = self.buf
        count = len(fields)
        offsets = [0] * count
        inline = 4  # the soffset to the vtable comes first
        # Widest fields first keeps every scalar naturally aligned without padding; offsets to
        # children are 4 bytes wide.
        for width in (4, 2, 1):
            for slot, spec in enumerate(fields):
                if spec is not None and (spec.width if type(spec) is _Scalar else 4) == width:
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
        children: list[tuple[int, _Child]] = []
        for slot, spec in enumerate(fields):
            if spec is None:
                continue
            at = start + offsets[slot]
            if isinstance(spec, _Scalar):
                _PACK_SCALAR[spec.width](buf, at, spec.value)
            else:
                children.append((at, spec))
        for at, child in children:
            _PACK_U32(buf, at, self._child(child) - at)
        return start

    def _child(self, child: _Child) -> int:
        if isinstance(child, _Nested):
            return self.table(child.fields)
        if isinstance(child, _Entries):
            return self._entries(child.entries)
        self._align(4)
        at = len(self.buf)
        self.buf += len(child.data).to_bytes(4, "little")
        self.buf += child.data
        if child.nul:
            self.buf.append(0)
        return at

    def _entries(self, entries: Sequence[Entry]) -> int:
        # Each TextEntry is a self-contained chunk (its vtable, the table, then the strings, all
        # offsets relative) that starts 4-aligned, so the chunk of a (name, value) pair is the
        # same bytes wherever it lands: most headers repeat from request to request, and a
        # cached chunk costs one lookup instead of a dozen small writes.
        buf = self.buf
        self._align(4)
        at = len(buf)
        buf += len(entries).to_bytes(4, "little") + bytes(4 * len(entries))
        chunks = _ENTRY_CHUNKS
        for i, pair in enumerate(entries):
            slot = at + 4 + 4 * i
            _PACK_U32(buf, slot, len(buf) + 8 - slot)  # the table follows its 8-byte vtable
            try:
                chunk = chunks.get(pair)
            except TypeError:  # an entry given as a list despite the type: unhashable
                chunk = None
                pair = tuple(pair)  # type: ignore[assignment]  # hashable from here on
            if chunk is None:
                chunk = _entry_chunk(*pair)
                if len(chunk) <= _ENTRY_CHUNK_MAX_BYTES:
                    if len(chunks) >= _ENTRY_CHUNKS_MAX:
                        chunks.clear()
                    chunks[pair] = chunk
            buf += chunk
        return at


def _entry_chunk(name: str, value: str | None) -> bytes:
    """One TextEntry as written at a 4-aligned position: vtable, table, name[, value]."""
    raw_name = raw(name)
    table = 8
    name_at = table + (8 if value is None else 12)
    chunk = bytearray()
    if value is None:
        chunk += _TEXT_ENTRY_NAME_ONLY
        chunk += _ENTRY_OFFSETS_1(8, name_at - table - 4)
    else:
        raw_value = raw(value)
        name_end = name_at + 5 + len(raw_name)
        value_at = name_end + (-name_end % 4)
        chunk += _TEXT_ENTRY_BOTH
        chunk += _ENTRY_OFFSETS_2(8, name_at - table - 4, value_at - table - 8)
    chunk += len(raw_name).to_bytes(4, "little")
    chunk += raw_name
    chunk.append(0)
    if value is not None:
        chunk += bytes(-len(chunk) % 4)
        chunk += len(raw_value).to_bytes(4, "little")
        chunk += raw_value
        chunk.append(0)
    chunk += bytes(-len(chunk) % 4)
    return bytes(chunk)


#: Encoded TextEntry chunks by (name, value); cleared when full, so per-request values (a
#: request id) cost a periodic refill, not memory.
_ENTRY_CHUNKS: dict[Entry, bytes] = {}
_ENTRY_CHUNKS_MAX = 1024
_ENTRY_CHUNK_MAX_BYTES = 512


# TextEntry vtables: [vtable size, table size, name offset, value offset].
_TEXT_ENTRY_BOTH = struct.pack("<HHHH", 8, 12, 4, 8)
_TEXT_ENTRY_NAME_ONLY = struct.pack("<HHHH", 8, 8, 4, 0)
_ENTRY_OFFSETS_1 = struct.Struct("<iI").pack
_ENTRY_OFFSETS_2 = struct.Struct("<iII").pack


def encode(fields: Sequence[Field]) -> bytes:
    return Builder().finish(fields)
