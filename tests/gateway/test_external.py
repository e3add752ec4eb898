"""The ext-plugin path: the real runner process over its Unix socket, and the runner missing.

Facts checked (APISIX's apisix/plugins/ext-plugin/init.lua and replies recorded on 3.18.0): post-req
runs after key-auth and limit-count, pre-req before key-auth; Stop/Rewrite/ResponseChange are
applied as APISIX applies them; a missing runner gives 503 (with ``_meta.error_response``, its
body), after limit-count has counted the request.
"""

from __future__ import annotations

import json

import pytest

from gateway.errors import ConfigError
from tests.gateway.conftest import APISIX_YAML, Echo, Running, body_json, header


async def test_runner_missing_is_503_after_counting(
    project_gateway: Running, echo: Echo, keys: dict[str, str]
) -> None:
    readonly = {"apikey": keys["READONLY_API_KEY"]}
    response = await project_gateway.client.get("/speaker/1/context", headers=readonly)
    assert response.status_code == 503
    # The project's route has no _meta.error_response here: config.yaml's error_page turns
    # APISIX's HTML 503 page into this JSON, which the stand-in sends too.
    assert body_json(response) == {"error_msg": "503 Service Unavailable"}
    assert response.headers["X-RateLimit-Remaining"] == "2"  # counted before the runner
    # nginx's error_page answers it from a location without APISIX's header filter.
    assert "X-Request-Id" not in response.headers
    assert echo.seen == []
    # Without a key the runner is never contacted: key-auth answers first.
    unauthenticated = await project_gateway.client.get("/speaker/1/context")
    assert unauthenticated.status_code == 401


def _probe_yaml(echo: Echo, plugin: str, ext: str, extra: str = "") -> str:
    return f"""
upstreams:
  - {{id: up, nodes: {{"{echo.address}": 1}}}}
consumers:
  - {{username: chatgpt, plugins: {{key-auth: {{key: "${{{{CHATGPT_API_KEY}}}}"}}}}}}
routes:
  - id: probe
    uri: /probe/*
    upstream_id: up
    plugins:
      request-id: {{}}
      key-auth: {{hide_credentials: true}}
      proxy-rewrite:
        headers:
          set: {{X-Conference-Secret: "${{{{CONFERENCE_SHARED_SECRET}}}}"}}
      {ext}:
        {extra}
        conf:
          - name: {plugin}
            value: '{{"status": 200}}'
#END
"""


async def test_post_req_stop_sees_the_authenticated_request(
    start_gateway, echo: Echo, keys: dict[str, str], runner_socket: str
) -> None:
    running = await start_gateway(
        _probe_yaml(echo, "probe-stop", "ext-plugin-post-req"), keys, runner_socket=runner_socket
    )
    response = await running.client.post(
        "/probe/x%20y?a=1&a=2&flag&apikey=" + keys["CHATGPT_API_KEY"],
        content=b"hello body",
        headers={"Host": "gw.example:9080"},
    )
    assert response.status_code == 200
    assert response.headers["x-probe"] == "stop"
    assert response.headers["content-type"] == "application/json"
    seen = body_json(response)
    assert seen["method"] == "POST"
    # APISIX sends upstream_uri when set, and proxy-rewrite always sets it to
    # uri_safe_encode($uri) (proxy-rewrite.lua): the path arrives re-encoded.
    assert seen["path"] == "/probe/x%20y"
    assert sorted(map(tuple, seen["args"])) == [("a", "1"), ("a", "2"), ("flag", "")]
    assert seen["headers"]["x-consumer-username"] == "chatgpt"
    assert seen["headers"]["x-conference-secret"] == keys["CONFERENCE_SHARED_SECRET"]
    assert seen["headers"]["host"] == "gw.example:9080"
    assert "apikey" not in seen["headers"]
    assert seen["headers"]["x-request-id"] == response.headers["X-Request-Id"]
    assert seen["route_id"] == "probe"  # ExtraInfo var
    assert seen["body"] == "hello body"  # ExtraInfo request body
    assert echo.seen == []


async def test_stop_error_status_gets_the_meta_error_response(
    start_gateway, echo: Echo, keys: dict[str, str], runner_socket: str
) -> None:
    # APISIX replaces the body of ANY exit >= 400 of a plugin carrying _meta.error_response,
    # the runner's own Stop answers included (plugin.lua run_plugin).
    extra = "_meta: {error_response: {message: replaced}}"
    text = _probe_yaml(echo, "probe-stop", "ext-plugin-post-req", extra).replace(
        '{"status": 200}', '{"status": 404}'
    )
    running = await start_gateway(text, keys, runner_socket=runner_socket)
    response = await running.client.get("/probe/a", headers={"apikey": keys["CHATGPT_API_KEY"]})
    assert response.status_code == 404
    assert body_json(response) == {"message": "replaced"}


async def test_pre_req_runs_before_authentication(
    start_gateway, echo: Echo, keys: dict[str, str], runner_socket: str
) -> None:
    running = await start_gateway(
        _probe_yaml(echo, "probe-stop", "ext-plugin-pre-req"), keys, runner_socket=runner_socket
    )
    response = await running.client.get("/probe/a")  # no key at all
    assert response.status_code == 200
    assert body_json(response)["path"] == "/probe/a"


async def test_post_req_rewrite_is_applied_upstream(
    start_gateway, echo: Echo, keys: dict[str, str], runner_socket: str
) -> None:
    running = await start_gateway(
        _probe_yaml(echo, "probe-rewrite", "ext-plugin-post-req"),
        keys,
        runner_socket=runner_socket,
    )
    response = await running.client.get(
        "/probe/a?keep=1&removed=2",
        headers={"apikey": keys["CHATGPT_API_KEY"], "X-Drop-Me": "1"},
    )
    assert response.status_code == 200
    forwarded = echo.last
    path, _, query = forwarded["path_qs"].partition("?")
    assert path == "/rewritten/path"
    assert sorted(query.split("&")) == ["added=1", "keep=1"]
    assert header(forwarded, "x-probe-added") == ["yes"]
    assert header(forwarded, "x-drop-me") == []
    assert response.headers["x-probe-resp"] == "from-runner"
    # content-type is on APISIX's deny list for Rewrite.resp_headers.
    assert response.headers["content-type"].startswith("application/json")


async def test_post_resp_changes_the_upstream_answer(
    start_gateway, echo: Echo, keys: dict[str, str], runner_socket: str
) -> None:
    running = await start_gateway(
        _probe_yaml(echo, "probe-response", "ext-plugin-post-resp"),
        keys,
        runner_socket=runner_socket,
    )
    response = await running.client.get(
        "/probe/r?status=202", headers={"apikey": keys["CHATGPT_API_KEY"]}
    )
    assert response.status_code == 203
    assert response.headers["x-probe-upstream-status"] == "202"
    assert response.content.startswith(b"changed:")
    upstream_doc = json.loads(response.content[len(b"changed:") :])
    assert upstream_doc["path_qs"] == "/probe/r?status=202"


async def test_runner_missing_allow_degradation_goes_upstream(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    text = _probe_yaml(echo, "probe-stop", "ext-plugin-post-req", "allow_degradation: true")
    running = await start_gateway(text, keys, runner_socket="/tmp/definitely-absent.sock")
    response = await running.client.get("/probe/a", headers={"apikey": keys["CHATGPT_API_KEY"]})
    assert response.status_code == 200
    assert echo.last["path_qs"] == "/probe/a"


async def test_runner_missing_without_meta_is_json_503(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    text = _probe_yaml(echo, "probe-stop", "ext-plugin-post-req")
    running = await start_gateway(text, keys, runner_socket="/tmp/definitely-absent.sock")
    response = await running.client.get("/probe/a", headers={"apikey": keys["CHATGPT_API_KEY"]})
    assert (response.status_code, body_json(response)) == (
        503,
        {"error_msg": "503 Service Unavailable"},
    )


async def test_prepare_conf_key_names_route_plugin_and_version(
    start_gateway, echo: Echo, keys: dict[str, str], runner_socket: str
) -> None:
    from gateway.plugins.external import conf_key

    running = await start_gateway(
        _probe_yaml(echo, "probe-stop", "ext-plugin-post-req"), keys, runner_socket=runner_socket
    )
    route = running.gateway.config.routes[0]

    class _Ctx:
        pass

    ctx = _Ctx()
    ctx.route = route  # type: ignore[attr-defined]
    key = conf_key(ctx, "ext-plugin-post-req")  # type: ignore[arg-type]
    assert key == f"route#probe#ext-plugin-post-req#{route.version}"
    assert len(route.version) == 16


def test_ext_plugin_conf_is_validated(keys: dict[str, str]) -> None:
    from gateway.build import build
    from gateway.config import parse

    text = APISIX_YAML.read_text().replace("allow_degradation: false", "allow_degradation: 1")
    with pytest.raises(ConfigError, match="ext-plugin-post-req' field allow_degradation"):
        build(parse(text, keys))


async def test_runner_missing_with_meta_sends_the_error_response(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    extra = "_meta: {error_response: {status: 503, message: runner away}}"
    text = _probe_yaml(echo, "probe-stop", "ext-plugin-post-req", extra)
    running = await start_gateway(text, keys, runner_socket="/tmp/definitely-absent.sock")
    response = await running.client.get("/probe/a", headers={"apikey": keys["CHATGPT_API_KEY"]})
    assert (response.status_code, body_json(response)) == (
        503,
        {"status": 503, "message": "runner away"},
    )
