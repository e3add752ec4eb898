"""The backend under real gunicorn on loopback, with its committed config file."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import gunicorn_backend

SECRET = "http-test-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A gunicorn process; yields its base URL and its combined log file."""
    workdir = tmp_path_factory.mktemp("gunicorn")
    database = workdir / "conference.sqlite3"
    settings = {
        "CONFERENCE_WORKERS": "2",
        "CONFERENCE_DATABASE_URL": f"sqlite:///{database}",
        "CONFERENCE_SHARED_SECRET": SECRET,
        "CONFERENCE_PUBLIC_URL": "https://gw.example.test",
        "CONFERENCE_ACCESS_LOG": "-",
    }
    log = workdir / "gunicorn.log"
    with gunicorn_backend(settings, log) as (url, _process):
        try:
            yield url, log
        finally:
            print(log.read_text())


@pytest.fixture(scope="module")
def base_url(server: tuple[str, Path]) -> str:
    return server[0]


def test_secret_over_http(base_url: str) -> None:
    response = httpx.get(f"{base_url}/speaker/1", timeout=5)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["status"] == 401


def test_keep_alive_and_json(base_url: str) -> None:
    headers = {"X-Conference-Secret": SECRET}
    with httpx.Client(base_url=base_url, headers=headers, timeout=5) as client:
        first = client.get("/speaker/1")
        second = client.get("/speaker/4/sessions")
        assert first.json()["name"] == "Amelia Hartley"
        assert second.status_code == 200
        assert first.headers.get("connection", "keep-alive").lower() == "keep-alive"
        assert second.json()["items"][0]["speakers"]


def test_errors_over_http_are_json(base_url: str) -> None:
    headers = {"X-Conference-Secret": SECRET}
    with httpx.Client(base_url=base_url, headers=headers, timeout=5) as client:
        for response, status in [
            (client.get("/nope"), 404),
            (client.delete("/speaker/1"), 405),
            (client.get("/speakers?limit=1000"), 400),
            (client.post("/session/101/feedback", content=b"{}"), 415),
        ]:
            assert response.status_code == status
            assert response.headers["content-type"] == "application/json"
            assert response.json()["status"] == status


def test_oversized_body_is_json_413(base_url: str) -> None:
    # Own connection: gunicorn drains at most 64 KiB of an unread body and
    # then closes the socket, so reusing this connection would be racy.
    response = httpx.post(
        f"{base_url}/session/101/feedback",
        content=b"x" * 200_000,
        headers={"X-Conference-Secret": SECRET, "Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 413
    assert response.json()["error"] == "Request Entity Too Large"


def test_feedback_and_surface_over_http(base_url: str) -> None:
    headers = {"X-Conference-Secret": SECRET}
    with httpx.Client(base_url=base_url, headers=headers, timeout=5) as client:
        created = client.post("/session/104/feedback", json={"rating": 5, "comment": "great"})
        assert created.status_code == 201
        assert created.json()["session_id"] == 104
        manifest = client.get("/.well-known/ai-plugin.json").json()
        assert manifest["api"]["url"] == "https://gw.example.test/openapi.yaml"
        assert b"https://gw.example.test" in client.get("/openapi.yaml").content
        assert client.get("/logo.png").content.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"NOT A REQUEST\r\n\r\n", 400, id="malformed-request-line"),
        pytest.param(
            b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, id="uri-too-long"
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 120 + b"\r\n",
            431,
            id="too-many-headers",
        ),
    ],
)
def test_gunicorn_parser_errors_are_json(base_url: str, raw: bytes, status: int) -> None:
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(raw)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode())
    assert b"Content-Type: application/json" in head
    document = json.loads(body)
    assert document["status"] == status
    assert b"aaaa" not in body and b"NOT A" not in body


def test_access_log_lines_are_json(server: tuple[str, Path]) -> None:
    url, log = server
    agent = 'quote" "injection'
    httpx.get(f"{url}/speaker/2?probe=access-log", headers={"User-Agent": agent}, timeout=5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in log.read_text().splitlines() if "access-log" in line]
        if lines:
            break
        time.sleep(0.05)
    record = json.loads(lines[0])
    assert record["path"] == "/speaker/2"
    assert record["query"] == "probe=access-log"
    assert record["status"] == 401
    assert record["user_agent"] == agent


def test_concurrent_feedback_from_both_workers(base_url: str) -> None:
    """Writes from two worker processes into one SQLite file never fail or collide."""
    from concurrent.futures import ThreadPoolExecutor

    headers = {"X-Conference-Secret": SECRET}

    def post(n: int) -> httpx.Response:
        body = {"rating": 1 + n % 5, "comment": f"concurrent {n}"}
        return httpx.post(
            f"{base_url}/session/{101 + n % 20}/feedback", json=body, headers=headers, timeout=10
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(80)))
    assert [r.status_code for r in responses] == [201] * 80
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 80
    assert sorted(r.json()["comment"] for r in responses) == sorted(
        f"concurrent {n}" for n in range(80)
    )
