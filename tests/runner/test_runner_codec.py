"""Codec round trips against the flatc-generated reference bindings (property-based)."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner_plugins import codec, protocol
from runner_plugins.client.codec import (
    ExtraInfoQuery,
    decode_error,
    decode_extra_info_query,
    decode_prepare_conf_reply,
    decode_req_call_reply,
    decode_resp_call_reply,
    encode_extra_info_result,
    encode_http_req_call,
    encode_http_resp_call,
    encode_prepare_conf,
)
from runner_plugins.errors import DecodeError
from runner_plugins.plugin import ResponseChange, Rewrite, Stop
from runner_plugins.protocol import HEADER_SIZE, ErrorCode, RpcType
from runner_plugins.views import HttpRequestView, HttpResponseView

from . import oracle

texts = st.text(max_size=40)
names = st.text(min_size=1, max_size=20)
entries = st.lists(st.tuples(names, st.none() | texts), max_size=8)
set_entries = st.lists(st.tuples(names, texts), max_size=6)
u32 = st.integers(0, 2**32 - 1)
ips = st.sampled_from([4, 16]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
bodies = st.binary(max_size=300)
FAST = settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)


async def _no_extra_info(payload: bytes) -> bytes:
    raise AssertionError("no ExtraInfo expected")


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def _payload(frame: bytes, rpc_type: int) -> bytes:
    assert frame[0] == rpc_type
    assert int.from_bytes(frame[1:HEADER_SIZE], "big") == len(frame) - HEADER_SIZE
    return frame[HEADER_SIZE:]


@FAST
@given(u32, u32, st.integers(0, 14), texts, entries, entries, ips)
def test_request_built_like_apisix_decodes(req_id, token, method, path, args, headers, ip):
    payload = oracle.http_req_call(
        req_id=req_id,
        conf_token=token,
        method=method,
        path=path,
        args=args,
        headers=headers,
        src_ip=ip,
    )
    view = HttpRequestView(payload, _no_extra_info)
    assert (view.id, view.conf_token) == (req_id, token)
    assert view.method == codec.METHODS[method]
    assert view.path == path
    assert list(view.args) == args
    assert list(view.headers) == headers
    assert view.src_ip == _ip_text(ip)


@FAST
@given(u32, u32, st.sampled_from(codec.METHODS), texts, entries, entries, ips)
def test_client_request_reads_with_reference(req_id, token, method, path, args, headers, ip):
    payload = encode_http_req_call(
        req_id=req_id,
        conf_token=token,
        method=method,
        path=path,
        args=args,
        headers=headers,
        src_ip=_ip_text(ip),
    )
    assert oracle.read_http_req_call(payload) == {
        "id": req_id,
        "conf_token": token,
        "method": codec.METHODS.index(method),
        "path": path,
        "args": args,
        "headers": headers,
        "src_ip": ip,
    }


@FAST
@given(st.lists(st.tuples(names, texts), max_size=6), texts)
def test_prepare_conf_both_ways(conf, key):
    decoded = codec.decode_prepare_conf(oracle.prepare_conf(conf, key))
    assert decoded.conf == tuple(conf) and decoded.key == key
    read_conf, read_key = oracle.read_prepare_conf(encode_prepare_conf(conf, key))
    assert read_conf == conf and read_key == key


@FAST
@given(u32, u32, st.integers(0, 65535), entries)
def test_resp_call_both_ways(req_id, token, status, headers):
    view = HttpResponseView(
        oracle.http_resp_call(req_id=req_id, conf_token=token, status=status, headers=headers),
        _no_extra_info,
    )
    assert (view.id, view.conf_token, view.status) == (req_id, token, status)
    assert list(view.headers) == headers
    payload = encode_http_resp_call(req_id=req_id, conf_token=token, status=status, headers=headers)
    assert oracle.read_http_resp_call(payload) == {
        "id": req_id,
        "status": status,
        "headers": headers,
        "conf_token": token,
    }


@FAST
@given(u32, st.integers(0, 65535), set_entries, bodies)
def test_stop_reply_reads_with_reference(req_id, status, headers, body):
    stop = Stop(status=status, headers=tuple(headers), body=body)
    payload = _payload(codec.encode_req_call_reply(req_id, stop), RpcType.HTTP_REQ_CALL)
    read = oracle.read_req_call_reply(payload)
    assert read["id"] == req_id and read["action_type"] == 1
    assert read["status"] == status and read["headers"] == headers
    assert (read["body"] or b"") == body
    assert decode_req_call_reply(payload) == stop


@FAST
@given(u32, st.none() | texts, entries, entries, set_entries, st.none() | bodies)
def test_rewrite_reply_reads_with_reference(req_id, path, headers, args, resp_headers, body):
    rewrite = Rewrite(
        path=path,
        headers=tuple(headers),
        args=tuple(args),
        resp_headers=tuple(resp_headers),
        body=body,
    )
    payload = _payload(codec.encode_req_call_reply(req_id, rewrite), RpcType.HTTP_REQ_CALL)
    assert oracle.read_req_call_reply(payload) == {
        "id": req_id,
        "action_type": 2,
        "path": path,
        "headers": headers,
        "args": args,
        "resp_headers": resp_headers,
        "body": body,
    }
    assert decode_req_call_reply(payload) == rewrite


@FAST
@given(u32, st.integers(0, 65535), set_entries, st.none() | bodies)
def test_foreign_replies_decode(req_id, status, headers, body):
    stop = decode_req_call_reply(oracle.stop_reply(req_id, status, headers, body))
    assert stop == Stop(status=status, headers=tuple(headers), body=body or b"")
    rewrite = decode_req_call_reply(oracle.rewrite_reply(req_id, "/p", headers, [], headers, body))
    assert rewrite == Rewrite(
        path="/p", headers=tuple(headers), resp_headers=tuple(headers), body=body
    )


@FAST
@given(u32)
def test_empty_reply_has_no_action(req_id):
    payload = _payload(codec.encode_req_call_reply(req_id, None), RpcType.HTTP_REQ_CALL)
    assert oracle.read_req_call_reply(payload) == {"id": req_id, "action_type": 0}
    assert decode_req_call_reply(payload) is None


@pytest.mark.parametrize("size", [0, 26, 4096, 4097, 70000])
def test_stop_reused_across_requests_keeps_each_id(size):
    stop = Stop(status=201, headers=(("a", "b"),), body=b"x" * size)  # both sides of 4 KiB
    for req_id in (0, 1, 2**32 - 1, 77):
        read = oracle.read_req_call_reply(codec.encode_req_call_reply(req_id, stop)[4:])
        assert read["id"] == req_id and read["status"] == 201
        assert (read["body"] or b"") == stop.body and read["headers"] == [("a", "b")]


@pytest.fixture
def template_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts Stop templates built; the caches start empty."""
    monkeypatch.setattr(codec, "_STOP_TEMPLATES", {})
    monkeypatch.setattr(codec, "_STOPS_SEEN_ONCE", {}, raising=False)
    builds: list[int] = []
    real = codec._IdTemplate

    def counting(rpc_type: int, fields: list[object]) -> object:
        builds.append(rpc_type)
        return real(rpc_type, fields)  # type: ignore[arg-type]

    monkeypatch.setattr(codec, "_IdTemplate", counting)
    return builds


def test_equal_stops_built_per_request_share_one_template(template_builds):
    # The context plugin builds a new Stop per request; equal content must not re-encode.
    for req_id in range(100):
        stop = Stop(404, (("content-type", "application/json"),), b'{"status":404}')
        read = oracle.read_req_call_reply(codec.encode_req_call_reply(req_id, stop)[4:])
        assert (read["id"], read["status"], read["body"]) == (req_id, 404, b'{"status":404}')
    assert len(template_builds) == 1


def test_stops_that_differ_per_request_are_never_cached(template_builds):
    for req_id in range(300):
        stop = Stop(200, (), b'{"request": %d}' % req_id)
        read = oracle.read_req_call_reply(codec.encode_req_call_reply(req_id, stop)[4:])
        assert (read["id"], read["body"]) == (req_id, b'{"request": %d}' % req_id)
    assert template_builds == []
    assert len(codec._STOPS_SEEN_ONCE) <= codec._STOP_CACHE_MAX


def test_a_stop_with_list_headers_is_still_encoded(template_builds):
    stop = Stop(200, [("a", "b")], b"x")  # type: ignore[arg-type]  # a plugin ignoring the type
    for req_id in (1, 2):
        read = oracle.read_req_call_reply(codec.encode_req_call_reply(req_id, stop)[4:])
        assert (read["id"], read["headers"]) == (req_id, [("a", "b")])


@FAST
@given(u32, st.none() | st.integers(1, 65535), set_entries, st.none() | bodies)
def test_response_change_reads_with_reference(req_id, status, headers, body):
    change = ResponseChange(status=status, headers=tuple(headers), body=body)
    payload = _payload(codec.encode_resp_call_reply(req_id, change), RpcType.HTTP_RESP_CALL)
    assert oracle.read_resp_call_reply(payload) == {
        "id": req_id,
        "status": status or 0,
        "headers": headers,
        "body": body,
    }
    expected = None if not (status or headers or body) else change
    decoded = decode_resp_call_reply(payload)
    if expected is None:
        assert decoded is None
    else:
        assert decoded == ResponseChange(status=status, headers=tuple(headers), body=body or None)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_error_frames_are_type_zero(code):
    frame = codec.encode_error_frame(code)
    assert frame[0] == RpcType.ERROR
    assert oracle.read_error(_payload(frame, 0)) == code
    assert decode_error(frame[4:]) == code


@FAST
@given(u32)
def test_prepare_conf_reply(token):
    frame = codec.encode_prepare_conf_reply(token)
    assert oracle.read_prepare_conf_reply(_payload(frame, RpcType.PREPARE_CONF)) == token
    assert decode_prepare_conf_reply(frame[4:]) == token


@FAST
@given(texts)
def test_extra_info_queries(name):
    assert oracle.read_extra_info_query(codec.encode_extra_info_query("var", name)) == ("var", name)
    assert decode_extra_info_query(codec.encode_extra_info_query("var", name)) == (
        ExtraInfoQuery("var", name)
    )
    for kind in ("req_body", "resp_body"):
        assert oracle.read_extra_info_query(codec.encode_extra_info_query(kind)) == (kind, None)
        assert decode_extra_info_query(codec.encode_extra_info_query(kind)).kind == kind


@FAST
@given(st.none() | bodies)
def test_extra_info_results(result):
    assert codec.decode_extra_info_result(oracle.extra_info_result(result)) == result
    assert oracle.read_extra_info_result(encode_extra_info_result(result)) == result


def test_non_utf8_bytes_survive_a_round_trip():
    raw_path = "/caf\xe9".encode("latin-1")  # not UTF-8
    payload = oracle.http_req_call(
        req_id=1,
        conf_token=1,
        method=0,
        path=raw_path.decode("utf-8", "surrogateescape"),
        args=[],
        headers=[],
        src_ip=b"\x7f\x00\x00\x01",
    )
    view = HttpRequestView(payload, _no_extra_info)
    rewrite = codec.encode_req_call_reply(1, Rewrite(path=view.path))
    assert oracle.read_req_call_reply(rewrite[4:])["path"].encode("utf-8", "surrogateescape") == (
        raw_path
    )


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_raises_only_decode_error(data):
    decoders = [
        codec.decode_prepare_conf,
        decode_error,
        decode_req_call_reply,
        decode_resp_call_reply,
        decode_extra_info_query,
        codec.decode_extra_info_result,
        decode_prepare_conf_reply,
    ]
    for decode in decoders:
        try:
            decode(data)
        except DecodeError:
            pass
    try:
        view = HttpRequestView(data, _no_extra_info)
        path, method, src_ip = view.path, view.method, view.src_ip
        entries = [*view.args, *view.headers]
    except DecodeError:
        return
    # Whatever the bytes, a view that decodes yields the types the plugin contract promises.
    assert isinstance(path, str) and isinstance(src_ip, str)
    assert method in protocol.METHODS
    assert all(isinstance(n, str) and (v is None or isinstance(v, str)) for n, v in entries)


def test_lazy_view_reads_only_what_is_asked():
    payload = oracle.http_req_call(
        req_id=5,
        conf_token=6,
        method=0,
        path="/only-path",
        args=[],
        headers=[("x", "y")],
        src_ip=b"\x01\x02\x03\x04",
    )
    view = HttpRequestView(payload, _no_extra_info)
    assert view.path == "/only-path"
    assert view._headers is None  # headers were not decoded
    assert view.header("X") == "y"  # and decode correctly when asked, case-insensitively


def test_unknown_method_name_is_refused():
    with pytest.raises(ValueError):
        encode_http_req_call(req_id=0, conf_token=0, method="BREW", path="/")


def test_cached_header_entries_read_the_same_at_any_position() -> None:
    from runner_plugins import flatbuffer

    flatbuffer._ENTRY_CHUNKS.clear()
    headers = [("accept", "application/json"), ("x-empty", None), ("ü-name", "v\udcff")]
    first = encode_http_req_call(req_id=1, conf_token=2, method="GET", path="/", headers=headers)
    assert set(flatbuffer._ENTRY_CHUNKS) == set(headers)
    # Cached chunks, now after a path of another length (other offsets), and given as lists.
    moved: list[list[str | None]] = [["x-first", "1"], *[list(p) for p in reversed(headers)]]
    second = encode_http_req_call(
        req_id=1,
        conf_token=2,
        method="POST",
        path="/a/longer/path",
        headers=moved,  # type: ignore[arg-type]
    )
    assert oracle.read_http_req_call(first)["headers"] == headers
    assert oracle.read_http_req_call(second)["headers"] == [tuple(pair) for pair in moved]


def test_the_header_entry_cache_is_bounded() -> None:
    from runner_plugins import flatbuffer

    for n in range(flatbuffer._ENTRY_CHUNKS_MAX + 10):
        encode_http_req_call(
            req_id=n, conf_token=1, method="GET", path="/", headers=[("x-request-id", str(n))]
        )
    assert len(flatbuffer._ENTRY_CHUNKS) <= flatbuffer._ENTRY_CHUNKS_MAX
    big = [("x-big", "v" * 2000)]
    encode_http_req_call(req_id=1, conf_token=1, method="GET", path="/", headers=big)
    assert big[0] not in flatbuffer._ENTRY_CHUNKS
