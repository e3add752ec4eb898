"""MCP vs REST: `tools/call get_speaker_context` and `GET /speaker/1/context` through the gateway.

Strategy: start a private local stack (``python -m stack``, state in var/bench-mcp, ports 29380
/ 28300, quotas raised so limit-count never answers 429) plus a second gateway on 29381 whose
context confs (the REST route's and the MCP route's, the same object) have the runner cache
disabled (``cache_ttl_s: 0``, the "cold" case). ``wrk`` drives both routes at the same
connection count in the same run, MCP as a handshake-era client sends it (one JSON-RPC POST,
``MCP-Protocol-Version: 2025-11-25``). Each target gets a warm-up, then a measured run; the
output is a Markdown table for docs/performance.md, then the issue's targets (MCP >= 70 % of
the REST route's req/s, p50 within 1.5x), exit 1 if one is missed.

    python bench/mcp_bench.py [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

import httpx
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack_harness import QUOTA, stack, start_cold_gateway, stop, wrk  # noqa: E402 - sibling

from stack.probes import cpu_seconds  # noqa: E402

STATE = ROOT / "var" / "bench-mcp"
GATEWAY_PORT, COLD_PORT, BACKEND_PORT = 29380, 29381, 28300
CONTEXT_PATH = "/speaker/1/context"
_stack = partial(stack, state=STATE, gateway_port=GATEWAY_PORT, backend_port=BACKEND_PORT)
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "get_speaker_context", "arguments": {"id": 1}},
}
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


def _check_answers(base: str, key: str) -> None:
    """Both routes answer the same speaker, and the MCP call is a successful tool result."""
    rest = httpx.get(base + CONTEXT_PATH, headers={"apikey": key}, timeout=10)
    mcp = httpx.post(base + "/mcp", json=CALL, headers={**MCP_HEADERS, "apikey": key}, timeout=10)
    assert rest.status_code == 200 and mcp.status_code == 200, (rest.text[:200], mcp.text[:200])
    result = mcp.json()["result"]
    assert result["isError"] is False, result
    assert result["structuredContent"]["speaker"] == rest.json()["speaker"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: sudo apt-get install wrk", file=sys.stderr)
        return 2
    STATE.mkdir(parents=True, exist_ok=True)
    script = STATE / "mcp_call.lua"
    body = json.dumps(CALL).replace("\\", "\\\\").replace("'", "\\'")
    script.write_text(
        f"wrk.method = 'POST'\nwrk.body = '{body}'\n"
        "wrk.headers['Content-Type'] = 'application/json'\n"
    )
    env = {**os.environ, "CHATGPT_RATE_LIMIT": QUOTA, "READONLY_RATE_LIMIT": QUOTA}
    _stack("--private-database", "up", "--detach", env=env)
    cold: subprocess.Popen[bytes] | None = None
    try:
        secrets = {k: v for k, v in dotenv_values(STATE / ".env").items() if v}
        env.update(secrets)
        env["CONFERENCE_BACKEND_ADDR"] = f"127.0.0.1:{BACKEND_PORT}"
        text = (ROOT / "apisix" / "apisix.yaml").read_text()
        cold_text = text.replace('"cache_ttl_s": 30', '"cache_ttl_s": 0')
        assert cold_text.count('"cache_ttl_s": 0') == 2, "expected the context and MCP confs"
        cold = start_cold_gateway(STATE, COLD_PORT, env, cold_text)

        key = secrets["CHATGPT_API_KEY"]
        warm, cold_url = f"http://127.0.0.1:{GATEWAY_PORT}", f"http://127.0.0.1:{COLD_PORT}"
        _check_answers(warm, key)
        _check_answers(cold_url, key)
        rest_label, mcp_label = "REST `GET /speaker/1/context`", "MCP `tools/call`"
        plans = [
            ("cache warm", rest_label, warm + CONTEXT_PATH, None),
            ("cache warm", mcp_label, warm + "/mcp", script),
            ("cache cold (ttl 0)", rest_label, cold_url + CONTEXT_PATH, None),
            ("cache cold (ttl 0)", mcp_label, cold_url + "/mcp", script),
        ]
        state = json.loads((STATE / "run" / "stack.json").read_text())
        runner_pid = int(state["components"]["runner"])
        gateway_pids = {warm: int(state["components"]["gateway"]), cold_url: cold.pid}
        rows = []
        for label, how, target, lua in plans:
            headers = {"apikey": key, **(MCP_HEADERS if lua else {})}
            wrk(target, headers, 2, args.connections, lua)  # warm-up
            gateway_pid = gateway_pids[warm if target.startswith(warm) else cold_url]
            before = cpu_seconds(runner_pid), cpu_seconds(gateway_pid)
            result = wrk(target, headers, args.seconds, args.connections, lua)
            # CPU per request is what contention on a shared machine distorts least.
            requests = result["rps"] * args.seconds
            result["runner_us"] = (cpu_seconds(runner_pid) - before[0]) * 1e6 / requests
            result["gateway_us"] = (cpu_seconds(gateway_pid) - before[1]) * 1e6 / requests
            rows.append((label, how, result))
            print(f"  {label} / {how}: {result['rps']:.0f} req/s", file=sys.stderr)
    finally:
        if cold is not None:
            stop(cold)
        _stack("down", env=env)

    print(
        f"\n{args.connections} connections, {args.seconds} s per row after a 2 s warm-up; "
        "CPU = process CPU time per request.\n"
    )
    print("| cache | route | req/s | p50 ms | p99 ms | non-2xx | runner CPU µs | gateway CPU µs |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for label, how, r in rows:
        print(
            f"| {label} | {how} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
            f"{r['non2xx']:.0f} | {r['runner_us']:.0f} | {r['gateway_us']:.0f} |"
        )
    missed = 0
    print()
    for index in (0, 2):
        (label, _, rest), (_, _, mcp) = rows[index], rows[index + 1]
        share, p50 = mcp["rps"] / rest["rps"], mcp["p50"] / rest["p50"]
        ok = share >= 0.70 and p50 <= 1.5 and mcp["non2xx"] == 0
        missed += not ok
        print(
            f"{label}: MCP = {share:.0%} of REST req/s (target >= 70%), "
            f"p50 {p50:.2f}x (target <= 1.5x): {'met' if ok else 'MISSED'}"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
