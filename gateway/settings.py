"""The local gateway's own settings, read once from the command line and the environment.

Strategy: one frozen :class:`GatewaySettings` is built by :func:`GatewaySettings.from_args` in
``python -m gateway`` and passed down: the listener, the ``apisix.yaml`` to load, the runner's
socket and how to talk to it, and the client-side :class:`Limits`. Nothing below ``__main__``
reads ``os.environ`` or a module-level knob; tests build the dataclasses they need. The defaults
are nginx's and APISIX's own where the stand-in mirrors them (docs/local-stack.md).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner_plugins.client import RunnerClient

__all__ = ["MAX_UPSTREAM_BODY", "GatewaySettings", "Limits", "RunnerSettings"]

#: Upstream bodies past this are refused with a JSON 502 (nginx buffers to disk without a cap;
#: the stand-in holds bodies in memory, so it needs one).
MAX_UPSTREAM_BODY = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """Client-side bounds; nginx-like defaults, every one answered with JSON when exceeded."""

    max_uri_bytes: int = 8192
    max_header_bytes: int = 32768
    max_body_bytes: int = 1024 * 1024
    #: nginx's client_body_timeout and client_header_timeout as apisix/config.yaml sets them
    #: (nginx's own defaults are 60 s): between two body reads, and for the whole header.
    client_body_timeout: float = 10.0
    client_header_timeout: float = 10.0
    keepalive_timeout: float = 75.0
    max_upstream_body: int = MAX_UPSTREAM_BODY


@dataclass(frozen=True, slots=True)
class RunnerSettings:
    """How the ext-plugin-* plugins reach the runner: APISIX's own client timeouts and pool."""

    socket_path: str = "var/run/runner.sock"
    connect_timeout: float = 1.0
    read_timeout: float = 60.0
    max_idle: int = 32

    def client(self) -> RunnerClient:
        return RunnerClient(
            self.socket_path,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_idle=self.max_idle,
        )


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Everything ``python -m gateway`` needs besides ``apisix.yaml`` itself."""

    config_path: Path = Path("apisix/apisix.yaml")
    host: str = "127.0.0.1"
    port: int = 9080
    log_level: str = "INFO"
    runner: RunnerSettings = field(default_factory=RunnerSettings)
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_args(cls, argv: Sequence[str] | None, environ: Mapping[str, str]) -> GatewaySettings:
        """Flags first, then ``GATEWAY_*`` / ``RUNNER_SOCKET`` variables, then the defaults."""
        args = _parser(environ).parse_args(argv)
        return cls(
            config_path=args.config,
            host=args.host,
            port=args.port,
            log_level=args.log_level.upper(),
            runner=RunnerSettings(socket_path=args.runner_socket.removeprefix("unix:")),
            limits=Limits(
                client_header_timeout=args.client_header_timeout,
                client_body_timeout=args.client_body_timeout,
            ),
        )


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    defaults = GatewaySettings()
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description="Local development stand-in for Apache APISIX (never the production path).",
    )
    parser.add_argument("--config", type=Path, default=defaults.config_path)
    parser.add_argument("--host", default=environ.get("GATEWAY_HOST", defaults.host))
    parser.add_argument("--port", type=int, default=int(environ.get("GATEWAY_PORT", defaults.port)))
    parser.add_argument(
        "--runner-socket",
        default=environ.get("RUNNER_SOCKET", defaults.runner.socket_path),
        help="the runner's Unix socket (APISIX ext-plugin.path_for_test); 'unix:' prefix allowed",
    )
    parser.add_argument("--log-level", default=environ.get("GATEWAY_LOG_LEVEL", defaults.log_level))
    # nginx's two client read timeouts, each as a flag over a GATEWAY_* variable.
    for flag, variable, limit, what in (
        (
            "--client-header-timeout",
            "GATEWAY_CLIENT_HEADER_TIMEOUT",
            defaults.limits.client_header_timeout,
            "to send a whole request header (nginx client_header_timeout)",
        ),
        (
            "--client-body-timeout",
            "GATEWAY_CLIENT_BODY_TIMEOUT",
            defaults.limits.client_body_timeout,
            "between two reads of a request body (nginx client_body_timeout)",
        ),
    ):
        parser.add_argument(
            flag,
            type=float,
            default=float(environ.get(variable, limit)),
            help=f"seconds a client may take {what}",
        )
    return parser
