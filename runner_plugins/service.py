"""The runner as a process: open-file limit, signal handlers, serve until told to stop.

Strategy: everything that touches process-wide state lives here, so :class:`RunnerServer`
can run inside a test's event loop without changing the process.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
from collections.abc import Callable
from typing import Any

from runner_plugins.config import RunnerConfig
from runner_plugins.registry import PluginRegistry
from runner_plugins.server import RunnerServer

__all__ = ["raise_open_file_limit", "run"]

logger = logging.getLogger(__name__)

# File descriptors beyond one per APISIX connection: listener, logs, plugins' backend pools.
_SPARE_FILES = 256
# Connections the runner must always be able to hold (32 idle per APISIX worker, many workers).
_EXPECTED_CONNECTIONS = 1000


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft open-file limit to ``wanted`` if the hard limit allows.

    Debian's default soft limit (1024) is below what 1,000 APISIX connections plus the
    plugins' own sockets need, while the hard limit is usually far higher; nginx raises its
    workers' limit the same way (``worker_rlimit_nofile``). Returns the soft limit in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted if soft == resource.RLIM_INFINITY else soft
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open-file limit from %d: %s", soft, exc)
            return soft
        logger.info("open-file limit raised from %d to %d", soft, target)
        return target
    return soft


async def run(
    config: RunnerConfig,
    registry: PluginRegistry,
    ready: Callable[[RunnerServer], Any] | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully."""
    limit = raise_open_file_limit(config.max_connections + _SPARE_FILES)
    if limit < _EXPECTED_CONNECTIONS + _SPARE_FILES:
        # Only below what APISIX may really open: a hard limit under max_connections is common
        # and harmless, and the default log level must stay quiet.
        logger.warning(
            "open-file hard limit %d: about %d APISIX connections at most",
            limit,
            max(0, limit - _SPARE_FILES),
        )
    server = RunnerServer(config, registry)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, server.request_stop)
    try:
        await server.start()
        if ready is not None:
            ready(server)
        await server.wait_stopped()
    finally:
        await server.shutdown()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
