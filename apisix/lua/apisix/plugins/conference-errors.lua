-- conference-errors: the Conference gateway's own APISIX plugin (header and body filters only).
--
-- APISIX sends the body of a plugin rejection (key-auth 401, consumer-restriction 403,
-- limit-count 429 with _meta.error_response) without a Content-Type, so nginx types it
-- text/plain, or by the URI's extension (image/png on /logo.png). On answers the gateway made
-- itself (no upstream status) whose status is listed in conf.statuses, this plugin:
--   * sets Content-Type: application/json;
--   * on a 429 carrying limit-count's X-RateLimit-Reset (seconds, possibly fractional), sets
--     Retry-After to that value rounded up to whole seconds (at least 1) and writes the same
--     number wherever the body says {retry_after};
--   * adds each conf.add_headers entry whose status matches (e.g. a Bearer WWW-Authenticate
--     challenge on 401 next to key-auth's own).
-- Loaded through config.yaml (apisix.extra_lua_path, plugins list). The local development
-- gateway implements the same conf and behaviour in gateway/conference_errors.py; the
-- repository's tests run both over one table of cases.

local core = require("apisix.core")
local ngx = ngx
local ipairs = ipairs
local tonumber = tonumber
local tostring = tostring
local math_ceil = math.ceil
local str_find = string.find
local str_sub = string.sub
local concat = table.concat

local PLACEHOLDER = "{retry_after}"
local CTX_KEY = "conference_retry_after"

local status_schema = {type = "integer", minimum = 400, maximum = 599}

local schema = {
    type = "object",
    properties = {
        statuses = {
            type = "array",
            minItems = 1,
            uniqueItems = true,
            items = status_schema,
        },
        add_headers = {
            type = "array",
            items = {
                type = "object",
                properties = {
                    status = status_schema,
                    name = {type = "string", pattern = "^[A-Za-z0-9-]+$"},
                    value = {type = "string", minLength = 1},
                },
                required = {"status", "name", "value"},
                additionalProperties = false,
            },
        },
    },
    required = {"statuses"},
    additionalProperties = false,
}

local _M = {
    version = 0.1,
    -- Filters only; low so that it runs after the other plugins' header filters.
    priority = 1,
    name = "conference-errors",
    schema = schema,
}


function _M.check_schema(conf)
    return core.schema.check(schema, conf)
end


local function listed(statuses, status)
    for _, code in ipairs(statuses) do
        if code == status then
            return true
        end
    end
    return false
end


-- Made by the gateway itself: APISIX never proxied it (no upstream status), and it is listed.
local function applies(conf, ctx)
    if core.response.get_upstream_status(ctx) then
        return false
    end
    return listed(conf.statuses, ngx.status)
end


-- Whole seconds from X-RateLimit-Reset ("60", "59.98"); nil when absent or not a number.
local function retry_after(reset)
    local seconds = tonumber(reset)
    -- NaN and infinities are numbers too: refuse them.
    if not seconds or seconds ~= seconds or seconds == math.huge or seconds == -math.huge then
        return nil
    end
    local whole = math_ceil(seconds)
    if whole < 1 then
        whole = 1
    end
    return whole
end


local function replace_plain(text, old, new)
    local parts, n, start = {}, 0, 1
    while true do
        local from, to = str_find(text, old, start, true)
        if not from then
            break
        end
        n = n + 1
        parts[n] = str_sub(text, start, from - 1)
        n = n + 1
        parts[n] = new
        start = to + 1
    end
    n = n + 1
    parts[n] = str_sub(text, start)
    return concat(parts, "", 1, n)
end


function _M.header_filter(conf, ctx)
    if not applies(conf, ctx) then
        return
    end
    local status = ngx.status
    core.response.set_header("Content-Type", "application/json")
    if status == 429 then
        local seconds = retry_after(ngx.header["X-RateLimit-Reset"])
        if seconds then
            core.response.set_header("Retry-After", tostring(seconds))
            ctx[CTX_KEY] = tostring(seconds)
            -- The body may change length below.
            core.response.clear_header_as_body_modified()
        end
    end
    for _, extra in ipairs(conf.add_headers or {}) do
        if extra.status == status then
            core.response.add_header(extra.name, extra.value)
        end
    end
end


function _M.body_filter(conf, ctx)
    local seconds = ctx[CTX_KEY]
    if not seconds or not applies(conf, ctx) then
        return
    end
    -- The gateway's own error bodies are a few hundred bytes: holding them whole is bounded.
    local body = core.response.hold_body_chunk(ctx)
    if not body then
        return
    end
    ngx.arg[1] = replace_plain(body, PLACEHOLDER, seconds)
end


return _M
