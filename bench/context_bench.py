"""Benchmark of the conference-context plugin through the real runner over its Unix socket.

Strategy: a seed-shaped fake Conference API (aiohttp, loopback) adds a fixed delay (50 ms) to
every call, so the fan-out's latency is visible as multiples of that delay: one round trip by
id, two by name, against the sequential sum a naive client would pay. The runner runs as a
separate process (``python -m runner_plugins``) and is driven by ``RunnerClient``, the APISIX
side of the protocol. The cache-hit latency is measured twice: through the socket (includes the
RPC hop) and inside the plugin (``request_filter`` awaited directly, what the runner spends).
Finally N concurrent requests must all succeed while the backend never sees more concurrent
calls than the configured cap. Prints a Markdown table; exit status 1 if a check fails.

    python bench/context_bench.py [--delay-ms 50] [--samples 100] [--concurrent 200] [--cap 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from runner_plugins.client import RunnerClient  # noqa: E402
from runner_plugins.context.conf import parse_conf  # noqa: E402
from runner_plugins.context.plugin import ContextPlugin  # noqa: E402
from runner_plugins.plugin import StaticRequest, Stop  # noqa: E402
from stack.probes import cpu_seconds, socket_accepts, wait_until  # noqa: E402
from tests.context.fake_backend import FakeBackend, seed  # noqa: E402

# Benchmark-only value; the fake backend does not check it.
BENCH_SECRET = "bench-only-shared-value"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _timed(samples: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    out: list[float] = []
    for i in range(samples):
        started = time.perf_counter()
        await call(i)
        out.append((time.perf_counter() - started) * 1000.0)
    return out


def _check(action: Any, *, complete: bool = True) -> None:
    if not isinstance(action, Stop) or action.status != 200:
        raise SystemExit(f"unexpected answer: {action!r}"[:500])
    body = json.loads(action.body)
    if complete and not body["meta"]["complete"]:
        raise SystemExit(f"incomplete answer: {body['meta']}")


#: (scenario, p50 ms, p99 ms, target, notes, target met)
_Row = tuple[str, float, float, str, str, bool]
_Conf = list[tuple[str, str]]


def _latency_row(name: str, lat: list[float], target: str, notes: str, ok: bool) -> _Row:
    return (name, statistics.median(lat), _pct(lat, 99), target, notes, ok)


async def _floor_row(fake: FakeBackend, args: argparse.Namespace) -> _Row:
    """One direct GET to the fake backend: the cost the context calls cannot go below."""
    async with aiohttp.ClientSession() as session:

        async def floor(i: int) -> None:
            async with session.get(f"{fake.url}/speaker/{1 + i % 60}") as response:
                await response.read()

        await _timed(5, floor)
        lat = await _timed(args.samples, floor)
    target = f"{args.delay_ms} ms + fake's own cost"
    return _latency_row("floor: 1 direct backend GET, no runner", lat, target, "-", True)


async def _miss_rows(
    client: RunnerClient, no_cache: _Conf, names: list[str], args: argparse.Namespace
) -> list[_Row]:
    """Context by id and by name, nothing cached: the fan-out itself."""

    async def by_id(i: int) -> None:
        path = f"/speaker/{1 + i % 60}/context"
        _check(await client.http_req_call(no_cache, "id", method="GET", path=path))

    async def by_name(i: int) -> None:
        arg = [("speakername", names[i % len(names)])]
        action = await client.http_req_call(
            no_cache, "id", method="GET", path="/speakers/context", args=arg
        )
        _check(action)

    await _timed(5, by_id)
    await _timed(5, by_name)
    lat_id = await _timed(args.samples, by_id)
    lat_name = await _timed(args.samples, by_name)
    target_id, target_name = args.delay_ms + 10, 2 * args.delay_ms + 10
    notes = f"{3 * args.delay_ms} ms (3 calls)"
    return [
        _latency_row(
            "context by id (3 sources)",
            lat_id,
            f"<= {target_id} ms",
            notes,
            statistics.median(lat_id) <= target_id,
        ),
        _latency_row(
            "context by name (resolve, then 2)",
            lat_name,
            f"<= {target_name} ms",
            notes,
            statistics.median(lat_name) <= target_name,
        ),
    ]


async def _socket_hit_row(client: RunnerClient, cached: _Conf, args: argparse.Namespace) -> _Row:
    async def hit(i: int) -> None:
        path = "/speaker/1/context"
        _check(await client.http_req_call(cached, "cached", method="GET", path=path))

    await _timed(3, hit)
    lat = await _timed(args.samples * 10, hit)
    return _latency_row("cache hit, through the socket", lat, "(RPC hop included)", "-", True)


async def _plugin_hit_row(cached: _Conf, args: argparse.Namespace) -> _Row:
    """A cache hit with the plugin called in-process: no socket, no codec."""
    plugin = ContextPlugin()
    await plugin.startup()
    try:
        parsed = parse_conf(cached[0][1])
        request = StaticRequest(path="/speaker/1/context", headers=(("x-request-id", "bench"),))

        async def direct(i: int) -> None:
            _check(await plugin.request_filter(parsed, request))

        await _timed(3, direct)
        lat = await _timed(args.samples * 20, direct)
    finally:
        await plugin.shutdown()
    ok = statistics.median(lat) < 1.0
    return _latency_row("cache hit, inside the plugin", lat, "< 1 ms p50", "-", ok)


async def _concurrent_row(
    client: RunnerClient,
    runner: subprocess.Popen[bytes],
    fake: FakeBackend,
    no_cache: _Conf,
    args: argparse.Namespace,
) -> _Row:
    """``args.concurrent`` requests at once: all answered, the backend cap held."""
    fake.max_in_flight = 0
    calls_before = len(fake.calls)
    cpu_runner, cpu_self = cpu_seconds(runner.pid), time.process_time()
    started = time.perf_counter()
    actions = await asyncio.gather(
        *(
            client.http_req_call(
                no_cache, "id", method="GET", path=f"/speaker/{1 + i % 60}/context"
            )
            for i in range(args.concurrent)
        ),
        return_exceptions=True,
    )
    wall = (time.perf_counter() - started) * 1000.0
    cpu_runner = cpu_seconds(runner.pid) - cpu_runner
    cpu_self = time.process_time() - cpu_self
    ok = sum(1 for a in actions if isinstance(a, Stop) and a.status == 200)
    capped = fake.max_in_flight <= args.cap
    return (
        f"{args.concurrent} concurrent by id (wall)",
        wall,
        wall,
        f"all 200, backend in-flight <= {args.cap}",
        f"{ok}/{args.concurrent} ok, {len(fake.calls) - calls_before} calls, "
        f"max in-flight {fake.max_in_flight}; CPU s: runner {cpu_runner:.2f}, "
        f"fake backend + client {cpu_self:.2f}",
        ok == args.concurrent and capped,
    )


def _print_table(rows: list[_Row], args: argparse.Namespace) -> None:
    print(
        f"backend delay {args.delay_ms} ms per call; {args.samples} samples per latency row "
        f"(x10 socket cache hits, x20 in-plugin hits); cap {args.cap}; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print()
    print("| scenario | p50 ms | p99 ms | target | sequential sum / notes | ok |")
    print("|---|---:|---:|---|---|---|")
    for name, p50, p99, target, notes, passed in rows:
        print(
            f"| {name} | {p50:.2f} | {p99:.2f} | {target} | {notes} | {'yes' if passed else 'NO'} |"
        )


async def main(args: argparse.Namespace) -> int:
    delay = args.delay_ms / 1000.0
    fake = FakeBackend(data=seed(n_speakers=64, sessions_per_speaker=3), all_delay=delay)
    await fake.start()
    names = [s["name"] for s in fake.data["speakers"].values() if s["name"].startswith("Speaker")]

    def conf(**extra: Any) -> _Conf:
        value = {"backend_url": fake.url, "secret": BENCH_SECRET, **extra}
        return [("conference-context", json.dumps(value))]

    with tempfile.TemporaryDirectory(prefix="ctxb-", dir="/tmp") as tmp:
        sock = str(Path(tmp) / "r.sock")
        runner = subprocess.Popen(
            [sys.executable, "-m", "runner_plugins", "--listen", sock, "--log-level", "ERROR"],
            cwd=ROOT,
        )
        client = RunnerClient(sock, read_timeout=30.0, max_idle=256)
        try:
            await asyncio.to_thread(
                wait_until,
                partial(socket_accepts, sock),
                timeout=15,
                what="the runner",
                process=runner,
            )
            no_cache = conf(cache_ttl_s=0, max_concurrency=args.cap)
            cached = conf(cache_ttl_s=300, max_concurrency=args.cap)
            rows = [
                await _floor_row(fake, args),
                *await _miss_rows(client, no_cache, names, args),
                await _socket_hit_row(client, cached, args),
                await _plugin_hit_row(cached, args),
                await _concurrent_row(client, runner, fake, no_cache, args),
            ]
        finally:
            await client.close()
            runner.terminate()
            runner.wait(timeout=10)
            await fake.stop()
    _print_table(rows, args)
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--cap", type=int, default=32)
    parser.add_argument(
        "--no-uvloop", action="store_true", help="drive with the stdlib loop (slower client side)"
    )
    options = parser.parse_args()
    if options.no_uvloop:
        sys.exit(asyncio.run(main(options)))
    import uvloop  # the runner uses it too; keeps the fake backend's own cost low

    sys.exit(uvloop.run(main(options)))
