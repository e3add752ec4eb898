"""Deployment timings that size the container health checks (no Docker needed).

Strategy: measure what the gateway container's probes and restarts depend on, with the same
command and environment APISIX uses. (1) Runner cold start: spawn ``ext-plugin.cmd`` from
apisix/config.yaml with only ``APISIX_LISTEN_ADDRESS`` and ``APISIX_CONF_EXPIRE_TIME`` set (nginx
clears the rest) and time until its socket accepts a connection; APISIX respawns a dead runner
3 s after it exits, so this is the rest of the outage. (2) One run of
docker/gateway_healthcheck.py against a healthy gateway stand-in (metrics server + runner
socket), i.e. the cost of each probe. Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RUNS = 15


def _runner_command() -> list[str]:
    config = yaml.safe_load((ROOT / "apisix" / "config.yaml").read_text())
    script = Path(config["ext-plugin"]["cmd"][0]).name
    return [str(Path(sys.executable).parent / script)]


def _accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(path)
        except OSError:
            return False
        return True


def runner_cold_start_ms(folder: str) -> float:
    path = os.path.join(folder, "apisix-1.sock")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APISIX_LISTEN_ADDRESS": f"unix:{path}",
        "APISIX_CONF_EXPIRE_TIME": "3600",
    }
    started = time.perf_counter()
    process = subprocess.Popen(_runner_command(), env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = started + 30
        while not _accepts(path):
            if process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError("runner did not come up")
            time.sleep(0.002)
        return (time.perf_counter() - started) * 1000
    finally:
        process.terminate()
        process.wait(timeout=30)


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def healthcheck_ms(folder: str) -> list[float]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runner = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    runner.bind(os.path.join(folder, "apisix-9.sock"))
    runner.listen(64)
    env = {
        **os.environ,
        "GATEWAY_HEALTH_METRICS_URL": f"http://127.0.0.1:{server.server_address[1]}/m",
        "GATEWAY_HEALTH_SOCKET_GLOB": os.path.join(folder, "apisix-*.sock"),
    }
    timings = []
    try:
        for _ in range(RUNS):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, str(ROOT / "docker" / "gateway_healthcheck.py")],
                env=env,
                check=True,
                timeout=30,
            )
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        server.shutdown()
        runner.close()
    return timings


def _row(name: str, values: list[float]) -> str:
    return f"| {name} | {len(values)} | {statistics.median(values):.0f} | {max(values):.0f} |"


def _measure() -> tuple[list[float], list[float]]:
    """Runner cold starts, then health-check runs, each in its own scratch folder."""
    with tempfile.TemporaryDirectory(prefix="db", dir="/tmp") as folder:
        starts = [runner_cold_start_ms(folder) for _ in range(RUNS)]
    with tempfile.TemporaryDirectory(prefix="dh", dir="/tmp") as folder:
        probes = healthcheck_ms(folder)
    return starts, probes


def _print_table(starts: list[float], probes: list[float]) -> None:
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs")
    print("| measurement | runs | median ms | max ms |")
    print("|---|---:|---:|---:|")
    print(_row("runner cold start (spawn -> socket accepts)", starts))
    print(_row("gateway health-check script, healthy", probes))


def main() -> int:
    _print_table(*_measure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
