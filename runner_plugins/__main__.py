"""``python -m runner_plugins`` / ``conference-runner``: serve APISIX on a Unix socket.

Strategy: parse flags, build :class:`RunnerConfig` from the environment APISIX
sets, load the named plugin modules, install uvloop when it is importable (it
measured faster, see docs/performance.md), and serve until SIGTERM/SIGINT.
Logs are one line per event on stderr, which APISIX copies into its error log.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Sequence

from runner_plugins.config import RunnerConfig
from runner_plugins.errors import RunnerError
from runner_plugins.registry import PluginRegistry
from runner_plugins.service import run

logger = logging.getLogger("runner_plugins")


class _OneLineFormatter(logging.Formatter):
    """Folds tracebacks into the record's line: APISIX logs every output chunk separately."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="conference-runner",
        description="APISIX ext-plugin runner (socket from APISIX_LISTEN_ADDRESS=unix:/path).",
    )
    parser.add_argument("--listen", metavar="PATH", help="Unix socket path (overrides the env)")
    parser.add_argument(
        "--plugin",
        metavar="MODULE",
        action="append",
        default=[],
        help="module exposing plugins(); repeatable (default: $RUNNER_PLUGINS or "
        "runner_plugins.conference)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default), ERROR")
    parser.add_argument(
        "--metrics",
        metavar="ADDRESS",
        help="serve Prometheus metrics at host:port or unix:/path (default: $RUNNER_METRICS, off)",
    )
    parser.add_argument(
        "--no-uvloop", action="store_true", help="use the stdlib event loop even if uvloop exists"
    )
    # APISIX's documented cmd for runners often ends with "start"; accept and ignore it.
    parser.add_argument("command", nargs="?", choices=["start", "run"], help=argparse.SUPPRESS)
    return parser


def _loop_factory(use_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if not use_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = RunnerConfig.from_env(
            os.environ,
            listen=args.listen,
            plugins=args.plugin,
            log_level=args.log_level,
            metrics=args.metrics,
        )
    except RunnerError as exc:
        print(f"conference-runner: {exc}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=config.log_level, handlers=[handler])
    try:
        registry = PluginRegistry.from_modules(config.plugin_modules)
    except RunnerError as exc:
        logger.error("%s", exc)
        return 2
    try:
        with asyncio.Runner(loop_factory=_loop_factory(not args.no_uvloop)) as runner:
            runner.run(run(config, registry))
    except RunnerError as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
