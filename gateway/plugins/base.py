"""The base class of the local gateway's plugins, and schema pieces the families share.

Strategy: each plugin's conf is validated against a JSON schema that lists ONLY the fields
implemented here (``additionalProperties: false``), so a field the stand-in would ignore is a
startup error naming plugin and field. Never the value: plugin confs carry API keys and the
backend's shared secret, and the error is logged, so jsonschema's own messages (which quote the
offending value) are rewritten from the schema side (:func:`_rule`). The validation is a
classmethod of the base so that a plugin made of plugins (multi-auth) builds its parts without
going back through the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Self

import jsonschema
from multidict import CIMultiDict

from gateway.errors import ConfigError, Exit

if TYPE_CHECKING:
    from gateway.context import RequestContext

__all__ = ["BOOL", "STRING", "GatewayPlugin"]

STRING = {"type": "string"}
BOOL = {"type": "boolean"}


class GatewayPlugin:
    """A configured plugin instance; subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    priority: ClassVar[int]
    #: "rewrite", "access", "before_proxy" or "credential" (consumer-side data only).
    phase: ClassVar[str]
    schema: ClassVar[dict[str, Any]]

    def __init__(self, conf: Mapping[str, Any]) -> None:
        self.conf = conf
        #: ``_meta.error_response``: replaces the body of any exit >= 400 of this plugin.
        self.error_response: Any = None

    @classmethod
    def from_conf(cls, raw: Any, where: str) -> Self:
        """Validate a YAML conf and build the plugin (``where`` names the route or consumer)."""
        name = cls.name
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

    async def run(self, ctx: RequestContext) -> Exit | None:
        """Run the plugin's phase; an :class:`Exit` ends the request."""
        return None

    def header_filter(self, ctx: RequestContext, headers: CIMultiDict[str]) -> None:
        """Edit the client response headers (runs on every response, exits included)."""

    def body_filter(self, ctx: RequestContext, body: bytes) -> bytes:
        """Edit the whole client response body (after every header filter has run)."""
        return body


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
