"""nginx's ``$uri`` and APISIX's ``uri_safe_encode``, on the cases nginx's parser documents."""

from __future__ import annotations

import pytest

from gateway.uri import normalize, safe_encode


@pytest.mark.parametrize(
    ("raw", "uri"),
    [
        ("/speakers", "/speakers"),
        ("/", "/"),
        ("/speakers/", "/speakers/"),
        ("//speakers", "/speakers"),
        ("/a//b///", "/a/b/"),
        ("/./speakers", "/speakers"),
        ("/speakers/../topics", "/topics"),
        ("/a/b/..", "/a/"),
        ("/a/.", "/a/"),
        ("/speaker/%37/context", "/speaker/7/context"),
        ("/speaker/a%2Fb", "/speaker/a/b"),
        ("/speaker/%2e%2e/sessions", "/sessions"),
        ("/speaker/a%20b", "/speaker/a b"),
        ("/caf%C3%A9", "/café"),
    ],
)
def test_normalize_like_nginx(raw: str, uri: str) -> None:
    assert normalize(raw) == uri


@pytest.mark.parametrize("raw", ["/..", "/a/../../b", "/%zz", "/a%2", "/a%00b", "/%2e%2e/x"])
def test_nginx_rejects_with_400(raw: str) -> None:
    assert normalize(raw) is None


@pytest.mark.parametrize(
    ("uri", "encoded"),
    [
        ("/speaker/7/context", "/speaker/7/context"),
        ("/a b#c?d%e", "/a%20b%23c%3Fd%25e"),
        ("/café", "/caf%C3%A9"),
        # Reserved and "unsafe" printable characters are left alone by ngx_escape_uri's URI mode.
        ("/a:b@c!$&'()*+,;=~\"<>\\^`{|}[]", "/a:b@c!$&'()*+,;=~\"<>\\^`{|}[]"),
        ("/tab\there\x7f", "/tab%09here%7F"),
    ],
)
def test_safe_encode_is_ngx_escape_uri(uri: str, encoded: str) -> None:
    assert safe_encode(uri) == encoded


def test_runner_rewrite_path_is_uri_safe_encoded(keys: dict[str, str]) -> None:
    # ext-plugin/init.lua: upstream_uri = core.utils.uri_safe_encode(rewrite.path).
    from multidict import CIMultiDict, MultiDict

    from gateway.build import build
    from gateway.config import parse
    from gateway.context import RequestContext, Services
    from gateway.plugins.external import apply_rewrite
    from runner_plugins.plugin import Rewrite

    text = """
upstreams:
  - {id: up, nodes: {"127.0.0.1:1": 1}}
routes:
  - {id: r, uri: "/*", upstream_id: up}
#END
"""
    route = build(parse(text, keys)).routes[0]
    ctx = RequestContext(
        method="GET",
        path="/x",
        raw_path="/x",
        args=MultiDict(),
        headers=CIMultiDict(),
        src_ip="127.0.0.1",
        server_port=9080,
        body=b"",
        route=route,
        services=Services(consumers=(), limiter=None, runner=None),  # type: ignore[arg-type]
    )
    apply_rewrite(ctx, Rewrite(path="/a b/<c>/é/50%"))
    assert ctx.upstream_path == "/a%20b/<c>/%C3%A9/50%25"
