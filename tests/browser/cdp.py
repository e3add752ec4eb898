"""A minimal Chrome DevTools Protocol driver: headless Chromium as a person would use a page.

Only what the consent-page test needs: open a URL at a phone's size, read the DOM, click and
type with synthetic input events (so the page itself needs no JavaScript; page scripts are
disabled), take a screenshot. The browser runs with a fresh profile, no network services of its
own, on loopback only.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx

from tests.processes import free_port, stop

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--remote-debugging-address=127.0.0.1",
)


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        async with asyncio.timeout(30):
            while True:
                message = json.loads((await self._ws.receive()).data)
                if message.get("id") == ident:
                    if "error" in message:
                        raise RuntimeError(f"{method}: {message['error']}")
                    result: dict[str, Any] = message.get("result", {})
                    return result
                self.events.append(message)

    async def wait_event(self, method: str, timeout: float = 30) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if event.get("method") == method:
                        self.events.remove(event)
                        return event
                message = json.loads((await self._ws.receive()).data)
                self.events.append(message)

    async def open(self, url: str) -> None:
        self.events.clear()
        await self.send("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired")

    async def center(self, selector: str) -> tuple[float, float]:
        root = await self.send("DOM.getDocument")
        found = await self.send(
            "DOM.querySelector", nodeId=root["root"]["nodeId"], selector=selector
        )
        if not found.get("nodeId"):
            raise AssertionError(f"no element matches {selector!r}")
        quad = (await self.send("DOM.getBoxModel", nodeId=found["nodeId"]))["model"]["border"]
        return (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2

    async def click(self, selector: str) -> None:
        x, y = await self.center(selector)
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1
            )

    async def type_into(self, selector: str, text: str) -> None:
        await self.click(selector)
        await self.send("Input.insertText", text=text)

    async def screenshot(self, path: str) -> None:
        data = (await self.send("Page.captureScreenshot", format="png"))["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))

    async def html(self) -> str:
        root = await self.send("DOM.getDocument")
        outer = await self.send("DOM.getOuterHTML", nodeId=root["root"]["nodeId"])
        return str(outer["outerHTML"])


@asynccontextmanager
async def phone_page(width: int = 390, height: int = 844) -> AsyncIterator[Page]:
    """A fresh headless Chromium with one page at a phone's size, page scripts disabled."""
    binary = chromium_path()
    assert binary is not None
    port = free_port()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    process = subprocess.Popen(
        [
            binary,
            *FLAGS,
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        target = await _page_target(port, process)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(target, max_msg_size=64 * 1024 * 1024) as ws,
        ):
            page = Page(ws)
            await page.send("Page.enable")
            await page.send("DOM.enable")
            await page.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=2,
                mobile=True,
            )
            await page.send("Emulation.setScriptExecutionDisabled", value=True)
            yield page
    finally:
        stop(process, timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


async def _page_target(port: int, process: subprocess.Popen[bytes]) -> str:
    deadline = asyncio.get_running_loop().time() + 30
    async with httpx.AsyncClient(timeout=2) as client:
        while asyncio.get_running_loop().time() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"chromium exited with {process.returncode}")
            try:
                targets = (await client.get(f"http://127.0.0.1:{port}/json/list")).json()
            except (httpx.HTTPError, ValueError):
                await asyncio.sleep(0.1)
                continue
            for target in targets:
                if target.get("type") == "page":
                    return str(target["webSocketDebuggerUrl"])
            await asyncio.sleep(0.1)
    raise RuntimeError("chromium's DevTools endpoint never answered")


SCREENSHOT_DIR = os.environ.get("CONSENT_SCREENSHOT_DIR")
