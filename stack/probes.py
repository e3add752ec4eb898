"""Development tools shared by the local stack, the tests and the benchmarks.

Strategy: free loopback ports, "is it up yet" probes, a bounded wait, and per-process CPU and
memory readings from ``/proc`` were copied across ``stack/``, ``tests/`` and ``bench/``; one
copy keeps their timeouts, error messages and Linux specifics alike. Nothing here starts a
process: callers own their children.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

__all__ = [
    "alive",
    "cpu_seconds",
    "free_port",
    "http_ok",
    "port_in_use",
    "rss_mib",
    "socket_accepts",
    "tree_rss_mib",
    "wait_until",
]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when binding ``port`` fails the way our servers bind it."""
    with socket.socket() as sock:
        # As the servers bind: TIME_WAIT leftovers of a stack just stopped must not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 200 within ``timeout``."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def socket_accepts(path: str | Path, timeout: float = 1.0) -> bool:
    """True when a Unix socket at ``path`` accepts a connection."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
    except OSError:
        return False
    return True


def wait_until(
    ready: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: subprocess.Popen[Any] | None = None,
    interval: float = 0.05,
) -> None:
    """Poll ``ready`` until it is true.

    Raises:
        RuntimeError: ``process`` exited first, or ``timeout`` seconds passed (``what`` names
            the thing waited for in the message).
    """
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready within {timeout:g} s")
        time.sleep(interval)


def alive(pid: int) -> bool:
    """True while a process with this id exists (ours or not)."""
    try:
        # An exited child of ours is a zombie, and a zombie still answers kill(pid, 0): reap it
        # (``stack test`` waited its full 40 s for the supervisor it had started itself).
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child: only kill(pid, 0) can tell
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB (VmRSS), 0.0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mib(root: int) -> float:
    """Resident memory of ``root`` and its direct children (a gunicorn master and workers)."""
    pids = [root]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == root:
                pids.append(int(entry.name))
    return sum(rss_mib(pid) for pid in pids)
