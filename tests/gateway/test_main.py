"""``python -m gateway`` as a process: loud startup errors, the stand-in notice, clean SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.gateway.conftest import REPO

GOOD = """
upstreams:
  - {id: up, nodes: {"127.0.0.1:9": 1}}
routes:
  - {id: r, uri: /x, upstream_id: up, plugins: {request-id: {}}}
#END
"""


def _run(config: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config), "--port", "0",
         "--runner-socket", "/tmp/absent-runner.sock", *extra],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_unknown_plugin_stops_the_start_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "apisix.yaml"
    config.write_text(GOOD.replace("request-id: {}", "ai-proxy: {model: x}"))
    process = _run(config)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "route 'r': plugin 'ai-proxy' is not implemented" in out


def test_a_rejected_secret_is_neither_printed_nor_logged(tmp_path: Path) -> None:
    # The value comes in through ${{VAR}} as the backend secret does in apisix/apisix.yaml.
    config = tmp_path / "apisix.yaml"
    config.write_text(
        GOOD.replace(
            "request-id: {}", "proxy-rewrite: {headers: {set: {X-S: '${{GATEWAY_TEST_SECRET}}'}}}"
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--config", str(config), "--port", "0"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "GATEWAY_TEST_SECRET": "pa$$w0rd-9"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "plugin 'proxy-rewrite' field headers/set/X-S" in out
    assert "w0rd" not in out


def test_unset_variable_stops_the_start(tmp_path: Path) -> None:
    config = tmp_path / "apisix.yaml"
    config.write_text(GOOD.replace("/x", "/${{GATEWAY_TEST_UNSET_VAR}}"))
    process = _run(config)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 2
    assert "can't find environment variable GATEWAY_TEST_UNSET_VAR" in out


def test_serves_says_it_is_a_stand_in_and_stops_on_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "apisix.yaml"
    config.write_text(GOOD)
    process = _run(config)
    assert process.stdout is not None
    lines: list[str] = []
    port = None
    deadline = time.monotonic() + 30
    while port is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        port = int(found.group(1)) if found else None
    assert port, "".join(lines)
    assert any("DEVELOPMENT stand-in for Apache APISIX" in line for line in lines)
    response = httpx.get(f"http://127.0.0.1:{port}/x", timeout=10)
    assert response.status_code == 502  # nothing listens on port 9
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode == 0
