"""The APISIX side of the ext-plugin protocol: what the local gateway, tests and benchmarks use.

* ``codec``          the messages APISIX encodes and the replies it decodes;
* ``runner_client``  :class:`RunnerClient`, a pooled asyncio client that behaves like APISIX's.

The runner itself never imports this package.
"""

from __future__ import annotations

from runner_plugins.client.codec import ExtraInfoQuery
from runner_plugins.client.runner_client import ExtraInfoHandler, RunnerClient
from runner_plugins.errors import RunnerUnavailable

__all__ = ["ExtraInfoHandler", "ExtraInfoQuery", "RunnerClient", "RunnerUnavailable"]
