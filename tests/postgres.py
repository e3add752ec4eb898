"""A throw-away PostgreSQL server for tests: initdb + postgres in a temp dir on loopback.

Strategy: the binaries come from the distribution's package (Debian: ``apt-get install
postgresql``, which ``.ci/run`` does); :func:`find_bindir` says why when they are missing, and
the fixtures in tests/conftest.py turn that into a skip with the reason. initdb and postgres
refuse to run as root, so under root they run as the unprivileged ``postgres`` user (created by
the package), else ``nobody``. The server listens on 127.0.0.1 only, on a free port, with its
Unix socket inside its own directory; it trusts loopback connections, so no password exists
anywhere. Durability is switched off (fsync, synchronous_commit): the data dies with the test
run. Tests share one scratch database whose schema is recreated for each of them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.processes import free_port, stop

SUPERUSER = "conference"


class PostgresUnavailable(RuntimeError):
    """The binaries are missing; the message says what to install."""


def find_bindir() -> Path:
    """Directory holding initdb and postgres, or PostgresUnavailable naming the package."""
    candidates = [os.environ["POSTGRES_BINDIR"]] if os.environ.get("POSTGRES_BINDIR") else []
    # Debian keeps them off PATH, one directory per major version; newest first.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        bindir = Path(candidate)
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL binaries (initdb, postgres) not found: install them "
        "(`apt-get install -y postgresql`) or set POSTGRES_BINDIR"
    )


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root privileges (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    raise PostgresUnavailable("running as root and neither user postgres nor nobody exists")


class PostgresServer:
    """One running server; :meth:`create_database` hands out fresh, empty databases."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.root / "postgres.log"
        self._scratch: str | None = None

    @property
    def admin_url(self) -> str:
        return self.url("postgres")

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        privileges = _run_as()
        if privileges:
            os.chown(self.root, privileges["user"], privileges["group"])
        data = self.root / "data"
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                SUPERUSER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                # C.UTF-8 exists everywhere; collation never decides our ordering (ORDER BY id).
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **privileges,
        )
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    # Containers often have a tiny /dev/shm.
                    "-c",
                    "dynamic_shared_memory_type=mmap",
                    "-c",
                    "shared_buffers=32MB",
                    # gunicorn workers x pool size, plus the per-test engines.
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **privileges,
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self._log.read_text()}")
            try:
                with psycopg.connect(self._libpq("postgres"), connect_timeout=1):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres not ready: {self._log.read_text()}") from None
                time.sleep(0.1)

    def _libpq(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database (CREATE DATABASE costs ~0.25 s); returns its SQLAlchemy URL."""
        import psycopg

        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._libpq("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # our own name: letters, digits, _
        return self.url(name)

    def empty_database(self) -> str:
        """The URL of a database emptied for the caller: its ``public`` schema is recreated.

        One database is reused (recreating a schema takes milliseconds, a database a quarter
        of a second); connections left open by the previous user are closed first.
        """
        import psycopg

        if self._scratch is None:
            self._scratch = self.create_database("scratch")
        with psycopg.connect(self._libpq("scratch"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        return self._scratch

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: no waiting for clients to leave.
            stop(self._process, timeout=20, signum=signal.SIGINT)
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)
