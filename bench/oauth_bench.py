"""Bearer token vs API key on the warm context route, in the same run.

Strategy: start a private local stack (``python -m stack``, state in var/bench-oauth, ports
29180 / 28100, quotas raised so limit-count never answers 429, access tokens living 10 minutes
so one token lasts the run). Get a real access token the way a client does (registration,
consent form, code exchange: tests/integration/oauth_client.py), then drive
``GET /speaker/1/context`` with ``wrk`` alternately with the API key and with the bearer, in
several rounds, so both see the same machine load. With a bearer the request costs the
gateway's jwt-auth (signature check, cached per token) plus the runner's issuer/audience/scope
check (cached per token); with a key, key-auth. Prints a Markdown table and the bearer/key
throughput ratio of the medians; exit status 1 below the 90 % target.

    python bench/oauth_bench.py [--seconds 10] [--connections 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
from functools import partial
from pathlib import Path

import httpx
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack_harness import QUOTA, stack, wrk  # noqa: E402 - the sibling (bench/ is on sys.path)

from stack.probes import cpu_seconds  # noqa: E402
from tests.integration.oauth_client import authorize, discover, exchange, register  # noqa: E402

STATE = ROOT / "var" / "bench-oauth"
GATEWAY_PORT, BACKEND_PORT = 29180, 28100
CONTEXT_PATH = "/speaker/1/context"
TARGET = 0.90
_stack = partial(stack, state=STATE, gateway_port=GATEWAY_PORT, backend_port=BACKEND_PORT)


def _access_token(gateway: str, api_key: str) -> str:
    with httpx.Client(base_url=gateway, timeout=30) as http:
        found = discover(http)
        client_id = register(http, found, "oauth bench")
        grant = authorize(gateway, found, client_id, api_key)
        response = exchange(http, found, client_id, grant)
        response.raise_for_status()
        token = response.json()["access_token"]
        assert isinstance(token, str)
        return token


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: sudo apt-get install wrk", file=sys.stderr)
        return 2
    STATE.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CHATGPT_RATE_LIMIT": QUOTA,
        "READONLY_RATE_LIMIT": QUOTA,
        "CONFERENCE_OAUTH_ACCESS_TOKEN_SECONDS": "600",
    }
    _stack("--private-database", "up", "--detach", env=env)
    results: dict[str, list[dict[str, float]]] = {"API key": [], "bearer token": []}
    try:
        secrets = {k: v for k, v in dotenv_values(STATE / ".env").items() if v}
        gateway = f"http://127.0.0.1:{GATEWAY_PORT}"
        token = _access_token(gateway, secrets["CHATGPT_API_KEY"])
        credentials = {
            "API key": {"apikey": secrets["CHATGPT_API_KEY"]},
            "bearer token": {"Authorization": f"Bearer {token}"},
        }
        url = gateway + CONTEXT_PATH
        for name, headers in credentials.items():
            check = httpx.get(url, headers=headers, timeout=10)
            assert check.status_code == 200, (name, check.status_code, check.text[:200])
            wrk(url, headers, 2, args.connections)  # warm-up (fills the runner's cache)
        state = json.loads((STATE / "run" / "stack.json").read_text())
        pids = [int(state["components"][name]) for name in ("gateway", "runner")]
        for round_number in range(args.rounds):
            for name, headers in credentials.items():
                before = sum(cpu_seconds(pid) for pid in pids)
                result = wrk(url, headers, args.seconds, args.connections)
                spent = sum(cpu_seconds(pid) for pid in pids) - before
                result["cpu_us"] = spent / (result["rps"] * args.seconds) * 1e6
                results[name].append(result)
                print(
                    f"  round {round_number + 1} {name}: {result['rps']:.0f} req/s",
                    file=sys.stderr,
                )
    finally:
        _stack("down", env=env)

    print(
        f"\n`GET {CONTEXT_PATH}` (runner cache warm) through the local gateway, "
        f"{args.connections} connections, {args.rounds} alternating rounds of {args.seconds} s.\n"
    )
    print(
        "| credential | req/s per round | median req/s | p50 ms | p99 ms | non-2xx "
        "| gateway+runner CPU us/request (median) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    medians, cpu = {}, {}
    for name, rows in results.items():
        medians[name] = statistics.median(r["rps"] for r in rows)
        cpu[name] = statistics.median(r["cpu_us"] for r in rows)
        per_round = " / ".join(f"{r['rps']:.0f}" for r in rows)
        print(
            f"| {name} | {per_round} | {medians[name]:.0f} | "
            f"{statistics.median(r['p50'] for r in rows):.2f} | "
            f"{statistics.median(r['p99'] for r in rows):.2f} | "
            f"{sum(r['non2xx'] for r in rows):.0f} | {cpu[name]:.0f} |"
        )
    ratio = medians["bearer token"] / medians["API key"]
    capacity = cpu["API key"] / cpu["bearer token"]
    met = capacity >= TARGET
    verdict = "met" if met else "MISSED"
    print(f"\nbearer / API key, median req/s: {ratio:.1%} (noisy on a shared machine)")
    print(f"bearer / API key, capacity from CPU per request: {capacity:.1%}")
    print(f"target >= {TARGET:.0%} (judged on the capacity ratio): {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
