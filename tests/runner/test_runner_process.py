"""The runner as APISIX runs it: a subprocess, env configuration, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from runner_plugins.client import RunnerClient
from runner_plugins.errors import RunnerUnavailable
from runner_plugins.plugin import Stop
from stack.probes import socket_accepts, wait_until

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def spawn(socket_path: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}",
        "APISIX_LISTEN_ADDRESS": f"unix:{socket_path}",
        "APISIX_CONF_EXPIRE_TIME": "3600",
        **(env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "runner_plugins", "--plugin", "helper_plugins", *args],
        cwd=ROOT,
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_for_socket(proc: subprocess.Popen[str], path: str) -> None:
    # stack.probes' bounded wait, in a thread so the test's loop stays free.
    await asyncio.to_thread(
        wait_until, partial(socket_accepts, path), timeout=10, what="runner socket", process=proc
    )


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_signal_drains_in_flight_and_exits_within_a_second(socket_path, signum):
    proc = spawn(socket_path)
    client = RunnerClient(socket_path)
    try:
        await wait_for_socket(proc, socket_path)
        assert await client.http_req_call([("slow", "0")], "k", method="GET", path="/")
        in_flight = asyncio.ensure_future(  # its own key: "k" is already the 0 s conf
            client.http_req_call([("slow", "0.4")], "k-slow", method="GET", path="/")
        )
        await asyncio.sleep(0.1)  # the slow request is now inside the plugin
        assert not in_flight.done()
        sent = time.monotonic()
        proc.send_signal(signum)
        assert await in_flight == Stop(status=200, body=b"slept")
        code = await asyncio.to_thread(proc.wait, 5)
        exited_after = time.monotonic() - sent
        assert code == 0
        assert exited_after < 1.0  # APISIX sends SIGKILL 1 s after SIGTERM
        assert not os.path.exists(socket_path)
        with pytest.raises(RunnerUnavailable, match="failed to connect"):
            await RunnerClient(socket_path).http_req_call(
                [("slow", "0")], "k2", method="GET", path="/"
            )
    finally:
        await client.close()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


async def test_env_configuration_and_quiet_default_logging(socket_path):
    proc = spawn(socket_path, "start", env={"RUNNER_LOG_LEVEL": "WARNING"})
    client = RunnerClient(socket_path)
    try:
        await wait_for_socket(proc, socket_path)
        assert await client.http_req_call([("stop-with", "204")], "k", method="GET", path="/") == (
            Stop(status=204)
        )
        with pytest.raises(RunnerUnavailable):
            await client.http_req_call(
                [("boom", "")], "k-boom", method="GET", path="/", request_id=77
            )
    finally:
        await client.close()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=5)
    lines = stderr.splitlines()
    # Quiet by default: the only event is the failing plugin, on one line (traceback folded),
    # naming the conf token and the request id.
    assert len(lines) == 1 and "plugin 'boom' failed" in lines[0], stderr
    assert "RuntimeError: plugin bug" in lines[0]
    assert "request_id=77" in lines[0] and "token=" in lines[0]


def test_bad_configuration_exits_with_a_message(socket_path):
    proc = subprocess.run(
        [sys.executable, "-m", "runner_plugins"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
        timeout=30,
    )
    assert proc.returncode == 2 and "APISIX_LISTEN_ADDRESS" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "runner_plugins", "--listen", socket_path, "--plugin", "nope.mod"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2 and "cannot import plugin module 'nope.mod'" in proc.stderr
