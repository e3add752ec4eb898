"""Runner configuration from the environment APISIX sets, plus command-line overrides.

Strategy: APISIX spawns the runner with ``APISIX_LISTEN_ADDRESS=unix:/path`` and
``APISIX_CONF_EXPIRE_TIME`` (https://apisix.apache.org/docs/apisix/external-plugin/); everything
else has a default that works under APISIX and can be overridden by a
``RUNNER_*`` variable (declare it in ``nginx_config.envs`` when APISIX spawns
the runner) or a flag. Values are validated here, once, so the server never
sees a half-valid configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from runner_plugins.errors import ConfigError

__all__ = ["DEFAULT_PLUGIN_MODULES", "RunnerConfig"]

DEFAULT_PLUGIN_MODULES = ("runner_plugins.conference",)
# sun_path is 108 bytes on Linux including the terminating NUL.
_MAX_SOCKET_PATH = 107


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    """Everything the runner needs to start; see :meth:`from_env`."""

    socket_path: str
    plugin_modules: tuple[str, ...] = DEFAULT_PLUGIN_MODULES
    conf_expire_time: float = 3600.0
    max_conf_entries: int = 4096
    log_level: str = "WARNING"
    #: 0o766 lets APISIX's ``nobody`` workers connect to a socket a root runner created.
    socket_mode: int = 0o766
    #: Plugin work per request is cancelled after this (APISIX gives up at 60 s).
    request_timeout: float = 55.0
    max_connections: int = 4096
    #: In-flight requests get this long to finish after SIGTERM (APISIX kills at 1 s). With
    #: plugin shutdown and interpreter exit the process was gone ~0.07 s after the grace when
    #: idle but 0.13-0.17 s after it with the CPUs saturated, so 0.7 left too thin a margin.
    shutdown_grace: float = 0.5
    #: Each plugin's ``shutdown`` gets this long, after the grace (all within APISIX's 1 s).
    plugin_shutdown_timeout: float = 0.2
    #: Each plugin's ``startup`` gets this long before the runner gives up starting.
    plugin_startup_timeout: float = 5.0
    #: How often in-flight requests are checked against ``request_timeout``, and the loop for
    #: blocking work.
    sweep_interval: float = 1.0
    #: Pending connections the kernel queues for accept (APISIX opens many at once on reload).
    backlog: int = 4096
    #: Where ``GET /metrics`` is served (``host:port`` or ``unix:/path``); None: metrics off,
    #: and nothing is counted.
    metrics_address: str | None = None

    @property
    def conf_ttl(self) -> float:
        """Conf entries live this long after creation or last use (2 x expire time)."""
        return 2 * self.conf_expire_time

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        listen: str | None = None,
        plugins: Sequence[str] = (),
        log_level: str | None = None,
        metrics: str | None = None,
    ) -> RunnerConfig:
        """Build the config; flags (``listen``, ``plugins``, ``log_level``, ``metrics``) beat the
        environment.

        :raise ConfigError: a missing socket path or a malformed value.
        """
        socket_path = listen or _strip_unix(environ.get("APISIX_LISTEN_ADDRESS", ""))
        if not socket_path:
            raise ConfigError("no socket: set APISIX_LISTEN_ADDRESS=unix:/path or pass --listen")
        if len(socket_path.encode()) > _MAX_SOCKET_PATH:
            raise ConfigError(f"socket path longer than {_MAX_SOCKET_PATH} bytes: {socket_path}")
        expire = _number(environ, "APISIX_CONF_EXPIRE_TIME", 3600.0)
        modules = tuple(plugins) or _modules(environ.get("RUNNER_PLUGINS", ""))
        level = (log_level or environ.get("RUNNER_LOG_LEVEL", "WARNING")).upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ConfigError(f"unknown log level {level!r}")
        return cls(
            socket_path=socket_path,
            plugin_modules=modules or DEFAULT_PLUGIN_MODULES,
            conf_expire_time=expire,
            max_conf_entries=int(_number(environ, "RUNNER_MAX_CONFS", 4096, minimum=1)),
            log_level=level,
            request_timeout=_number(environ, "RUNNER_REQUEST_TIMEOUT", 55.0),
            max_connections=int(_number(environ, "RUNNER_MAX_CONNECTIONS", 4096, minimum=1)),
            metrics_address=_metrics_address(metrics or environ.get("RUNNER_METRICS", "")),
        )


def _strip_unix(address: str) -> str:
    address = address.strip()
    if address and not address.startswith("unix:"):
        raise ConfigError(f"APISIX_LISTEN_ADDRESS must look like unix:/path, got {address!r}")
    return address.removeprefix("unix:")


def _metrics_address(raw: str) -> str | None:
    raw = raw.strip()
    if not raw or raw.lower() == "off":
        return None
    if raw.startswith("unix:"):
        path = raw.removeprefix("unix:")
        if not path.startswith("/") or len(path.encode()) > _MAX_SOCKET_PATH:
            raise ConfigError(
                f"RUNNER_METRICS: unix:PATH needs an absolute path of at most "
                f"{_MAX_SOCKET_PATH} bytes"
            )
        return raw
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"RUNNER_METRICS must be host:port or unix:/path, got {raw!r}")
    return raw


def _modules(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _number(environ: Mapping[str, str], name: str, default: float, minimum: float = 0.001) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value
