"""Tables of the authorization server (SQLAlchemy Core, portable to SQLite and PostgreSQL).

Strategy: secrets are never stored: codes, refresh tokens and client secrets are kept as their
SHA-256 (hex), so a database dump grants nothing. Times are integer Unix seconds, the same on
every database. A code row stays after use (``used_at``) so a replay is recognised and the
tokens issued from it are revoked (OAuth 2.1 section 4.1.2); expired rows are purged on write.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text

from backend.schema import metadata

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    # "dynamic" (RFC 7591), "metadata-document" (CIMD cache is in memory, not here), "static".
    Column("kind", String(20), nullable=False),
    Column("client_name", String(200), nullable=False),
    # JSON list of the registered redirect URIs.
    Column("redirect_uris", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Dynamic clients unused for a while expire (settings.client_idle_seconds).
    Column("last_used_at", BigInteger, nullable=False, index=True),
)

oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    # Up to 500: a Client ID Metadata Document's client_id is its URL.
    Column("client_id", String(500), nullable=False),
    Column("consumer", String(100), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", String(200), nullable=False),
    Column("resource", String(500), nullable=False),
    Column("code_challenge", String(128), nullable=True),
    Column("code_challenge_method", String(10), nullable=True),
    # The token family the code's tokens get: a replayed code revokes it.
    Column("family", String(64), nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
    Column("used_at", BigInteger, nullable=True),
)

oauth_refresh_tokens = Table(
    "oauth_refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family", String(64), nullable=False),
    Column("client_id", String(500), nullable=False),
    Column("consumer", String(100), nullable=False),
    Column("scope", String(200), nullable=False),
    Column("resource", String(500), nullable=False),
    Column("expires_at", BigInteger, nullable=False, index=True),
    # Set when rotated: presenting it again is a reuse and revokes the family.
    Column("used_at", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
    Index("ix_oauth_refresh_tokens_family", "family"),
)
