"""``oauth-bearer`` through a real runner and client: what a token is FOR is checked before the
context plugin runs (the gateway's jwt-auth only checked signature and expiry)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from runner_plugins.bearer_check import BearerCheck
from runner_plugins.client import RunnerClient
from runner_plugins.examples.static_stop import StaticStop
from runner_plugins.plugin import ConfError, Stop
from tests.processes import oauth_key_pair

from .conftest import start_runner

ISSUER = "https://conference.example"
METADATA = f"{ISSUER}/.well-known/oauth-protected-resource"
PRIVATE = ECKey.import_key(oauth_key_pair()[0].replace("\\n", "\n"))
CHECK = json.dumps(
    {
        "issuer": ISSUER,
        "audience": ISSUER,
        "public_key": oauth_key_pair()[1].replace("\\n", "\n"),
        "resource_metadata": METADATA,
        "scope": "conference:read",
    }
)
# The check, then a plugin that answers 200: a request the check lets through reaches it.
CONF = [("oauth-bearer", CHECK), ("static-stop", '{"status": 200, "body": "served"}')]


def _token(**changes: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": ISSUER,
        "sub": "chatgpt",
        "client_id": "c",
        "scope": "conference:read",
        "exp": now + 300,
    }
    claims.update(changes)
    return jwt.encode({"alg": "ES256", "typ": "at+jwt"}, claims, PRIVATE, algorithms=["ES256"])


async def _call(socket_path: str, headers: list[tuple[str, str]]) -> Stop:
    server = await start_runner(socket_path, [BearerCheck(), StaticStop()])
    client = RunnerClient(socket_path)
    try:
        answer = await client.http_req_call(
            CONF, "k", method="GET", path="/speaker/1/context", headers=headers
        )
    finally:
        await client.close()
        await server.shutdown()
    assert isinstance(answer, Stop)
    return answer


async def test_right_token_reaches_the_next_plugin(socket_path: str) -> None:
    answer = await _call(socket_path, [("authorization", f"Bearer {_token()}")])
    assert (answer.status, answer.body) == (200, b"served")


async def test_api_key_request_passes_unchanged(socket_path: str) -> None:
    answer = await _call(socket_path, [("apikey", "whatever the gateway accepted")])
    assert (answer.status, answer.body) == (200, b"served")


@pytest.mark.parametrize(
    ("changes", "status", "error"),
    [
        pytest.param({"aud": f"{ISSUER}/mcp"}, 401, "invalid_token", id="other-resource"),
        pytest.param({"iss": "https://evil.example"}, 401, "invalid_token", id="other-issuer"),
        pytest.param({"scope": "conference:feedback"}, 403, "insufficient_scope", id="no-read"),
    ],
)
async def test_wrong_token_is_answered_before_the_next_plugin(
    socket_path: str, changes: dict[str, Any], status: int, error: str
) -> None:
    answer = await _call(socket_path, [("authorization", f"Bearer {_token(**changes)}")])
    assert answer.status == status
    headers = dict(answer.headers)
    assert headers["content-type"] == "application/json"
    challenge = headers["www-authenticate"]
    assert challenge.startswith(f'Bearer resource_metadata="{METADATA}"')
    assert f'error="{error}"' in challenge
    body = json.loads(answer.body)
    assert body["status"] == status and isinstance(body["message"], str)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("{}", id="empty"),
        pytest.param(json.dumps({**json.loads(CHECK), "extra": 1}), id="unknown-field"),
        pytest.param(json.dumps({**json.loads(CHECK), "public_key": "nope"}), id="bad-key"),
        pytest.param("not json", id="not-json"),
    ],
)
def test_bad_conf_is_refused(raw: str) -> None:
    with pytest.raises(ConfError):
        BearerCheck().parse_conf(raw)
