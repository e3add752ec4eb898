"""The backend on a real PostgreSQL server under real gunicorn workers.

The rest of tests/backend runs every test on SQLite and on PostgreSQL in-process; this file
covers what only shows with several processes: connections per process, concurrent writes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests import postgres
from tests.postgres import PostgresServer
from tests.processes import gunicorn_backend

SECRET = "postgres-test-secret"
WORKERS, THREADS = 2, 4


@pytest.fixture(scope="module")
def database(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database("gunicorn")


@pytest.fixture(scope="module")
def gunicorn(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    settings = {
        "CONFERENCE_WORKERS": str(WORKERS),
        "CONFERENCE_THREADS": str(THREADS),
        "CONFERENCE_DATABASE_URL": database,
        "CONFERENCE_SHARED_SECRET": SECRET,
    }
    log = tmp_path_factory.mktemp("gunicorn-pg") / "gunicorn.log"
    with gunicorn_backend(settings, log) as started:
        yield started


def _connections(database: str) -> list[str]:
    """application_name of every connection to the backend's database."""
    libpq = database.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [row[0] for row in rows]


def test_concurrent_writes_and_reads_across_workers(
    gunicorn: tuple[str, subprocess.Popen[bytes]], database: str
) -> None:
    url, _ = gunicorn
    headers = {"X-Conference-Secret": SECRET}

    def post(n: int) -> httpx.Response:
        body = {"rating": 1 + n % 5, "comment": f"concurrent {n}"}
        return httpx.post(f"{url}/session/101/feedback", json=body, headers=headers, timeout=10)

    def search(_: int) -> httpx.Response:
        return httpx.get(f"{url}/speakers?name=JOSE", headers=headers, timeout=10)

    with ThreadPoolExecutor(max_workers=16) as pool:
        posted = list(pool.map(post, range(40)))
        searched = list(pool.map(search, range(16)))
    assert [r.status_code for r in posted] == [201] * 40
    assert len({r.json()["id"] for r in posted}) == 40
    names = {tuple(i["name"] for i in r.json()["items"]) for r in searched}
    assert len(names) == 1 and any("José" in n for n in next(iter(names)))


def test_only_workers_hold_connections_and_within_their_threads(
    gunicorn: tuple[str, subprocess.Popen[bytes]], database: str
) -> None:
    url, master = gunicorn
    headers = {"X-Conference-Secret": SECRET}
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(
            pool.map(
                lambda n: httpx.get(f"{url}/speaker/{1 + n % 60}/sessions", headers=headers),
                range(200),
            )
        )
    assert {r.status_code for r in answers} == {200}
    holders = [name for name in _connections(database) if name.startswith("conference-backend/")]
    # The master prepared the database before forking; its connection must be gone.
    assert f"conference-backend/{master.pid}" not in holders
    assert 1 <= len(holders) <= WORKERS * THREADS, holders


def test_missing_binaries_name_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    # The one case in which the PostgreSQL tests skip: the reason must say what to install.
    monkeypatch.delenv("POSTGRES_BINDIR", raising=False)
    monkeypatch.setattr("tests.postgres.glob.glob", lambda _pattern: [])
    monkeypatch.setattr("tests.postgres.shutil.which", lambda _name: None)
    with pytest.raises(postgres.PostgresUnavailable, match=r"apt-get install -y postgresql"):
        postgres.find_bindir()
