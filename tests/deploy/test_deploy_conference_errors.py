"""The conference-errors Lua plugin that real APISIX loads, run under LuaJIT (lupa).

APISIX cannot run here, so the Lua file is executed in LuaJIT - the Lua APISIX runs on - with a
minimal stand-in for what it uses of ``ngx`` and ``apisix.core`` (response headers, status,
upstream status, body chunks; schema checks by Python's jsonschema). One table of cases runs
through the Lua plugin and through the local gateway's ``gateway.plugins.conference_errors``, and
both must give the same headers and body, which the cases also state outright. The Lua schema must
equal the stand-in's and the schema file the deployment tests validate apisix.yaml with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema
import pytest
from multidict import CIMultiDict

from gateway.plugins.conference_errors import ConferenceErrors
from tests.deploy.deploy_files import ROOT, SCHEMAS

luajit = pytest.importorskip("lupa.luajit21")

PLUGIN = ROOT / "apisix" / "lua" / "apisix" / "plugins" / "conference-errors.lua"

# What the plugin uses of APISIX and nginx, no more. Response headers are an ordered list
# (set = replace every value of that name, add = append), looked up case-insensitively.
HARNESS = r"""
local M = {headers = {}, ctx = {}}

local function lower(name) return (string.gsub(string.lower(name), "_", "-")) end

local function get(name)
    for _, h in ipairs(M.headers) do
        if lower(h[1]) == lower(name) then return h[2] end
    end
    return nil
end

local function remove(name)
    local kept = {}
    for _, h in ipairs(M.headers) do
        if lower(h[1]) ~= lower(name) then kept[#kept + 1] = h end
    end
    M.headers = kept
end

local function set(name, value)
    remove(name)
    if value ~= nil then M.headers[#M.headers + 1] = {name, value} end
end

ngx = {
    status = 200,
    arg = {},
    header = setmetatable({}, {
        __index = function(_, name) return get(name) end,
        __newindex = function(_, name, value) set(name, value) end,
    }),
}

local held = {}
local core = {
    response = {
        set_header = function(name, value) set(name, value) end,
        add_header = function(name, value) M.headers[#M.headers + 1] = {name, value} end,
        get_upstream_status = function(ctx) return ctx.upstream_status end,
        clear_header_as_body_modified = function()
            set("Content-Length", nil); set("Content-Encoding", nil)
            set("Last-Modified", nil); set("ETag", nil)
        end,
        hold_body_chunk = function(ctx)
            local chunk, eof = ngx.arg[1], ngx.arg[2]
            if chunk and chunk ~= "" then held[#held + 1] = chunk end
            if eof then
                local body = table.concat(held)
                held = {}
                return body
            end
            ngx.arg[1] = nil
            return nil
        end,
    },
    schema = {check = function(schema, conf) return M.check(schema, conf) end},
}
package.preload["apisix.core"] = function() return core end

function M.reset(status, upstream_status, headers)
    ngx.status = status
    M.ctx = {upstream_status = upstream_status}
    M.headers = {}
    held = {}
    for _, h in ipairs(headers) do M.headers[#M.headers + 1] = {h[1], h[2]} end
end

function M.body(plugin, conf, chunks)
    local out = {}
    for i, chunk in ipairs(chunks) do
        ngx.arg = {chunk, i == #chunks}
        plugin.body_filter(conf, M.ctx)
        if ngx.arg[1] then out[#out + 1] = ngx.arg[1] end
    end
    return table.concat(out)
end

return M
"""


def _to_python(value: Any) -> Any:
    """A Lua table as JSON data: a table with keys 1..n is an array."""
    if luajit.lua_type(value) != "table":
        return value
    keys = list(value.keys())
    if (
        keys
        and all(isinstance(k, int) for k in keys)
        and sorted(keys) == list(range(1, len(keys) + 1))
    ):
        return [_to_python(value[k]) for k in sorted(keys)]
    return {str(k): _to_python(v) for k, v in value.items()}


@dataclass
class Lua:
    runtime: Any
    harness: Any
    plugin: Any

    def table(self, data: Any) -> Any:
        return self.runtime.table_from(json.loads(json.dumps(data)), recursive=True)


@pytest.fixture(scope="module")
def lua() -> Lua:
    runtime = luajit.LuaRuntime(unpack_returned_tuples=True)
    harness = runtime.execute(HARNESS)

    def check(schema: Any, conf: Any) -> tuple[bool, str | None]:
        try:
            jsonschema.validate(_to_python(conf), _to_python(schema))
        except jsonschema.ValidationError as error:
            return False, error.message
        return True, None

    harness.check = check
    plugin = runtime.execute(PLUGIN.read_text(encoding="utf-8"))
    return Lua(runtime, harness, plugin)


@dataclass
class Case:
    id: str
    conf: dict[str, Any]
    status: int
    headers: list[tuple[str, str]]
    chunks: list[str]
    expected_headers: dict[str, list[str]]
    expected_body: str
    upstream_status: int | None = None
    absent: list[str] = field(default_factory=list)


CONF = {
    "statuses": [401, 403, 429],
    "add_headers": [{"status": 401, "name": "WWW-Authenticate", "value": 'Bearer x="y"'}],
}
RATE = [("X-RateLimit-Limit", "2"), ("X-RateLimit-Remaining", "0")]
BODY = '{"message":"retry after {retry_after} seconds ({retry_after})"}\n'
CASES = [
    Case(
        "429-fractional-reset",
        CONF,
        429,
        [("Content-Type", "image/png"), *RATE, ("X-RateLimit-Reset", "16.63")],
        [BODY[:20], BODY[20:]],
        {"content-type": ["application/json"], "retry-after": ["17"]},
        '{"message":"retry after 17 seconds (17)"}\n',
    ),
    Case(
        "429-zero-reset-waits-one-second",
        CONF,
        429,
        [("Content-Type", "text/plain; charset=utf-8"), ("X-RateLimit-Reset", "0")],
        [BODY],
        {"retry-after": ["1"], "content-type": ["application/json"]},
        '{"message":"retry after 1 seconds (1)"}\n',
    ),
    Case(
        "429-without-reset-header",
        CONF,
        429,
        [("Content-Type", "text/plain; charset=utf-8")],
        [BODY],
        {"content-type": ["application/json"]},
        BODY,
        absent=["retry-after"],
    ),
    Case(
        "401-gets-json-and-the-extra-challenge-after-key-auths",
        CONF,
        401,
        [("WWW-Authenticate", 'apikey realm="key"'), ("Content-Type", "text/plain")],
        ['{"message":"no key"}\n'],
        {
            "content-type": ["application/json"],
            "www-authenticate": ['apikey realm="key"', 'Bearer x="y"'],
        },
        '{"message":"no key"}\n',
        absent=["retry-after"],
    ),
    Case(
        "403-json-only",
        CONF,
        403,
        [("Content-Type", "text/plain; charset=utf-8")],
        ['{"message":"no"}\n'],
        {"content-type": ["application/json"]},
        '{"message":"no"}\n',
        absent=["www-authenticate"],
    ),
    Case(
        "upstream-429-untouched",
        CONF,
        429,
        [("Content-Type", "text/html"), ("X-RateLimit-Reset", "5")],
        [BODY],
        {"content-type": ["text/html"]},
        BODY,
        upstream_status=429,
        absent=["retry-after"],
    ),
    Case(
        "unlisted-status-untouched",
        {"statuses": [401]},
        404,
        [("Content-Type", "text/plain; charset=utf-8")],
        ['{"error_msg":"404"}\n'],
        {"content-type": ["text/plain; charset=utf-8"]},
        '{"error_msg":"404"}\n',
    ),
]


def _by_name(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), []).append(value)
    return out


def _run_lua(lua: Lua, case: Case) -> tuple[dict[str, list[str]], str]:
    lua.harness.reset(case.status, case.upstream_status, lua.table([list(h) for h in case.headers]))
    conf = lua.table(case.conf)
    ok, error = lua.plugin.check_schema(conf)
    assert ok, error
    lua.plugin.header_filter(conf, lua.harness.ctx)
    body = lua.harness.body(lua.plugin, conf, lua.table(case.chunks))
    pairs = [(h[0], h[1]) for h in _to_python(lua.harness.headers)]
    return _by_name(pairs), body


def _run_standin(case: Case) -> tuple[dict[str, list[str]], str]:
    plugin = ConferenceErrors(case.conf)
    ctx: Any = SimpleNamespace(upstream_status=case.upstream_status, status=case.status, vars={})
    headers: CIMultiDict[str] = CIMultiDict(case.headers)
    plugin.header_filter(ctx, headers)
    body = plugin.body_filter(ctx, "".join(case.chunks).encode()).decode()
    return _by_name(list(headers.items())), body


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lua_plugin_and_stand_in_agree(lua: Lua, case: Case) -> None:
    lua_headers, lua_body = _run_lua(lua, case)
    standin_headers, standin_body = _run_standin(case)
    assert lua_headers == standin_headers
    assert lua_body == standin_body == case.expected_body
    for name, values in case.expected_headers.items():
        assert lua_headers[name] == values, name
    for name in case.absent:
        assert name not in lua_headers


def test_lua_schema_is_the_stand_ins_and_the_deploy_schema(lua: Lua) -> None:
    lua_schema = _to_python(lua.plugin.schema)
    assert lua_schema == {**ConferenceErrors.schema, "additionalProperties": False}
    deploy = json.loads((SCHEMAS / "conference-errors.json").read_text())
    for key in ("$schema", "title", "$comment"):
        deploy.pop(key, None)
    assert deploy == lua_schema
    assert (lua.plugin.name, lua.plugin.priority) == (
        "conference-errors",
        ConferenceErrors.priority,
    )


@pytest.mark.parametrize(
    "conf",
    [{}, {"statuses": []}, {"statuses": [200]}, {"statuses": [401], "other": 1}],
)
def test_lua_schema_refuses_bad_confs(lua: Lua, conf: dict[str, Any]) -> None:
    ok, error = lua.plugin.check_schema(lua.table(conf))
    assert not ok and error


def test_image_ships_the_plugin_where_config_yaml_looks() -> None:
    from tests.deploy.deploy_files import CONFIG_YAML, yaml_file

    config = yaml_file(CONFIG_YAML)
    assert "conference-errors" in config["plugins"]
    search = config["apisix"]["extra_lua_path"]
    dockerfile = (ROOT / "docker" / "gateway.Dockerfile").read_text()
    assert "COPY apisix/lua /opt/conference/lua" in dockerfile
    # APISIX requires <dir>/apisix/plugins/<name>.lua under the extra path's directory.
    assert search == "/opt/conference/lua/?.lua"
    assert (
        Path("apisix/plugins/conference-errors.lua").parts
        == PLUGIN.relative_to(ROOT / "apisix" / "lua").parts
    )
