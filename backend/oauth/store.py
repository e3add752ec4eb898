"""Persistence of the authorization server: clients, codes and refresh tokens.

Strategy: SQLAlchemy Core on the backend's engine, so it runs on SQLite and PostgreSQL alike.
Single use is decided by the database, not by a read-then-write in Python: a code or refresh
token is consumed by ``UPDATE ... WHERE used_at IS NULL`` and only the request whose update hit
one row may issue tokens, so two concurrent redemptions cannot both succeed. Expired rows and
idle dynamic clients are purged on writes (bounded work, no background thread).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Engine, Row, and_, delete, func, insert, select, update

from backend.oauth.clients import OAuthClient
from backend.oauth.schema import oauth_clients, oauth_codes, oauth_refresh_tokens


def digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


class ClientCapacityError(Exception):
    """The cap on stored dynamic clients is reached."""


@dataclass(frozen=True, slots=True)
class CodeRecord:
    client_id: str
    consumer: str
    redirect_uri: str
    scope: str
    resource: str
    code_challenge: str | None
    code_challenge_method: str | None
    family: str
    expires_at: int
    used: bool
    code_hash: str

    # Authlib's AuthorizationCodeMixin
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass(frozen=True, slots=True)
class RefreshRecord:
    token_hash: str
    family: str
    client_id: str
    consumer: str
    scope: str
    resource: str
    expires_at: int
    used: bool
    revoked: bool

    # Authlib's TokenMixin (as far as the refresh and revocation endpoints use it)
    def check_client(self, client: OAuthClient) -> bool:
        return bool(client.client_id == self.client_id)

    def get_scope(self) -> str:
        return self.scope


class OAuthStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- clients ---------------------------------------------------------------------------

    def dynamic_client(self, client_id: str) -> OAuthClient | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(oauth_clients).where(oauth_clients.c.client_id == client_id)
            ).first()
        if row is None:
            return None
        return OAuthClient(
            client_id=row.client_id,
            client_name=row.client_name,
            redirect_uris=tuple(json.loads(row.redirect_uris)),
            kind=row.kind,
        )

    def add_dynamic_client(
        self, name: str, redirect_uris: tuple[str, ...], now: int, *, cap: int, idle: int
    ) -> OAuthClient:
        client_id = "dyn-" + secrets.token_urlsafe(18)
        with self.engine.begin() as conn:
            conn.execute(delete(oauth_clients).where(oauth_clients.c.last_used_at < now - idle))
            count = conn.execute(select(func.count()).select_from(oauth_clients)).scalar_one()
            if count >= cap:
                raise ClientCapacityError
            conn.execute(
                insert(oauth_clients).values(
                    client_id=client_id,
                    kind="dynamic",
                    client_name=name,
                    redirect_uris=json.dumps(list(redirect_uris)),
                    created_at=now,
                    last_used_at=now,
                )
            )
        return OAuthClient(client_id, name, redirect_uris, "dynamic")

    def touch_client(self, client_id: str, now: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(oauth_clients)
                .where(oauth_clients.c.client_id == client_id)
                .values(last_used_at=now)
            )

    # --- authorization codes -----------------------------------------------------------------

    def _row_by_digest(self, column: Column[str], secret: str) -> Row[Any] | None:
        """The row of ``column``'s table whose hash column matches ``secret`` (stored hashed)."""
        with self.engine.connect() as conn:
            return conn.execute(select(column.table).where(column == digest(secret))).first()

    def save_code(self, code: str, values: Mapping[str, Any], now: int) -> None:
        with self.engine.begin() as conn:
            # Used codes are kept a while after expiry so a late replay still revokes.
            conn.execute(delete(oauth_codes).where(oauth_codes.c.expires_at < now - 3600))
            conn.execute(insert(oauth_codes).values(code_hash=digest(code), **values))

    def find_code(self, code: str) -> CodeRecord | None:
        row = self._row_by_digest(oauth_codes.c.code_hash, code)
        if row is None:
            return None
        return CodeRecord(
            client_id=row.client_id,
            consumer=row.consumer,
            redirect_uri=row.redirect_uri,
            scope=row.scope,
            resource=row.resource,
            code_challenge=row.code_challenge,
            code_challenge_method=row.code_challenge_method,
            family=row.family,
            expires_at=row.expires_at,
            used=row.used_at is not None,
            code_hash=row.code_hash,
        )

    def consume_code(self, code_hash: str, now: int) -> bool:
        """Mark the code used; True only for the one request that did it."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(oauth_codes)
                .where(and_(oauth_codes.c.code_hash == code_hash, oauth_codes.c.used_at.is_(None)))
                .values(used_at=now)
            )
        return bool(result.rowcount == 1)

    # --- refresh tokens -------------------------------------------------------------------------

    def save_refresh(self, token: str, values: Mapping[str, Any], now: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(oauth_refresh_tokens).where(oauth_refresh_tokens.c.expires_at < now)
            )
            conn.execute(
                insert(oauth_refresh_tokens).values(
                    token_hash=digest(token), revoked=False, **values
                )
            )

    def find_refresh(self, token: str) -> RefreshRecord | None:
        row = self._row_by_digest(oauth_refresh_tokens.c.token_hash, token)
        if row is None:
            return None
        return RefreshRecord(
            token_hash=row.token_hash,
            family=row.family,
            client_id=row.client_id,
            consumer=row.consumer,
            scope=row.scope,
            resource=row.resource,
            expires_at=row.expires_at,
            used=row.used_at is not None,
            revoked=bool(row.revoked),
        )

    def consume_refresh(self, token_hash: str, now: int) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(oauth_refresh_tokens)
                .where(
                    and_(
                        oauth_refresh_tokens.c.token_hash == token_hash,
                        oauth_refresh_tokens.c.used_at.is_(None),
                        oauth_refresh_tokens.c.revoked.is_(False),
                    )
                )
                .values(used_at=now)
            )
        return bool(result.rowcount == 1)

    def revoke_family(self, family: str) -> int:
        """Revoke every refresh token of a family (reuse, replayed code, RFC 7009)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(oauth_refresh_tokens)
                .where(oauth_refresh_tokens.c.family == family)
                .values(revoked=True)
            )
        return int(result.rowcount)
