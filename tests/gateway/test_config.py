"""apisix.yaml loading: APISIX's ${{VAR}} substitution and loud failure on anything unknown."""

from __future__ import annotations

import pytest

from gateway.build import build
from gateway.config import parse
from gateway.errors import ConfigError
from gateway.plugins import LimitCount
from gateway.variables import expand
from tests.gateway.conftest import APISIX_YAML

MINIMAL = """
upstreams:
  - id: up
    nodes:
      "127.0.0.1:1": 1
routes:
  - id: r1
    uri: /x
    upstream_id: up
    plugins:
{plugins}
#END
"""


def _minimal(plugins: str) -> str:
    return MINIMAL.format(plugins=plugins)


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        pytest.param("a: ${{X}}", {"X": "1"}, "a: 1", id="set"),
        pytest.param("a: ${{X:=7}}", {}, "a: 7", id="default"),
        pytest.param("a: ${{X:=7}}", {"X": "3"}, "a: 3", id="env-beats-default"),
        pytest.param("a: ${{ X }}", {"X": "s"}, "a: s", id="spaces"),
        pytest.param("# ${{X:=c}}\na: 1", {}, "# c\na: 1", id="comments-too"),
        pytest.param("a: ${{X:=}}", {}, "a: ", id="empty-default"),
    ],
)
def test_substitution_follows_apisix(text: str, env: dict[str, str], expected: str) -> None:
    assert expand(text, env).text == expected


def test_unset_variable_without_default_is_a_startup_error() -> None:
    with pytest.raises(ConfigError, match="can't find environment variable SOME_VAR"):
        expand("a: 1 # ${{SOME_VAR}}", {})


def test_the_project_file_loads(keys: dict[str, str]) -> None:
    config = build(parse(APISIX_YAML.read_text(), keys))
    ids = {route.id for route in config.routes}
    assert {"speaker-context", "conference-read", "session-feedback"} <= ids
    assert {c.username for c in config.consumers} == {"chatgpt", "readonly"}
    # The quota comes from the environment and is typed as YAML after substitution.
    chatgpt = next(c for c in config.consumers if c.username == "chatgpt")
    quota = chatgpt.plugins["limit-count"]
    assert isinstance(quota, LimitCount)
    assert quota.conf["count"] == 600


def test_the_project_file_needs_the_secrets() -> None:
    with pytest.raises(ConfigError, match="environment variable"):
        parse(APISIX_YAML.read_text(), {})


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        pytest.param(
            "      ip-restriction: {}",
            "plugin 'ip-restriction' is not implemented",
            id="unknown-plugin",
        ),
        pytest.param(
            "      cors:\n        allow_origins_by_regex: ['x']",
            "plugin 'cors' field \\(conf\\).*allow_origins_by_regex",
            id="unknown-field",
        ),
        pytest.param(
            "      request-id:\n        algorithm: ksuid",
            "plugin 'request-id' field algorithm: must be one of \\['uuid'\\]",
            id="unimplemented-value",
        ),
        pytest.param(
            "      limit-count:\n        count: 1\n        time_window: 1\n        policy: redis",
            "plugin 'limit-count' field policy: must be one of",
            id="redis-policy",
        ),
        pytest.param(
            "      proxy-rewrite:\n        headers:\n          set:\n            X-A: $remote_addr",
            "plugin 'proxy-rewrite' field headers/set/X-A: must match .*nginx variables",
            id="nginx-variable",
        ),
        pytest.param(
            "      key-auth:\n        _meta:\n          priority: 1",
            "_meta.*only 'error_response'",
            id="meta-field",
        ),
        pytest.param(
            "      limit-count:\n        count: 0\n        time_window: 1",
            "plugin 'limit-count' field count",
            id="bad-count",
        ),
    ],
)
def test_anything_not_implemented_fails_loudly(plugins: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(parse(_minimal(plugins), {}))


def test_parse_keeps_plugin_confs_as_written_and_the_build_step_validates_them() -> None:
    config = parse(_minimal("      ip-restriction: {whitelist: [127.0.0.1]}"), {})
    assert dict(config.routes[0].plugins) == {"ip-restriction": {"whitelist": ["127.0.0.1"]}}
    with pytest.raises(ConfigError, match="route 'r1': plugin 'ip-restriction' is not implemented"):
        build(config)


def test_keepalive_idle_timeout_is_implemented() -> None:
    text = _minimal("      {}").replace(
        "    nodes:\n", "    keepalive_pool:\n      idle_timeout: 7\n    nodes:\n"
    )
    config = parse(text, {})
    assert [up.keepalive_idle_timeout for up in config.upstreams.values()] == [7]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            "    uri: /x\n",
            "    uri: /x\n    hosts: [a.example]\n",
            "route 'r1': field 'hosts'",
            id="route-field",
        ),
        pytest.param(
            "    nodes:\n",
            "    type: chash\n    nodes:\n",
            "field 'type' value 'chash'",
            id="upstream-type",
        ),
        pytest.param(
            "upstream_id: up",
            "upstream_id: nope",
            "upstream_id 'nope' is not defined",
            id="dangling-upstream",
        ),
        pytest.param("#END", "", "#END", id="end-marker"),
        pytest.param("uri: /x", "uri: /x/*/y", "only implemented at the end", id="inner-star"),
        pytest.param(
            "    nodes:\n",
            "    keepalive_pool:\n      size: 64\n    nodes:\n",
            "keepalive_pool: field 'size'",
            id="keepalive-size",
        ),
        pytest.param(
            "    nodes:\n",
            "    keepalive_pool:\n      requests: 100\n    nodes:\n",
            "keepalive_pool: field 'requests'",
            id="keepalive-requests",
        ),
    ],
)
def test_route_and_upstream_errors_name_the_culprit(old: str, new: str, message: str) -> None:
    text = _minimal("      request-id: {}").replace(old, new)
    with pytest.raises(ConfigError, match=message):
        from gateway.router import Router

        Router(build(parse(text, {})).routes)


def test_consumer_plugins_are_restricted() -> None:
    text = _minimal("      request-id: {}").replace(
        "routes:", "consumers:\n  - username: c\n    plugins:\n      cors: {}\nroutes:"
    )
    with pytest.raises(ConfigError, match="consumer 'c': plugin 'cors' is not implemented"):
        build(parse(text, {}))


SECRET = "s3cr$t-Value-42"


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        pytest.param(
            "      request-id: {}",
            f"      proxy-rewrite:\n        headers:\n          set:\n            X-S: '{SECRET}'",
            "headers/set/X-S",
            id="proxy-rewrite-header-with-dollar",
        ),
        pytest.param(
            "      request-id: {}",
            f"      proxy-rewrite:\n        headers:\n          X-S: '{SECRET}'",
            "headers/X-S",
            id="flat-header-form",
        ),
        pytest.param(
            "      request-id: {}",
            f"      request-id:\n        algorithm: '{SECRET}'",
            "algorithm",
            id="enum",
        ),
        pytest.param(
            "      request-id: {}",
            f"      key-auth:\n        hide_credentials: '{SECRET}'",
            "hide_credentials",
            id="type",
        ),
        pytest.param("      request-id: {}", f"      key-auth: '{SECRET}'", "key-auth", id="conf"),
        pytest.param(
            "      request-id: {}",
            f"      key-auth:\n        _meta:\n          priority: '{SECRET}'",
            "_meta",
            id="meta",
        ),
        pytest.param("    uri: /x\n", f"    uri: /x\n    desc2: '{SECRET}'\n", "desc2", id="route"),
        pytest.param(
            'upstreams:\n  - id: up\n    nodes:\n      "127.0.0.1:1": 1\n',
            f"upstreams: '{SECRET}'\n",
            "upstreams",
            id="list",
        ),
        pytest.param(
            '    nodes:\n      "127.0.0.1:1": 1', f"    nodes: '{SECRET}'", "nodes", id="object"
        ),
        pytest.param(
            "    uri: /x\n", f"    uri: /x\n    bad: '{SECRET}\n", "line", id="yaml-syntax"
        ),
    ],
)
def test_config_errors_name_the_field_never_the_value(old: str, new: str, field: str) -> None:
    text = _minimal("      request-id: {}").replace(old, new, 1)
    assert SECRET in text
    with pytest.raises(ConfigError) as error:
        # Plugin confs are validated by the build step, the rest by parse.
        build(parse(text, {}))
    message = str(error.value)
    assert field in message
    assert "s3cr" not in message
    # Nor in the chained cause, which a traceback would print.
    assert error.value.__cause__ is None or "s3cr" not in str(error.value.__cause__)
