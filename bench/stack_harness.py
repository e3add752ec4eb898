"""What the stack benchmarks share: a private local stack, a second "cold" gateway, and wrk.

Imported by the sibling scripts (gateway_bench, mcp_bench, oauth_bench), which run as standalone
scripts, so bench/ is on sys.path; this module puts the repository root there itself.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.probes import http_ok, wait_until  # noqa: E402

# High enough that limit-count never answers 429 during a run.
QUOTA = "1000000000"


def stack(
    *command: str, state: Path, gateway_port: int, backend_port: int, env: dict[str, str]
) -> None:
    """``python -m stack COMMAND`` with the bench's own state directory and ports."""
    subprocess.run(
        [
            sys.executable, "-m", "stack",
            "--state-dir", str(state),
            "--env-file", str(state / ".env"),
            "--gateway-port", str(gateway_port),
            "--backend-port", str(backend_port),
            *command,
        ],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def wrk(
    url: str,
    headers: dict[str, str],
    seconds: int,
    connections: int,
    script: Path | None = None,
) -> dict[str, float]:
    """One wrk run: req/s, p50 and p99 in ms, and the count of non-2xx/3xx answers."""
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "99"):
        found = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert found, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
        result[f"p{pct}"] = float(found.group(1)) * scale
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    result["non2xx"] = float(bad.group(1)) if bad else 0.0
    if errors:
        print(f"  wrk {url}: {errors.group(0)}", file=sys.stderr)
    return result


def start_cold_gateway(
    state: Path, port: int, env: dict[str, str], cold_text: str
) -> subprocess.Popen[bytes]:
    """A second gateway on ``port`` serving ``cold_text`` (the config with the cache off).

    It shares the stack's runner socket, logs to gateway-cold.log, and is stopped again if it
    never answers, so a failed start leaves no process behind.
    """
    (state / "apisix-cold.yaml").write_text(cold_text)
    socket_path = str(state / "run" / "runner.sock")
    with (state / "log" / "gateway-cold.log").open("ab") as log:
        cold = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(state / "apisix-cold.yaml"),
             "--port", str(port), "--runner-socket", socket_path],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_until(
            partial(http_ok, f"http://127.0.0.1:{port}/.well-known/ai-plugin.json"),
            timeout=30,
            what="the cold-cache gateway",
            process=cold,
        )
    except BaseException:
        stop(cold)
        raise
    return cold


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then wait for the exit (15 s at most)."""
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
