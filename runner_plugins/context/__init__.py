"""The `conference-context` runner plugin package (loaded by the runner by default).

Modules: ``conf`` (route conf), ``backend`` (pooled client, fetch, pagination), ``cache``,
``breaker``, ``names`` (name matching), ``merge`` and ``trim`` (pure document assembly),
``answer`` (HTTP answers) and ``plugin`` (routing and the fan-out graph).
"""

from __future__ import annotations

from typing import Any

from runner_plugins.context.plugin import ContextPlugin
from runner_plugins.plugin import Plugin

__all__ = ["ContextPlugin", "plugins"]


def plugins() -> list[Plugin[Any]]:
    """The plugins this package contributes to the runner."""
    return [ContextPlugin()]
