"""Fixtures for the backend tests: a real app on a fresh SQLite file per test."""

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


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """Build apps on the same per-test database file; mapping overrides allowed.

    Tests of the API itself opt out of the shared secret explicitly (the
    ``secret_client`` and test_backend_security cover the check).
    """

    def factory(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "TESTING": True,
            NO_SECRET_OPT_OUT: True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'conference.sqlite3'}",
            "PUBLIC_URL": "https://conference.example.test",
            "CLOCK": lambda: FIXED_NOW,
        }
        config.update(overrides)
        return create_app(config)

    return factory


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    application = make_app()
    yield application
    application.extensions["store"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def secret_client(make_app: Callable[..., Flask]) -> Iterator[FlaskClient]:
    application = make_app(SHARED_SECRET=TEST_SECRET)
    yield application.test_client()
    application.extensions["store"].engine.dispose()
