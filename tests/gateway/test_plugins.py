"""Each plugin of the project's apisix.yaml, over real HTTP, against APISIX's observed replies.

Expected values come from replies recorded on APISIX 3.18.0 (statuses, bodies, header names) and
from the project's ``_meta.error_response`` bodies in apisix.yaml.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import pytest

from tests.gateway.conftest import Echo, Running, body_json, header

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def test_public_surface_needs_no_key_and_gets_the_secret(
    project_gateway: Running, echo: Echo, keys: dict[str, str]
) -> None:
    response = await project_gateway.client.get("/openapi.yaml", headers={"Cookie": "session=abc"})
    assert response.status_code == 200
    forwarded = echo.last
    assert forwarded["path_qs"] == "/openapi.yaml"
    assert header(forwarded, "X-Conference-Secret") == [keys["CONFERENCE_SHARED_SECRET"]]
    assert header(forwarded, "Cookie") == []
    assert header(forwarded, "X-Real-IP") == ["127.0.0.1"]
    assert header(forwarded, "X-Forwarded-For") == ["127.0.0.1"]


async def test_a_client_x_forwarded_for_is_kept_and_the_peer_appended(
    project_gateway: Running, echo: Echo
) -> None:
    # APISIX proxies with nginx's $proxy_add_x_forwarded_for: the client's list, then its peer.
    response = await project_gateway.client.get(
        "/openapi.yaml", headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.2"}
    )
    assert response.status_code == 200
    assert header(echo.last, "X-Forwarded-For") == ["203.0.113.7, 198.51.100.2, 127.0.0.1"]
    assert header(echo.last, "X-Real-IP") == ["127.0.0.1"]


MULTI_AUTH_MESSAGE = (
    "A valid API key (apikey header) or OAuth access token (Authorization: Bearer) is required."
)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, MULTI_AUTH_MESSAGE, id="missing"),
        pytest.param({"apikey": "wrong"}, MULTI_AUTH_MESSAGE, id="wrong"),
    ],
)
async def test_key_auth_rejects_with_the_error_response(
    project_gateway: Running, echo: Echo, headers: dict[str, str], message: str
) -> None:
    response = await project_gateway.client.get("/speakers", headers=headers)
    assert response.status_code == 401
    # multi-auth answers with its own 401 and no challenge of the inner plugins; the route's
    # conference-errors adds the OAuth one (RFC 9728): where to find the sign-in.
    assert response.headers.get_list("WWW-Authenticate") == [
        'Bearer resource_metadata="http://localhost:9080/.well-known/oauth-protected-resource"'
    ]
    assert body_json(response) == {"status": 401, "error": "Unauthorized", "message": message}
    # APISIX would send it untyped (text/plain); the route's conference-errors makes it JSON.
    assert response.headers["Content-Type"] == "application/json"
    assert echo.seen == []


async def test_key_that_is_not_utf8_is_401_not_500(project_gateway: Running, echo: Echo) -> None:
    # aiohttp keeps header bytes that are not UTF-8 as surrogate escapes; httpx cannot send
    # them, so the request is written by hand.
    host, port = project_gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /speakers HTTP/1.1\r\nHost: a\r\napikey: \xe9\xff\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"401", head
    assert json.loads(body)["status"] == 401
    assert echo.seen == []


async def test_key_auth_plain_apisix_bodies_without_meta(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    text = f"""
upstreams:
  - id: up
    nodes: {{"{echo.address}": 1}}
consumers:
  - username: chatgpt
    plugins:
      key-auth: {{key: "${{{{CHATGPT_API_KEY}}}}"}}
routes:
  - id: r
    uri: /k
    upstream_id: up
    plugins:
      key-auth: {{}}
#END
"""
    running = await start_gateway(text, keys)
    missing = await running.client.get("/k")
    wrong = await running.client.get("/k", headers={"apikey": "nope"})
    assert (missing.status_code, body_json(missing)) == (
        401,
        {"message": "Missing API key in request"},
    )
    assert (wrong.status_code, body_json(wrong)) == (401, {"message": "Invalid API key in request"})
    ok = await running.client.get("/k", headers={"apikey": keys["CHATGPT_API_KEY"]})
    assert ok.status_code == 200
    # hide_credentials defaults to false: the key goes upstream.
    assert header(echo.last, "apikey") == [keys["CHATGPT_API_KEY"]]


@pytest.mark.parametrize("where", ["header", "query"])
async def test_right_key_reaches_upstream_without_credentials(
    project_gateway: Running, echo: Echo, keys: dict[str, str], where: str
) -> None:
    key = keys["CHATGPT_API_KEY"]
    if where == "header":
        response = await project_gateway.client.get("/speakers?limit=2", headers={"apikey": key})
    else:
        response = await project_gateway.client.get("/speakers", params={"limit": 2, "apikey": key})
    assert response.status_code == 200
    forwarded = echo.last
    assert header(forwarded, "X-Consumer-Username") == ["chatgpt"]
    assert header(forwarded, "apikey") == []
    assert "apikey" not in forwarded["path_qs"]
    assert "limit=2" in forwarded["path_qs"]
    assert response.headers["X-RateLimit-Limit"] == "600"
    assert int(response.headers["X-RateLimit-Remaining"]) == 599


async def test_consumer_restriction(
    project_gateway: Running, echo: Echo, keys: dict[str, str]
) -> None:
    readonly = await project_gateway.client.post(
        "/session/101/feedback", json={"rating": 5}, headers={"apikey": keys["READONLY_API_KEY"]}
    )
    assert readonly.status_code == 403
    assert body_json(readonly)["message"] == "This API key may read but not post feedback."
    assert echo.seen == []
    allowed = await project_gateway.client.post(
        "/session/101/feedback", json={"rating": 5}, headers={"apikey": keys["CHATGPT_API_KEY"]}
    )
    assert allowed.status_code == 200
    assert echo.last["method"] == "POST"
    assert body_json(allowed)["body"] == '{"rating":5}'


async def test_consumer_restriction_default_message(start_gateway, echo: Echo) -> None:
    text = f"""
upstreams:
  - {{id: up, nodes: {{"{echo.address}": 1}}}}
consumers:
  - {{username: other, plugins: {{key-auth: {{key: k-other}}}}}}
routes:
  - id: r
    uri: /c
    upstream_id: up
    plugins:
      key-auth: {{}}
      consumer-restriction: {{whitelist: [chatgpt]}}
#END
"""
    running = await start_gateway(text, {})
    response = await running.client.get("/c", headers={"apikey": "k-other"})
    assert (response.status_code, body_json(response)) == (
        403,
        {"message": "The consumer_name is forbidden."},
    )


async def test_limit_count_429_per_consumer_group(
    project_gateway: Running, echo: Echo, keys: dict[str, str]
) -> None:
    readonly = {"apikey": keys["READONLY_API_KEY"]}
    remaining = []
    for path in ("/speakers", "/topics", "/sessions"):  # one group across routes
        response = await project_gateway.client.get(path, headers=readonly)
        assert response.status_code == 200
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    served = len(echo.seen)
    limited = await project_gateway.client.get("/speakers", headers=readonly)
    assert limited.status_code == 429
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < float(limited.headers["X-RateLimit-Reset"]) <= 60
    assert body_json(limited)["error"] == "Too Many Requests"
    assert len(echo.seen) == served
    # Another consumer has its own quota.
    other = await project_gateway.client.get(
        "/speakers", headers={"apikey": keys["CHATGPT_API_KEY"]}
    )
    assert other.status_code == 200


async def test_limit_count_rejected_msg_and_default_code(start_gateway, echo: Echo) -> None:
    text = f"""
upstreams:
  - {{id: up, nodes: {{"{echo.address}": 1}}}}
routes:
  - id: a
    uri: /a
    upstream_id: up
    plugins:
      limit-count: {{count: 1, time_window: 60, rejected_code: 429, rejected_msg: "slow down"}}
  - id: b
    uri: /b
    upstream_id: up
    plugins:
      limit-count: {{count: 1, time_window: 60}}
#END
"""
    running = await start_gateway(text, {})
    first = await running.client.get("/a")
    assert first.headers["X-RateLimit-Reset"] == "60"
    second = await running.client.get("/a")
    assert (second.status_code, body_json(second)) == (429, {"error_msg": "slow down"})
    await running.client.get("/b")
    default = await running.client.get("/b")
    # APISIX's default rejected_code is 503 (its body is an nginx page; ours is JSON).
    assert (default.status_code, body_json(default)) == (
        503,
        {"error_msg": "503 Service Unavailable"},
    )


@pytest.mark.parametrize("origin", ["https://chat.openai.com", "https://chatgpt.com"])
async def test_cors_preflight_answered_before_auth(
    project_gateway: Running, echo: Echo, origin: str
) -> None:
    response = await project_gateway.client.options(
        "/speaker/1/context",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "apikey",
        },
    )
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    assert response.headers["Access-Control-Max-Age"] == "3600"
    assert "apikey" in response.headers["Access-Control-Allow-Headers"].split(",")
    assert "X-RateLimit-Remaining" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert echo.seen == []


async def test_cors_other_origin_gets_only_vary(project_gateway: Running) -> None:
    response = await project_gateway.client.options(
        "/openapi.yaml", headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 200
    assert response.headers["Vary"] == "Origin"
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


async def test_cors_headers_on_errors_and_proxied_answers(
    project_gateway: Running, keys: dict[str, str]
) -> None:
    origin = {"Origin": "https://chatgpt.com"}
    denied = await project_gateway.client.get("/speakers", headers=origin)
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == "https://chatgpt.com"
    ok = await project_gateway.client.get(
        "/speakers", headers={**origin, "apikey": keys["CHATGPT_API_KEY"]}
    )
    assert ok.headers["Access-Control-Allow-Origin"] == "https://chatgpt.com"


async def test_request_id_generated_kept_and_upstreams_wins(
    project_gateway: Running, echo: Echo
) -> None:
    generated = await project_gateway.client.get("/logo.png")
    value = generated.headers["X-Request-Id"]
    assert UUID4.match(value)
    assert header(echo.last, "X-Request-Id") == [value]
    mine = str(uuid.uuid4())
    kept = await project_gateway.client.get("/logo.png", headers={"X-Request-Id": mine})
    assert kept.headers["X-Request-Id"] == mine
    assert header(echo.last, "X-Request-Id") == [mine]
    upstream = await project_gateway.client.get("/logo.png?request_id_from_upstream=1")
    assert upstream.headers["X-Request-Id"] == "from-upstream"


async def test_unknown_path_goes_to_the_catch_all_rewrite(
    project_gateway: Running, echo: Echo
) -> None:
    response = await project_gateway.client.delete("/no/such/thing?x=1")
    assert response.status_code == 200  # the echo answers; the real backend says 404
    assert echo.last["method"] == "GET"
    assert echo.last["path_qs"] == "/_gateway/not-found?x=1"


async def test_route_not_found_body(start_gateway, echo: Echo) -> None:
    text = f"""
upstreams:
  - {{id: up, nodes: {{"{echo.address}": 1}}}}
routes:
  - {{id: r, uri: /only, methods: [GET], upstream_id: up}}
#END
"""
    running = await start_gateway(text, {})
    for method, path in (("GET", "/other"), ("POST", "/only")):
        response = await running.client.request(method, path)
        # core.response.exit ends a table body with a newline.
        assert (response.status_code, response.content) == (
            404,
            b'{"error_msg":"404 Route Not Found"}\n',
        )


async def test_head_is_proxied_without_a_body(project_gateway: Running, echo: Echo) -> None:
    response = await project_gateway.client.head("/openapi.yaml")
    assert response.status_code == 200
    assert response.content == b""
    assert echo.last["method"] == "HEAD"
