"""The gateway's consumers as the sign-in page knows them: API key -> consumer -> scopes.

Strategy: the person signing in proves who they are with what the operator gave them, a
consumer's API key (the same ``CHATGPT_API_KEY`` / ``READONLY_API_KEY`` the gateway's key-auth
checks). The tokens then act for that consumer: their ``sub`` is the consumer name, which the
gateway's ``jwt-auth`` maps back to the same APISIX consumer, so its quota and
``consumer-restriction`` apply unchanged. What each consumer may do is decided here once:
``chatgpt`` reads and posts feedback, ``readonly`` only reads.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bearer import FEEDBACK_SCOPE, READ_SCOPE

#: consumer name -> (environment variable holding its API key, scopes its tokens may carry)
CONSUMER_TABLE: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "chatgpt": ("CHATGPT_API_KEY", (READ_SCOPE, FEEDBACK_SCOPE)),
    "readonly": ("READONLY_API_KEY", (READ_SCOPE,)),
}


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    api_key: bytes
    scopes: frozenset[str]


def load_consumers(environ: Mapping[str, str]) -> tuple[Consumer, ...]:
    """The consumers whose key is set in ``environ`` (an unset key cannot sign in)."""
    consumers = []
    for name, (variable, scopes) in CONSUMER_TABLE.items():
        key = environ.get(variable, "")
        if key:
            consumers.append(Consumer(name, key.encode("utf-8"), frozenset(scopes)))
    return tuple(consumers)


def find_consumer(consumers: Sequence[Consumer], api_key: str) -> Consumer | None:
    """The consumer owning ``api_key``; every key is compared, in constant time each."""
    wanted = api_key.encode("utf-8", "surrogateescape")
    found = None
    for consumer in consumers:
        if hmac.compare_digest(wanted, consumer.api_key):
            found = consumer
    return found


def consumer_named(consumers: Sequence[Consumer], name: str) -> Consumer | None:
    return next((c for c in consumers if c.name == name), None)
