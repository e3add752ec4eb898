"""``python -m backend``: the development server (issue 2) binds, seeds and serves the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import free_port, stop, wait_until_healthy

REPO = Path(__file__).resolve().parents[2]
SECRET = "devserver-test-secret"


def test_python_m_backend_serves_the_seeded_api(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        CONFERENCE_BIND=f"127.0.0.1:{port}",
        CONFERENCE_DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        CONFERENCE_SHARED_SECRET=SECRET,
    )
    log = tmp_path / "dev.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend"], cwd=REPO, env=env, stdout=sink, stderr=sink
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/healthz", process, log)
        assert httpx.get(f"{url}/speakers", timeout=5).status_code == 401
        listed = httpx.get(f"{url}/speakers", headers={"X-Conference-Secret": SECRET}, timeout=5)
        assert listed.status_code == 200 and listed.json()["total"] >= 60
    finally:
        stop(process, timeout=10, signum=signal.SIGINT)


def test_python_m_backend_refuses_to_start_without_the_secret(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        CONFERENCE_BIND=f"127.0.0.1:{port}",
        CONFERENCE_DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
    )
    done = subprocess.run(
        [sys.executable, "-m", "backend"], cwd=REPO, env=env, capture_output=True, timeout=60
    )
    assert done.returncode != 0
    assert b"CONFERENCE_SHARED_SECRET is not set" in done.stderr
    assert not (tmp_path / "dev.sqlite3").exists()
