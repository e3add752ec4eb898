"""Plugins used by the runner tests (also loaded by subprocess tests as ``helper_plugins``)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from runner_plugins.plugin import (
    ConfError,
    Plugin,
    Request,
    Response,
    ResponseChange,
    Rewrite,
    Stop,
)

JSON = (("content-type", "application/json"),)


def _json_stop(doc: object, status: int = 200) -> Stop:
    return Stop(status=status, headers=JSON, body=json.dumps(doc).encode())


class EchoRequest(Plugin[None]):
    """Stop whose body describes the request exactly as the plugin saw it."""

    name = "echo-request"

    def parse_conf(self, raw: str) -> None:
        return None

    async def request_filter(self, conf: None, request: Request) -> Stop:
        return _json_stop(
            {
                "id": request.id,
                "method": request.method,
                "path": request.path,
                "src_ip": request.src_ip,
                "args": [list(a) for a in request.args],
                "headers": [list(h) for h in request.headers],
            }
        )


class EchoExtra(Plugin[list[str]]):
    """Fetch the vars named in the conf (and the body), twice, and echo them."""

    name = "echo-extra"

    def parse_conf(self, raw: str) -> list[str]:
        names = json.loads(raw)
        if not isinstance(names, list):
            raise ConfError("expected a list of variable names")
        return [str(n) for n in names]

    async def request_filter(self, conf: list[str], request: Request) -> Stop:
        values = {name: await request.var(name) for name in conf}
        again = {name: await request.var(name) for name in conf}  # cached: no second round trip
        body = await request.body()
        assert body == await request.body()
        return _json_stop({"vars": values, "again": again, "body": body.decode("utf-8")})


class GatherExtra(Plugin[None]):
    """Ask for two vars and the body at once: the questions are pipelined on one connection."""

    name = "gather-extra"

    def parse_conf(self, raw: str) -> None:
        return None

    async def request_filter(self, conf: None, request: Request) -> Stop:
        first, second, body = await asyncio.gather(
            request.var("first"), request.var("second"), request.body()
        )
        return _json_stop({"first": first, "second": second, "body": body.decode()})


class Boom(Plugin[None]):
    name = "boom"

    def parse_conf(self, raw: str) -> None:
        return None

    async def request_filter(self, conf: None, request: Request) -> Stop:
        raise RuntimeError("plugin bug")

    async def response_filter(self, conf: None, response: Response) -> ResponseChange:
        raise RuntimeError("plugin bug")


class Tag(Plugin[str]):
    """Rewrite adding ``x-tag: <conf>``: merged tags show the order plugins ran in."""

    name = "tag"

    def parse_conf(self, raw: str) -> str:
        return raw

    async def request_filter(self, conf: str, request: Request) -> Rewrite:
        return Rewrite(headers=(("x-tag", conf),))


class StopWith(Plugin[int]):
    name = "stop-with"

    def parse_conf(self, raw: str) -> int:
        return int(raw)

    async def request_filter(self, conf: int, request: Request) -> Stop:
        return Stop(status=conf)


class Noop(Plugin[None]):
    name = "noop"

    def parse_conf(self, raw: str) -> None:
        return None


class EmptyRewrite(Plugin[None]):
    name = "empty-rewrite"

    def parse_conf(self, raw: str) -> None:
        return None

    async def request_filter(self, conf: None, request: Request) -> Rewrite:
        return Rewrite()


class RewriteFromConf(Plugin[Rewrite]):
    """conf: {"path", "headers", "args", "resp_headers", "body"}; lists of [name, value|null]."""

    name = "rewrite"

    def parse_conf(self, raw: str) -> Rewrite:
        doc = json.loads(raw)
        body = doc.get("body")
        return Rewrite(
            path=doc.get("path"),
            headers=tuple((n, v) for n, v in doc.get("headers", [])),
            args=tuple((n, v) for n, v in doc.get("args", [])),
            resp_headers=tuple((n, v) for n, v in doc.get("resp_headers", [])),
            body=None if body is None else body.encode(),
        )

    async def request_filter(self, conf: Rewrite, request: Request) -> Rewrite:
        return conf


class Slow(Plugin[float]):
    name = "slow"

    def parse_conf(self, raw: str) -> float:
        return float(raw)

    async def request_filter(self, conf: float, request: Request) -> Stop:
        await asyncio.sleep(conf)
        return Stop(status=200, body=b"slept")


class Big(Plugin[int]):
    """Stop whose body has exactly ``conf`` bytes."""

    name = "big"

    def parse_conf(self, raw: str) -> int:
        return int(raw)

    async def request_filter(self, conf: int, request: Request) -> Stop:
        return Stop(status=200, body=b"b" * conf)


class Strict(Plugin[str]):
    name = "strict"

    def parse_conf(self, raw: str) -> str:
        if raw != "ok":
            raise ConfError(f"expected 'ok', got {raw!r}")
        return raw

    async def request_filter(self, conf: str, request: Request) -> Stop:
        return Stop(status=204)


class ResponseEditor(Plugin[None]):
    """post-resp: read the upstream body and a var, answer with both in a new body."""

    name = "resp-editor"

    def parse_conf(self, raw: str) -> None:
        return None

    async def response_filter(self, conf: None, response: Response) -> ResponseChange:
        upstream = await response.body()
        doc = {
            "status": response.status,
            "headers": [list(h) for h in response.headers],
            "body": upstream.decode("utf-8"),
            "var": await response.var("upstream_addr"),
        }
        return ResponseChange(status=299, headers=JSON, body=json.dumps(doc).encode())


def plugins() -> list[Plugin[Any]]:
    return [
        EchoRequest(),
        EchoExtra(),
        GatherExtra(),
        Boom(),
        Tag(),
        StopWith(),
        Noop(),
        EmptyRewrite(),
        RewriteFromConf(),
        Slow(),
        Big(),
        Strict(),
        ResponseEditor(),
    ]
