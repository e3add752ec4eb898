"""Fixtures shared by every test directory: a real PostgreSQL server.

``postgres_url`` gives each test an empty database on one server per test session (see
tests/postgres.py); whatever the test creates is gone before the next one starts. Both fixtures skip
with the reason when PostgreSQL's binaries are missing, and only then.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except PostgresUnavailable as missing:
        pytest.skip(str(missing))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL (``postgresql+psycopg://``) of an empty database for this test.

    Dispose of the test's engines at teardown: the next test's reset closes leftover
    connections, and psycopg warns about a connection collected while still open.
    """
    return postgres_server.empty_database()
