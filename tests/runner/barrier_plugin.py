"""A plugin that answers only once ``conf`` requests are inside it at the same time.

Loaded by subprocess tests as ``--plugin barrier_plugin``. It proves concurrency by logic, not
timing: if the runner cannot hold that many requests at once, the barrier is never reached and
each waiting request answers 503 when its deadline (a deadlock breaker, not a speed bound) ends.
"""

from __future__ import annotations

import asyncio
from typing import Any

from runner_plugins.plugin import Plugin, Request, Stop

_DEADLINE_S = 20.0


class Barrier(Plugin[int]):
    name = "barrier"

    def __init__(self) -> None:
        self._inside = 0
        self._reached: asyncio.Event | None = None

    def parse_conf(self, raw: str) -> int:
        return int(raw)

    async def request_filter(self, conf: int, request: Request) -> Stop:
        if self._reached is None:
            self._reached = asyncio.Event()
        self._inside += 1
        if self._inside >= conf:
            self._reached.set()
        try:
            await asyncio.wait_for(self._reached.wait(), _DEADLINE_S)
        except TimeoutError:
            return Stop(status=503, body=f"only {self._inside} inside".encode())
        return Stop(status=200, body=b"together")


def plugins() -> list[Plugin[Any]]:
    return [Barrier()]
