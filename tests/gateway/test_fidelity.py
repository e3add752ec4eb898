"""Byte-level fidelity to APISIX 3.x where plain JSON checks cannot see a difference.

Facts from APISIX's source (docs/local-stack.md, "What the development gateway implements"):

* ``core.response.exit`` encodes a Lua table with cjson and appends ``"\\n"``
  (apisix/core/response.lua); cjson escapes ``/`` as ``\\/``. A string body (a runner Stop, a
  string ``_meta.error_response``) is sent as is.
* A bare status (no body: runner unreachable, upstream 502/504, limit-count without a message) is
  answered by nginx through config.yaml's ``error_page`` directives, in a named location that has
  no Lua phases (apisix/cli/ngx_tpl.lua): its type is ``application/json`` and APISIX's header
  filter never runs, so no ``X-Request-Id``, no CORS headers. Headers a plugin set before the exit
  (limit-count's ``X-RateLimit-*``) are already in the response and stay.
"""

from __future__ import annotations

import asyncio

from tests.gateway.conftest import Echo, Running, body_json
from tests.processes import free_port

ORIGIN = {"Origin": "https://chatgpt.com"}


def _yaml(address: str) -> str:
    return f"""
upstreams:
  - {{id: up, nodes: {{"{address}": 1}}, timeout: {{connect: 1, send: 1, read: 5}}}}
consumers:
  - username: chatgpt
    plugins:
      key-auth: {{key: "${{{{CHATGPT_API_KEY}}}}"}}
  - username: other
    plugins:
      key-auth: {{key: "${{{{READONLY_API_KEY}}}}"}}
routes:
  - id: plain
    uri: /plain
    methods: [GET]
    upstream_id: up
    plugins:
      request-id: {{}}
      cors: {{allow_origins: "https://chatgpt.com"}}
      key-auth: {{}}
      consumer-restriction: {{whitelist: [chatgpt]}}
  - id: meta
    uri: /meta
    upstream_id: up
    plugins:
      key-auth:
        _meta: {{error_response: {{status: 401, message: "see https://example.org/keys"}}}}
  - id: text
    uri: /text
    upstream_id: up
    plugins:
      key-auth:
        _meta: {{error_response: "no key, no entry"}}
  - id: slash
    uri: /slash
    upstream_id: up
    plugins:
      limit-count: {{count: 1, time_window: 60, rejected_code: 429, rejected_msg: "a/b"}}
  - id: bare
    uri: /bare/*
    upstream_id: up
    plugins:
      request-id: {{}}
      cors: {{allow_origins: "https://chatgpt.com"}}
      key-auth: {{}}
      limit-count: {{count: 5, time_window: 60, key_type: constant, key: k}}
      ext-plugin-post-req:
        conf: [{{name: probe-stop, value: "{{}}"}}]
#END
"""


async def test_table_exits_end_with_a_newline_like_core_response_exit(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(_yaml(echo.address), keys)
    client = running.client
    missing = await client.get("/plain")
    assert missing.content == b'{"message":"Missing API key in request"}\n'
    wrong = await client.get("/plain", headers={"apikey": "nope"})
    assert wrong.content == b'{"message":"Invalid API key in request"}\n'
    forbidden = await client.get("/plain", headers={"apikey": keys["READONLY_API_KEY"]})
    assert forbidden.content == b'{"message":"The consumer_name is forbidden."}\n'
    unrouted = await client.get("/nowhere")
    assert unrouted.content == b'{"error_msg":"404 Route Not Found"}\n'
    # Table bodies go out as text/plain, like every core.response.exit body.
    assert missing.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_error_response_object_is_cjson_and_string_is_verbatim(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(_yaml(echo.address), keys)
    meta = await running.client.get("/meta")
    assert meta.status_code == 401
    assert meta.content.endswith(b"}\n")
    assert b"https:\\/\\/example.org\\/keys" in meta.content  # cjson escapes "/"
    assert body_json(meta) == {"status": 401, "message": "see https://example.org/keys"}
    text = await running.client.get("/text")
    assert (text.status_code, text.content) == (401, b"no key, no entry")
    await running.client.get("/slash")
    limited = await running.client.get("/slash")
    assert (limited.status_code, limited.content) == (429, b'{"error_msg":"a\\/b"}\n')


async def test_runner_unreachable_503_is_nginx_error_page_without_header_filter(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(
        _yaml(echo.address), keys, runner_socket="/tmp/definitely-absent.sock"
    )
    response = await running.client.get(
        "/bare/x", headers={**ORIGIN, "apikey": keys["CHATGPT_API_KEY"]}
    )
    assert response.status_code == 503
    assert response.content == b'{"error_msg":"503 Service Unavailable"}'
    assert response.headers["Content-Type"] == "application/json"
    # Set by limit-count in the access phase, before the exit: kept.
    assert response.headers["X-RateLimit-Remaining"] == "4"
    # Added by header filters, which the error page's location never runs.
    assert "X-Request-Id" not in response.headers
    assert "Vary" not in response.headers
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    # The same route's plugin answers (a body) still go through the header filters.
    denied = await running.client.get("/bare/x", headers=ORIGIN)
    assert denied.status_code == 401
    assert "X-Request-Id" in denied.headers
    assert denied.headers["Access-Control-Allow-Origin"] == "https://chatgpt.com"


async def test_unreachable_upstream_502_is_nginx_error_page_without_header_filter(
    start_gateway, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(_yaml(f"127.0.0.1:{free_port()}"), keys)
    response = await running.client.get(
        "/plain", headers={**ORIGIN, "apikey": keys["CHATGPT_API_KEY"]}
    )
    assert (response.status_code, response.content) == (502, b'{"error_msg":"502 Bad Gateway"}')
    assert response.headers["Content-Type"] == "application/json"
    assert "X-Request-Id" not in response.headers
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_parser_errors_are_error_pages_too(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(_yaml(echo.address), keys)
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /plain HTTP/1.1\r\nHost: a\r\nbroken header line\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400", head
    assert b"content-type: application/json" in head.lower()
    assert body == b'{"error_msg":"400 Bad Request"}'


async def _raw_get(running: Running, target: str) -> tuple[int, bytes]:
    """GET ``target`` byte for byte (httpx would normalise the path itself)."""
    host, port = running.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def test_routes_on_nginx_uri_and_proxies_it_re_encoded(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    text = f"""
upstreams:
  - {{id: up, nodes: {{"{echo.address}": 1}}}}
routes:
  - id: topics
    uri: /topics
    upstream_id: up
    plugins:
      proxy-rewrite: {{headers: {{set: {{X-Seen: "1"}}}}}}
  - id: speaker
    uri: /speaker/*
    upstream_id: up
    plugins:
      proxy-rewrite: {{headers: {{set: {{X-Seen: "1"}}}}}}
#END
"""
    running: Running = await start_gateway(text, keys)
    # nginx resolves dot segments and merges slashes before APISIX's router sees the path.
    assert (await _raw_get(running, "/speakers/../topics?x=1"))[0] == 200
    assert echo.last["path_qs"] == "/topics?x=1"
    assert (await _raw_get(running, "//topics"))[0] == 200
    assert echo.last["path_qs"] == "/topics"
    # proxy-rewrite sends uri_safe_encode($uri): decoded, then only a few bytes re-escaped.
    assert (await _raw_get(running, "/speaker/%37/a%2Fb%20c"))[0] == 200
    assert echo.last["path_qs"] == "/speaker/7/a/b%20c"
    served = len(echo.seen)
    assert await _raw_get(running, "/speaker/../../etc") == (
        400,
        b'{"error_msg":"400 Bad Request"}',
    )
    assert len(echo.seen) == served


def test_equal_priority_prefers_the_longer_uri_like_radixtree(keys: dict[str, str]) -> None:
    from gateway.build import build
    from gateway.config import parse
    from gateway.router import Router

    # lua-resty-radixtree's sort_route: priority first, then the longer uri pattern; the order
    # in the file only breaks a tie of both.
    text = """
upstreams:
  - {id: up, nodes: {"127.0.0.1:1": 1}}
routes:
  - {id: star, uri: "/a/*", upstream_id: up}
  - {id: param, uri: "/a/:x/b", upstream_id: up}
  - {id: first, uris: ["/c/*"], upstream_id: up}
  - {id: second, uris: ["/c/*"], upstream_id: up}
#END
"""
    router = Router(build(parse(text, keys)).routes)
    found = router.match("GET", "/a/1/b")
    assert found is not None and found.route.id == "param"
    tie = router.match("GET", "/c/1")
    assert tie is not None and tie.route.id == "first"


async def test_proxy_rewrite_uri_is_sent_through_uri_safe_encode(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    # proxy-rewrite.lua: upstream_uri = uri_safe_encode(conf.uri); "%" is escaped too.
    text = f"""
upstreams:
  - {{id: up, nodes: {{"{echo.address}": 1}}}}
routes:
  - id: r
    uri: /r
    upstream_id: up
    plugins:
      proxy-rewrite: {{uri: "/x%20y/é z"}}
#END
"""
    running: Running = await start_gateway(text, keys)
    response = await running.client.get("/r?q=1")
    assert response.status_code == 200
    assert echo.last["path_qs"] == "/x%2520y/%C3%A9%20z?q=1"


def test_proxy_rewrite_uri_with_a_query_is_refused(keys: dict[str, str]) -> None:
    import pytest

    from gateway.build import build
    from gateway.config import parse
    from gateway.errors import ConfigError

    text = """
upstreams:
  - {id: up, nodes: {"127.0.0.1:1": 1}}
routes:
  - {id: r, uri: /r, upstream_id: up, plugins: {proxy-rewrite: {uri: "/x?a=1"}}}
#END
"""
    with pytest.raises(ConfigError, match="proxy-rewrite"):
        build(parse(text, keys))


async def test_empty_apikey_is_an_invalid_key_not_a_missing_one(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    # key-auth.lua tests "if not key": an empty string is a key in Lua, so it is looked up
    # (and not found), and a header, even empty, means the query is not consulted.
    running: Running = await start_gateway(_yaml(echo.address), keys)
    empty_header = await running.client.get(
        "/plain", headers={"apikey": ""}, params={"apikey": keys["CHATGPT_API_KEY"]}
    )
    assert empty_header.content == b'{"message":"Invalid API key in request"}\n'
    empty_query = await running.client.get("/plain?apikey=")
    assert empty_query.content == b'{"message":"Invalid API key in request"}\n'


async def test_public_routes_share_one_per_address_budget(project_gateway: Running) -> None:
    # Both unauthenticated routes use the same limit-count conf (a YAML alias). On APISIX a
    # counter without group is keyed by the conf's parent route, which an alias (one Lua table)
    # makes ambiguous; the explicit group makes it one budget per address on both gateways.
    first = await project_gateway.client.get("/openapi.yaml")
    second = await project_gateway.client.get("/no/such/path")
    remaining = [int(r.headers["X-RateLimit-Remaining"]) for r in (first, second)]
    assert remaining[1] == remaining[0] - 1


async def test_body_size_limit_applies_when_the_body_is_read(
    project_gateway: Running, echo: Echo, keys: dict[str, str]
) -> None:
    # APISIX's runtime sets apisix_delay_client_max_body_check on (ngx_tpl.lua): nginx checks
    # client_max_body_size only when the body is read (proxying), so the plugins answer first
    # (api7/apisix-nginx-module t/client.t: an unread oversize body is no 413).
    big = b"x" * (1024 * 1024 + 1)
    path = "/session/101/feedback"
    no_key = await project_gateway.client.post(path, content=big)
    assert no_key.status_code == 401
    readonly = await project_gateway.client.post(
        path, content=big, headers={"apikey": keys["READONLY_API_KEY"]}
    )
    assert readonly.status_code == 403
    allowed = await project_gateway.client.post(
        path, content=big, headers={"apikey": keys["CHATGPT_API_KEY"]}
    )
    assert (allowed.status_code, allowed.content) == (
        413,
        b'{"error_msg":"413 Request Entity Too Large"}',
    )
    assert "X-RateLimit-Remaining" in allowed.headers  # counted before the body was read
    assert echo.seen == []
    # The gateway still serves on.
    assert (await project_gateway.client.get("/openapi.yaml")).status_code == 200
