"""The supervisor with real child processes: readiness, failure reporting, ordered stop."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stack.probes import alive
from stack.supervisor import Component, Settings, StackError, Supervisor, read_state


def _settings(tmp_path: Path) -> Settings:
    return Settings(root=tmp_path, state_dir=tmp_path / "state", env_file=tmp_path / ".env")


def _sleeper(name: str, marker: Path, ready: bool = True) -> Component:
    # Creates `marker` when started, so readiness is observable without sleeps in the test.
    code = f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)"
    return Component(
        name, [sys.executable, "-c", code], dict(os.environ),
        (lambda: marker.exists()) if ready else (lambda: False), timeout=20.0 if ready else 1.0,
    )  # fmt: skip


def test_start_writes_state_and_stop_cleans_up(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    supervisor = Supervisor(
        settings, [_sleeper("backend", tmp_path / "a"), _sleeper("gateway", tmp_path / "b")]
    )
    supervisor.start()
    state = read_state(settings)
    assert state is not None and state["ready"] is True
    pids = state["components"]
    assert all(alive(pid) for pid in pids.values())
    assert state["backend"] == "running"
    supervisor.stop()
    assert read_state(settings) is None
    assert not any(alive(pid) for pid in pids.values())
    assert (settings.log_dir / "backend.log").exists()


def test_a_child_that_exits_fails_the_start_with_its_log(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    crash = Component(
        "backend",
        [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
        dict(os.environ),
        lambda: False,
        timeout=20.0,
    )
    supervisor = Supervisor(settings, [crash, _sleeper("gateway", tmp_path / "never")])
    with pytest.raises(StackError, match="(?s)status 3.*boom: bad config"):
        supervisor.start()
    assert not (tmp_path / "never").exists()  # later components never started
    assert read_state(settings) is None


def test_never_ready_times_out_and_stops(tmp_path: Path) -> None:
    supervisor = Supervisor(_settings(tmp_path), [_sleeper("runner", tmp_path / "r", ready=False)])
    with pytest.raises(StackError, match="not ready"):
        supervisor.start()
    process = supervisor.components["runner"].process
    assert process is not None and process.poll() is not None


def test_serve_stops_everything_when_a_child_dies(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    supervisor = Supervisor(
        settings, [_sleeper("backend", tmp_path / "a"), _sleeper("gateway", tmp_path / "b")]
    )
    supervisor.start()
    backend = supervisor.components["backend"].process
    gateway = supervisor.components["gateway"].process
    assert backend is not None and gateway is not None
    killer = threading.Timer(0.3, gateway.kill)
    killer.start()
    started = time.monotonic()
    # serve() installs signal handlers: only allowed in the main thread, which pytest uses.
    code = supervisor.serve()
    assert code == 1
    assert backend.poll() is not None
    assert time.monotonic() - started < 30


def test_an_exited_child_is_not_alive() -> None:
    # `stack test` starts the supervisor itself; once stopped it is a zombie until reaped, and
    # a zombie answers kill(pid, 0): `_down` then waited its whole 40 s timeout.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    # Wait for the exit without reaping (WNOWAIT): the child is a zombie now.
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    assert not alive(child.pid)
    assert child.poll() == 0  # reaped by alive(); Popen copes with that
    assert alive(os.getpid())
