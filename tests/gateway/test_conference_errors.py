"""``conference-errors`` and nginx's extension typing in the local gateway, over real HTTP.

What real APISIX does without the plugin (observed on 3.18 with this project's files): a plugin
rejection's JSON body goes out untyped, i.e. ``text/plain; charset=utf-8``, or by the URI's
extension (``image/png`` on ``/logo.png``), and limit-count sends no ``Retry-After``. With the
plugin (the same conf runs the Lua version on APISIX): ``application/json``, ``Retry-After`` in
whole seconds and the same number in the message, per-status extra headers, and nothing changed
on answers the upstream made.
"""

from __future__ import annotations

import math

import pytest

from gateway.build import build
from gateway.config import parse
from gateway.errors import ConfigError
from gateway.mime import exit_content_type
from gateway.plugins.conference_errors import retry_after
from tests.gateway.conftest import Echo, Running, body_json

CHALLENGE = 'Bearer resource_metadata="https://example.org/.well-known/oauth-protected-resource"'


def _yaml(address: str) -> str:
    return f"""
upstreams:
  - {{id: up, nodes: {{"{address}": 1}}, timeout: {{connect: 1, send: 1, read: 5}}}}
consumers:
  - username: chatgpt
    plugins:
      key-auth: {{key: "${{{{CHATGPT_API_KEY}}}}"}}
routes:
  - id: with
    uris: [/with/*]
    upstream_id: up
    plugins:
      conference-errors:
        statuses: [401, 429]
        add_headers:
          - {{status: 401, name: WWW-Authenticate, value: '{CHALLENGE}'}}
      key-auth: {{}}
      limit-count:
        count: 1
        time_window: 60
        key_type: constant
        key: with
        rejected_code: 429
        _meta:
          error_response:
            status: 429
            message: "retry after {{retry_after}} s ({{retry_after}})"
  - id: without
    uris: [/without/*]
    upstream_id: up
    plugins:
      limit-count:
        count: 1
        time_window: 60
        key_type: constant
        key: without
        rejected_code: 429
        _meta:
          error_response: {{status: 429, message: "retry after {{retry_after}} s"}}
  - id: upstream-429
    uris: [/up/*]
    upstream_id: up
    plugins:
      conference-errors: {{statuses: [429]}}
#END
"""


async def test_rejections_become_json_with_retry_after(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(_yaml(echo.address), keys)
    client = running.client
    unauthorized = await client.get("/with/logo.png")
    assert unauthorized.status_code == 401
    assert unauthorized.headers["Content-Type"] == "application/json"
    # key-auth's own challenge first, then the configured one.
    assert unauthorized.headers.get_list("WWW-Authenticate") == ['apikey realm="key"', CHALLENGE]
    assert "Retry-After" not in unauthorized.headers

    key = {"apikey": keys["CHATGPT_API_KEY"]}
    assert (await client.get("/with/logo.png", headers=key)).status_code == 200
    limited = await client.get("/with/logo.png", headers=key)
    assert limited.status_code == 429
    assert limited.headers["Content-Type"] == "application/json"
    seconds = int(limited.headers["Retry-After"])
    assert seconds == math.ceil(float(limited.headers["X-RateLimit-Reset"]))
    assert 1 <= seconds <= 60
    assert body_json(limited)["message"] == f"retry after {seconds} s ({seconds})"
    # Not the 401's extra header: add_headers are per status.
    assert "WWW-Authenticate" not in limited.headers


async def test_without_the_plugin_nginx_types_by_extension(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(_yaml(echo.address), keys)
    client = running.client
    await client.get("/without/logo.png")
    png = await client.get("/without/logo.png")
    assert png.status_code == 429
    # As real APISIX answered on /logo.png: the JSON body typed by the extension, no Retry-After.
    assert png.headers["Content-Type"] == "image/png"
    assert "Retry-After" not in png.headers
    assert body_json(png)["message"] == "retry after {retry_after} s"
    plain = await client.get("/without/openapi.yaml")
    assert plain.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_upstream_answers_are_left_alone(
    start_gateway, echo: Echo, keys: dict[str, str]
) -> None:
    running: Running = await start_gateway(_yaml(echo.address), keys)
    response = await running.client.get("/up/x", params={"status": "429"})
    assert response.status_code == 429
    assert response.headers["X-Upstream"] == "echo"
    assert response.headers["Content-Type"].startswith("application/json")
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("conf", "field"),
    [
        ("{statuses: []}", "statuses"),
        ("{statuses: [200]}", "statuses/0"),
        ("{statuses: [401], extra: 1}", "(conf)"),
        ("{statuses: [401], add_headers: [{status: 401, name: 'a b', value: x}]}", "name"),
    ],
)
def test_bad_confs_are_refused(conf: str, field: str) -> None:
    text = f"""
upstreams:
  - {{id: up, nodes: {{"127.0.0.1:1": 1}}}}
routes:
  - {{id: r, uri: /r, upstream_id: up, plugins: {{conference-errors: {conf}}}}}
#END
"""
    with pytest.raises(ConfigError, match="conference-errors") as error:
        build(parse(text, {}))
    assert field in str(error.value)


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [("60", 60), ("59.98", 60), ("16.63", 17), ("0", 1), ("0.2", 1), ("x", None), (None, None)],
)
def test_retry_after_rounds_up_to_whole_seconds(reset: str | None, seconds: int | None) -> None:
    assert retry_after(reset) == seconds


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/logo.png", "image/png"),
        ("/.well-known/ai-plugin.json", "application/json"),
        ("/openapi.yaml", "text/plain; charset=utf-8"),
        ("/speakers", "text/plain; charset=utf-8"),
        ("/a.HTML", "text/html; charset=utf-8"),
        ("/dir.png/x", "text/plain; charset=utf-8"),
    ],
)
def test_exit_content_type_follows_nginx(path: str, content_type: str) -> None:
    assert exit_content_type(path) == content_type
