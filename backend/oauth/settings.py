"""The authorization server's settings, read once from the app configuration.

Strategy: every OAuth value is a ``CONFERENCE_OAUTH_*`` variable (see .env.example), turned into
one frozen :class:`OAuthSettings` at app creation, with the protocol bounds enforced here so a
misconfiguration fails at start, not on the first sign-in: access tokens live at most 10 minutes,
codes at most 60 seconds. The issuer and the resource identifiers derive from ``PUBLIC_URL``.
PEM keys may be given with literal ``\\n`` (one line in .env, as APISIX's ``${{VAR}}``
substitution needs it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend.config import ConfigError
from backend.oauth.consumers import Consumer, load_consumers

MAX_ACCESS_TOKEN_SECONDS = 600
MAX_CODE_SECONDS = 60

DEFAULTS: dict[str, Any] = {
    "OAUTH_SIGNING_KEY": "",
    "OAUTH_ACCESS_TOKEN_SECONDS": 300,
    "OAUTH_REFRESH_TOKEN_SECONDS": 30 * 24 * 3600,
    "OAUTH_CODE_SECONDS": 60,
    "OAUTH_MAX_CLIENTS": 1000,
    "OAUTH_CLIENT_IDLE_SECONDS": 30 * 24 * 3600,
    "OAUTH_GPT_ACTIONS_SECRET": "",
    "OAUTH_GPT_ACTIONS_REDIRECT_URIS": "",
    # Client ID Metadata Documents from loopback/private addresses: tests only.
    "OAUTH_CIMD_ALLOW_PRIVATE": False,
    "OAUTH_CIMD_TIMEOUT_SECONDS": 3.0,
    "OAUTH_CIMD_MAX_BYTES": 16384,
    "OAUTH_CIMD_CACHE_SECONDS": 300,
    "OAUTH_CIMD_CACHE_ENTRIES": 256,
}

#: The pre-registered confidential client for GPT Actions (its secret is entered in the editor).
GPT_ACTIONS_CLIENT_ID = "gpt-actions"


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    issuer: str
    #: Resource identifier of the REST API and the context routes (RFC 8707 / RFC 9728).
    api_resource: str
    signing_key_pem: str
    access_token_seconds: int
    refresh_token_seconds: int
    code_seconds: int
    max_clients: int
    client_idle_seconds: int
    gpt_actions_secret: str
    gpt_actions_redirect_uris: tuple[str, ...]
    cimd_allow_private: bool
    cimd_timeout_seconds: float
    cimd_max_bytes: int
    cimd_cache_seconds: int
    cimd_cache_entries: int
    consumers: tuple[Consumer, ...]

    @property
    def mcp_resource(self) -> str:
        """Resource identifier of the MCP endpoint: its own audience (a REST token is refused)."""
        return f"{self.issuer}/mcp"

    @property
    def resources(self) -> tuple[str, ...]:
        """Every resource a token may be issued for."""
        return (self.api_resource, self.mcp_resource)

    def resource_metadata_url(self, resource: str) -> str:
        """RFC 9728 section 3.1: the well-known segment goes before the resource's path."""
        path = resource[len(self.issuer) :]
        return f"{self.issuer}/.well-known/oauth-protected-resource{path}"


def pem(value: str) -> str:
    """A PEM given on one line with literal ``\\n`` separators, as a normal PEM."""
    return value.replace("\\n", "\n").strip() + "\n"


def load_settings(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> OAuthSettings:
    values = {key: config.get(key, default) for key, default in DEFAULTS.items()}
    public = str(config["PUBLIC_URL"]).rstrip("/")
    integers = {}
    for key in (
        "OAUTH_ACCESS_TOKEN_SECONDS",
        "OAUTH_REFRESH_TOKEN_SECONDS",
        "OAUTH_CODE_SECONDS",
        "OAUTH_MAX_CLIENTS",
        "OAUTH_CLIENT_IDLE_SECONDS",
        "OAUTH_CIMD_MAX_BYTES",
        "OAUTH_CIMD_CACHE_SECONDS",
        "OAUTH_CIMD_CACHE_ENTRIES",
    ):
        try:
            integers[key] = int(values[key])
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be an integer, got {values[key]!r}") from None
        if integers[key] <= 0:
            raise ConfigError(f"{key} must be positive, got {values[key]!r}")
    if integers["OAUTH_ACCESS_TOKEN_SECONDS"] > MAX_ACCESS_TOKEN_SECONDS:
        raise ConfigError(f"OAUTH_ACCESS_TOKEN_SECONDS must be at most {MAX_ACCESS_TOKEN_SECONDS}")
    if integers["OAUTH_CODE_SECONDS"] > MAX_CODE_SECONDS:
        raise ConfigError(f"OAUTH_CODE_SECONDS must be at most {MAX_CODE_SECONDS}")
    allow_private = values["OAUTH_CIMD_ALLOW_PRIVATE"]
    if isinstance(allow_private, str):
        allow_private = allow_private.strip().lower() in ("1", "true", "yes", "on")
    redirects = tuple(
        uri.strip()
        for uri in str(values["OAUTH_GPT_ACTIONS_REDIRECT_URIS"]).split(",")
        if uri.strip()
    )
    signing_key = str(values["OAUTH_SIGNING_KEY"])
    return OAuthSettings(
        issuer=public,
        api_resource=public,
        signing_key_pem=pem(signing_key) if signing_key.strip() else "",
        access_token_seconds=integers["OAUTH_ACCESS_TOKEN_SECONDS"],
        refresh_token_seconds=integers["OAUTH_REFRESH_TOKEN_SECONDS"],
        code_seconds=integers["OAUTH_CODE_SECONDS"],
        max_clients=integers["OAUTH_MAX_CLIENTS"],
        client_idle_seconds=integers["OAUTH_CLIENT_IDLE_SECONDS"],
        gpt_actions_secret=str(values["OAUTH_GPT_ACTIONS_SECRET"]),
        gpt_actions_redirect_uris=redirects,
        cimd_allow_private=bool(allow_private),
        cimd_timeout_seconds=float(values["OAUTH_CIMD_TIMEOUT_SECONDS"]),
        cimd_max_bytes=integers["OAUTH_CIMD_MAX_BYTES"],
        cimd_cache_seconds=integers["OAUTH_CIMD_CACHE_SECONDS"],
        cimd_cache_entries=integers["OAUTH_CIMD_CACHE_ENTRIES"],
        consumers=load_consumers(_key_source(config, environ)),
    )


def _key_source(config: Mapping[str, Any], environ: Mapping[str, str] | None) -> dict[str, str]:
    """Consumer API keys: the unprefixed variables the gateway reads, overridable by config."""
    source = dict(os.environ if environ is None else environ)
    for name in ("CHATGPT_API_KEY", "READONLY_API_KEY"):
        if isinstance(config.get(name), str):
            source[name] = config[name]
    return source
