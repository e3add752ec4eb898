"""Child processes in tests: a free loopback port, waiting for a server, stopping it.

Strategy: the tests that start real servers (gunicorn, the dev server, the runner, the local
stack) need the same three steps; one copy keeps their timeouts and failure messages alike.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stack.probes import free_port, http_ok

__all__ = ["free_port", "gunicorn_backend", "stop", "wait_until_healthy"]

REPO = Path(__file__).resolve().parents[1]


def wait_until_healthy(
    url: str, process: subprocess.Popen[Any], log: Path, timeout: float = 30.0
) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"server exited: {log.read_text()}"
        if http_ok(url):
            return
        assert time.monotonic() < deadline, f"server not ready: {log.read_text()}"
        time.sleep(0.1)


def stop(
    process: subprocess.Popen[Any], *, timeout: float = 15.0, signum: int = signal.SIGTERM
) -> None:
    """Ask the process to exit with ``signum``; kill it if it has not within ``timeout``."""
    process.send_signal(signum)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def gunicorn_backend(
    settings: Mapping[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The backend under gunicorn with its committed config, on a free loopback port.

    The environment is this one without any CONFERENCE_* or DATABASE_URL variable, plus
    ``settings`` and CONFERENCE_BIND; output goes to ``log``. Yields the base URL and the
    process once /healthz answers, and stops the process on exit.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    env.pop("DATABASE_URL", None)
    env.update(settings, CONFERENCE_BIND=f"127.0.0.1:{port}")
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "backend/gunicorn.conf.py"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/healthz", process, log)
        yield url, process
    finally:
        stop(process)


@functools.lru_cache(maxsize=1)
def oauth_key_pair() -> tuple[str, str]:
    """A fresh OAuth signing key pair (one-line PEMs, as .env holds them): (private, public).
    Generated per test session, so no key lives in the repository."""
    from stack.envfile import generate_signing_key, public_key_of

    private = generate_signing_key()
    return private, public_key_of(private)


def oauth_public_key() -> str:
    """The public half of :func:`oauth_key_pair` (what apisix.yaml's OAUTH_PUBLIC_KEY holds)."""
    return oauth_key_pair()[1]
