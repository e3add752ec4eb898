"""``jwt-auth`` and ``multi-auth`` in the local gateway, on the project's apisix.yaml and alone.

Tokens are signed here with the session's key pair (tests.processes.oauth_key_pair); the
gateway only knows the public half, as APISIX does from its consumer credentials.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from gateway.build import build
from gateway.config import parse
from gateway.errors import ConfigError
from tests.gateway.conftest import Echo, GatewayFactory, Running, body_json, header
from tests.processes import oauth_key_pair

PRIVATE = ECKey.import_key(oauth_key_pair()[0].replace("\\n", "\n"))


def _token(key: Any = PRIVATE, alg: str = "ES256", **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": "https://x", "aud": "https://x", "sub": "chatgpt", "exp": now + 300}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "typ": "at+jwt"}, claims, key, algorithms=[alg])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _segment(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()


# --- multi-auth on the project's routes ----------------------------------------------------------


async def test_bearer_reaches_the_upstream_as_its_consumer(
    project_gateway: Running, echo: Echo
) -> None:
    token = _token()
    response = await project_gateway.client.get("/speakers", headers=_bearer(token))
    assert response.status_code == 200, response.text
    forwarded = echo.last
    assert header(forwarded, "X-Consumer-Username") == ["chatgpt"]
    # Not hidden: the backend checks the token's audience, issuer and scope.
    assert header(forwarded, "Authorization") == [f"Bearer {token}"]


async def test_api_key_still_works_beside_the_bearer(
    project_gateway: Running, echo: Echo, keys: dict[str, str]
) -> None:
    response = await project_gateway.client.get(
        "/speakers", headers={"apikey": keys["READONLY_API_KEY"]}
    )
    assert response.status_code == 200
    assert header(echo.last, "X-Consumer-Username") == ["readonly"]
    assert header(echo.last, "apikey") == []


async def test_readonly_token_is_restricted_like_the_readonly_key(
    project_gateway: Running, echo: Echo
) -> None:
    response = await project_gateway.client.post(
        "/session/1/feedback", headers=_bearer(_token(sub="readonly")), json={"rating": 5}
    )
    assert response.status_code == 403
    assert body_json(response)["status"] == 403
    assert echo.seen == []


async def test_bearer_counts_against_the_consumer_quota(
    project_gateway: Running, echo: Echo
) -> None:
    # The project fixture sets READONLY_RATE_LIMIT=3.
    statuses = []
    for _ in range(4):
        response = await project_gateway.client.get(
            "/speakers", headers=_bearer(_token(sub="readonly"))
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_token(exp=int(time.time()) - 1), id="expired"),
        pytest.param(_token(exp=None), id="no-exp"),
        pytest.param(_token(ECKey.generate_key("P-256")), id="wrong-key"),
        pytest.param(_token(sub="nobody"), id="unknown-consumer"),
        pytest.param(_token(sub=None), id="no-sub"),
        pytest.param(
            f"{_segment({'alg': 'none'})}.{_segment({'sub': 'chatgpt', 'exp': 2**31})}.",
            id="alg-none",
        ),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
async def test_bad_bearer_is_refused_before_the_upstream(
    project_gateway: Running, echo: Echo, token: str
) -> None:
    response = await project_gateway.client.get("/speakers", headers=_bearer(token))
    assert response.status_code == 401
    assert body_json(response)["status"] == 401
    assert echo.seen == []


# --- jwt-auth alone: APISIX's own replies -----------------------------------------------------


def _jwt_only_yaml(echo: Echo, route_conf: str = "{key_claim_name: sub}") -> str:
    public = oauth_key_pair()[1]
    return f"""
upstreams:
  - id: up
    nodes:
      "{echo.address}": 1
consumers:
  - username: chatgpt
    plugins:
      jwt-auth:
        key: chatgpt
        algorithm: ES256
        public_key: "{public}"
routes:
  - id: r
    uri: /*
    upstream_id: up
    plugins:
      jwt-auth: {route_conf}
#END
"""


async def test_jwt_auth_replies_like_apisix(start_gateway: GatewayFactory, echo: Echo) -> None:
    running = await start_gateway(_jwt_only_yaml(echo), {})
    cases = [
        ({}, "Missing JWT token in request"),
        (_bearer("a.b"), "JWT token invalid"),
        (_bearer(_token(sub="nobody")), "Invalid user key in JWT token"),
        (_bearer(_token(ECKey.generate_key("P-256"))), "failed to verify jwt"),
        (_bearer(_token(exp=int(time.time()) - 5)), "failed to verify jwt"),
    ]
    for headers, message in cases:
        response = await running.client.get("/x", headers=headers)
        assert response.status_code == 401
        assert body_json(response) == {"message": message}
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="jwt"'
    assert echo.seen == []


async def test_jwt_auth_takes_the_token_from_the_jwt_query_argument(
    start_gateway: GatewayFactory, echo: Echo
) -> None:
    running = await start_gateway(_jwt_only_yaml(echo), {})
    response = await running.client.get("/x", params={"jwt": _token()})
    assert response.status_code == 200
    assert header(echo.last, "X-Consumer-Username") == ["chatgpt"]


async def test_exp_is_optional_unless_listed(start_gateway: GatewayFactory, echo: Echo) -> None:
    running = await start_gateway(_jwt_only_yaml(echo), {})
    response = await running.client.get("/x", headers=_bearer(_token(exp=None)))
    assert response.status_code == 200  # checked only when present, as in APISIX


@pytest.mark.parametrize(
    ("yaml_change", "message"),
    [
        pytest.param(("algorithm: ES256", "algorithm: HS256"), "algorithm", id="hs256"),
        pytest.param(
            ("jwt-auth: {key_claim_name: sub}", "jwt-auth: {realm: x}"), "realm", id="realm"
        ),
    ],
)
def test_unimplemented_jwt_auth_fields_are_refused(
    echo: Echo, yaml_change: tuple[str, str], message: str
) -> None:
    text = _jwt_only_yaml(echo).replace(*yaml_change)
    with pytest.raises(ConfigError, match=message):
        build(parse(text, {}))


def test_private_key_as_public_key_is_refused(echo: Echo) -> None:
    private = oauth_key_pair()[0]
    text = _jwt_only_yaml(echo).replace(oauth_key_pair()[1], private)
    with pytest.raises(ConfigError, match="PRIVATE"):
        build(parse(text, {}))


@pytest.mark.parametrize(
    ("route_conf", "message"),
    [
        pytest.param("{auth_plugins: [{key-auth: {}}]}", "auth_plugins", id="one-plugin"),
        pytest.param(
            "{auth_plugins: [{key-auth: {}}, {basic-auth: {}}]}", "auth_plugins", id="basic-auth"
        ),
    ],
)
def test_unimplemented_multi_auth_confs_are_refused(
    echo: Echo, route_conf: str, message: str
) -> None:
    text = _jwt_only_yaml(echo).replace(
        "jwt-auth: {key_claim_name: sub}", f"multi-auth: {route_conf}"
    )
    with pytest.raises(ConfigError, match=message):
        build(parse(text, {}))
