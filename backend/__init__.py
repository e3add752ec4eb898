"""The Conference API: a Flask app serving speakers, sessions and topics as JSON.

Strategy: :func:`create_app` is the only entry point (gunicorn, ``flask --app
backend``, ``python -m backend``, tests). It reads the configuration
(:mod:`backend.config`), builds the database engine and :class:`Store`
(never at import time), prepares the schema and seed, and registers one
blueprint per resource plus the JSON error handler and the shared-secret
check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

from backend import cli, drain, errors, oauth, security, sessions, speakers, surface, topics
from backend.config import load_config
from backend.seed import prepare_database
from backend.storage import Store, create_db_engine

__all__ = ["create_app"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    config: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None
) -> Flask:
    """Build the app; ``config`` overrides defaults and ``CONFERENCE_*`` variables.

    ``environ`` replaces ``os.environ`` (tests); a ``CLOCK`` entry in ``config``
    (a callable returning an aware datetime) replaces the wall clock.
    """
    app = Flask(__name__)
    load_config(app.config, config, environ)
    # Keep the documented key order (id first): easier for people and LLMs.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    # werkzeug would answer "//speakers" with an HTML 308 redirect; a plain 404
    # in our JSON shape is the honest answer for a path we do not serve.
    app.url_map.merge_slashes = False
    engine = create_db_engine(app.config["DATABASE_URL"])
    seed_path = Path(app.config["SEED_PATH"]) if app.config["SEED_ON_START"] else None
    prepare_database(engine, seed_path)
    app.extensions["store"] = Store(engine)
    # Only a callable counts: an environment string must not replace the clock.
    configured = app.config.get("CLOCK")
    clock: Callable[[], datetime] = configured if callable(configured) else _utc_now
    app.extensions["clock"] = clock
    errors.init_app(app)
    security.init_app(app)
    drain.init_app(app)
    for blueprint in (speakers.bp, sessions.bp, topics.bp):
        app.register_blueprint(blueprint)
    surface.init_app(app)
    oauth.init_app(app, environ)
    cli.init_app(app)
    return app
