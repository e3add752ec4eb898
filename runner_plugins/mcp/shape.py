"""A ``tools/call`` result as the official SDK shapes it for one protocol version, with holes.

Strategy: the SDK turns a handler's result into its wire form per negotiated version: it
validates it against that version's ``CallToolResult``, drops the fields the version does not
know (``resultType`` before 2026-07-28) and stamps ``_meta.serverInfo`` from 2026-07-28 on.
For a tool answer only two values vary - the text block and the structured document - and
both are JSON values of a fixed type (a string, an object), so the shape is learned once per
version by running a probe answer with marker values through the SDK, and each real answer is
the probe's bytes with the markers replaced: the text as a JSON string, the document as the
UTF-8 JSON the tool already produced. No result is validated, copied or encoded twice, yet
every byte around the two values is the SDK's own output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from runner_plugins.mcp.toolbox import ToolAnswer

#: Probe values; nothing else in a result envelope looks like them.
TEXT_MARK = "\u2063conference-mcp:text\u2063"
STRUCTURED_MARK = "\u2063conference-mcp:structured\u2063"


class ShapeError(ValueError):
    """The SDK's output for a probe is not something the markers can be found in."""


def probe(is_error: bool) -> ToolAnswer:
    """The answer whose SDK wire form is a shape: marker text, marker document."""
    if is_error:
        return ToolAnswer(TEXT_MARK)
    return ToolAnswer(TEXT_MARK, orjson.dumps({STRUCTURED_MARK: 0}))


class ResultShape:
    """The wire bytes of a result of one kind (success or error) for one protocol version."""

    __slots__ = ("_head", "_middle", "_tail", "_text_first", "_structured")

    def __init__(self, wire: Mapping[str, Any]) -> None:
        """``wire``: what the SDK made of :func:`probe` for the version."""
        encoded = orjson.dumps(wire)
        text = orjson.dumps(TEXT_MARK)
        structured = orjson.dumps({STRUCTURED_MARK: 0})
        if encoded.count(text) != 1 or encoded.count(structured) > 1:
            raise ShapeError("the probe's markers are missing or repeated in the SDK's result")
        self._structured = structured in encoded
        if not self._structured:
            self._head, _, self._tail = encoded.partition(text)
            self._middle = b""
            self._text_first = True
            return
        self._text_first = encoded.index(text) < encoded.index(structured)
        first, second = (text, structured) if self._text_first else (structured, text)
        self._head, _, rest = encoded.partition(first)
        self._middle, _, self._tail = rest.partition(second)

    def fill(self, answer: ToolAnswer) -> bytes:
        """The result JSON of ``answer`` in this shape."""
        text = _json_string(answer.text)
        if not self._structured:
            return b"".join((self._head, text, self._tail))
        # Strict JSON already: every document is written by the context trim's ``dumps``.
        document = answer.structured or b"{}"
        first, second = (text, document) if self._text_first else (document, text)
        return b"".join((self._head, first, self._middle, second, self._tail))


def _json_string(text: str) -> bytes:
    try:
        return orjson.dumps(text)
    except TypeError:
        # orjson refuses lone surrogates (an argument echoed in an error message may carry
        # one); the stdlib writes them as \u escapes, which is still valid JSON.
        return json.dumps(text).encode("ascii")
