"""Fixtures for the backend tests: a real app on a fresh database per test (SQLite, PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import create_app
from backend.config import NO_SECRET_OPT_OUT

#: Fixed "now" of the injected clock (feedback created_at).
FIXED_NOW = datetime(2026, 6, 9, 12, 30, tzinfo=UTC)
TEST_SECRET = "test-only-secret"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's shell must not leak configuration into the tests."""
    for name in list(os.environ):
        if name.startswith("CONFERENCE_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every backend test runs on a fresh SQLite file and on a fresh PostgreSQL database."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'conference.sqlite3'}"


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps on the same per-test database; mapping overrides allowed.

    Tests of the API itself opt out of the shared secret explicitly (the
    ``secret_client`` and test_backend_security cover the check).
    """

    def factory(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "TESTING": True,
            NO_SECRET_OPT_OUT: True,
            "DATABASE_URL": database_url,
            "PUBLIC_URL": "https://conference.example.test",
            "CLOCK": lambda: FIXED_NOW,
        }
        config.update(overrides)
        application = create_app(config)
        built.append(application)
        return application

    built: list[Flask] = []
    yield factory
    # Pooled connections closed before the database is dropped (no "deleted while open").
    for application in built:
        application.extensions["store"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def secret_client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(SHARED_SECRET=TEST_SECRET).test_client()
