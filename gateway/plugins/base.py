"""The base class of the local gateway's plugins, and schema pieces the families share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from multidict import CIMultiDict

from gateway.errors import Exit

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

    async def run(self, ctx: RequestContext) -> Exit | None:
        """Run the plugin's phase; an :class:`Exit` ends the request."""
        return None

    def header_filter(self, ctx: RequestContext, headers: CIMultiDict[str]) -> None:
        """Edit the client response headers (runs on every response, exits included)."""

    def body_filter(self, ctx: RequestContext, body: bytes) -> bytes:
        """Edit the whole client response body (after every header filter has run)."""
        return body
