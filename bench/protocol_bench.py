"""asyncio ``Protocol`` versus ``BufferedProtocol`` for the runner's connections (issue 3 asks
for BufferedProtocol to be measured).

Strategy: the same runner (``python -m runner_plugins``, uvloop, the ``static-stop`` plugin)
is started twice: as shipped, and with ``--buffered``, where this file first swaps the
server's connection class for a ``BufferedProtocol`` version of it (a preallocated 64 KiB receive
buffer, ``get_buffer``/``buffer_updated``; frames are handed to the unchanged code as bytes,
because the payload outlives the callback: the request task decodes it later, so it must be
copied out of a reused buffer anyway). Both are driven by ``bench/runner_bench.py``'s client
processes at 64 connections, alternating A/B rounds; the runner's CPU per call is the figure
that matters (the client is the same).

    python bench/protocol_bench.py [--rounds 3] [--seconds 5] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.probes import cpu_seconds  # noqa: E402

_spec = importlib.util.spec_from_file_location("runner_bench", ROOT / "bench" / "runner_bench.py")
assert _spec is not None and _spec.loader is not None
runner_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner_bench)


def buffered_connection_class() -> type:
    """The server's connection class rebuilt on ``asyncio.BufferedProtocol``.

    Not a subclass: uvloop (unlike the stdlib loop) prefers ``data_received`` whenever the
    protocol is an ``asyncio.Protocol``, so the class must not derive from it. The methods are
    the shipped ones; only the receive path differs.
    """
    from runner_plugins import server

    base = server._Connection
    namespace = {
        name: value
        for name, value in base.__dict__.items()
        if not isinstance(value, types.MemberDescriptorType)
        and name not in ("__dict__", "__weakref__", "__slots__")
    }
    shipped_init = base.__init__

    def __init__(self: Any, owner: Any) -> None:
        shipped_init(self, owner)
        self._buffer = bytearray(65536)
        self._view = memoryview(self._buffer)
        self.reads = 0

    def get_buffer(self: Any, sizehint: int) -> memoryview:
        self.reads += 1
        return self._view  # type: ignore[no-any-return]

    def buffer_updated(self: Any, nbytes: int) -> None:
        self.data_received(self._view[:nbytes].tobytes())

    namespace.update(
        __slots__=(*base.__slots__, "_buffer", "_view", "reads"),
        __init__=__init__,
        get_buffer=get_buffer,
        buffer_updated=buffer_updated,
    )
    return type("BufferedConnection", (asyncio.BufferedProtocol,), namespace)


def _serve_buffered(listen: str) -> None:
    """Run the real runner with the BufferedProtocol connection class (child process)."""
    from runner_plugins import server
    from runner_plugins.__main__ import main

    server._Connection = buffered_connection_class()  # type: ignore[misc,assignment]
    sys.exit(main(["--listen", listen, "--plugin", "runner_plugins.examples.static_stop"]))


def _spawn(path: str, buffered: bool) -> subprocess.Popen[bytes]:
    if buffered:
        cmd = [sys.executable, __file__, "--serve-buffered", path]
        proc = subprocess.Popen(cmd, cwd=ROOT)
        deadline = time.monotonic() + 10
        while not os.path.exists(path):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("buffered runner did not start")
            time.sleep(0.05)
        return proc
    spawned: subprocess.Popen[bytes] = runner_bench._spawn_runner(path, [])
    return spawned


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-buffered", metavar="SOCKET", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    return parser.parse_args()


def _measure(buffered: bool, args: argparse.Namespace) -> tuple[dict[str, Any], float]:
    """One runner variant: warm-up, then the measured run; returns the run and the CPU spent."""
    with tempfile.TemporaryDirectory(prefix="pb-", dir="/tmp") as tmp:
        path = os.path.join(tmp, "runner.sock")
        runner = _spawn(path, buffered)
        try:
            runner_bench._drive(path, args.connections, 2, 0.5)  # warm-up
            cpu0 = cpu_seconds(runner.pid)
            result: dict[str, Any] = runner_bench._drive(path, args.connections, 2, args.seconds)
            return result, cpu_seconds(runner.pid) - cpu0
        finally:
            runner.terminate()
            runner.wait(timeout=5)


def _print_row(round_no: int, buffered: bool, result: dict[str, Any], cpu: float) -> None:
    name = "BufferedProtocol" if buffered else "Protocol (shipped)"
    print(
        f"| {round_no} | {name} | {result['rate']:,.0f} | {result['p50']:.2f} | "
        f"{result['p99']:.2f} | {cpu / result['count'] * 1e6:.1f} |",
        flush=True,
    )


def main() -> None:
    args = _arguments()
    if args.serve_buffered:
        _serve_buffered(args.serve_buffered)
        return
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, {args.connections} connections")
    print("\n| round | protocol | RPC/s | p50 ms | p99 ms | runner CPU us/call |")
    print("|---:|---|---:|---:|---:|---:|")
    for round_no in range(1, args.rounds + 1):
        for buffered in (False, True):  # alternating A/B, as in docs/performance.md
            result, cpu = _measure(buffered, args)
            _print_row(round_no, buffered, result, cpu)


if __name__ == "__main__":
    main()
