"""The conference plugins as the runner loads them by default: context and MCP, sharing one
aggregation, and the OAuth bearer check that runs before them (``oauth-bearer``).

Strategy: the MCP plugin is built around the very context plugin instance the runner
registers, so both routes use one HTTP client pool and one cache, circuit breaker and
concurrency cap per backend. Loading ``runner_plugins.context`` on its own still works (context
routes only); loading it together with this module is a duplicate-name error at startup.
"""

from __future__ import annotations

from typing import Any

from runner_plugins.bearer_check import BearerCheck
from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.mcp.plugin import McpPlugin
from runner_plugins.plugin import Plugin


def plugins() -> list[Plugin[Any]]:
    """The plugins this module contributes to the runner."""
    context = ContextPlugin()
    return [BearerCheck(), context, McpPlugin(context)]
