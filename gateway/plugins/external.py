"""The ext-plugin-* plugins and the gateway's side of the runner conversation.

Strategy: the wire protocol lives in ``runner_plugins.client.RunnerClient`` (shared with tests and
benchmarks); this module only does what APISIX's ``ext-plugin/init.lua`` does around it: build
the PrepareConf key, describe the request, apply the runner's Stop or Rewrite to the request
context, and turn every runner failure into APISIX's 503 (or let the request go on when
``allow_degradation`` is set). The ``_meta.error_response`` substitution for exits >= 400 is the
pipeline's job, as it is for every APISIX plugin.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict

from gateway.errors import Exit, status_exit
from gateway.plugins.base import BOOL, STRING, GatewayPlugin
from gateway.uri import safe_encode
from runner_plugins.client import ExtraInfoQuery
from runner_plugins.errors import RunnerUnavailable
from runner_plugins.plugin import Entry, ResponseChange, Rewrite, Stop

if TYPE_CHECKING:
    from gateway.context import RequestContext

logger = logging.getLogger(__name__)

#: Rewrite.resp_headers APISIX refuses to copy to the client (ext-plugin/init.lua).
_RESP_HEADER_DENY = frozenset(
    {
        "connection",
        "content-length",
        "transfer-encoding",
        "location",
        "server",
        "www-authenticate",
        "content-encoding",
        "content-type",
        "content-location",
        "content-language",
    }
)

# APISIX: (worker id << 22) + counter, the counter wrapping at 2**22; we are "worker 0".
_ids = itertools.count()


def next_request_id() -> int:
    return next(_ids) % (1 << 22)


def conf_key(ctx: RequestContext, plugin_name: str) -> str:
    """APISIX's PrepareConf key: ``route#<id>#<plugin>#<conf version>``."""
    return f"route#{ctx.route.id}#{plugin_name}#{ctx.route.version}"


class ExtraInfo:
    """Answers the runner's ExtraInfo questions (variables, request body) for one request."""

    def __init__(self, ctx: RequestContext, response_body: bytes | None = None) -> None:
        self._ctx = ctx
        self._response_body = response_body

    async def __call__(self, query: ExtraInfoQuery) -> bytes | None:
        if query.kind == "var":
            value = self._ctx.variable(query.name)
            return None if value is None else value.encode()
        if query.kind == "req_body":
            return self._ctx.body
        return self._response_body


def _request_headers(ctx: RequestContext) -> list[Entry]:
    # ngx.req.get_headers(): lower-cased names; host replaced by the upstream host.
    entries: list[Entry] = [
        (name.lower(), value) for name, value in ctx.headers.items() if name.lower() != "host"
    ]
    host = ctx.upstream_host or ctx.headers.get("Host")
    if host is not None:
        entries.append(("host", host))
    return entries


async def call_request(plugin: ExtPlugin, ctx: RequestContext) -> Exit | None:
    """Run ext-plugin-pre-req / post-req: one HTTPReqCall, then apply its answer."""
    runner = ctx.services.runner
    try:
        if runner is None:
            raise RunnerUnavailable("no runner configured")
        # ext-plugin/init.lua: $uri (decoded) unless upstream_uri is set, which goes as is.
        path = ctx.path if ctx.upstream_path is None else ctx.upstream_path
        action = await runner.http_req_call(
            plugin.entries,
            conf_key(ctx, plugin.name),
            method=ctx.method,
            path=path,
            args=[(k, v) for k, v in ctx.args.items()],
            headers=_request_headers(ctx),
            src_ip=ctx.src_ip,
            request_id=ctx.runner_request_id,
            extra_info=ExtraInfo(ctx),
        )
    except RunnerUnavailable as exc:
        if plugin.allow_degradation:
            logger.warning("Plugin Runner is wrong, allow degradation: %s", exc)
            return None
        logger.error("%s: runner unavailable: %s", plugin.name, exc)
        return status_exit(503)
    if isinstance(action, Stop):
        return Exit(action.status or 200, action.body, list(action.headers))
    if isinstance(action, Rewrite):
        apply_rewrite(ctx, action)
    return None


def apply_rewrite(ctx: RequestContext, action: Rewrite) -> None:
    """Apply a runner Rewrite in APISIX's order: path, headers, body, resp_headers, args."""
    if action.path is not None:
        ctx.upstream_path = safe_encode(action.path)
    for name, value in action.headers:
        if value is None:
            ctx.headers.popall(name, None)
            continue
        ctx.headers[name] = value
        if name.lower() == "host":
            ctx.upstream_host = value
    if action.body is not None and action.body:
        ctx.body = action.body
    for name, value in action.resp_headers:
        if name.lower() not in _RESP_HEADER_DENY:
            ctx.resp_headers.append((name, value))
    if action.args:
        replaced: set[str] = set()
        for name, arg in action.args:
            if arg is None:
                ctx.args.popall(name, None)
            elif name in replaced:
                ctx.args.add(name, arg)
            else:
                ctx.args.popall(name, None)
                ctx.args.add(name, arg)
                replaced.add(name)
        ctx.args_changed = True


async def call_response(
    plugin: ExtPlugin,
    ctx: RequestContext,
    status: int,
    headers: CIMultiDict[str],
    body: bytes,
) -> tuple[int, CIMultiDict[str], bytes] | Exit:
    """Run ext-plugin-post-resp on an upstream response; returns the response to send."""
    runner = ctx.services.runner
    try:
        if runner is None:
            raise RunnerUnavailable("no runner configured")
        change = await runner.http_resp_call(
            plugin.entries,
            conf_key(ctx, plugin.name),
            status=status,
            headers=[(k.lower(), v) for k, v in headers.items()],
            request_id=ctx.runner_request_id,
            extra_info=ExtraInfo(ctx, body),
        )
    except RunnerUnavailable as exc:
        if plugin.allow_degradation:
            logger.warning("Plugin Runner is wrong, allow degradation: %s", exc)
            return status, headers, body
        logger.error("%s: runner unavailable: %s", plugin.name, exc)
        return status_exit(503)
    if change is None:
        return status, headers, body
    return _apply_change(change, status, headers, body)


def _apply_change(
    change: ResponseChange, status: int, headers: CIMultiDict[str], body: bytes
) -> tuple[int, CIMultiDict[str], bytes]:
    if change.headers:
        set_then_add(headers, change.headers)
    if change.body is not None and change.body:
        # No Content-Length to fix: Gateway.handle drops it from every response (HOP_BY_HOP).
        body = change.body
    return (change.status or status), headers, body


def set_then_add(headers: CIMultiDict[str], entries: Sequence[tuple[str, str]]) -> None:
    """Set the first value of each name and add the repeats, as APISIX applies header lists."""
    seen: set[str] = set()
    for name, value in entries:
        key = name.lower()
        if key in seen:
            headers.add(name, value)
        else:
            headers[name] = value
            seen.add(key)


class ExtPlugin(GatewayPlugin):
    """Common conf of the three ext-plugin-* plugins; the pipeline talks to the runner."""

    schema = {
        "type": "object",
        "properties": {
            "conf": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 128},
                        "value": STRING,
                    },
                    "required": ["name", "value"],
                    "additionalProperties": False,
                },
            },
            "allow_degradation": BOOL,
        },
    }

    def __init__(self, conf: Mapping[str, Any]) -> None:
        super().__init__(conf)
        self.entries: tuple[tuple[str, str], ...] = tuple(
            (item["name"], item["value"]) for item in conf.get("conf", ())
        )
        self.allow_degradation: bool = conf.get("allow_degradation", False)

    async def run(self, ctx: RequestContext) -> Exit | None:
        return await call_request(self, ctx)


class ExtPluginPreReq(ExtPlugin):
    name = "ext-plugin-pre-req"
    priority = 12000
    phase = "rewrite"


class ExtPluginPostReq(ExtPlugin):
    name = "ext-plugin-post-req"
    priority = -3000
    phase = "access"


class ExtPluginPostResp(ExtPlugin):
    name = "ext-plugin-post-resp"
    priority = -4000
    phase = "before_proxy"

    async def run(self, ctx: RequestContext) -> Exit | None:
        # The pipeline sends the upstream request itself and then calls the runner.
        return None
