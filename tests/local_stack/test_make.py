"""``make up`` / ``make down`` as a new user runs them (issue 13): detached mode, public URLs in
the banner, and a Docker machine without the Compose plugin.

These run the real Makefile in this checkout with a private state directory, secrets file,
database and free ports, so they never touch the developer's own ``.env`` or ``var/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from stack import banner
from stack.probes import alive
from stack.supervisor import Settings
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Short path: the runner's Unix socket lives under it (~107-byte limit).
    with tempfile.TemporaryDirectory(prefix="mk-", dir="/tmp") as tmp:
        yield Path(tmp)


def _make(
    *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_SECRET"))}


def test_make_up_detach_returns_prints_public_urls_and_make_down_stops_it(
    state_dir: Path,
) -> None:
    gateway_port, backend_port = free_port(), free_port()
    public = "https://conference.example.org/conf"
    env = {
        **_clean_environ(),
        "STACK_DIR": str(state_dir),
        "GATEWAY_PORT": str(gateway_port),
        "BACKEND_PORT": str(backend_port),
        "CONFERENCE_PUBLIC_URL": public,
        "CONFERENCE_DATABASE_URL": f"sqlite:///{state_dir}/conference.sqlite3",
    }
    env_file = f"ENV_FILE={state_dir}/.env"
    try:
        up = _make("up", "MODE=local", "DETACH=1", env_file, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        # The terminal is back, the stack keeps running.
        state = (state_dir / "run" / "stack.json").read_text()
        supervisor = int(re.search(r'"pid": (\d+)', state).group(1))  # type: ignore[union-attr]
        assert alive(supervisor)
        assert f"{public}/openapi.yaml" in up.stdout
        assert f"{public}/.well-known/ai-plugin.json" in up.stdout
        assert f"Gateway URL:            http://localhost:{gateway_port}" in up.stdout
        assert "WARNING" not in up.stdout
        assert "`make down`" in up.stdout
        # The document really carries the printed public URL.
        with httpx.Client(timeout=10) as http:
            spec = yaml.safe_load(http.get(f"http://127.0.0.1:{gateway_port}/openapi.yaml").text)
        assert spec["servers"][0]["url"] == public

        down = _make("down", "MODE=local", env_file, env=env, timeout=90)
        assert down.returncode == 0, down.stdout + down.stderr
        assert "local stack stopped" in down.stdout
        assert not alive(supervisor)
        assert not (state_dir / "run" / "stack.json").exists()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{gateway_port}/openapi.yaml", timeout=2)
    finally:
        _make("down", "MODE=local", env_file, env=env, timeout=90)


def test_banner_warns_when_the_public_url_is_not_https(tmp_path: Path) -> None:
    settings = Settings(root=ROOT, state_dir=tmp_path, env_file=tmp_path / ".env")
    keys = {"CHATGPT_API_KEY": "k1", "READONLY_API_KEY": "k2"}
    plain = banner.render(settings, keys, docker=False, detached=False)
    assert "WARNING: the public URL http://localhost:9080 is not https" in plain
    assert "CONFERENCE_PUBLIC_URL=https://" in plain
    assert "second terminal" in plain and "DETACH=1" in plain
    tunnel = {**keys, "CONFERENCE_PUBLIC_URL": "https://abc.example.net/"}
    secure = banner.render(settings, tunnel, docker=True, detached=True)
    assert "WARNING" not in secure
    assert "OpenAPI (GPT Action import):               https://abc.example.net/openapi.yaml" in (
        secure
    )
    assert "Public URL:             https://abc.example.net" in secure
    assert "https://abc.example.net/.well-known/oauth-authorization-server" in secure
    assert "gpt-actions" in secure


FAKE_DOCKER = """#!/bin/sh
# A docker CLI without the Compose v2 plugin, as on the machine of issue 13.
case "$1" in
  compose) echo "docker: 'compose' is not a docker command." >&2; exit 1 ;;
  *) exit 0 ;;
esac
"""


@pytest.mark.parametrize("existing", [None, "CHATGPT_API_KEY=kept-as-is\n"])
def test_docker_mode_without_compose_says_so_and_changes_nothing(
    tmp_path: Path, existing: str | None
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    env_path = tmp_path / ".env"
    if existing is not None:
        env_path.write_text(existing)
    env = {**_clean_environ(), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = _make("up", "MODE=docker", f"ENV_FILE={env_path}", env=env, timeout=120)
    assert result.returncode != 0
    assert "'docker compose' is not available" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert "unknown flag" not in result.stderr
    if existing is None:
        assert not env_path.exists()
    else:
        assert env_path.read_text() == existing


@pytest.mark.skipif(shutil.which("docker") is not None, reason="a docker CLI is installed")
def test_docker_mode_without_docker_says_so(tmp_path: Path) -> None:
    env_path = tmp_path / ".env"
    result = _make("up", "MODE=docker", f"ENV_FILE={env_path}", env=_clean_environ(), timeout=120)
    assert result.returncode != 0
    assert "the docker CLI is not installed" in result.stderr
    assert not env_path.exists()
