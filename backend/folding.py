"""Accent- and case-insensitive search keys, and LIKE patterns built from them.

Strategy: the database never has to know about Unicode. Every searchable
text is stored twice, as written and as a *search key* (NFKD, combining marks
dropped, a few letters without a decomposition mapped by hand, casefolded).
Queries fold the user's text the same way and match it with ``LIKE`` against
the key, with ``%``, ``_`` and the escape character escaped, so user input is
always plain text, never a pattern, and the SQL is the same on every engine.
"""

from __future__ import annotations

from textfold import fold

__all__ = ["LIKE_ESCAPE", "contains_pattern", "fold"]

#: The escape character of every LIKE pattern we build.
LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """Return a LIKE pattern matching search keys that contain ``fold(text)``."""
    folded = fold(text)
    escaped = (
        folded.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"
