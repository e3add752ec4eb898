"""``flask --app backend seed``: create the schema and load the seed data."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from backend.seed import prepare_database
from backend.storage import current_store


@click.command("seed")
@click.option(
    "--file",
    "seed_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Seed JSON to load (default: the configured SEED_PATH).",
)
@with_appcontext
def seed_command(seed_file: Path | None) -> None:
    """Create missing tables and load the seed into an empty database (idempotent)."""
    path = seed_file or Path(current_app.config["SEED_PATH"])
    store = current_store()
    loaded = prepare_database(store.engine, path)
    counts = ", ".join(
        f"{store.count(table)} {table}" for table in ("speakers", "sessions", "topics", "feedback")
    )
    click.echo(f"seed loaded from {path}" if loaded else "database already seeded; nothing changed")
    click.echo(f"database now holds {counts}")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_command)
