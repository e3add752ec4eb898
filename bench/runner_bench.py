"""Load benchmark of the ext-plugin runner over its real Unix socket.

Strategy: start ``python -m runner_plugins`` with the trivial ``static-stop``
plugin, then drive it from separate client processes (``--worker`` mode of this
same file). A worker opens its connections, does one PrepareConf, builds ONE
HTTPReqCall frame (GET, 10 headers, 2 args) and then only re-sends those bytes
and parses reply headers with a raw asyncio Protocol on uvloop, so the client
spends as little CPU as possible per call; it reports its latencies and its own
CPU time, and the parent reads the runner's CPU and RSS from /proc. Output: a
Markdown table (RPC/s, p50, p99, runner CPU, client CPU per level) and the
runner's RSS before/after a million calls.

    python bench/runner_bench.py [--levels 1,16,64,256] [--seconds 5] [--million]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner_plugins.client.codec import (  # noqa: E402
    decode_prepare_conf_reply,
    encode_http_req_call,
    encode_prepare_conf,
)
from runner_plugins.protocol import RpcType, encode_frame  # noqa: E402
from stack.probes import cpu_seconds, rss_mib  # noqa: E402

CONF = [("static-stop", '{"status": 200, "body": "ok", "content_type": "text/plain"}')]
KEY = "route#bench#ext-plugin-pre-req#1"
HEADERS = [
    ("host", "conference.example.org"),
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench/1.0"),
    ("accept", "application/json"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-language", "en-US,en;q=0.9"),
    ("apikey", "k-0123456789abcdef"),
    ("x-request-id", "5b2c3a1e-8a7d-4f4e-9f0a-1d2c3b4a5e6f"),
    ("x-forwarded-for", "203.0.113.7"),
    ("connection", "keep-alive"),
    ("cache-control", "no-cache"),
]
ARGS = [("speakername", "Ada Lovelace"), ("limit", "20")]


# --------------------------------------------------------------------------- worker


def _prepare_token(path: str) -> int:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        sock.sendall(encode_frame(RpcType.PREPARE_CONF, encode_prepare_conf(CONF, KEY)))
        header = _recv_exact(sock, 4)
        payload = _recv_exact(sock, int.from_bytes(header[1:], "big"))
    if header[0] != RpcType.PREPARE_CONF:
        raise SystemExit(f"PrepareConf failed: frame type {header[0]}")
    return decode_prepare_conf_reply(payload)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise SystemExit("runner closed the connection")
        chunks += chunk
    return bytes(chunks)


class _Pinger(asyncio.Protocol):
    """Sends the prebuilt frame, waits for one reply frame, repeats until told to stop."""

    def __init__(self, frame: bytes, state: dict[str, object], latencies: array[int]) -> None:
        self.frame = frame
        self.state = state
        self.latencies = latencies
        self.buf = b""
        self.sent = 0
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def fire(self) -> None:
        self.sent = time.perf_counter_ns()
        self.transport.write(self.frame)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while len(buf) >= 4:
            end = 4 + int.from_bytes(buf[1:4], "big")
            if len(buf) < end:
                break
            if buf[0] != RpcType.HTTP_REQ_CALL:
                raise SystemExit(f"unexpected reply type {buf[0]}")
            buf = buf[end:]
            now = time.perf_counter_ns()
            if self.state["measuring"]:
                self.latencies.append(now - self.sent)
            if self.state["stop"] or (
                self.state["limit"] and len(self.latencies) >= self.state["limit"]  # type: ignore[operator]
            ):
                if not self.done.done():
                    self.done.set_result(None)
                return
            self.fire()
        self.buf = buf

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"runner closed the connection: {exc}"))


async def _worker(
    path: str, connections: int, seconds: float, warmup: float, calls: int
) -> dict[str, Any]:
    token = _prepare_token(path)
    frame = encode_frame(
        RpcType.HTTP_REQ_CALL,
        encode_http_req_call(
            req_id=1,
            conf_token=token,
            method="GET",
            path="/speakers/context",
            args=ARGS,
            headers=HEADERS,
            src_ip="203.0.113.7",
        ),
    )
    loop = asyncio.get_running_loop()
    state: dict[str, object] = {"measuring": False, "stop": False, "limit": 0}
    latencies: array[int] = array("q")
    pingers = []
    for _ in range(connections):
        _, pinger = await loop.create_unix_connection(
            lambda: _Pinger(frame, state, latencies), path
        )
        pingers.append(pinger)
    for pinger in pingers:
        pinger.fire()
    await asyncio.sleep(warmup)
    state["limit"] = calls
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    state["measuring"] = True
    if calls:
        await asyncio.gather(*(p.done for p in pingers))
    else:
        await asyncio.sleep(seconds)
    state["measuring"] = False
    elapsed = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    state["stop"] = True
    await asyncio.wait([p.done for p in pingers], timeout=2)
    lat = sorted(latencies)
    return {
        "count": len(lat),
        "elapsed": elapsed,
        "cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "p50": lat[len(lat) // 2] / 1e6 if lat else 0.0,
        "p99": lat[int(len(lat) * 0.99)] / 1e6 if lat else 0.0,
        "latencies_sample": lat[:: max(1, len(lat) // 20000)],
    }


def worker_main(args: argparse.Namespace) -> None:
    import uvloop

    result = uvloop.run(
        _worker(args.socket, args.connections, args.seconds, args.warmup, args.calls)
    )
    json.dump(result, sys.stdout)


# --------------------------------------------------------------------------- parent


def _spawn_runner(
    path: str, extra: list[str], cpus: set[int] | None = None
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "runner_plugins",
        "--listen",
        path,
        "--plugin",
        "runner_plugins.examples.static_stop",
        *extra,
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    if cpus:
        os.sched_setaffinity(proc.pid, cpus)
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("runner did not start")
        time.sleep(0.05)
    return proc


def _drive(
    path: str,
    connections: int,
    procs: int,
    seconds: float,
    calls: int = 0,
    cpus: set[int] | None = None,
) -> dict[str, Any]:
    per = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    per = [n for n in per if n]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--socket",
                path,
                "--connections",
                str(n),
                "--seconds",
                str(seconds),
                "--calls",
                str(calls // len(per) if calls else 0),
            ],
            stdout=subprocess.PIPE,
        )
        for n in per
    ]
    if cpus:
        for worker in workers:
            os.sched_setaffinity(worker.pid, cpus)
    results = []
    for worker in workers:
        out, _ = worker.communicate(timeout=seconds + 600)
        if worker.returncode:
            raise SystemExit(f"worker failed with exit code {worker.returncode}")
        results.append(json.loads(out))
    count = sum(r["count"] for r in results)
    elapsed = max(r["elapsed"] for r in results)
    samples = sorted(x for r in results for x in r["latencies_sample"])
    return {
        "count": count,
        "rate": count / elapsed,
        "elapsed": elapsed,
        "p50": samples[len(samples) // 2] / 1e6,
        "p99": samples[int(len(samples) * 0.99)] / 1e6,
        "client_cpu": sum(r["cpu"] for r in results),
    }


def _report_targets(results: dict[int, dict[str, Any]], growth: float | None, calls: int) -> int:
    checks = []
    if 64 in results:
        checks.append(("RPC/s at 64 connections >= 20,000", results[64]["rate"] >= 20_000))
        checks.append(("p99 at 64 connections < 5 ms", results[64]["p99"] < 5))
    if 256 in results:
        checks.append(("p99 at 256 connections < 20 ms", results[256]["p99"] < 20))
    if growth is not None:
        checks.append((f"RSS growth over {calls:,} calls < 10 MiB", growth < 10))
    print()
    for label, ok in checks:
        print(f"target {label}: {'met' if ok else 'MISSED'}")
    return sum(not ok for _, ok in checks)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--socket")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--levels", default="1,16,64,256")
    parser.add_argument("--procs", type=int, default=2, help="client processes per level (>1 conn)")
    parser.add_argument(
        "--million",
        type=int,
        default=1_000_000,
        help="calls for the RSS run at 64 connections (0 skips it)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--metrics-rounds",
        type=int,
        default=0,
        help="instead of the table: metrics off vs on, this many alternating rounds each",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="with --metrics-rounds: runners on the first CPU, clients on the others",
    )
    parser.add_argument(
        "--runner-arg",
        action="append",
        default=[],
        help="extra runner flag, e.g. --runner-arg=--no-uvloop",
    )
    return parser.parse_args()


def _throughput_table(
    path: str, runner: subprocess.Popen[bytes], args: argparse.Namespace
) -> dict[int, dict[str, Any]]:
    """One row per connection level: rate, latency, runner and client CPU."""
    print("\n| connections | RPC/s | p50 ms | p99 ms | runner CPU % | client CPU % |")
    print("|---:|---:|---:|---:|---:|---:|")
    results: dict[int, dict[str, Any]] = {}
    for level in (int(x) for x in args.levels.split(",")):
        procs = 1 if level == 1 else min(args.procs, level)
        cpu0 = cpu_seconds(runner.pid)
        t0 = time.perf_counter()
        r = results[level] = _drive(path, level, procs, args.seconds)
        wall = time.perf_counter() - t0
        runner_cpu = (cpu_seconds(runner.pid) - cpu0) / wall * 100
        print(
            f"| {level} | {r['rate']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{runner_cpu:.0f} | {r['client_cpu'] / r['elapsed'] * 100:.0f} |",
            flush=True,
        )
    return results


def _rss_growth(path: str, runner: subprocess.Popen[bytes], args: argparse.Namespace) -> float:
    """RSS before and after ``args.million`` calls at 64 connections; returns the growth."""
    before = rss_mib(runner.pid)
    r = _drive(path, 64, args.procs, 0, calls=args.million)
    after = rss_mib(runner.pid)
    print(
        f"\nRSS over {r['count']:,} calls at 64 connections: {before:.1f} MiB -> "
        f"{after:.1f} MiB ({after - before:+.1f} MiB); {r['rate']:,.0f} RPC/s, "
        f"p99 {r['p99']:.2f} ms"
    )
    return after - before


def _metrics_rounds(tmp: str, args: argparse.Namespace) -> int:
    """Metrics off vs on: two runners, alternating rounds at 64 connections, medians compared.

    Alternating rounds (off, on, off, on...) let both sides share whatever else loads the machine,
    which one long run each would not. Returns 1 when the drop reaches 5 %.
    """
    off_path, on_path = os.path.join(tmp, "off.sock"), os.path.join(tmp, "on.sock")
    metrics = os.path.join(tmp, "metrics.sock")
    # --pin: the runners on the first CPU, the clients on the rest, so neither migrates.
    cpus = sorted(os.sched_getaffinity(0))
    runner_cpus, client_cpus = ({cpus[0]}, set(cpus[1:])) if args.pin else (None, None)
    on_args = [*args.runner_arg, f"--metrics=unix:{metrics}"]
    runners = {
        "off": (off_path, _spawn_runner(off_path, args.runner_arg, runner_cpus)),
        "on": (on_path, _spawn_runner(on_path, on_args, runner_cpus)),
    }
    rows: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    try:
        print(
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; 64 connections, "
            f"{args.metrics_rounds} rounds of {args.seconds:g} s each side"
        )
        print("\n| round | metrics | RPC/s | p50 ms | runner µs CPU/call |")
        print("|---:|---|---:|---:|---:|")
        for n in range(1, args.metrics_rounds + 1):
            for side in ("off", "on") if n % 2 else ("on", "off"):
                path, runner = runners[side]
                cpu0 = cpu_seconds(runner.pid)
                r = _drive(path, 64, args.procs, args.seconds, cpus=client_cpus)
                per_call = (cpu_seconds(runner.pid) - cpu0) / r["count"] * 1e6
                rows[side].append((r["rate"], per_call))
                print(
                    f"| {n} | {side} | {r['rate']:,.0f} | {r['p50']:.2f} | {per_call:.2f} |",
                    flush=True,
                )
        counted = _scraped_requests(metrics)
    finally:
        for _, runner in runners.values():
            runner.terminate()
            runner.wait(timeout=5)
    rate = {side: statistics.median(r for r, _ in rows[side]) for side in rows}
    cpu = {side: statistics.median(c for _, c in rows[side]) for side in rows}
    drop = 1 - rate["on"] / rate["off"]
    print(
        f"\nmedian RPC/s: off {rate['off']:,.0f}, on {rate['on']:,.0f} "
        f"({drop * 100:+.1f} % drop); runner CPU per call: off {cpu['off']:.2f} µs, "
        f"on {cpu['on']:.2f} µs ({(cpu['on'] / cpu['off'] - 1) * 100:+.1f} %)"
    )
    print(f"the metrics runner counted {counted:,} requests (static-stop, stop)")
    ok = drop < 0.05
    print(f"target metrics on costs < 5 % of RPC/s: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


def _scraped_requests(path: str) -> int:
    """``runner_requests_total`` for static-stop's stops, read over the metrics Unix socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(path)
        sock.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        text = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
    for line in text.splitlines():
        if line.startswith("runner_requests_total{") and 'outcome="stop"' in line:
            return int(float(line.rsplit(" ", 1)[1]))
    raise SystemExit("the metrics runner reported no stops")


def main() -> None:
    args = _arguments()
    if args.worker:
        worker_main(args)
        return
    if args.metrics_rounds:
        with tempfile.TemporaryDirectory(prefix="rb-", dir="/tmp") as tmp:
            missed = _metrics_rounds(tmp, args)
        if missed and args.strict:
            raise SystemExit(1)
        return
    with tempfile.TemporaryDirectory(prefix="rb-", dir="/tmp") as tmp:
        path = os.path.join(tmp, "runner.sock")
        runner = _spawn_runner(path, args.runner_arg)
        try:
            print(
                f"runner pid {runner.pid}, uvloop={'--no-uvloop' not in args.runner_arg}, "
                f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            results = _throughput_table(path, runner, args)
            growth = _rss_growth(path, runner, args) if args.million else None
            missed = _report_targets(results, growth, args.million)
            if missed and args.strict:
                raise SystemExit(1)
        finally:
            runner.terminate()
            runner.wait(timeout=5)


if __name__ == "__main__":
    main()
