"""Pure speaker-name matching, as a model phrases names: any order, titles, typos.

Strategy: both sides become *name keys*: folded with ``textfold.fold`` (the very function the
backend's search uses: no accents, no case), apostrophes dropped ("O'Brien" is "obrien"), any
other punctuation a space, and courtesy or academic titles ("Dr.", "Prof.") removed. A
candidate's score (0-100, rapidfuzz) is the best of three views:

* the whole name with the tokens sorted (``token_sort_ratio``): "hartley amelia", one typo;
* the tokens glued together in order: "o brien" against "obrien";
* every query token against its closest name token (a subset in any order: "hartly" finds
  "Amelia Hartley"; a beginning of 3+ letters counts as the token), slightly discounted so that
  a full name outranks a partial one.

Scores at or above :data:`MATCH_SCORE` are matches. One match, or a best match clearly ahead of
the next (:data:`CLEAR_LEAD`), is the speaker; several close matches are candidates, best first
(a model asks the user instead of guessing); no match gives the closest names as suggestions.
:func:`match` is the one entry point, used by the context plugin and meant for any other caller
(MCP tools) so that a name resolves the same way everywhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from textfold import fold

#: A score from which a speaker counts as meant by the query.
MATCH_SCORE = 85.0
#: A best match this far ahead of the second is taken alone.
CLEAR_LEAD = 8.0
#: Closest names offered when nothing matches, and how close they must be to be offered.
MAX_SUGGESTIONS = 3
SUGGEST_SCORE = 50.0
#: Partial (token subset) matches rank below a full-name match of the same quality.
SUBSET_DISCOUNT = 0.95
#: A query token this long that begins a name token matches it ("chri" for "Christopher").
MIN_PREFIX = 3

#: Distinct names whose tokens are kept (the directory is at most 1000 speakers).
NAME_CACHE_SIZE = 4096

#: Words a model or a person puts around a name that are not part of it (already folded).
TITLES = frozenset(
    {
        "dr",
        "doctor",
        "prof",
        "professor",
        "mr",
        "mrs",
        "ms",
        "mx",
        "miss",
        "sir",
        "dame",
        "madam",
        "jr",
        "sr",
        "phd",
        "md",
    }
)

_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4\u02bc]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


@functools.lru_cache(maxsize=NAME_CACHE_SIZE)
def name_tokens(text: str) -> tuple[str, ...]:
    """``text`` as the tokens that are compared: folded, no punctuation, no titles.

    Cached (bounded): folding is most of a match's cost, and directory names repeat.
    """
    folded = _APOSTROPHES.sub("", fold(text))
    tokens = [token for token in _NOT_WORD.split(folded) if token]
    kept = tuple(token for token in tokens if token not in TITLES)
    # A name made only of title-like words ("Sir") is still that name.
    return kept or tuple(tokens)


def score(query: Sequence[str], name: Sequence[str]) -> float:
    """How well the query tokens match the name tokens, 0-100 (see the module docstring)."""
    if not query or not name:
        return 0.0
    whole = fuzz.token_sort_ratio(" ".join(query), " ".join(name))
    glued = fuzz.ratio("".join(query), "".join(name))
    subset = min(max(_token_score(token, other) for other in name) for token in query)
    return max(whole, glued, subset * SUBSET_DISCOUNT)


def _token_score(token: str, other: str) -> float:
    # A typed beginning of a name ("chri" for "Christopher") is that name, from 3 letters on.
    if len(token) >= MIN_PREFIX and other.startswith(token):
        return 100.0
    return fuzz.ratio(token, other)


@dataclass(frozen=True, slots=True)
class Ranked:
    """A speaker with its score for the query."""

    speaker: Mapping[str, Any]
    score: float


@dataclass(frozen=True, slots=True)
class NameMatch:
    """The outcome of resolving a name.

    Exactly one of ``speaker`` / ``candidates`` is set when something matched; when nothing did,
    ``suggestions`` holds the closest names (possibly none).
    """

    speaker: Mapping[str, Any] | None = None
    candidates: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    suggestions: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    @property
    def found(self) -> bool:
        return self.speaker is not None or bool(self.candidates)


def rank(query: str, speakers: Sequence[Mapping[str, Any]]) -> list[Ranked]:
    """Every speaker with its score for ``query``, best first (ties by name, then id)."""
    wanted = name_tokens(query)
    ranked = [
        Ranked(item, score(wanted, name_tokens(str(item.get("name", ""))))) for item in speakers
    ]
    ranked.sort(
        key=lambda r: (-r.score, name_tokens(str(r.speaker.get("name", ""))), _id(r.speaker))
    )
    return ranked


def match(query: str, speakers: Sequence[Mapping[str, Any]]) -> NameMatch:
    """Resolve ``query`` against ``speakers`` (objects with at least ``name``)."""
    ranked = rank(query, speakers)
    matches = [r for r in ranked if r.score >= MATCH_SCORE]
    if not matches:
        close = [r.speaker for r in ranked if r.score >= SUGGEST_SCORE]
        return NameMatch(suggestions=tuple(close[:MAX_SUGGESTIONS]))
    best = matches[0]
    if len(matches) == 1 or best.score - matches[1].score >= CLEAR_LEAD:
        return NameMatch(speaker=best.speaker)
    return NameMatch(candidates=tuple(r.speaker for r in matches))


def _id(speaker: Mapping[str, Any]) -> int:
    value = speaker.get("id")
    return value if isinstance(value, int) else 0
