"""Which plugins the local gateway implements, for routes and for consumers.

Strategy: a dispatch table per side, name -> class; the class validates its own conf
(:meth:`GatewayPlugin.from_conf <gateway.plugins.base.GatewayPlugin.from_conf>`), so a name the
stand-in does not implement is the only error decided here.
"""

from __future__ import annotations

from typing import Any

from gateway.context import Plugin
from gateway.errors import ConfigError, table_body
from gateway.plugins.auth import ConsumerRestriction, KeyAuth, KeyAuthCredential
from gateway.plugins.base import GatewayPlugin
from gateway.plugins.conference_errors import ConferenceErrors
from gateway.plugins.external import ExtPluginPostReq, ExtPluginPostResp, ExtPluginPreReq
from gateway.plugins.jwt import JwtAuth, JwtAuthCredential, MultiAuth
from gateway.plugins.traffic import LimitCount
from gateway.plugins.transform import Cors, ProxyRewrite, RequestId

__all__ = ["build_plugin", "error_response_body"]


_ROUTE_PLUGINS: dict[str, type[GatewayPlugin]] = {
    cls.name: cls
    for cls in (
        RequestId,
        Cors,
        KeyAuth,
        JwtAuth,
        MultiAuth,
        ConsumerRestriction,
        LimitCount,
        ProxyRewrite,
        ExtPluginPreReq,
        ExtPluginPostReq,
        ExtPluginPostResp,
        ConferenceErrors,
    )
}
#: What a consumer may carry: its credential, and plugins merged into the route (as APISIX does).
_CONSUMER_PLUGINS: dict[str, type[GatewayPlugin]] = {
    "key-auth": KeyAuthCredential,
    "jwt-auth": JwtAuthCredential,
    "limit-count": LimitCount,
    "consumer-restriction": ConsumerRestriction,
    "proxy-rewrite": ProxyRewrite,
    "request-id": RequestId,
}


def _plugin_class(name: str, where: str) -> type[GatewayPlugin] | None:
    if where.startswith("consumer"):
        return _CONSUMER_PLUGINS.get(name)
    return _ROUTE_PLUGINS.get(name)


def build_plugin(name: str, raw: Any, where: str) -> GatewayPlugin:
    """Validate a plugin conf and build the plugin (``where`` names the route or consumer)."""
    cls = _plugin_class(name, where)
    if cls is None:
        raise ConfigError(f"{where}: plugin {name!r} is not implemented by the local gateway")
    return cls.from_conf(raw, where)


def error_response_body(plugin: Plugin) -> bytes | None:
    """The configured ``_meta.error_response`` as the bytes APISIX sends, or None."""
    response = plugin.error_response
    if response is None:
        return None
    if isinstance(response, str):
        return response.encode()
    return table_body(response)
