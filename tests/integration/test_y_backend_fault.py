"""A backend outage mid-run: context answers degrade to clean 5xx JSON and recover.

Needs ``STACK_BACKEND_CONTROL`` (the local stack sets it to ``python -m stack ... backend``); the
Docker stack or a remote deployment skips this test.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.conftest import assert_error_shape

#: Ids no other test asks for, so no cached context can hide the outage (47-49 are taken by
#: test_e_bad_input's correlation-header test, which runs first and warms the runner's cache).
COLD_IDS = [51, 52, 53]
#: The context plugin's whole-request budget is 5 s; an answer must never wait much longer.
BOUND_S = 15.0

pytestmark = pytest.mark.disrupts


def _control(action: str) -> None:
    command = os.environ["STACK_BACKEND_CONTROL"]
    subprocess.run([*shlex.split(command), action], check=True, timeout=120)


@pytest.fixture
def outage() -> Iterator[None]:
    if not os.environ.get("STACK_BACKEND_CONTROL"):
        pytest.skip("STACK_BACKEND_CONTROL is not set: cannot stop the backend of this stack")
    _control("stop")
    try:
        yield
    finally:
        _control("start")


def test_context_degrades_then_recovers(outage: None, chatgpt: httpx.Client) -> None:
    for speaker_id in COLD_IDS:
        started = time.monotonic()
        response = chatgpt.get(f"/speaker/{speaker_id}/context")
        elapsed = time.monotonic() - started
        assert_error_shape(response, (502, 503, 504))
        assert elapsed < BOUND_S, f"took {elapsed:.1f} s"
    plain = chatgpt.get("/speakers")
    assert_error_shape(plain, (502, 503, 504))
    # Same request still fails cleanly while the backend is away (breaker or not).
    assert_error_shape(chatgpt.get(f"/speaker/{COLD_IDS[0]}/context"), (502, 503, 504))

    _control("start")
    deadline = time.monotonic() + 60
    status = 0
    while time.monotonic() < deadline:
        status = chatgpt.get(f"/speaker/{COLD_IDS[0]}/context").status_code
        if status == 200:
            break
        time.sleep(0.5)
    assert status == 200, "the context route did not recover after the backend came back"
    assert chatgpt.get("/speakers").status_code == 200


def test_mcp_tools_report_the_outage_as_tool_errors(outage: None, chatgpt: httpx.Client) -> None:
    """Backend down: an MCP tool answers a result with isError and plain words, not a 5xx."""
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": "2025-11-25",
    }
    for name, arguments in (
        ("get_speaker_context", {"id": 54}),
        ("search_sessions", {"keyword": "outage-probe"}),
    ):
        message = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        started = time.monotonic()
        response = chatgpt.post("/mcp", json=message, headers=headers)
        assert time.monotonic() - started < BOUND_S
        assert response.status_code == 200, response.text[:200]
        result = response.json()["result"]
        assert result["isError"] is True, result
        text = result["content"][0]["text"]
        assert "backend" in text and "Traceback" not in text, text
