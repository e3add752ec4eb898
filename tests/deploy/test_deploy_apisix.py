"""apisix/apisix.yaml and apisix/config.yaml: parse, plugins enabled, schemas, security rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from errorshape import error_body
from gateway.settings import Limits
from tests.deploy.deploy_files import (
    APISIX_YAML,
    CONFIG_YAML,
    MissingVariable,
    apisix_document,
    expand,
    plugin_confs,
    validate,
    yaml_file,
)
from tests.processes import oauth_public_key

# Dummy values for the variables without default; each one is distinct so a test can tell
# where a value ended up.
ENV = {
    "CHATGPT_API_KEY": "dummy-chatgpt-key",
    "READONLY_API_KEY": "dummy-readonly-key",
    "CONFERENCE_SHARED_SECRET": "dummy-shared-secret",
    "OAUTH_PUBLIC_KEY": oauth_public_key(),
}
SECRET_FIELDS = {
    ("consumer", "chatgpt", "key-auth", "key"): "CHATGPT_API_KEY",
    ("consumer", "readonly", "key-auth", "key"): "READONLY_API_KEY",
}
PUBLIC_ROUTES = {"public-plugin-surface", "oauth-public", "oauth-register", "not-found"}
SECRET_HEADER = "X-Conference-Secret"
ERROR_SHAPE = {"status", "error", "message"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return apisix_document(ENV)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return yaml_file(CONFIG_YAML)


@pytest.fixture(scope="module")
def routes(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(route["id"]): route for route in doc["routes"]}


def test_apisix_yaml_ends_with_the_end_marker() -> None:
    # Standalone APISIX ignores a file without it (it could be half written).
    assert APISIX_YAML.read_text().rstrip().endswith("#END")


def test_apisix_yaml_needs_every_secret_from_the_environment() -> None:
    raw = APISIX_YAML.read_text()
    assert expand(raw, ENV).without_default == set(ENV)
    for name in ENV:
        partial = {k: v for k, v in ENV.items() if k != name}
        with pytest.raises(MissingVariable, match=name):
            expand(raw, partial)


def test_no_substitution_syntax_in_comments() -> None:
    # APISIX substitutes comments too; an unset variable there breaks the whole file.
    for number, line in enumerate(APISIX_YAML.read_text().splitlines(), 1):
        comment = line.split("#", 1)[1] if "#" in line and "'" not in line else ""
        assert "${{" not in comment, f"apisix.yaml line {number}"


def test_secrets_come_only_from_substitution_without_default(doc: dict[str, Any]) -> None:
    raw = APISIX_YAML.read_text()
    for name in ENV:
        assert re.search(r"\$\{\{\s*" + name + r"\s*\}\}", raw), name
        assert not re.search(r"\$\{\{\s*" + name + r"\s*:=", raw), f"{name} must have no default"
    for (kind, owner, plugin, field), variable in SECRET_FIELDS.items():
        confs = {(k, o, p): c for k, o, p, c in plugin_confs(doc)}
        assert confs[(kind, owner, plugin)][field] == ENV[variable]


def test_every_object_validates(doc: dict[str, Any]) -> None:
    problems: list[str] = []
    for kind, key in (("route", "routes"), ("upstream", "upstreams"), ("consumer", "consumers")):
        for obj in doc[key]:
            problems += [
                f"{kind} {obj.get('id', obj.get('username'))}: {p}"
                for p in validate(obj, f"object.{kind}")
            ]
    assert problems == []


def test_every_plugin_conf_validates_against_its_schema(doc: dict[str, Any]) -> None:
    problems: list[str] = []
    seen = 0
    for kind, owner, name, conf in plugin_confs(doc):
        credential = (kind, name) in (("consumer", "key-auth"), ("consumer", "jwt-auth"))
        schema_name = f"{name}.consumer" if credential else name
        problems += [f"{kind} {owner} {name}: {p}" for p in validate(conf, schema_name)]
        seen += 1
        # multi-auth carries full route-side confs of its auth plugins: validate those too.
        for entry in conf.get("auth_plugins", []) if name == "multi-auth" else []:
            for inner, inner_conf in entry.items():
                problems += [
                    f"{kind} {owner} multi-auth/{inner}: {p}" for p in validate(inner_conf, inner)
                ]
    assert problems == []
    assert seen >= 20


@pytest.mark.parametrize(
    ("schema_name", "conf"),
    [
        pytest.param(
            "limit-count",
            {"count": 5, "time_window": 60, "policy": "redis"},
            id="redis-policy-needs-host",
        ),
        pytest.param("limit-count", {"count": 0, "time_window": 60}, id="count-positive"),
        pytest.param(
            "limit-count",
            {"count": 5, "time_window": 60, "rejected_code": 99},
            id="rejected-code-range",
        ),
        pytest.param("key-auth", {"hide_credential": True}, id="typo-rejected"),
        pytest.param("consumer-restriction", {"type": "consumer_name"}, id="needs-a-list"),
        pytest.param(
            "cors", {"allow_origins": "*", "allow_credential": True}, id="credentials-forbid-star"
        ),
        pytest.param("proxy-rewrite", {"uri": "no-leading-slash"}, id="uri-starts-with-slash"),
        pytest.param("ext-plugin-post-req", {"conf": []}, id="conf-not-empty"),
        pytest.param("ext-plugin-post-req", {"conf": [{"name": "x"}]}, id="conf-needs-value"),
        pytest.param("request-id", {"algorithm": "uuid7"}, id="algorithm-enum"),
        pytest.param("key-auth", {"_meta": {"error_response": 5}}, id="meta-error-response"),
    ],
)
def test_schemas_reject_what_apisix_rejects(schema_name: str, conf: dict[str, Any]) -> None:
    assert validate(conf, schema_name) != []


def test_every_plugin_used_is_enabled_and_nothing_more(
    doc: dict[str, Any], config: dict[str, Any]
) -> None:
    used = {name for _, _, name, _ in plugin_confs(doc)}
    enabled = set(config["plugins"])
    assert used <= enabled, f"used but not enabled: {sorted(used - enabled)}"
    # prometheus serves the metrics port; everything else enabled must be used by a route.
    assert enabled - used == {"prometheus"}
    assert "ext-plugin-pre-req" not in enabled


def _auth(plugins: dict[str, Any]) -> list[str]:
    """The auth plugins multi-auth tries, in order."""
    return [name for entry in plugins["multi-auth"]["auth_plugins"] for name in entry]


def test_context_routes_use_post_req_after_auth(routes: dict[str, dict[str, Any]]) -> None:
    external = {
        rid: r
        for rid, r in routes.items()
        if any(p.startswith("ext-plugin-") for p in r["plugins"])
    }
    assert set(external) == {"speaker-context", "mcp"}
    for route in external.values():
        plugins = route["plugins"]
        assert "ext-plugin-pre-req" not in plugins and "ext-plugin-post-resp" not in plugins
        post = plugins["ext-plugin-post-req"]
        assert post["allow_degradation"] is False
        assert _auth(plugins) == ["key-auth", "jwt-auth"]
        # An error_response would replace the runner's own 400/404/502/504 bodies too.
        assert "error_response" not in post.get("_meta", {})
    assert set(routes["speaker-context"]["uris"]) == {"/speaker/:id/context", "/speakers/context"}
    assert routes["mcp"]["uri"] == "/mcp"


def test_context_conf_is_accepted_by_the_runner_plugin(routes: dict[str, dict[str, Any]]) -> None:
    conf_module = pytest.importorskip("runner_plugins.context.conf")
    confs = routes["speaker-context"]["plugins"]["ext-plugin-post-req"]["conf"]
    # The bearer token's issuer/audience/scope check runs first (runner_plugins/bearer_check).
    assert [c["name"] for c in confs] == ["oauth-bearer", "conference-context"]
    parsed = conf_module.parse_conf(confs[1]["value"])
    assert parsed is not None
    value = json.loads(confs[1]["value"])
    assert value["secret"] == ENV["CONFERENCE_SHARED_SECRET"]
    assert value["secret_header"] == SECRET_HEADER
    # The runner's parser is the judge: a mutated conf must be refused.
    plugin_module = pytest.importorskip("runner_plugins.plugin")
    with pytest.raises(plugin_module.ConfError):
        conf_module.parse_conf(json.dumps({**value, "unknown_knob": 1}))


def test_mcp_conf_is_accepted_and_shares_the_context_aggregation(
    routes: dict[str, dict[str, Any]],
) -> None:
    mcp_conf = pytest.importorskip("runner_plugins.mcp.conf")
    confs = routes["mcp"]["plugins"]["ext-plugin-post-req"]["conf"]
    # The bearer token's issuer/audience/scope check runs first (runner_plugins/bearer_check).
    assert [c["name"] for c in confs] == ["oauth-bearer", "conference-mcp"]
    check = json.loads(confs[0]["value"])
    assert check["audience"].endswith("/mcp") and check["resource_metadata"].endswith("/mcp")
    value = json.loads(confs[1]["value"])
    parsed = mcp_conf.parse_conf(confs[1]["value"])
    # One aggregation: the MCP tools run with exactly the context route's settings.
    context_value = routes["speaker-context"]["plugins"]["ext-plugin-post-req"]["conf"][1]["value"]
    assert value["context"] == json.loads(context_value)
    # The write tool's consumers are the REST feedback route's whitelist.
    whitelist = routes["session-feedback"]["plugins"]["consumer-restriction"]["whitelist"]
    assert parsed.feedback_consumers == frozenset(whitelist)
    # Origins the MCP transport accepts are the ones CORS lets browsers use.
    cors = routes["mcp"]["plugins"]["cors"]["allow_origins"].split(",")
    assert parsed.allowed_origins == frozenset(cors)
    plugin_module = pytest.importorskip("runner_plugins.plugin")
    with pytest.raises(plugin_module.ConfError):
        mcp_conf.parse_conf(json.dumps({**value, "unknown_knob": 1}))


def test_authenticated_routes_hide_the_key_and_add_the_backend_secret(
    routes: dict[str, dict[str, Any]],
) -> None:
    for rid, route in routes.items():
        plugins = route["plugins"]
        if rid not in PUBLIC_ROUTES:
            key_auth, jwt_auth = (
                next(iter(entry.values())) for entry in plugins["multi-auth"]["auth_plugins"]
            )
            assert key_auth["hide_credentials"] is True, rid
            # The bearer is NOT hidden: the runner and the backend check its aud/iss/scope.
            assert jwt_auth.get("hide_credentials", False) is False, rid
            assert jwt_auth["key_claim_name"] == "sub", rid
            assert set(plugins["multi-auth"]["_meta"]["error_response"]) == ERROR_SHAPE, rid
        rewrite = plugins["proxy-rewrite"]["headers"]
        assert rewrite["set"][SECRET_HEADER] == ENV["CONFERENCE_SHARED_SECRET"], rid
        # The consent page's CSRF cookie must reach the authorization server; elsewhere cookies
        # are dropped.
        if rid.startswith("oauth-"):
            assert "remove" not in rewrite, rid
        else:
            assert "cookie" in rewrite["remove"], rid
        assert route.get("upstream_id") == "conference-api", rid


def test_public_routes_are_only_the_plugin_surface_and_the_404(
    routes: dict[str, dict[str, Any]],
) -> None:
    unauthenticated = {rid for rid, r in routes.items() if "multi-auth" not in r["plugins"]}
    assert unauthenticated == PUBLIC_ROUTES
    assert set(routes["public-plugin-surface"]["uris"]) == {
        "/.well-known/ai-plugin.json",
        "/openapi.yaml",
        "/logo.png",
    }
    assert set(routes["oauth-register"]["uris"]) == {"/oauth/register"}
    for rid in PUBLIC_ROUTES:
        limit = routes[rid]["plugins"]["limit-count"]
        assert (limit["key_type"], limit["key"], limit["rejected_code"]) == (
            "var",
            "remote_addr",
            429,
        )


def test_catch_all_never_reaches_a_backend_endpoint(routes: dict[str, dict[str, Any]]) -> None:
    route = routes["not-found"]
    assert route["uri"] == "/*"
    assert route["priority"] < min(
        r.get("priority", 0) for k, r in routes.items() if k != "not-found"
    )
    rewrite = route["plugins"]["proxy-rewrite"]
    assert rewrite["uri"] == "/_gateway/not-found"
    assert rewrite["method"] == "GET"


def test_cors_allows_only_chatgpt_origins(routes: dict[str, dict[str, Any]]) -> None:
    chatgpt = {"https://chat.openai.com", "https://chatgpt.com"}
    for rid, route in routes.items():
        cors = route["plugins"].get("cors")
        if cors is None:
            continue
        # /mcp also serves Claude's web clients; every other route only ChatGPT.
        extra = {"https://claude.ai", "https://claude.com"} if rid == "mcp" else set()
        assert set(cors["allow_origins"].split(",")) == chatgpt | extra, rid
        assert cors["allow_credential"] is False
        assert "apikey" in cors["allow_headers"].split(",")


def test_feedback_is_restricted_to_the_chatgpt_consumer(
    doc: dict[str, Any], routes: dict[str, dict[str, Any]]
) -> None:
    feedback = routes["session-feedback"]
    assert feedback["methods"] == ["POST"]
    restriction = feedback["plugins"]["consumer-restriction"]
    assert restriction == {
        **restriction,
        "type": "consumer_name",
        "whitelist": ["chatgpt"],
        "rejected_code": 403,
    }
    assert {c["username"] for c in doc["consumers"]} == {"chatgpt", "readonly"}
    # Only the feedback route accepts a method that writes. /mcp takes every method (GET and
    # DELETE must get the transport's 405) but is always answered by the runner, whose one write
    # tool is refused to consumers outside the same whitelist (runner_plugins/mcp/access.py).
    mcp_conf = json.loads(routes["mcp"]["plugins"]["ext-plugin-post-req"]["conf"][1]["value"])
    assert mcp_conf["feedback_consumers"] == restriction["whitelist"]
    for rid, route in routes.items():
        # The OAuth endpoints take form/JSON POSTs (token, revoke, consent form, registration).
        if rid not in ("session-feedback", "not-found", "mcp", "oauth-public", "oauth-register"):
            assert set(route["methods"]) <= {"GET", "HEAD", "OPTIONS"}, rid


def test_each_consumer_has_its_own_quota(doc: dict[str, Any]) -> None:
    groups = set()
    for consumer in doc["consumers"]:
        limit = consumer["plugins"]["limit-count"]
        assert limit["rejected_code"] == 429
        assert limit["key_type"] == "constant"
        assert limit["policy"] == "local"  # default without CONFERENCE_LIMIT_POLICY
        assert set(limit["_meta"]["error_response"]) == ERROR_SHAPE
        assert limit["_meta"]["error_response"]["status"] == 429
        groups.add(limit["group"])
    assert len(groups) == len(doc["consumers"])


def test_redis_policy_is_selected_by_the_environment() -> None:
    env = {
        **ENV,
        "CONFERENCE_LIMIT_POLICY": "redis",
        "CONFERENCE_REDIS_HOST": "redis",
        "CONFERENCE_REDIS_PASSWORD": "dummy-redis-password",
    }
    doc = apisix_document(env)
    for consumer in doc["consumers"]:
        limit = consumer["plugins"]["limit-count"]
        assert (limit["policy"], limit["redis_host"]) == ("redis", "redis")
        assert validate(limit, "limit-count") == []


def test_redis_port_and_timeout_come_from_the_environment() -> None:
    env = {
        **ENV,
        "CONFERENCE_LIMIT_POLICY": "redis",
        "CONFERENCE_REDIS_HOST": "redis",
        "CONFERENCE_REDIS_PORT": "6380",
        "CONFERENCE_REDIS_TIMEOUT": "250",
        "CONFERENCE_REDIS_PASSWORD": "dummy-redis-password",
    }
    for consumer in apisix_document(env)["consumers"]:
        limit = consumer["plugins"]["limit-count"]
        assert (limit["redis_port"], limit["redis_timeout"]) == (6380, 250)
        assert validate(limit, "limit-count") == []
    for consumer in apisix_document(ENV)["consumers"]:
        limit = consumer["plugins"]["limit-count"]
        # APISIX's own defaults, so an unset variable changes nothing.
        assert (limit["redis_port"], limit["redis_timeout"]) == (6379, 1000)


def test_a_quota_store_outage_serves_without_quota() -> None:
    # The decision of docs/deployment.md "When Redis is away": limit-count's only failure
    # answer is a fixed 500 (with the 429 body substituted), so a Redis outage would take
    # every authenticated route of every node down; degrade instead. Authentication stays.
    redis_env = {**ENV, "CONFERENCE_LIMIT_POLICY": "redis", "CONFERENCE_REDIS_HOST": "redis"}
    for env in (ENV, redis_env):
        for consumer in apisix_document(env)["consumers"]:
            assert consumer["plugins"]["limit-count"]["allow_degradation"] is True
            assert "key-auth" in consumer["plugins"]


def test_numbers_substituted_unquoted_stay_numbers() -> None:
    doc = apisix_document({**ENV, "CHATGPT_RATE_LIMIT": "7"})
    counts = {c["username"]: c["plugins"]["limit-count"]["count"] for c in doc["consumers"]}
    assert counts == {"chatgpt": 7, "readonly": 120}


def test_error_bodies_have_the_project_shape(doc: dict[str, Any]) -> None:
    found = 0
    for _, owner, name, conf in plugin_confs(doc):
        body = conf.get("_meta", {}).get("error_response")
        if body is None:
            continue
        found += 1
        assert set(body) == ERROR_SHAPE, (owner, name)
        assert isinstance(body["status"], int) and 400 <= body["status"] <= 599
    assert found >= 5


# --- config.yaml -------------------------------------------------------------------------------


def test_config_is_standalone_data_plane(config: dict[str, Any]) -> None:
    deployment = config["deployment"]
    assert deployment["role"] == "data_plane"
    assert deployment["role_data_plane"]["config_provider"] == "yaml"
    assert "admin" not in deployment and "etcd" not in deployment


def test_config_exposes_no_admin_api(config: dict[str, Any]) -> None:
    text = CONFIG_YAML.read_text()
    assert "admin_key" not in text and "admin_listen" not in text
    assert config["apisix"]["enable_admin"] is False


def test_request_bodies_are_bounded(config: dict[str, Any]) -> None:
    # APISIX's default client_max_body_size is 0, i.e. unlimited.
    size = str(config["nginx_config"]["http"]["client_max_body_size"])
    assert re.fullmatch(r"[1-9]\d*[km]?", size), size


def test_the_stand_in_waits_for_clients_as_config_yaml_says(config: dict[str, Any]) -> None:
    # Both gateways cut a slow header or a stalled body off after the same time.
    http = config["nginx_config"]["http"]
    limits = Limits()
    for name in ("client_header_timeout", "client_body_timeout"):
        value = str(http[name])
        assert re.fullmatch(r"\d+s", value), f"{name}: {value}"
        assert float(value[:-1]) == getattr(limits, name), name


def test_router_supports_the_parameterised_context_uri(
    config: dict[str, Any], routes: dict[str, dict[str, Any]]
) -> None:
    uris = [u for r in routes.values() for u in r.get("uris", [r.get("uri")])]
    assert any("/:" in u for u in uris)
    assert config["apisix"]["router"]["http"] == "radixtree_uri_with_parameter"


def test_prometheus_is_on_its_own_port(config: dict[str, Any]) -> None:
    export = config["plugin_attr"]["prometheus"]["export_addr"]
    assert export["port"] != config["apisix"]["node_listen"]
    assert config["plugin_attr"]["prometheus"]["enable_export_server"] is True


def test_runner_is_spawned_by_apisix(config: dict[str, Any]) -> None:
    cmd = config["ext-plugin"]["cmd"]
    assert cmd[0].startswith("/") and "path_for_test" not in config["ext-plugin"]


def test_workers_see_every_variable_apisix_yaml_uses(config: dict[str, Any]) -> None:
    used = expand(APISIX_YAML.read_text(), ENV).used
    assert used <= set(config["nginx_config"]["envs"])


def test_error_responses_written_in_apisix_yaml_have_the_project_error_shape() -> None:
    """The bodies written by hand in the YAML are exactly what errorshape.error_body builds."""
    bodies = [
        (f"{kind} {owner} {name}", conf["_meta"]["error_response"])
        for kind, owner, name, conf in plugin_confs(apisix_document(ENV))
        if isinstance(conf, dict) and "error_response" in (conf.get("_meta") or {})
    ]
    assert len(bodies) >= 4  # key-auth, consumer-restriction, the limit-counts
    for where, body in bodies:
        assert isinstance(body, dict), where
        assert body == error_body(body["status"], body["message"]), where
