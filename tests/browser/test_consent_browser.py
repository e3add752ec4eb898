"""The sign-in and consent page in a real browser (Debian's headless Chromium), at phone size,
with page scripts disabled: a person types the API key and taps Allow, and the client's
redirect URI receives the code. Skipped, with the reason, where Chromium is not installed
(``.ci/run`` installs it). ``CONSENT_SCREENSHOT_DIR=docs/images`` refreshes the docs' picture.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from werkzeug.serving import make_server

from backend import create_app
from tests.browser.cdp import chromium_path, phone_page
from tests.processes import free_port, oauth_key_pair

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="Chromium is not installed (apt-get install chromium); .ci/run installs it",
)

CHATGPT_KEY = "browser-test-chatgpt-key"
VERIFIER = secrets.token_urlsafe(48)


class _Callbacks(BaseHTTPRequestHandler):
    """The OAuth client's redirect URI: records what the browser brought back."""

    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        query = urlsplit(self.path).query
        self.seen.append({k: v[0] for k, v in parse_qs(query).items()})
        body = b"<!doctype html><title>done</title><p>Signed in.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def callback_server() -> Iterator[str]:
    _Callbacks.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Callbacks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


@pytest.fixture
def auth_server(tmp_path: Path) -> Iterator[str]:
    """The real backend app with OAuth, on a real loopback port (werkzeug's server)."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    app = create_app(
        {
            # The browser talks to the backend directly here (no gateway adding the secret).
            "TESTING": True,
            "TESTING_WITHOUT_SHARED_SECRET": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "PUBLIC_URL": public,
            "OAUTH_SIGNING_KEY": oauth_key_pair()[0],
            "CHATGPT_API_KEY": CHATGPT_KEY,
            "READONLY_API_KEY": "browser-test-readonly-key",
        },
        environ={},
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield public
    server.shutdown()
    app.extensions["store"].engine.dispose()


def _consent_url(public: str, redirect: str) -> tuple[str, str]:
    client_id = httpx.post(
        f"{public}/oauth/register",
        json={"client_name": "Claude (browser test)", "redirect_uris": [redirect]},
    ).json()["client_id"]
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "conference:read conference:feedback",
        "state": "browser-state",
        "code_challenge": base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest())
        .rstrip(b"=")
        .decode(),
        "code_challenge_method": "S256",
        "resource": public,
    }
    return client_id, f"{public}/oauth/authorize?{urlencode(query)}"


async def _wait_for_callback(timeout: float = 15) -> dict[str, str]:
    async with asyncio.timeout(timeout):
        while not _Callbacks.seen:
            await asyncio.sleep(0.05)
    return _Callbacks.seen[0]


async def test_a_person_signs_in_on_a_phone_without_javascript(
    auth_server: str, callback_server: str, tmp_path: Path
) -> None:
    client_id, url = _consent_url(auth_server, callback_server)
    async with phone_page() as page:
        await page.open(url)
        html = await page.html()
        assert "Claude (browser test)" in html
        assert "Post session feedback on your behalf" in html
        # Fits a 390 px wide screen: the card ends inside the viewport.
        left, _ = await page.center("main")
        assert 150 < left < 240
        right_edge = (await page.send("DOM.getBoxModel", nodeId=await _node(page, ".card")))[
            "model"
        ]["border"][2]
        assert right_edge <= 390
        await page.screenshot(str(tmp_path / "consent.png"))
        if os.environ.get("CONSENT_SCREENSHOT_DIR"):
            target = Path(os.environ["CONSENT_SCREENSHOT_DIR"]) / "oauth-consent.png"
            shutil.copyfile(tmp_path / "consent.png", target)
        await page.type_into("#api_key", CHATGPT_KEY)
        await page.click("button.allow")
        params = await _wait_for_callback()
    assert params["state"] == "browser-state"
    assert params["iss"] == auth_server
    assert len(params["code"]) >= 40
    # The code the browser carried is a real one: it buys a token.
    token = httpx.post(
        f"{auth_server}/oauth/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": callback_server,
            "client_id": client_id,
            "code_verifier": VERIFIER,
        },
    )
    assert token.status_code == 200, token.text
    assert (tmp_path / "consent.png").stat().st_size > 10_000


async def test_a_wrong_key_shows_an_error_and_goes_nowhere(
    auth_server: str, callback_server: str
) -> None:
    _, url = _consent_url(auth_server, callback_server)
    async with phone_page() as page:
        await page.open(url)
        await page.type_into("#api_key", "not-the-key")
        await page.click("button.allow")
        await page.wait_event("Page.loadEventFired")
        html = await page.html()
    assert "That API key is not valid." in html
    assert "not-the-key" not in html
    assert _Callbacks.seen == []


async def _node(page: Any, selector: str) -> int:
    root = await page.send("DOM.getDocument")
    found = await page.send("DOM.querySelector", nodeId=root["root"]["nodeId"], selector=selector)
    return int(found["nodeId"])
