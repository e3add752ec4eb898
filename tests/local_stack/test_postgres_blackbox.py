"""The black-box suite (tests/integration) once more, with the stack's backend on PostgreSQL.

``make test`` runs the suite against a stack whose backend uses SQLite; this runs the very same
``python -m stack test`` with ``STACK_TEST_DATABASE_URL`` naming a database on the throw-away
PostgreSQL server (tests/postgres.py), then checks that the suite's writes landed there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_black_box_suite_passes_on_postgresql(postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("blackbox")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFERENCE_")}
    env.pop("DATABASE_URL", None)
    env["STACK_TEST_DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", "stack", "test", "--", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=850,
    )
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, output[-6000:]
    assert " passed" in output and " failed" not in output
    # The suite's feedback POSTs were stored on PostgreSQL, not in a SQLite file.
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq, connect_timeout=5) as conn:
        speakers = conn.execute("SELECT count(*) FROM speakers").fetchone()
        feedback = conn.execute("SELECT count(*) FROM feedback").fetchone()
    assert speakers is not None and speakers[0] >= 60
    assert feedback is not None and feedback[0] >= 1
