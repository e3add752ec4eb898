"""Configuration: defaults, then the environment, then the caller's mapping.

Strategy: Flask's ``Config`` is the single store. Defaults come first; the
conventional unprefixed ``DATABASE_URL`` is honoured next; then every
``CONFERENCE_<KEY>`` variable (``from_prefixed_env``) and finally the mapping
given to ``create_app`` (tests). Environment values are read as plain strings
-- a secret such as ``123`` or ``true`` must not turn into a number or a bool
-- and the few typed keys are converted explicitly, with one clear error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Config

from backend.seed import DEFAULT_SEED_PATH

REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": f"sqlite:///{REPO_ROOT / 'var' / 'conference.sqlite3'}",
    # Required: create_app refuses to build an app without it (see require_secret).
    "SHARED_SECRET": "",
    "SECRET_HEADER": "X-Conference-Secret",
    "PUBLIC_URL": "http://localhost:9080",
    "SEED_ON_START": True,
    "SEED_PATH": str(DEFAULT_SEED_PATH),
    # Werkzeug answers 413 beyond this many request-body bytes.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "CONTACT_EMAIL": "support@example.com",
    "LEGAL_INFO_URL": "https://example.com/legal",
    # Token ChatGPT shows when a plugin with service-level auth is installed.
    "OPENAI_VERIFICATION_TOKEN": "",
}

_BOOLEAN_KEYS = ("SEED_ON_START",)

#: The one way to run without a shared secret: a test's own mapping sets both
#: ``TESTING`` and this key to the boolean ``True``. Environment values are
#: always strings, so no variable (``CONFERENCE_TESTING=true`` included) can
#: switch the check off in a deployment.
NO_SECRET_OPT_OUT = "TESTING_WITHOUT_SHARED_SECRET"
_INTEGER_KEYS = ("MAX_CONTENT_LENGTH",)


class ConfigError(ValueError):
    """A configuration value that cannot be used; names the key."""


def load_config(
    config: Config, overrides: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> None:
    """Fill ``config`` from defaults, the environment and ``overrides``, in that order."""
    env = os.environ if environ is None else environ
    config.from_mapping(DEFAULTS)
    if "DATABASE_URL" in env:
        config["DATABASE_URL"] = env["DATABASE_URL"]
    if environ is None:
        config.from_prefixed_env("CONFERENCE", loads=str)
    else:
        prefix = "CONFERENCE_"
        config.update({k[len(prefix) :]: v for k, v in env.items() if k.startswith(prefix)})
    if overrides:
        config.from_mapping(overrides)
    _coerce(config)


def _coerce(config: Config) -> None:
    for key in _BOOLEAN_KEYS:
        value = config[key]
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ConfigError(f"{key} must be a boolean (true/false), got {value!r}")
            config[key] = lowered in ("1", "true", "yes", "on")
    for key in _INTEGER_KEYS:
        value = config[key]
        if isinstance(value, str):
            try:
                config[key] = int(value)
            except ValueError:
                raise ConfigError(f"{key} must be an integer, got {value!r}") from None
    for key in ("SHARED_SECRET", "PUBLIC_URL", "DATABASE_URL"):
        if not isinstance(config[key], str):
            raise ConfigError(f"{key} must be a string")
    config["PUBLIC_URL"] = config["PUBLIC_URL"].rstrip("/")
    require_secret(config)


def require_secret(config: Config) -> None:
    """Fail closed: without a secret every caller could bypass the gateway."""
    if config["SHARED_SECRET"]:
        return
    if config.get("TESTING") is True and config.get(NO_SECRET_OPT_OUT) is True:
        return
    raise ConfigError(
        "CONFERENCE_SHARED_SECRET is not set: the backend refuses to start without the secret "
        "the gateway adds to every request (make up / make env-file generate it into .env)"
    )
