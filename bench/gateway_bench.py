"""Gateway overhead: the same routes through the local gateway and directly, at 64 connections.

Strategy: start a private local stack (``python -m stack``, state in var/bench, ports 29080 /
28000, quotas raised so limit-count never answers 429) plus a second gateway on 29081 whose
context conf has the runner cache disabled (``cache_ttl_s: 0``, the "cold" case). ``wrk`` drives
the HTTP targets (backend directly with the shared secret, and the gateway with the API key);
the runner is driven directly by ``RunnerClient`` from this process (64 concurrent calls), the
way the gateway itself calls it. Each target gets a warm-up, then a measured run; the output is
a Markdown table for docs/performance.md.

    python bench/gateway_bench.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack_harness import QUOTA, stack, start_cold_gateway, stop, wrk  # noqa: E402 - sibling

from gateway.build import build  # noqa: E402
from gateway.config import parse  # noqa: E402
from gateway.plugins import ExtPlugin  # noqa: E402
from runner_plugins.client import RunnerClient  # noqa: E402
from runner_plugins.plugin import Stop  # noqa: E402

STATE = ROOT / "var" / "bench"
GATEWAY_PORT, COLD_PORT, BACKEND_PORT = 29080, 29081, 28000
SPEAKER_PATH = "/speaker/1"
CONTEXT_PATH = "/speaker/1/context"
_stack = partial(stack, state=STATE, gateway_port=GATEWAY_PORT, backend_port=BACKEND_PORT)


async def _drive_runner(
    socket_path: str, conf: tuple[tuple[str, str], ...], key: str, seconds: float, concurrency: int
) -> dict[str, float]:
    client = RunnerClient(socket_path, max_idle=concurrency)
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal failures
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            action = await client.http_req_call(
                conf, key, method="GET", path=CONTEXT_PATH,
                headers=[("host", "localhost"), ("x-request-id", "bench")],
            )  # fmt: skip
            latencies.append((time.perf_counter() - started) * 1000)
            if not isinstance(action, Stop) or action.status != 200:
                failures += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    await client.close()
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "non2xx": float(failures),
    }


def _runner(socket_path: str, conf: tuple[tuple[str, str], ...], key: str, seconds: int,
            concurrency: int) -> dict[str, float]:  # fmt: skip
    asyncio.run(_drive_runner(socket_path, conf, key, 2, concurrency))  # warm-up
    return asyncio.run(_drive_runner(socket_path, conf, key, seconds, concurrency))


_Row = tuple[str, str, dict[str, float]]


def _context_conf(source: str, env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    route = next(r for r in build(parse(source, env)).routes if r.id == "speaker-context")
    plugin = route.plugins["ext-plugin-post-req"]
    assert isinstance(plugin, ExtPlugin)
    return plugin.entries


def _measure(
    env: dict[str, str], secrets: dict[str, str], texts: dict[str, str], args: argparse.Namespace
) -> list[_Row]:
    """Every row of the table: wrk through HTTP, or the runner driven directly."""
    backend = {"X-Conference-Secret": secrets["CONFERENCE_SHARED_SECRET"]}
    key = {"apikey": secrets["CHATGPT_API_KEY"]}
    gw = f"http://127.0.0.1:{GATEWAY_PORT}"
    be = f"http://127.0.0.1:{BACKEND_PORT}"
    plans = [
        ("API route `GET /speaker/1`", "backend direct", be + SPEAKER_PATH, backend),
        ("API route `GET /speaker/1`", "through gateway", gw + SPEAKER_PATH, key),
        ("context, cache warm", "runner direct", "warm", {}),
        ("context, cache warm", "through gateway", gw + CONTEXT_PATH, key),
        ("context, cache cold (ttl 0)", "runner direct", "cold", {}),
        ("context, cache cold (ttl 0)", "through gateway",
         f"http://127.0.0.1:{COLD_PORT}{CONTEXT_PATH}", key),
    ]  # fmt: skip
    socket_path = str(STATE / "run" / "runner.sock")
    rows = []
    for label, how, target, headers in plans:
        if how == "runner direct":
            conf = _context_conf(texts[target], env)
            key_name = f"route#bench-{target}#ext-plugin-post-req#1"
            result = _runner(socket_path, conf, key_name, args.seconds, args.connections)
        else:
            wrk(target, headers, 2, args.connections)  # warm-up
            result = wrk(target, headers, args.seconds, args.connections)
        rows.append((label, how, result))
        print(f"  {label} / {how}: {result['rps']:.0f} req/s", file=sys.stderr)
    return rows


def _print_table(rows: list[_Row], args: argparse.Namespace) -> None:
    print(f"\n{args.connections} connections, {args.seconds} s per row after a 2 s warm-up.\n")
    print("| route | path | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---:|---:|---:|---:|")
    for label, how, r in rows:
        print(
            f"| {label} | {how} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['non2xx']:.0f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: sudo apt-get install wrk", file=sys.stderr)
        return 2
    STATE.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CHATGPT_RATE_LIMIT": QUOTA, "READONLY_RATE_LIMIT": QUOTA}
    _stack("--private-database", "up", "--detach", env=env)
    cold: subprocess.Popen[bytes] | None = None
    try:
        secrets = {k: v for k, v in dotenv_values(STATE / ".env").items() if v}
        env.update(secrets)
        env["CONFERENCE_BACKEND_ADDR"] = f"127.0.0.1:{BACKEND_PORT}"
        text = (ROOT / "apisix" / "apisix.yaml").read_text()
        cold_text = text.replace('"cache_ttl_s": 30', '"cache_ttl_s": 0')
        assert cold_text != text, "the context conf no longer sets cache_ttl_s: 30"
        cold = start_cold_gateway(STATE, COLD_PORT, env, cold_text)
        rows = _measure(env, secrets, {"warm": text, "cold": cold_text}, args)
    finally:
        if cold is not None:
            stop(cold)
        _stack("down", env=env)
    _print_table(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
