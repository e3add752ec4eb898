"""Accent- and case-insensitive search keys, and LIKE patterns built from them.

Strategy: the database never has to know about Unicode. Every searchable
text is stored twice, as written and as a *search key* (NFKD, combining marks
dropped, a few letters without a decomposition mapped by hand, casefolded).
Queries fold the user's text the same way and match it with ``LIKE`` against
the key, with ``%``, ``_`` and the escape character escaped, so user input is
always plain text, never a pattern, and the SQL is the same on every engine.
"""

from __future__ import annotations

import unicodedata

#: Letters NFKD leaves alone (no canonical decomposition), mapped to what a
#: person without the right keyboard types: "lukasz" must find "Łukasz".
_UNDECOMPOSED = str.maketrans(
    {
        "Ł": "L",
        "ł": "l",
        "Ø": "O",
        "ø": "o",
        "Đ": "D",
        "đ": "d",
        "Ð": "D",
        "ð": "d",
        "Æ": "AE",
        "æ": "ae",
        "Œ": "OE",
        "œ": "oe",
        "Þ": "Th",
        "þ": "th",
        "ı": "i",
        "ß": "ss",
    }
)

#: The escape character of every LIKE pattern we build.
LIKE_ESCAPE = "\\"


def fold(text: str) -> str:
    """Return the search key of ``text``: no accents, no case, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def contains_pattern(text: str) -> str:
    """Return a LIKE pattern matching search keys that contain ``fold(text)``."""
    folded = fold(text)
    escaped = (
        folded.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"
