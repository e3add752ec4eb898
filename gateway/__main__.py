"""``python -m gateway``: run the local development stand-in for APISIX.

Reads ``apisix/apisix.yaml`` (with ``${{VAR}}`` substitution from the environment), connects the
ext-plugin-* plugins to the runner's Unix socket, and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from gateway.app import Gateway
from gateway.config import load
from gateway.errors import ConfigError
from gateway.settings import GatewaySettings

logger = logging.getLogger("gateway")


async def _serve(settings: GatewaySettings) -> None:
    config = load(settings.config_path, os.environ)
    gateway = Gateway(config, settings.runner.client(), settings.limits)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gateway.start(settings.host, settings.port)
    try:
        await stop.wait()
    finally:
        logger.info("stopping the local gateway")
        await gateway.close()


def main(argv: list[str] | None = None) -> int:
    settings = GatewaySettings.from_args(argv, os.environ)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned on every supported platform
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(_serve(settings))
    except ConfigError as exc:
        logger.error("invalid gateway configuration: %s", exc)
        return 2
    except OSError as exc:
        logger.error("cannot start the local gateway: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
