"""The plugins of docs/plugins.md, exercised through a real runner and client."""

from __future__ import annotations

import json

import pytest

from runner_plugins.client import ExtraInfoQuery, RunnerClient
from runner_plugins.examples.api_version import ApiVersion
from runner_plugins.examples.static_stop import StaticStop
from runner_plugins.plugin import ConfError, Rewrite, StaticRequest, Stop
from runner_plugins.registry import PluginRegistry

from .conftest import start_runner

CONF = [("api-version", '{"header": "X-Api-Version", "allowed": ["1", "2"], "default": "2"}')]


async def test_api_version_over_the_socket(socket_path):
    registry = PluginRegistry.from_modules(["runner_plugins.examples.api_version"])
    server = await start_runner(socket_path, list(registry))
    client = RunnerClient(socket_path)
    asked: list[ExtraInfoQuery] = []

    async def apisix_vars(query: ExtraInfoQuery) -> bytes:
        asked.append(query)
        return b"route-42"

    try:
        missing = await client.http_req_call(
            CONF, "k", method="GET", path="/", extra_info=apisix_vars
        )
        assert missing == Rewrite(headers=(("x-api-version", "2"),))
        allowed = await client.http_req_call(
            CONF,
            "k",
            method="GET",
            path="/",
            headers=[("x-api-version", "1")],
            extra_info=apisix_vars,
        )
        assert allowed is None and asked == []  # no ExtraInfo round trip on the happy paths
        refused = await client.http_req_call(
            CONF,
            "k",
            method="GET",
            path="/",
            headers=[("x-api-version", "3")],
            extra_info=apisix_vars,
        )
        assert isinstance(refused, Stop) and refused.status == 400
        assert ("content-type", "application/json") in refused.headers
        body = json.loads(refused.body)
        assert body["status"] == 400 and body["error"] == "Bad Request"
        assert body["details"]["route"] == "route-42"
        assert asked == [ExtraInfoQuery("var", "route_id")]
    finally:
        await client.close()
        await server.shutdown()


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "{}",
        '{"header": "", "allowed": [], "default": ""}',
        '{"header": "x", "allowed": ["1"], "default": "2"}',
    ],
)
def test_api_version_conf_errors(raw):
    with pytest.raises(ConfError):
        ApiVersion().parse_conf(raw)


async def test_api_version_with_a_static_request():
    plugin = ApiVersion()
    conf = plugin.parse_conf(CONF[0][1])
    request = StaticRequest(headers=[("X-API-VERSION", "2")])
    assert await plugin.request_filter(conf, request) is None


async def test_static_stop():
    plugin = StaticStop()
    stop = plugin.parse_conf('{"status": 201, "body": "hi", "content_type": "text/plain"}')
    assert await plugin.request_filter(stop, StaticRequest()) == Stop(
        status=201, headers=(("content-type", "text/plain"),), body=b"hi"
    )
    with pytest.raises(ConfError):
        plugin.parse_conf('{"status": 99}')
    with pytest.raises(ConfError):
        plugin.parse_conf('{"colour": "red"}')
