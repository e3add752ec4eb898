"""Fixtures for the MCP plugin tests: the real Flask backend (shared with the context tests)."""

from __future__ import annotations

from tests.context.conftest import backend_url, flask_app  # noqa: F401 - pytest fixtures
