"""Who may use which tool: the one place that decides.

Strategy: the gateway has already authenticated the caller and tells the runner the consumer
name (APISIX's ``consumer_name`` variable). Every tool declares the permission it needs; reads
are open to every authenticated consumer, ``feedback`` only to the consumers the route conf
lists (the same list as the REST feedback route's consumer-restriction). A refusal is a value
with a sentence the model can relay, never an exception, so the tool answers with an error
result (MCP's rule for business-rule failures) instead of a transport-level 403. An unknown
caller is refused every permission but ``read``: fail closed. An OAuth bearer token maps to the
same consumers (the gateway's jwt-auth picks the consumer from its ``sub``) and narrows further:
``feedback`` also needs the token's ``conference:feedback`` scope (the read scope was checked by
``oauth-bearer`` before the MCP plugin runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bearer import FEEDBACK_SCOPE

Permission = Literal["read", "feedback"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller as the gateway identified it (None: not identified)."""

    consumer: str | None
    #: The bearer token's scopes; None when the caller used an API key (no token to narrow it).
    scopes: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


ALLOWED = Decision(True)


class Access:
    """The permission policy of one route conf."""

    def __init__(self, feedback_consumers: frozenset[str]) -> None:
        self._feedback = feedback_consumers

    def needs_caller(self, permission: Permission) -> bool:
        """Whether deciding needs the caller (asking for it costs an ExtraInfo round trip)."""
        return permission != "read"

    def decide(self, caller: Caller, permission: Permission) -> Decision:
        if permission == "read":
            return ALLOWED
        if caller.scopes is not None and FEEDBACK_SCOPE not in caller.scopes:
            return Decision(
                False,
                "This sign-in granted reading only: the token lacks the conference:feedback "
                "scope. Ask the user to sign in again and allow posting feedback.",
            )
        if caller.consumer is not None and caller.consumer in self._feedback:
            return ALLOWED
        who = f"API key of consumer {caller.consumer!r}" if caller.consumer else "caller"
        return Decision(
            False,
            f"This {who} may read the conference data but not post session feedback. "
            "Ask the user to connect with a key that may post feedback.",
        )
