"""Start, watch and stop the local stack's three processes: backend, runner, gateway.

Strategy: a plain synchronous supervisor. Each component is a child process in its own session
(so a terminal Ctrl-C reaches only the supervisor, which then stops the children in reverse
order: gateway, runner, backend), writing to its own log file. A component counts as started
only when its readiness probe passes (backend ``/healthz``, runner socket accepting, gateway
answering HTTP); a child that exits before that fails the start with the tail of its log. The
supervisor publishes its state (pids, URLs, readiness) in a JSON file that ``down``, ``status``
and the integration suite's backend-fault hook read; SIGUSR1/SIGUSR2 stop/start the backend
alone so that hook can simulate an outage without tearing the stack down.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any

from stack.probes import http_ok, socket_accepts

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0


class StackError(Exception):
    """The stack could not start (a component failed or never became ready)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Where everything lives and listens; see ``python -m stack --help``."""

    root: Path
    state_dir: Path
    env_file: Path
    host: str = "127.0.0.1"
    gateway_port: int = 9080
    backend_port: int = 8000
    public_host: str = "localhost"
    #: Own database (SQLite under state_dir) instead of the backend's default.
    private_database: bool = False

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "log"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def runner_socket(self) -> Path:
        return self.run_dir / "runner.sock"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "stack.json"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.public_host}:{self.gateway_port}"

    @property
    def backend_url(self) -> str:
        return f"http://{self.host}:{self.backend_port}"


@dataclass(slots=True)
class Component:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Callable[[], bool]
    timeout: float
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = field(default=None, repr=False)


def build_components(settings: Settings, environ: Mapping[str, str]) -> list[Component]:
    """The three processes, in start order, with their environment and readiness probes."""
    python = sys.executable
    base = {**environ, "PYTHONUNBUFFERED": "1"}
    base.setdefault("CONFERENCE_PUBLIC_URL", settings.gateway_url)
    backend_env = {
        **base,
        "CONFERENCE_BIND": f"{settings.host}:{settings.backend_port}",
        "CONFERENCE_SHARED_SECRET": environ["CONFERENCE_SHARED_SECRET"],
    }
    if settings.private_database:
        # The test stack never touches the developer's database: a fresh SQLite file, or the
        # database named by STACK_TEST_DATABASE_URL (tests run the suite on PostgreSQL too).
        database = settings.state_dir / "conference.sqlite3"
        backend_env["CONFERENCE_DATABASE_URL"] = (
            environ.get("STACK_TEST_DATABASE_URL") or f"sqlite:///{database}"
        )
    gateway_env = {**base, "CONFERENCE_BACKEND_ADDR": f"{settings.host}:{settings.backend_port}"}
    return [
        Component(
            "backend",
            [python, "-m", "gunicorn", "--config", "backend/gunicorn.conf.py"],
            backend_env,
            partial(http_ok, f"{settings.backend_url}/healthz"),
            timeout=60.0,
        ),
        Component(
            "runner",
            [python, "-m", "runner_plugins", "--listen", str(settings.runner_socket)],
            {**base, "RUNNER_LOG_LEVEL": base.get("RUNNER_LOG_LEVEL", "INFO")},
            partial(socket_accepts, settings.runner_socket),
            timeout=30.0,
        ),
        Component(
            "gateway",
            [
                python,
                "-m",
                "gateway",
                "--config",
                "apisix/apisix.yaml",
                "--host",
                settings.host,
                "--port",
                str(settings.gateway_port),
                "--runner-socket",
                str(settings.runner_socket),
            ],
            gateway_env,
            partial(
                http_ok,
                f"http://{settings.host}:{settings.gateway_port}/.well-known/ai-plugin.json",
            ),
            timeout=30.0,
        ),
    ]


class Supervisor:
    """Runs the components; one instance per ``python -m stack up``."""

    def __init__(self, settings: Settings, components: list[Component]) -> None:
        self.settings = settings
        self.components = {c.name: c for c in components}
        self._order = [c.name for c in components]
        self._stopping = False
        self._backend_wanted = True
        self._requests: list[str] = []

    # ---------------------------------------------------------------- state file

    def _write_state(self, ready: bool) -> None:
        state: dict[str, Any] = {
            "pid": os.getpid(),
            "ready": ready,
            "gateway_url": self.settings.gateway_url,
            "backend_url": self.settings.backend_url,
            "backend": "running" if self._running("backend") else "stopped",
            "components": {
                name: (c.process.pid if c.process and c.process.poll() is None else None)
                for name, c in self.components.items()
            },
        }
        path = self.settings.state_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)

    def _running(self, name: str) -> bool:
        component = self.components.get(name)
        process = component.process if component is not None else None
        return process is not None and process.poll() is None

    # ---------------------------------------------------------------- start/stop

    def _log_path(self, name: str) -> Path:
        return self.settings.log_dir / f"{name}.log"

    def start_component(self, name: str) -> None:
        component = self.components[name]
        log_path = self._log_path(name)
        if component.log is None:
            component.log = log_path.open("ab")
        component.log.write(f"\n=== {time.strftime('%F %T')} starting {name}\n".encode())
        component.log.flush()
        component.process = subprocess.Popen(
            component.argv,
            cwd=self.settings.root,
            env=component.env,
            stdin=subprocess.DEVNULL,
            stdout=component.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + component.timeout
        while time.monotonic() < deadline:
            if component.process.poll() is not None:
                raise StackError(
                    f"{name} exited with status {component.process.returncode} before it was "
                    f"ready; last lines of {log_path}:\n{tail(log_path)}"
                )
            if component.ready():
                logger.info("%s is ready (pid %d)", name, component.process.pid)
                return
            time.sleep(0.1)
        raise StackError(f"{name} was not ready after {component.timeout:.0f} s; see {log_path}")

    def stop_component(self, name: str) -> None:
        component = self.components[name]
        process = component.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("%s did not stop within %.0f s: killing it", name, STOP_TIMEOUT)
            process.kill()
            process.wait()
        logger.info("%s stopped", name)

    def start(self) -> None:
        self.settings.log_dir.mkdir(parents=True, exist_ok=True)
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        self._write_state(ready=False)
        try:
            for name in self._order:
                self.start_component(name)
                self._write_state(ready=False)
        except BaseException:
            self.stop()
            raise
        self._write_state(ready=True)

    def stop(self) -> None:
        self._stopping = True
        for name in reversed(self._order):
            self.stop_component(name)
        for component in self.components.values():
            if component.log is not None:
                component.log.close()
                component.log = None
        self.settings.state_file.unlink(missing_ok=True)
        self.settings.runner_socket.unlink(missing_ok=True)

    # ---------------------------------------------------------------- foreground

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum == signal.SIGUSR1:
            self._requests.append("backend-stop")
        elif signum == signal.SIGUSR2:
            self._requests.append("backend-start")
        else:
            self._stopping = True

    def serve(self) -> int:
        """Watch the children until a signal asks to stop or one dies; returns an exit code."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, self._on_signal)
        code = 0
        try:
            while not self._stopping:
                while self._requests:
                    self._handle(self._requests.pop(0))
                for name in self._order:
                    if name == "backend" and not self._backend_wanted:
                        continue
                    if not self._running(name):
                        logger.error(
                            "%s exited unexpectedly; stopping the stack. Last lines:\n%s",
                            name,
                            tail(self._log_path(name)),
                        )
                        self._stopping = True
                        code = 1
                time.sleep(0.2)
        finally:
            self.stop()
        return code

    def _handle(self, request: str) -> None:
        if request == "backend-stop":
            self._backend_wanted = False
            self.stop_component("backend")
        elif request == "backend-start" and not self._running("backend"):
            try:
                self.start_component("backend")
            except StackError as exc:
                logger.error("%s", exc)
            self._backend_wanted = True
        self._write_state(ready=True)


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def read_state(settings: Settings) -> dict[str, Any] | None:
    try:
        value = json.loads(settings.state_file.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
