"""``make up`` (local mode) as a user runs it: first-run secrets, the printed URLs, Ctrl-C.

Issue 5: on first run ``make up`` generates the secrets into ``.env`` and prints the gateway URL,
the API key to paste into ChatGPT, the manifest URL and the OpenAPI URL; Ctrl-C stops every
component cleanly. This starts the real stack (gunicorn, runner, local gateway) on free ports
with a private state directory, reads what it prints, uses the printed values, then presses
Ctrl-C (SIGINT to the foreground process group, as a terminal does).
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from stack.probes import alive
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short path: the runner's Unix socket lives under it (~107-byte limit).
    with tempfile.TemporaryDirectory(prefix="up-", dir="/tmp") as tmp:
        yield Path(tmp)


class Output:
    """The process's output lines, read by a thread (a pipe read must never block the test)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._process = process
        self._stdout = process.stdout
        self._lines: queue.Queue[str] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self._stdout:
            self._lines.put(line)

    def until(self, marker: str, timeout: float) -> str:
        """Lines printed so far, up to the one holding ``marker``."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.5)
            except queue.Empty:
                if self._process.poll() is not None and not self._thread.is_alive():
                    break
                continue
            seen.append(line)
            if marker in line:
                return "".join(seen)
        raise AssertionError(f"no {marker!r} in the output of make up:\n{''.join(seen)}")

    def close(self) -> None:
        self._thread.join(timeout=10)  # EOF once the process and its children are gone
        self._stdout.close()


def test_up_prints_what_chatgpt_needs_and_ctrl_c_stops_everything(state_dir: Path) -> None:
    gateway_port, backend_port = free_port(), free_port()
    env_file = state_dir / ".env"
    environ = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_SECRET"))}
    command = [
        sys.executable, "-m", "stack",
        "--state-dir", str(state_dir), "--env-file", str(env_file),
        "--gateway-port", str(gateway_port), "--backend-port", str(backend_port),
        "--private-database", "up",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environ,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so "Ctrl-C" reaches only this stack
    )
    output = Output(process)
    try:
        banner = output.until("Stop:", timeout=90)
        secrets = dotenv_values(env_file)
        assert secrets["CHATGPT_API_KEY"] and secrets["READONLY_API_KEY"]
        assert stat_mode(env_file) == 0o600

        url = re.search(r"Gateway URL:\s+(\S+)", banner)
        key = re.search(r"API key for ChatGPT:\s+(\S+)", banner)
        manifest = re.search(r"Plugin manifest.*?:\s+(\S+)", banner)
        openapi = re.search(r"OpenAPI.*?:\s+(\S+)", banner)
        mcp = re.search(r"MCP server.*?:\s+(\S+)", banner)
        assert url and key and manifest and openapi and mcp, banner
        assert url.group(1) == f"http://localhost:{gateway_port}"
        assert key.group(1) == secrets["CHATGPT_API_KEY"]
        assert "development stand-in" in banner

        # The printed values work, as ChatGPT would use them.
        with httpx.Client(timeout=10) as http:
            assert http.get(local(manifest.group(1))).json()["api"]["type"] == "openapi"
            assert http.get(local(openapi.group(1))).text.startswith("openapi: 3.1")
            api = local(url.group(1)) + "/speaker/1"
            assert http.get(api).status_code == 401
            assert http.get(api, headers={"apikey": key.group(1)}).status_code == 200
            listed = http.post(
                local(mcp.group(1)),
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                headers={"apikey": key.group(1), "accept": "application/json"},
            )
            assert listed.status_code == 200 and listed.json()["result"]["tools"], listed.text

        state = (state_dir / "run" / "stack.json").read_text()
        pids = [int(p) for p in re.findall(r'"(?:backend|runner|gateway)": (\d+)', state)]
        assert len(pids) == 3 and all(alive(pid) for pid in pids)

        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal running `make up`
        assert process.wait(timeout=30) == 0
        assert not any(alive(pid) for pid in pids)
        assert not (state_dir / "run" / "stack.json").exists()
        assert not (state_dir / "run" / "runner.sock").exists()
        for name in ("backend", "runner", "gateway"):  # one log per component
            assert (state_dir / "log" / f"{name}.log").stat().st_size > 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        output.close()


def local(printed_url: str) -> str:
    """The printed URL, reached on the loopback address the test stack binds."""
    return printed_url.replace("localhost", "127.0.0.1")


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_docker_make_up_prints_the_same_urls_and_key(state_dir: Path) -> None:
    # No Docker engine here: check the command the docker-up recipe ends with, on a .env like
    # the one `make docker-env` writes, and that the recipe really calls it.
    env_file = state_dir / ".env"
    chatgpt_key = secrets.token_urlsafe(24)  # generated, as make docker-env does: no literal
    env_file.write_text(
        f"CONFERENCE_SHARED_SECRET={secrets.token_urlsafe(24)}\nCHATGPT_API_KEY={chatgpt_key}\n"
        f"READONLY_API_KEY={secrets.token_urlsafe(24)}\nGATEWAY_PORT=9123\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_SECRET"))}
    environ.pop("GATEWAY_PORT", None)
    printed = subprocess.run(
        [sys.executable, "-m", "stack", "--env-file", str(env_file), "--state-dir",
         str(state_dir), "banner", "--docker"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "Apache APISIX" in printed and "stand-in" not in printed
    assert re.search(r"Gateway URL:\s+http://localhost:9123\n", printed)
    assert re.search(rf"API key for ChatGPT:\s+{re.escape(chatgpt_key)}\n", printed)
    assert "http://localhost:9123/.well-known/ai-plugin.json" in printed
    assert "http://localhost:9123/openapi.yaml" in printed
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\ndocker-up:", 1)[1].split("\n\n", 1)[0]
    assert "-m stack banner --docker" in recipe
