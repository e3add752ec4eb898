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
