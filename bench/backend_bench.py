"""Benchmark of the Conference API under gunicorn with wrk (``make bench-backend``).

Strategy: start the real server exactly as deployed (``backend/gunicorn.conf.py``,
2 workers, shared secret on, access log off) on a free loopback port with a
fresh SQLite file, warm it up, then run wrk at a fixed connection count against
each endpoint and print one Markdown table: requests/s, p50, p99 (wrk's
latency distribution) and the resident memory of gunicorn's whole process
tree right after each run. The machine is shared, so numbers are indicative;
the conditions are printed with the table.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from stack.probes import free_port, http_ok, tree_rss_mib, wait_until

REPO = Path(__file__).resolve().parent.parent
ENDPOINTS = (
    ("GET /speaker/{id}", "/speaker/1"),
    ("GET /speaker/{id}/sessions", "/speaker/1/sessions"),
    ("GET /sessions?keyword=", "/sessions?keyword=observability"),
)
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    rss_mib: float


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no p{percentile} in wrk output:\n{text}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _run_wrk(url: str, secret: str, connections: int, duration: int, threads: int) -> str:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "5s",
        "-H",
        f"X-Conference-Secret: {secret}",
        url,
    ]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def _start_server(
    args: argparse.Namespace, port: int, secret: str, workdir: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        CONFERENCE_BIND=f"127.0.0.1:{port}",
        CONFERENCE_WORKERS=str(args.workers),
        CONFERENCE_WORKER_CLASS=args.worker_class,
        CONFERENCE_THREADS=str(args.threads),
        CONFERENCE_DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        CONFERENCE_SHARED_SECRET=secret,
        CONFERENCE_LOG_LEVEL="warning",
    )
    log = (workdir / "gunicorn.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "backend/gunicorn.conf.py"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _measure(
    base: str, secret: str, name: str, path: str, args: argparse.Namespace, pid: int
) -> Result:
    """One endpoint: a short warm-up (imports, statement cache, page cache), then the run."""
    _run_wrk(base + path, secret, args.connections, 2, args.wrk_threads)
    output = _run_wrk(base + path, secret, args.connections, args.duration, args.wrk_threads)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return Result(
        name=name,
        requests_per_s=float(rps.group(1)) if rps else 0.0,
        p50_ms=_latency_ms(output, "50"),
        p99_ms=_latency_ms(output, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        rss_mib=tree_rss_mib(pid),
    )


def _stop(process: subprocess.Popen[bytes], workdir: Path) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(workdir, ignore_errors=True)


def bench(args: argparse.Namespace) -> list[Result]:
    port = free_port()
    secret = secrets.token_urlsafe(24)
    base = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-backend-"))
    process = _start_server(args, port, secret, workdir)
    try:
        wait_until(
            partial(http_ok, f"{base}/healthz"), timeout=30, what="gunicorn", process=process
        )
        return [_measure(base, secret, name, path, args, process.pid) for name, path in ENDPOINTS]
    finally:
        _stop(process, workdir)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--wrk-threads", type=int, default=2)
    return parser.parse_args()


def _print_table(args: argparse.Namespace, results: list[Result], load_before: float) -> None:
    print(
        f"\ngunicorn {args.workers} x {args.worker_class}"
        f"{f' ({args.threads} threads)' if args.worker_class == 'gthread' else ''}, "
        f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.duration}s, "
        f"{os.cpu_count()} CPUs, 1-min load average before/after: "
        f"{load_before:.2f}/{os.getloadavg()[0]:.2f}\n"
    )
    print("| endpoint | req/s | p50 (ms) | p99 (ms) | non-2xx | server RSS (MiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| `{r.name}` | {r.requests_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.non_2xx} | {r.rss_mib:.0f} |"
        )


def main() -> int:
    args = _arguments()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    results = bench(args)
    _print_table(args, results, load_before)
    return 0 if all(r.non_2xx == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
