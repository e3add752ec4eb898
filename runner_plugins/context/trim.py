"""Pure, deterministic size guard: the serialized answer stays within max_response_chars.

Strategy: GPT Actions reject bodies of 100,000 characters or more, and an LLM is better served
by a shorter document that says what it left out than by an error. When the compact JSON is
too long we shrink in a fixed order that loses the least meaning first: (1) shorten session
abstracts to 1000, then 400, then 160 characters; (2) drop list tails - sessions (ordered by
schedule, so the latest go first), then topics, then candidates; (3) shorten the speaker's bio.
Each step stops as soon as the text fits, and ``meta.truncated`` reports what happened so the
model can ask for the rest by id. Sizes are counted in characters (``ensure_ascii=False``),
which is what the GPT limit counts. The input document is never mutated.

Every text this module writes is strict JSON: a NaN or an infinity (the stdlib's reader accepts
them from a backend) goes out as null, which is also what the MCP SDK sends for such floats.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import orjson

logger = logging.getLogger(__name__)

ABSTRACT_STEPS = (1000, 400, 160)
BIO_LIMIT = 400
ELLIPSIS = "\u2026"
_LISTS = ("sessions", "topics", "candidates")
_COMPACT = (",", ":")


def dumps(document: Any) -> str:
    """The one serialization used for sizing and for the wire: strict JSON, compact, UTF-8."""
    try:
        # orjson: 5.5 against 30 µs for the stdlib on a 5.9 KB speaker document, decode
        # included (docs/performance.md), and it writes NaN and infinities as null itself.
        return orjson.dumps(document).decode("utf-8")
    except TypeError:
        # What orjson refuses (integers beyond 64 bits, non-string keys, lone surrogates) the
        # stdlib writes; documents are parsed JSON, so a ValueError is a non-finite float.
        try:
            return json.dumps(document, ensure_ascii=False, separators=_COMPACT, allow_nan=False)
        except ValueError:
            return json.dumps(_finite(document), ensure_ascii=False, separators=_COMPACT)


def fit_utf8(document: dict[str, Any], max_chars: int) -> bytes:
    """:func:`fit`'s text as UTF-8, without the str round trip when the document fits.

    A text is never longer in characters than in UTF-8 bytes, so bytes that fit prove the
    characters fit, and orjson's bytes are then the answer as they are (the same bytes
    ``utf8(fit(...))`` gives). Only a document that may be too long is measured in characters.
    """
    try:
        raw = orjson.dumps(document)
    except TypeError:
        return utf8(fit(document, max_chars))
    if len(raw) <= max_chars:
        return raw
    # Too long in bytes, maybe in characters: fit from the text already written (what dumps
    # would write again).
    return utf8(_fit_text(document, max_chars, raw.decode("utf-8")))


def utf8(text: str) -> bytes:
    """``text`` (JSON from :func:`dumps`) as UTF-8 bytes, even with a lone surrogate in it.

    A backend's JSON may hold a lone surrogate escape (``"\\ud800"``), which the stdlib reads
    into a str UTF-8 cannot encode. It can only sit inside a JSON string, where writing it back
    as the same ``\\uXXXX`` escape is valid JSON, so the document keeps it instead of failing.
    """
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace")


def _finite(value: Any) -> Any:
    """``value`` with every NaN and infinity replaced by None (a copy; the input is kept)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def fit(document: dict[str, Any], max_chars: int) -> str:
    """Serialize document, trimming it when longer than max_chars."""
    return _fit_text(document, max_chars, dumps(document))


def _fit_text(document: dict[str, Any], max_chars: int, text: str) -> str:
    """:func:`fit` of ``document``, whose :func:`dumps` text is ``text``."""
    if len(text) <= max_chars:
        return text

    doc = dict(document)
    meta = dict(doc.get("meta", {}))
    previous = meta.get("truncated")
    report: dict[str, Any] = dict(previous) if isinstance(previous, dict) else {}
    report.update(
        {
            "original_chars": len(text),
            "max_chars": max_chars,
            "abstracts_shortened": 0,
            "abstracts_shortened_to": None,
            "sessions_dropped": 0,
            "topics_dropped": 0,
            "candidates_dropped": 0,
            "bio_shortened": False,
        }
    )
    meta["truncated"] = report
    doc["meta"] = meta

    text = _shorten_abstracts(doc, report, max_chars)
    if len(text) > max_chars:
        text = _drop_tails(doc, report, max_chars, text)
    if len(text) > max_chars and isinstance(doc.get("speaker"), dict):
        speaker = dict(doc["speaker"])
        bio = speaker.get("bio")
        if isinstance(bio, str) and len(bio) > BIO_LIMIT:
            speaker["bio"] = _cut(bio, BIO_LIMIT)
            doc["speaker"] = speaker
            report["bio_shortened"] = True
            text = dumps(doc)
    if len(text) > max_chars:
        logger.warning("context answer is %d chars after trimming (max %d)", len(text), max_chars)
    return text


def _shorten_abstracts(doc: dict[str, Any], report: dict[str, Any], max_chars: int) -> str:
    sessions = doc.get("sessions")
    text = dumps(doc)
    if not isinstance(sessions, list):
        return text
    for limit in ABSTRACT_STEPS:
        shortened = 0
        new_sessions = []
        for session in sessions:
            abstract = session.get("abstract") if isinstance(session, dict) else None
            if isinstance(abstract, str) and len(abstract) > limit + 1:
                session = {**session, "abstract": _cut(abstract, limit)}
                shortened += 1
            new_sessions.append(session)
        if not shortened:
            continue
        doc["sessions"] = sessions = new_sessions
        report["abstracts_shortened"] = max(report["abstracts_shortened"], shortened)
        report["abstracts_shortened_to"] = limit
        text = dumps(doc)
        if len(text) <= max_chars:
            break
    return text


def _drop_tails(doc: dict[str, Any], report: dict[str, Any], max_chars: int, text: str) -> str:
    """Drop list tails from ``doc``, whose current serialization is ``text``."""
    for key in _LISTS:
        items = doc.get(key)
        if not isinstance(items, list) or not items:
            continue
        items = list(items)
        # Subtract item sizes instead of re-serializing after each drop (quadratic otherwise);
        # the exact length is re-measured once the estimate says it fits or the list is empty,
        # so ``text`` is current whenever the loop ends.
        length = len(text)
        while items and length > max_chars:
            dropped = items.pop()
            length -= len(dumps(dropped)) + (1 if items else 0)
            report[f"{key}_dropped"] += 1
            if length <= max_chars or not items:
                doc[key] = items
                text = dumps(doc)
                length = len(text)
        if length <= max_chars:
            break
    return text


def _cut(text: str, limit: int) -> str:
    return text[:limit].rstrip() + ELLIPSIS
