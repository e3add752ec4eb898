"""``python -m gateway``: run the local development stand-in for APISIX.

Reads ``apisix/apisix.yaml`` (with ``${{VAR}}`` substitution from the environment), connects the
ext-plugin-* plugins to the runner's Unix socket, and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from gateway.app import Gateway, Limits
from gateway.config import load
from gateway.errors import ConfigError
from runner_plugins.client import RunnerClient

logger = logging.getLogger("gateway")


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description="Local development stand-in for Apache APISIX (never the production path).",
    )
    parser.add_argument("--config", type=Path, default=Path("apisix/apisix.yaml"))
    parser.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "9080")))
    parser.add_argument(
        "--runner-socket",
        default=os.environ.get("RUNNER_SOCKET", "var/run/runner.sock"),
        help="the runner's Unix socket (APISIX ext-plugin.path_for_test); 'unix:' prefix allowed",
    )
    parser.add_argument("--log-level", default=os.environ.get("GATEWAY_LOG_LEVEL", "INFO"))
    parser.add_argument(
        "--client-header-timeout",
        type=float,
        default=float(os.environ.get("GATEWAY_CLIENT_HEADER_TIMEOUT", "10")),
        help="seconds a client has to send a whole request header (nginx client_header_timeout)",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    config = load(args.config, os.environ)
    socket_path = args.runner_socket.removeprefix("unix:")
    limits = Limits(client_header_timeout=args.client_header_timeout)
    gateway = Gateway(config, RunnerClient(socket_path), limits)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await gateway.start(args.host, args.port)
    try:
        await stop.wait()
    finally:
        logger.info("stopping the local gateway")
        await gateway.close()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned on every supported platform
        runner = asyncio.run
    else:
        runner = uvloop.run
    try:
        runner(_serve(args))
    except ConfigError as exc:
        logger.error("invalid gateway configuration: %s", exc)
        return 2
    except OSError as exc:
        logger.error("cannot start the local gateway: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
