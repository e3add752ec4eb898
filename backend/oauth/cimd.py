"""Client ID Metadata Documents: a ``client_id`` that is an https URL we fetch and trust.

Strategy (draft-ietf-oauth-client-id-metadata-document, MCP 2025-11-25): the client's identity
is the URL it controls; the document there lists its name and redirect URIs, and its
``client_id`` must be exactly that URL. Fetching a URL chosen by the caller is a server-side
request forgery risk, so: https only, no credentials or fragment in the URL, every address the
host resolves to must be public (loopback/private only when the operator's test setting allows
it), no redirects followed, a total time bound and a byte bound on the body, JSON object only.
Good documents are cached (bounded entries, bounded age) so a burst of sign-ins does not refetch.
Known limit: the address check and the connection resolve the name separately (a DNS-rebinding
window of one lookup); the connect, the body size and the time stay bounded either way.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from backend.oauth.clients import OAuthClient, RegistrationError, validate_registration

logger = logging.getLogger(__name__)

Resolver = Callable[[str, int], list[str]]


class MetadataDocumentError(Exception):
    """The client_id URL cannot be used as a client (the reason is safe to show)."""


def is_metadata_document_id(client_id: str) -> bool:
    return client_id.startswith("https://")


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class MetadataDocumentClients:
    def __init__(
        self,
        *,
        http: httpx.Client,
        allow_private: bool,
        timeout: float,
        max_bytes: int,
        cache_seconds: int,
        cache_entries: int,
        resolver: Resolver = _resolve,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._allow_private = allow_private
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._cache_seconds = cache_seconds
        self._cache_entries = cache_entries
        self._resolver = resolver
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, OAuthClient]] = OrderedDict()
        self._lock = threading.Lock()

    def client(self, url: str) -> OAuthClient:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(url)
            if hit is not None and hit[0] > now:
                self._cache.move_to_end(url)
                return hit[1]
        client = self._fetch(url)
        with self._lock:
            self._cache[url] = (now + self._cache_seconds, client)
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)
        return client

    def _check_url(self, url: str) -> tuple[str, int]:
        if len(url) > 500:
            raise MetadataDocumentError("The client_id URL is longer than 500 characters.")
        try:
            parts = urlsplit(url)
            port = parts.port or 443
        except ValueError:
            raise MetadataDocumentError("The client_id is not a valid URL.") from None
        if parts.scheme != "https" or not parts.hostname:
            raise MetadataDocumentError("A client_id URL must use https.")
        if parts.username or parts.password or parts.fragment:
            raise MetadataDocumentError("A client_id URL may not carry credentials or a fragment.")
        if parts.path in ("", "/"):
            raise MetadataDocumentError("A client_id URL must have a path.")
        return parts.hostname, port

    def _check_addresses(self, host: str, port: int) -> None:
        try:
            addresses = self._resolver(host, port)
        except OSError:
            raise MetadataDocumentError("The client_id host does not resolve.") from None
        if not addresses:
            raise MetadataDocumentError("The client_id host does not resolve.")
        if self._allow_private:
            return
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global:
                raise MetadataDocumentError(
                    "The client_id host resolves to a private or loopback address."
                )

    def _fetch(self, url: str) -> OAuthClient:
        host, port = self._check_url(url)
        self._check_addresses(host, port)
        deadline = time.monotonic() + self._timeout
        try:
            with self._http.stream(
                "GET",
                url,
                headers={"Accept": "application/json"},
                follow_redirects=False,
                timeout=self._timeout,
            ) as response:
                if response.status_code != 200:
                    raise MetadataDocumentError(
                        f"Fetching the client metadata document answered {response.status_code}."
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise MetadataDocumentError("The client metadata document is too large.")
                    if time.monotonic() > deadline:
                        raise MetadataDocumentError(
                            "Fetching the client metadata document timed out."
                        )
        except httpx.HTTPError as exc:
            logger.info("client metadata document %s: %s", url, type(exc).__name__)
            raise MetadataDocumentError(
                "The client metadata document could not be fetched."
            ) from None
        try:
            document = json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise MetadataDocumentError("The client metadata document is not JSON.") from None
        if not isinstance(document, dict) or document.get("client_id") != url:
            raise MetadataDocumentError(
                "The client metadata document's client_id must equal its URL."
            )
        try:
            name, uris = validate_registration(
                {k: v for k, v in document.items() if k != "client_id"}
            )
        except RegistrationError as exc:
            raise MetadataDocumentError(f"Client metadata document: {exc.description}") from None
        return OAuthClient(url, name, uris, "metadata-document")
