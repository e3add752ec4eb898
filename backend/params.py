"""Parsing and validating path ids and query arguments.

Strategy: every view reads its input through these helpers, which collect
every problem of a request into one :class:`ValidationError` (field ->
message) instead of failing on the first. Unknown argument names are ignored,
as the Demo Conference API did; a repeated argument uses its first value.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from backend.errors import ValidationError
from backend.storage import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
#: Beyond the data set by far; bounds the work an OFFSET can ask for.
MAX_OFFSET = 100_000
#: Ids are int32 in the Demo Conference API.
MAX_ID = 2**31 - 1
#: Longest accepted search text (names and keywords are short).
MAX_TEXT = 100


@dataclass(frozen=True, slots=True)
class ListArgs:
    page: Page
    speakername: str | None = None
    dayno: int | None = None
    keyword: str | None = None


def parse_id(raw: str, field: str = "id") -> int:
    """Return the positive int32 in ``raw`` or raise a 400."""
    value = _int(raw)
    if value is None or not 1 <= value <= MAX_ID:
        raise ValidationError({field: f"must be an integer between 1 and {MAX_ID}"})
    return value


def parse_list_args(args: MultiDict[str, str], *, filters: tuple[str, ...] = ()) -> ListArgs:
    """Read ``limit``/``offset`` and the named filters (speakername, dayno, keyword)."""
    details: dict[str, str] = {}
    limit = _bounded(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, details)
    offset = _bounded(args, "offset", 0, 0, MAX_OFFSET, details)
    dayno = None
    if "dayno" in filters and args.get("dayno", "") != "":
        dayno = _bounded(args, "dayno", 0, 1, 3, details)
    texts = {
        name: _text(args, name, details) for name in ("speakername", "keyword") if name in filters
    }
    if details:
        raise ValidationError(details)
    return ListArgs(
        page=Page(limit=limit, offset=offset),
        speakername=texts.get("speakername"),
        dayno=dayno,
        keyword=texts.get("keyword"),
    )


def _int(raw: str) -> int | None:
    # str.isdigit accepts "²" and other non-ASCII digits; int() would not.
    text = raw.strip()
    if not text or len(text) > 12 or not (text.isascii() and text.lstrip("-").isdigit()):
        return None
    return int(text)


def _bounded(
    args: MultiDict[str, str],
    name: str,
    default: int,
    low: int,
    high: int,
    details: dict[str, str],
) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    value = _int(raw)
    if value is None or not low <= value <= high:
        details[name] = f"must be an integer between {low} and {high}"
        return default
    return value


def _text(args: MultiDict[str, str], name: str, details: dict[str, str]) -> str | None:
    raw = args.get(name)
    if raw is None or not raw.strip():
        return None
    if len(raw) > MAX_TEXT:
        details[name] = f"must be at most {MAX_TEXT} characters"
        return None
    if has_control_characters(raw):
        # SQLite would cut a bound string at NUL (matching everything) and
        # PostgreSQL rejects NUL outright; no name or keyword contains one.
        details[name] = "must not contain control characters"
        return None
    return raw.strip()


def has_control_characters(text: str, allowed: str = "") -> bool:
    """True when ``text`` holds a C0/C1 control character not in ``allowed``."""
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in text)
