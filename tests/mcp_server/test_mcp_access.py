"""The one permission decision of the MCP tools (runner_plugins/mcp/access.py)."""

from __future__ import annotations

from runner_plugins.mcp.access import Access, Caller

POLICY = Access(frozenset({"chatgpt"}))


def test_reads_need_no_caller_and_are_open_to_everyone() -> None:
    assert POLICY.needs_caller("read") is False
    assert POLICY.decide(Caller(None), "read").allowed
    assert POLICY.decide(Caller("readonly"), "read").allowed


def test_feedback_only_for_listed_consumers() -> None:
    assert POLICY.needs_caller("feedback") is True
    assert POLICY.decide(Caller("chatgpt"), "feedback").allowed
    refused = POLICY.decide(Caller("readonly"), "feedback")
    assert not refused.allowed and "readonly" in refused.reason
    assert "not post session feedback" in refused.reason


def test_an_unidentified_caller_is_refused_writes() -> None:
    refused = POLICY.decide(Caller(None), "feedback")
    assert not refused.allowed and refused.reason
    assert not Access(frozenset()).decide(Caller("chatgpt"), "feedback").allowed


def test_a_bearer_token_without_the_feedback_scope_may_not_post() -> None:
    # Consumer chatgpt may post, but this sign-in granted reading only.
    refused = POLICY.decide(Caller("chatgpt", frozenset({"conference:read"})), "feedback")
    assert not refused.allowed
    assert "conference:feedback" in refused.reason


def test_a_bearer_token_with_the_feedback_scope_posts_as_its_consumer() -> None:
    scopes = frozenset({"conference:read", "conference:feedback"})
    assert POLICY.decide(Caller("chatgpt", scopes), "feedback").allowed
    # The scope does not lift the consumer's own limit.
    assert not POLICY.decide(Caller("readonly", scopes), "feedback").allowed
