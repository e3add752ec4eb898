"""Proxying to an upstream: one pooled aiohttp client per upstream, APISIX's forwarding headers.

Strategy: an upstream's ``keepalive_pool.idle_timeout`` becomes the connector's keep-alive
timeout, its ``timeout`` the client's connect/read timeouts plus one outer
deadline covering connect + send + read. Connection failures map to 502 and timeouts to 504,
like nginx's ``proxy_pass``. Bodies are passed through untouched (no transparent
decompression) and read to the end within a size bound (a 502 past it), so a runaway upstream
cannot exhaust memory.
``keepalive_pool.size`` (idle connections kept) and ``.requests`` (reuses per connection) have no
aiohttp equivalent, so gateway/config.py refuses them at startup.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections.abc import Iterator, Mapping
from functools import reduce

import aiohttp
from multidict import CIMultiDict

from gateway.config import Node, Upstream
from gateway.settings import MAX_UPSTREAM_BODY

logger = logging.getLogger(__name__)


#: Hop-by-hop headers (RFC 9110 7.6.1) plus those the proxy itself recomputes.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        # The gateway answers Expect itself; nginx's proxy module clears it too.
        "expect",
    }
)


class UpstreamError(Exception):
    """The upstream could not be reached or answered badly; ``status`` is 502 or 504."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _weighted(nodes: tuple[Node, ...]) -> Iterator[Node]:
    divisor = reduce(math.gcd, (n.weight for n in nodes if n.weight > 0))
    expanded = [n for n in nodes for _ in range(n.weight // divisor)]
    return itertools.cycle(expanded)


class UpstreamClient:
    """Sends requests to one upstream's nodes, round robin by weight."""

    def __init__(self, upstream: Upstream, max_body: int = MAX_UPSTREAM_BODY) -> None:
        self.upstream = upstream
        self.max_body = max_body
        self._nodes = _weighted(upstream.nodes)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            up = self.upstream
            connector = aiohttp.TCPConnector(
                limit=0,  # nginx does not cap upstream connections either
                limit_per_host=0,
                keepalive_timeout=up.keepalive_idle_timeout,
                force_close=False,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=up.connect_timeout, sock_read=up.read_timeout
                ),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def host_header(self, node: Node, client_host: str | None) -> str | None:
        up = self.upstream
        if up.pass_host == "node":
            return node.host if node.port in (80, 443) else f"{node.host}:{node.port}"
        if up.pass_host == "rewrite":
            return up.upstream_host
        return client_host

    async def send(
        self,
        method: str,
        target: str,
        headers: CIMultiDict[str],
        body: bytes,
        host_override: str | None,
    ) -> tuple[int, CIMultiDict[str], bytes]:
        """Send one request; ``target`` is the encoded path plus query."""
        up = self.upstream
        node = next(self._nodes)
        out = CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)
        host = host_override or self.host_header(node, headers.get("Host"))
        if host is not None:
            out["Host"] = host
        if body:
            # An early error answer (413, 415) leaves the body unread; gunicorn then drops the
            # connection after a bounded drain despite announcing keep-alive, and a pooled
            # reuse racing with that drop was a 502 for the next request. nginx never keeps a
            # connection whose request body the upstream did not take; aiohttp cannot tell,
            # so a request with a body never leaves its connection in the pool.
            out["Connection"] = "close"
        url = f"{up.scheme}://{_netloc(node)}{target}"
        deadline = up.connect_timeout + up.send_timeout + up.read_timeout
        try:
            async with asyncio.timeout(deadline):
                async with self._client().request(
                    method,
                    url,
                    headers=out,
                    data=body if body else None,
                    allow_redirects=False,
                ) as response:
                    payload = await _read_body(response, self.max_body)
                    status = response.status
                    resp_headers = CIMultiDict(
                        (k, v)
                        for k, v in response.headers.items()
                        if k.lower() not in HOP_BY_HOP and k.lower() not in ("server", "date")
                    )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            logger.error("upstream timed out while reading response header from %s", url)
            raise UpstreamError(504, "upstream timed out") from exc
        except aiohttp.ClientError as exc:
            logger.error("upstream %s failed: %s", url, exc)
            raise UpstreamError(502, str(exc) or type(exc).__name__) from exc
        return status, resp_headers, payload


async def _read_body(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body, or UpstreamError(502) as soon as it is known to exceed ``limit``.

    ``StreamReader.read(n)`` returns whatever is buffered (one TCP read's worth), not ``n``
    bytes: a 1 MB body came back as its first ~128 KB with status 200. So read to the end,
    refusing early on a declared Content-Length past the bound; the caller's deadline bounds
    the time a slowly streamed body may take.
    """
    declared = response.content_length
    if declared is not None and declared > limit:
        logger.error("upstream body of %d bytes exceeds the %d-byte bound", declared, limit)
        raise UpstreamError(502, "upstream response body too large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            logger.error("upstream body exceeds the %d-byte bound", limit)
            raise UpstreamError(502, "upstream response body too large")
        chunks.append(chunk)
    return b"".join(chunks)


def _netloc(node: Node) -> str:
    return f"[{node.host}]:{node.port}" if ":" in node.host else f"{node.host}:{node.port}"


def build_clients(
    upstreams: Mapping[str, Upstream], max_body: int = MAX_UPSTREAM_BODY
) -> dict[str, UpstreamClient]:
    return {upstream_id: UpstreamClient(up, max_body) for upstream_id, up in upstreams.items()}
