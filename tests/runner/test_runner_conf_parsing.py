"""Confs are parsed and validated once, at PrepareConf (issue 3, the conf cache).

A plugin's ``parse_conf`` must run when APISIX sends PrepareConf, and never again for the
requests that present the token, nor for a PrepareConf that repeats a known key.
"""

from __future__ import annotations

from runner_plugins.client.codec import decode_req_call_reply
from runner_plugins.conf_cache import ConfCache
from runner_plugins.config import RunnerConfig
from runner_plugins.dispatch import Dispatcher
from runner_plugins.plugin import Plugin, Request, Stop
from runner_plugins.registry import PluginRegistry
from runner_plugins.server import RunnerServer

from .test_runner_dispatch import call, prepare


class CountingParse(Plugin[str]):
    name = "counting"

    def __init__(self) -> None:
        self.parsed: list[str] = []

    def parse_conf(self, raw: str) -> str:
        self.parsed.append(raw)
        return raw.upper()

    async def request_filter(self, conf: str, request: Request) -> Stop:
        return Stop(status=200, body=conf.encode())


async def test_parse_conf_runs_once_at_prepare_conf() -> None:
    plugin = CountingParse()
    dispatcher = Dispatcher(PluginRegistry([plugin]), ConfCache(ttl=7200))
    key = "route#7#ext-plugin-post-req#3"
    token = prepare(dispatcher, [("counting", "abc")], key=key)
    assert plugin.parsed == ["abc"]  # parsed at PrepareConf, before any request
    for req_id in range(20):
        frame = await call(dispatcher, token, req_id=req_id)
        assert decode_req_call_reply(frame[4:]) == Stop(status=200, body=b"ABC")
    assert prepare(dispatcher, [("counting", "abc")], key=key) == token
    assert plugin.parsed == ["abc"]
    other = prepare(dispatcher, [("counting", "xyz")], key="route#7#ext-plugin-post-req#4")
    assert other != token and plugin.parsed == ["abc", "xyz"]


def test_the_runner_built_from_apisix_env_keeps_confs_twice_the_expire_time() -> None:
    # The config computes 2 x APISIX_CONF_EXPIRE_TIME; this checks the server really uses it
    # (a cache built from conf_expire_time itself would expire tokens APISIX still presents).
    config = RunnerConfig.from_env({"APISIX_CONF_EXPIRE_TIME": "10"}, listen="/tmp/unused.sock")
    runner = RunnerServer(config, PluginRegistry([CountingParse()]))
    assert runner.dispatcher.cache.ttl == 20
