"""The runner's Unix socket file: take over a stale one, never a live one or a non-socket.

Strategy: a runner that died leaves its socket file behind, and binding fails on an existing
path; a probe connection tells a stale file (nobody answers) from another live runner.
"""

from __future__ import annotations

import logging
import os
import socket
import stat

from runner_plugins.errors import ConfigError

__all__ = ["prepare_socket_path"]

logger = logging.getLogger(__name__)


def prepare_socket_path(path: str) -> None:
    """Remove a stale socket file; refuse a live socket or a non-socket file.

    :raise ConfigError: another process serves on ``path`` or it is not a socket.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ConfigError(f"{path} exists and is not a socket; refusing to remove it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.5)
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody answers: left behind by a runner that died
        logger.info("removed stale socket %s", path)
        return
    finally:
        probe.close()
    raise ConfigError(f"another process is already serving on {path}")
