"""Run a matched request through the plugin phases in APISIX's order, then proxy it.

Strategy: APISIX runs the route's rewrite-phase plugins by descending priority; once an auth
plugin has identified a consumer, the consumer's plugins are merged into the route's (the
consumer's conf wins on a name clash) and the rewrite phase of the newly added ones runs; then
the access phase runs over the merged set by priority; then the upstream (or, with
ext-plugin-post-resp, the upstream followed by the runner). The first plugin that returns an
exit ends the request; exits >= 400 get the plugin's ``_meta.error_response`` body. Every
response, exit or upstream, then goes through each plugin's header filter (CORS, request id),
except a bare status that real APISIX leaves to nginx's ``error_page`` (see gateway/errors.py).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from multidict import CIMultiDict

from gateway.context import Plugin, RequestContext
from gateway.errors import Exit, status_exit
from gateway.mime import exit_content_type
from gateway.plugins import ExtPluginPostResp, error_response_body
from gateway.plugins.external import call_response, set_then_add
from gateway.upstream import UpstreamClient, UpstreamError

logger = logging.getLogger(__name__)

Response = tuple[int, CIMultiDict[str], bytes]


def _by_priority(plugins: dict[str, Plugin], phase: str) -> list[Plugin]:
    chosen = [p for p in plugins.values() if p.phase == phase]
    return sorted(chosen, key=lambda p: -p.priority)


async def _run_phase(ctx: RequestContext, plugins: list[Plugin]) -> Response | None:
    for plugin in plugins:
        result = await plugin.run(ctx)
        if result is not None:
            return _exit_response(ctx, plugin, result)
    return None


def _exit_response(ctx: RequestContext, plugin: Plugin | None, result: Exit) -> Response:
    body = result.body
    exit_headers = result.headers
    error_page = result.error_page
    if result.status >= 400:
        logger.warning(
            "%s exits with http status code %d",
            plugin.name if plugin else "gateway",
            result.status,
        )
        replacement = error_response_body(plugin) if plugin is not None else None
        if replacement is not None:
            # A body: core.response.exit sends it itself (text/plain), no error page.
            body = replacement
            error_page = False
            exit_headers = [(k, v) for k, v in exit_headers if k.lower() != "content-type"]
    ctx.error_page = error_page
    headers: CIMultiDict[str] = CIMultiDict()
    set_then_add(headers, exit_headers)
    if body and "Content-Type" not in headers:
        # nginx types a Lua-printed body by the URI's extension (image/png for /logo.png).
        headers["Content-Type"] = exit_content_type(ctx.path)
    return result.status, headers, body


async def process(
    ctx: RequestContext, upstream: UpstreamClient | None, query_string: str
) -> Response:
    """Answer one routed request: phases, upstream, then header filters."""
    ctx.plugins = dict(ctx.route.plugins)
    response = await _phases(ctx)
    if response is None:
        response = await _proxy(ctx, upstream, query_string)
    status, headers, body = response
    set_then_add(headers, ctx.resp_headers)
    ctx.status = status
    # nginx serves an error page from a location without APISIX's filter phases.
    if not ctx.error_page:
        ordered = sorted(ctx.plugins.values(), key=lambda p: -p.priority)
        for plugin in ordered:
            plugin.header_filter(ctx, headers)
        for plugin in ordered:
            body = plugin.body_filter(ctx, body)
    return status, headers, body


async def _phases(ctx: RequestContext) -> Response | None:
    done = await _run_phase(ctx, _by_priority(ctx.plugins, "rewrite"))
    if done is not None:
        return done
    if ctx.consumer is not None:
        added: dict[str, Plugin] = {}
        for name, plugin in ctx.consumer.plugins.items():
            if plugin.phase == "credential":
                continue
            added[name] = plugin
            ctx.plugins[name] = plugin
        done = await _run_phase(ctx, _by_priority(added, "rewrite"))
        if done is not None:
            return done
    return await _run_phase(ctx, _by_priority(ctx.plugins, "access"))


async def _proxy(
    ctx: RequestContext, upstream: UpstreamClient | None, query_string: str
) -> Response:
    if ctx.body_too_large:
        # Proxying reads the body: only now does nginx apply client_max_body_size.
        return _exit_response(ctx, None, status_exit(413))
    if upstream is None:
        # No upstream and no plugin answered (e.g. a degraded runner): nothing can serve it.
        return _exit_response(ctx, None, status_exit(502))
    path = ctx.upstream_path if ctx.upstream_path is not None else ctx.raw_path
    query = urlencode(list(ctx.args.items())) if ctx.args_changed else query_string
    target = f"{path}?{query}" if query else path
    headers = CIMultiDict(ctx.headers)
    forwarded = headers.get("X-Forwarded-For")
    headers["X-Real-IP"] = ctx.src_ip
    headers["X-Forwarded-For"] = f"{forwarded}, {ctx.src_ip}" if forwarded else ctx.src_ip
    headers["X-Forwarded-Proto"] = "http"
    headers["X-Forwarded-Host"] = (ctx.headers.get("Host") or "").split(":")[0]
    headers["X-Forwarded-Port"] = str(ctx.server_port)
    try:
        status, resp_headers, body = await upstream.send(
            ctx.upstream_method or ctx.method, target, headers, ctx.body, ctx.upstream_host
        )
    except UpstreamError as exc:
        return _exit_response(ctx, None, status_exit(exc.status))
    ctx.upstream_status = status
    post_resp = ctx.plugins.get("ext-plugin-post-resp")
    if isinstance(post_resp, ExtPluginPostResp):
        result = await call_response(post_resp, ctx, status, resp_headers, body)
        if isinstance(result, Exit):
            return _exit_response(ctx, post_resp, result)
        return result
    return status, resp_headers, body
