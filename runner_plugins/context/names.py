"""Pure speaker-name matching: case- and accent-insensitive, exact full name wins.

Strategy: normalise both sides the same way (Unicode NFKD, drop combining marks, map the few
letters that have no decomposition such as Ł and Ø, casefold, collapse whitespace) so
"jose garcia" equals "José García" and "lukasz" equals "Łukasz" - the same folding the
backend's search applies, so a name the backend found also matches here. The backend's
``speakername`` filter already narrowed the candidates; this module only decides between
"this one", "ask the user which one" and "nobody". A single candidate is taken even without
an exact match: the search was unambiguous, and answering with a one-entry candidates list
would only cost the model a round trip.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Choice:
    """The outcome of resolving a name: exactly one of speaker / candidates, or neither."""

    speaker: Mapping[str, Any] | None = None
    candidates: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


# Letters NFKD leaves whole; mapped to what someone without the right keyboard types.
_UNDECOMPOSED = str.maketrans(
    {"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "ı": "i"}
    | {"Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "ß": "ss"}
)


def normalize(name: str) -> str:
    """Fold a name for comparison: no accents, no case, single spaces."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_UNDECOMPOSED))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def choose(found: Sequence[Mapping[str, Any]], wanted: str) -> Choice:
    """Pick the speaker meant by ``wanted`` among the backend's matches."""
    target = normalize(wanted)
    exact = [item for item in found if normalize(str(item.get("name", ""))) == target]
    if len(exact) == 1:
        return Choice(speaker=exact[0])
    if len(exact) > 1:
        return Choice(candidates=tuple(exact))
    if len(found) == 1:
        return Choice(speaker=found[0])
    return Choice(candidates=tuple(found))
