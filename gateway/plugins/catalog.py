"""Which plugins the local gateway implements, and how a YAML conf becomes a plugin.

Strategy: each plugin's conf is validated against a JSON schema that lists ONLY the fields
implemented here (``additionalProperties: false``), so a field the stand-in would ignore is a
startup error naming plugin and field. Never the value: plugin confs carry API keys and the
backend's shared secret, and the error is logged, so jsonschema's own messages (which quote the
offending value) are rewritten from the schema side (:func:`_rule`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

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
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{where}: plugin {name!r} conf must be an object, got a {type(raw).__name__}"
        )
    conf = dict(raw)
    meta = conf.pop("_meta", None)
    schema = {**cls.schema, "additionalProperties": False}
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(conf)
    )
    if error is not None:
        field = "/".join(str(p) for p in error.absolute_path) or "(conf)"
        raise ConfigError(f"{where}: plugin {name!r} field {field}: {_rule(error)}")
    plugin = cls(conf)
    if meta is not None:
        if not isinstance(meta, Mapping) or set(meta) - {"error_response"}:
            raise ConfigError(
                f"{where}: plugin {name!r} _meta: only 'error_response' is implemented"
            )
        response = meta.get("error_response")
        if not isinstance(response, str | Mapping):
            raise ConfigError(
                f"{where}: plugin {name!r} _meta.error_response must be a string or an object"
            )
        plugin.error_response = response
    return plugin


def error_response_body(plugin: Plugin) -> bytes | None:
    """The configured ``_meta.error_response`` as the bytes APISIX sends, or None."""
    response = plugin.error_response
    if response is None:
        return None
    if isinstance(response, str):
        return response.encode()
    return table_body(response)


def _rule(error: jsonschema.ValidationError) -> str:
    """Which schema rule ``error`` broke, in words built from the schema only (never the value)."""
    rule, expected = error.validator, error.validator_value
    if rule == "enum":
        return f"must be one of {expected!r}"
    if rule == "pattern":
        hint = " (nginx variables such as $name are not expanded)" if "$" in str(expected) else ""
        return f"must match {expected!r}{hint}"
    if rule == "type":
        return f"must be of type {expected!r}"
    if rule in {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}:
        return f"breaks {rule} {expected!r}"
    if rule == "required":
        return f"requires {expected!r}"
    if rule == "additionalProperties" and isinstance(error.instance, Mapping):
        # Field names are configuration structure, not values.
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        known = set(schema.get("properties", {}))
        unknown = sorted(str(key) for key in error.instance if key not in known)
        return f"field(s) {unknown!r} not implemented by the local gateway"
    return f"does not satisfy the schema's {rule!r} rule"
