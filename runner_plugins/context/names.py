"""Pure speaker-name matching: case- and accent-insensitive, exact full name wins.

Strategy: fold both sides with ``textfold.fold``, the very function the backend's search uses
(no accents, no case, single spaces), so "jose garcia" equals "José García", "lukasz" equals
"Łukasz", and a name the backend found also matches here. The backend's
``speakername`` filter already narrowed the candidates; this module only decides between
"this one", "ask the user which one" and "nobody". A single candidate is taken even without
an exact match: the search was unambiguous, and answering with a one-entry candidates list
would only cost the model a round trip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from textfold import fold


@dataclass(frozen=True, slots=True)
class Choice:
    """The outcome of resolving a name: exactly one of speaker / candidates, or neither."""

    speaker: Mapping[str, Any] | None = None
    candidates: Sequence[Mapping[str, Any]] = field(default_factory=tuple)


def choose(found: Sequence[Mapping[str, Any]], wanted: str) -> Choice:
    """Pick the speaker meant by ``wanted`` among the backend's matches."""
    target = fold(wanted)
    exact = [item for item in found if fold(str(item.get("name", ""))) == target]
    if len(exact) == 1:
        return Choice(speaker=exact[0])
    if len(exact) > 1:
        return Choice(candidates=tuple(exact))
    if len(found) == 1:
        return Choice(speaker=found[0])
    return Choice(candidates=tuple(found))
