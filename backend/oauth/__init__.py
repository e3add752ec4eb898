"""OAuth 2.1 authorization server of the Conference API (Authlib), and its resource checks.

Strategy: an optional part of the backend app. :func:`init_app` reads the settings once; without
a signing key (``CONFERENCE_OAUTH_SIGNING_KEY``, generated into .env by the stack) nothing is
registered and the OAuth paths answer the backend's JSON 404. With one, it builds the store,
the token issuer, the metadata-document fetcher and the Authlib server, registers the endpoints
(:mod:`backend.oauth.views`), and installs the bearer checks on the REST routes
(:mod:`backend.oauth.resource`). Layout and protocol choices: docs/oauth.md.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import datetime

import httpx
from flask import Flask

from backend.oauth import resource, views
from backend.oauth.cimd import MetadataDocumentClients
from backend.oauth.server import ConferenceAuthorizationServer
from backend.oauth.settings import OAuthSettings, load_settings
from backend.oauth.store import OAuthStore
from backend.oauth.tokens import TokenIssuer
from backend.storage import Store

__all__ = ["init_app"]

logger = logging.getLogger(__name__)


def init_app(app: Flask, environ: Mapping[str, str] | None = None) -> OAuthSettings | None:
    settings = load_settings(app.config, environ)
    if not settings.signing_key_pem:
        logger.warning("CONFERENCE_OAUTH_SIGNING_KEY is not set: OAuth sign-in is disabled")
        return None
    store = app.extensions["store"]
    assert isinstance(store, Store)
    clock: Callable[[], datetime] = app.extensions["clock"]
    tokens = TokenIssuer(settings.signing_key_pem, settings.issuer, settings.access_token_seconds)
    documents = MetadataDocumentClients(
        http=app.config.get("OAUTH_HTTP_CLIENT")
        or httpx.Client(timeout=settings.cimd_timeout_seconds, follow_redirects=False),
        allow_private=settings.cimd_allow_private,
        timeout=settings.cimd_timeout_seconds,
        max_bytes=settings.cimd_max_bytes,
        cache_seconds=settings.cimd_cache_seconds,
        cache_entries=settings.cimd_cache_entries,
    )
    server = ConferenceAuthorizationServer(
        settings, OAuthStore(store.engine), tokens, documents, clock
    )
    app.extensions["oauth_server"] = server
    # The consent form's CSRF MACs use a key derived from the signing key (no extra secret).
    app.extensions["oauth_csrf_key"] = hmac.new(
        settings.signing_key_pem.encode(), b"consent-csrf", hashlib.sha256
    ).digest()
    app.register_blueprint(views.bp)
    resource.init_app(app, settings, tokens.public_key_pem(), clock)
    return settings
