"""Container health check for the gateway image: APISIX answers and its runner listens.

Strategy: the official APISIX image ships neither curl nor wget, but ours has Python for the
runner, so the check is a stdlib script. Healthy means both halves work: APISIX's metrics server
answers 200 (its workers are up; the port is never published) and at least one runner socket
that APISIX spawned (``conf/apisix-<pid>.sock``) accepts a connection. A socket file left by a
dead runner refuses connections, so it does not count. When the runner serves metrics
(``RUNNER_METRICS=host:port``, as docker-compose.yml sets it) its ``/metrics`` must answer 200
too: that is the runner's event loop answering, not just its socket file existing. Exit status
0 = healthy, 1 = not.
"""

from __future__ import annotations

import glob
import os
import socket
import sys
import urllib.error
import urllib.request

METRICS_URL = os.environ.get(
    "GATEWAY_HEALTH_METRICS_URL", "http://127.0.0.1:9091/apisix/prometheus/metrics"
)
SOCKET_GLOB = os.environ.get("GATEWAY_HEALTH_SOCKET_GLOB", "/usr/local/apisix/conf/apisix-*.sock")
TIMEOUT_S = 2.0
RUNNER_METRICS = os.environ.get("RUNNER_METRICS", "")


def apisix_answers(url: str = METRICS_URL, timeout: float = TIMEOUT_S) -> bool:
    """True when the metrics endpoint answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - fixed URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def runner_listens(pattern: str = SOCKET_GLOB, timeout: float = TIMEOUT_S) -> bool:
    """True when one socket matching ``pattern`` accepts a connection."""
    for path in sorted(glob.glob(pattern)):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.connect(path)
            except OSError:
                continue
            return True
    return False


def runner_metrics_url(address: str = RUNNER_METRICS) -> str | None:
    """The runner's metrics URL seen from inside the container; None when not served on TCP."""
    address = address.strip()
    if not address or address == "off" or address.startswith("unix:"):
        return None
    host, _, port = address.rpartition(":")
    if host in ("0.0.0.0", "[::]", ""):  # noqa: S104 - reading the bind address, not binding
        host = "127.0.0.1"
    return f"http://{host}:{port}/metrics"


def main() -> int:
    problems = []
    if not apisix_answers():
        problems.append(f"APISIX does not answer on {METRICS_URL}")
    runner_metrics = runner_metrics_url()
    if runner_metrics is not None and not apisix_answers(runner_metrics):
        problems.append(f"the runner's metrics do not answer on {runner_metrics}")
    if not runner_listens():
        problems.append(f"no runner socket accepts connections at {SOCKET_GLOB}")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
