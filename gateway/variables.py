"""APISIX's ``${{NAME}}`` / ``${{NAME:=default}}`` substitution, for the gateway and the checks.

Strategy: APISIX substitutes on the raw text of ``apisix.yaml``, comments included, before any
YAML parsing (``cli/file.lua``), so an unset variable without default stops it at start. The
local gateway applies it to load the file; the deployment tests also need to know which names a
file uses and which of them have no default, so :func:`expand` reports both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.errors import ConfigError

__all__ = ["Expansion", "MissingVariable", "expand"]

# APISIX's pattern: the name is word characters, the default runs up to the closing braces.
_VAR = re.compile(r"\$\{\{\s*(\w+)\s*(?::=\s*([^}]*?)\s*)?\}\}")


class MissingVariable(ConfigError):
    """A ``${{NAME}}`` without default whose variable is not set."""

    def __init__(self, name: str) -> None:
        super().__init__("failed to handle configuration: can't find environment variable " + name)
        self.name = name


@dataclass(frozen=True, slots=True)
class Expansion:
    text: str
    #: Every name the text refers to.
    used: frozenset[str]
    #: The names referred to at least once without a default.
    without_default: frozenset[str]


def expand(text: str, environ: Mapping[str, str]) -> Expansion:
    """Substitute every ``${{...}}`` in ``text``.

    Raises:
        MissingVariable: a variable without default is unset (APISIX refuses to start then).
    """
    used: set[str] = set()
    required: set[str] = set()

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        used.add(name)
        if default is None:
            required.add(name)
        value = environ.get(name)
        if value is not None:
            return value
        if default is not None:
            return default
        raise MissingVariable(name)

    out = _VAR.sub(one, text)
    return Expansion(out, frozenset(used), frozenset(required))
