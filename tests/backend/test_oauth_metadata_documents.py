"""Client ID Metadata Documents fetched from a real HTTPS server on loopback.

Loopback is only reachable because these tests set ``OAUTH_CIMD_ALLOW_PRIVATE`` (the test-only
switch); one test shows the default refuses it before connecting.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from tests.backend.oauth_helpers import (
    CHATGPT_KEY,
    Clock,
    Flow,
    authorize_query,
    oauth_config,
    pkce,
    redirect_params,
    submit,
)
from tests.backend.oauth_helpers import exchange as exchange_code


@dataclass
class DocumentServer:
    base: str
    #: path -> (status, headers, body, delay seconds)
    answers: dict[str, tuple[int, dict[str, str], bytes, float]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    context: ssl.SSLContext | None = None

    def document(self, path: str, **changes: Any) -> str:
        url = f"{self.base}{path}"
        doc = {
            "client_id": url,
            "client_name": "Metadata document client",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "none",
        }
        doc.update(changes)
        body = json.dumps({k: v for k, v in doc.items() if v is not None}).encode()
        self.answers[path] = (200, {"Content-Type": "application/json"}, body, 0.0)
        return url


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def documents(tmp_path: Path) -> Iterator[DocumentServer]:
    cert, key = _certificate(tmp_path)
    state = DocumentServer(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state.hits.append(self.path)
            status, headers, body, delay = state.answers.get(
                self.path, (404, {}, b"not found", 0.0)
            )
            time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass  # the fetcher gave up (size or time bound)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"https://localhost:{server.server_address[1]}"
    state.context = ssl.create_default_context(cafile=str(cert))
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def cimd_app(
    make_app: Callable[..., Flask], documents: DocumentServer
) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    context = documents.context
    assert context is not None

    def build(**overrides: Any) -> Flask:
        config = oauth_config(
            Clock(),
            OAUTH_CIMD_ALLOW_PRIVATE=True,
            OAUTH_CIMD_TIMEOUT_SECONDS=1.0,
            OAUTH_HTTP_CLIENT=httpx.Client(verify=context),
        )
        config.update(overrides)
        app = make_app(**config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["store"].engine.dispose()


def _authorize_status(app: Flask, client_id: str) -> tuple[int, dict[str, Any] | str]:
    _, challenge = pkce()
    response = app.test_client().get(
        "/oauth/authorize", query_string=authorize_query(client_id, challenge)
    )
    body = response.get_json(silent=True)
    return response.status_code, body if body is not None else response.get_data(as_text=True)


def test_metadata_document_client_signs_in_and_gets_a_token(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    client_id = documents.document("/clients/app.json")
    client = cimd_app().test_client()
    verifier, challenge = pkce()
    page = client.get("/oauth/authorize", query_string=authorize_query(client_id, challenge))
    assert page.status_code == 200
    assert "Metadata document client" in page.get_data(as_text=True)
    code = redirect_params(submit(client, authorize_query(client_id, challenge), CHATGPT_KEY))[
        "code"
    ]
    assert exchange_code(client, Flow(client_id, verifier, code)).status_code == 200
    # Cached: the three requests above fetched the document once.
    assert documents.hits == ["/clients/app.json"]


def test_loopback_document_is_refused_by_default_without_connecting(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    client_id = documents.document("/clients/app.json")
    status, body = _authorize_status(cimd_app(OAUTH_CIMD_ALLOW_PRIVATE=False), client_id)
    assert status == 400 and isinstance(body, dict) and body["error"] == "invalid_client"
    assert documents.hits == []


def test_http_client_id_url_is_not_fetched(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    documents.document("/clients/app.json")
    http_url = documents.base.replace("https://", "http://") + "/clients/app.json"
    status, _ = _authorize_status(cimd_app(), http_url)
    assert status == 400
    assert documents.hits == []


def test_document_naming_another_client_id_is_refused(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    client_id = documents.document("/clients/app.json", client_id="https://other.example/x")
    assert _authorize_status(cimd_app(), client_id)[0] == 400


def test_document_with_a_bad_redirect_uri_is_refused(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    client_id = documents.document("/c.json", redirect_uris=["http://evil.example/cb"])
    assert _authorize_status(cimd_app(), client_id)[0] == 400


def test_oversized_document_is_refused(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    client_id = documents.document("/big.json", client_name="x" * 100, padding="y" * 40000)
    assert _authorize_status(cimd_app(), client_id)[0] == 400


def test_redirects_are_not_followed(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    target = documents.document("/real.json")
    documents.answers["/moved.json"] = (302, {"Location": target}, b"", 0.0)
    assert _authorize_status(cimd_app(), f"{documents.base}/moved.json")[0] == 400
    assert documents.hits == ["/moved.json"]


def test_slow_document_is_refused_within_the_time_bound(
    cimd_app: Callable[..., Flask], documents: DocumentServer
) -> None:
    client_id = documents.document("/slow.json")
    status, headers, body, _ = documents.answers["/slow.json"]
    documents.answers["/slow.json"] = (status, headers, body, 3.0)
    # Without the bound the fetch would succeed after 3 s; refusal shows the bound fired.
    assert _authorize_status(cimd_app(OAUTH_CIMD_TIMEOUT_SECONDS=0.5), client_id)[0] == 400
