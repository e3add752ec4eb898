"""Blueprint for the ChatGPT plugin surface and the health probe.

Strategy: ``/.well-known/ai-plugin.json`` and ``/openapi.yaml`` describe the
PUBLIC API as clients see it through the gateway, so their URLs come from
``PUBLIC_URL``, never from the request's Host (which is the gateway's
upstream address). The OpenAPI text lives in one file,
``backend/static/openapi.yaml``; only its ``servers`` entry is rewritten, once
per public URL and process (a small bounded cache).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ServiceUnavailable

from backend.logo import png_logo
from backend.storage import current_store

logger = logging.getLogger(__name__)

OPENAPI_PATH = Path(__file__).resolve().parent / "static" / "openapi.yaml"
#: Public-cache lifetime of the static surface documents, in seconds.
_SURFACE_MAX_AGE = 300

# libyaml's C classes when present (10x faster), the pure-Python safe ones otherwise.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

bp = Blueprint("surface", __name__)


def manifest(config: Mapping[str, Any]) -> dict[str, Any]:
    """Build the legacy ChatGPT plugin manifest from the app configuration."""
    public = config["PUBLIC_URL"]
    token = config["OPENAI_VERIFICATION_TOKEN"]
    return {
        "schema_version": "v1",
        "name_for_human": "Conference Guide",
        "name_for_model": "conference_guide",
        "description_for_human": (
            "Speakers, sessions and topics of the conference, and session feedback."
        ),
        "description_for_model": (
            "Plugin for answering questions about a 3-day technical conference: speakers, "
            "their sessions (day, time, room, level) and topics. To answer about a person, "
            "prefer the speaker context operations: one call returns the speaker, all their "
            "sessions and topics. If a name matches several speakers you get candidates; ask "
            "the user which one. Only submit feedback when the user explicitly asks to."
        ),
        # OAuth: the authorization server's endpoints (backend/oauth). Its tokens arrive as
        # Authorization: Bearer, which the gateway's jwt-auth accepts; an API-key-only
        # declaration (service_http) would make such clients send a bearer key-auth refuses.
        "auth": {
            "type": "oauth",
            "client_url": f"{public}/oauth/authorize",
            "authorization_url": f"{public}/oauth/token",
            "scope": "conference:read conference:feedback",
            "authorization_content_type": "application/x-www-form-urlencoded",
            "verification_tokens": {"openai": token} if token else {},
        },
        "api": {
            "type": "openapi",
            "url": f"{public}/openapi.yaml",
            "is_user_authenticated": False,
        },
        "logo_url": f"{public}/logo.png",
        "contact_email": config["CONTACT_EMAIL"],
        "legal_info_url": config["LEGAL_INFO_URL"],
    }


def openapi_document(public_url: str) -> dict[str, Any]:
    """Load the OpenAPI document with its server set to ``public_url``."""
    document: dict[str, Any] = yaml.load(OPENAPI_PATH.read_text(encoding="utf-8"), Loader=_Loader)
    document["servers"] = [{"url": public_url, "description": "Conference gateway"}]
    flow = document["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    for field in ("authorizationUrl", "tokenUrl", "refreshUrl"):
        flow[field] = public_url + urlsplit(flow[field]).path
    return document


@bp.get("/.well-known/ai-plugin.json")
def ai_plugin() -> Response:
    response = jsonify(manifest(current_app.config))
    response.cache_control.max_age = _SURFACE_MAX_AGE
    return response


@lru_cache(maxsize=4)
def openapi_yaml_bytes(public_url: str) -> bytes:
    """The served OpenAPI text for ``public_url`` (cached: it is the same every time)."""
    document = openapi_document(public_url)
    return yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    ).encode("utf-8")


@bp.get("/openapi.yaml")
def openapi_yaml() -> Response:
    body = openapi_yaml_bytes(current_app.config["PUBLIC_URL"])
    response = Response(body, mimetype="application/yaml")
    response.cache_control.max_age = _SURFACE_MAX_AGE
    return response


@bp.get("/logo.png")
def logo() -> Response:
    response = Response(png_logo(), mimetype="image/png")
    response.cache_control.max_age = 86400
    return response


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    try:
        with current_store().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        logger.exception("health check: database unreachable")
        raise ServiceUnavailable(description="The database is unreachable.") from None
    return {"status": "ok"}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
