"""The `conference-mcp` runner plugin: an MCP server (Streamable HTTP) on the context aggregation.

Modules: ``transport`` (the HTTP rules, sans-IO), ``endpoint`` (one message through the official
SDK's server), ``shape`` (a tool result in the SDK's wire form), ``tools`` (the catalogue),
``toolbox`` (what each tool does), ``access`` (who may use which tool), ``conf`` and ``plugin``.
``runner_plugins.conference`` registers it together with the context plugin it shares.
"""

from __future__ import annotations

from runner_plugins.mcp.plugin import McpPlugin

__all__ = ["McpPlugin"]
