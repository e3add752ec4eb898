"""The RPC table without sockets: chain order, first Stop, merged Rewrite, error mapping."""

from __future__ import annotations

import json

import pytest

from runner_plugins.client.codec import (
    decode_error,
    decode_prepare_conf_reply,
    decode_req_call_reply,
    encode_prepare_conf,
)
from runner_plugins.conf_cache import ConfCache
from runner_plugins.dispatch import Dispatcher
from runner_plugins.plugin import Rewrite, Stop
from runner_plugins.protocol import ErrorCode, RpcType
from runner_plugins.registry import PluginRegistry

from . import oracle
from .helper_plugins import plugins


async def _refuse(payload: bytes) -> bytes:
    raise AssertionError("no ExtraInfo expected")


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher(PluginRegistry(plugins()), ConfCache(ttl=7200))


def prepare(dispatcher: Dispatcher, conf: list[tuple[str, str]], key: str = "") -> int:
    frame = dispatcher.prepare_conf(encode_prepare_conf(conf, key))
    assert frame[0] == RpcType.PREPARE_CONF
    return decode_prepare_conf_reply(frame[4:])


async def call(dispatcher: Dispatcher, token: int, req_id: int = 9) -> bytes:
    payload = oracle.http_req_call(
        req_id=req_id,
        conf_token=token,
        method=0,
        path="/x",
        args=[],
        headers=[],
        src_ip=b"\x7f\x00\x00\x01",
    )
    return await dispatcher.http_req_call(payload, _refuse)


def error_code(frame: bytes) -> int:
    assert frame[0] == RpcType.ERROR
    return decode_error(frame[4:])


async def test_chain_runs_in_conf_order_and_rewrites_merge(dispatcher):
    token = prepare(dispatcher, [("tag", "first"), ("noop", ""), ("tag", "second")])
    reply = decode_req_call_reply((await call(dispatcher, token))[4:])
    assert reply == Rewrite(headers=(("x-tag", "first"), ("x-tag", "second")))


async def test_first_stop_ends_the_chain(dispatcher):
    token = prepare(dispatcher, [("tag", "a"), ("stop-with", "403"), ("boom", "")])
    reply = decode_req_call_reply((await call(dispatcher, token))[4:])
    assert reply == Stop(status=403)  # boom never ran, the tag Rewrite is discarded


async def test_nothing_changed_means_no_action(dispatcher):
    token = prepare(dispatcher, [("noop", ""), ("empty-rewrite", "")])
    frame = await call(dispatcher, token, req_id=0)
    assert oracle.read_req_call_reply(frame[4:]) == {"id": 0, "action_type": 0}


async def test_rewrite_carries_only_what_changed(dispatcher):
    conf = json.dumps({"args": [["flag", None]], "resp_headers": [["x-r", "1"]]})
    token = prepare(dispatcher, [("rewrite", conf)])
    read = oracle.read_req_call_reply((await call(dispatcher, token))[4:])
    assert read["path"] is None and read["headers"] == [] and read["body"] is None
    assert read["args"] == [("flag", None)] and read["resp_headers"] == [("x-r", "1")]


async def test_plugin_exception_is_service_unavailable(dispatcher):
    token = prepare(dispatcher, [("boom", "")])
    assert error_code(await call(dispatcher, token)) == ErrorCode.SERVICE_UNAVAILABLE


async def test_unknown_token_is_conf_token_not_found(dispatcher):
    token = prepare(dispatcher, [("noop", "")])
    assert error_code(await call(dispatcher, token + 1)) == ErrorCode.CONF_TOKEN_NOT_FOUND


async def test_invalid_conf_gets_a_token_whose_requests_fail(dispatcher, caplog):
    token = prepare(dispatcher, [("strict", "nope")], key="route#1#ext-plugin-pre-req#1")
    assert "conf rejected" in caplog.text and "expected 'ok'" in caplog.text
    assert error_code(await call(dispatcher, token)) == ErrorCode.BAD_REQUEST
    assert f"token={token} request_id=9" in caplog.text


async def test_unknown_plugin_is_a_conf_error(dispatcher, caplog):
    token = prepare(dispatcher, [("no-such-plugin", "{}")])
    assert "unknown plugin 'no-such-plugin'" in caplog.text
    assert error_code(await call(dispatcher, token)) == ErrorCode.BAD_REQUEST


def test_same_key_same_token(dispatcher):
    first = prepare(dispatcher, [("noop", "")], key="route#1#ext-plugin-pre-req#7")
    assert prepare(dispatcher, [("noop", "")], key="route#1#ext-plugin-pre-req#7") == first
    assert prepare(dispatcher, [("noop", "")], key="route#1#ext-plugin-pre-req#8") != first


async def test_oversized_reply_is_service_unavailable(dispatcher):
    token = prepare(dispatcher, [("big", str(2**24))])
    assert error_code(await call(dispatcher, token)) == ErrorCode.SERVICE_UNAVAILABLE


def test_unknown_rpc_type_is_bad_request(dispatcher):
    assert error_code(dispatcher.unknown_type(9)) == ErrorCode.BAD_REQUEST
