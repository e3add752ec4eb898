"""Accent- and case-insensitive text keys, shared by the backend and the runner.

Strategy: one definition of "the same name, ignoring accents and case" (NFKD, combining marks
dropped, a few letters without a decomposition mapped by hand, casefolded, single spaces). The
backend stores and searches with it; the context plugin picks the exact full-name match with it.
Both must agree, or a name the backend found would not match in the runner. Pure standard
library, so the gateway image (runner only) and the backend image each carry it without the other.
"""

from __future__ import annotations

import unicodedata

__all__ = ["fold"]

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


def fold(text: str) -> str:
    """Return the search key of ``text``: no accents, no case, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())
