"""Connection and process lifetime limits that APISIX relies on (issue 3, "Running it").

* APISIX pools up to 32 idle connections per worker for 180 s, so the runner's deadline sweep
  must cancel only requests that overrun, never a connection that is merely idle.
* APISIX sends SIGKILL 1 s after SIGTERM, so a request that will never finish must not keep
  the runner alive past that second.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import time

import pytest

from runner_plugins.client import RunnerClient
from runner_plugins.client.codec import decode_error
from runner_plugins.errors import RunnerUnavailable
from runner_plugins.plugin import Stop
from runner_plugins.protocol import ErrorCode

from .conftest import start_runner
from .helper_plugins import plugins
from .test_runner_process import HERE, ROOT, spawn, wait_for_socket
from .test_runner_server import close, open_raw, raw_prepare, read_frame, req_frame


async def test_deadline_sweep_cancels_overruns_but_never_idle_connections(socket_path):
    # A sweep every 10 ms with a 200 ms request deadline: ~60 sweeps pass during the idle wait.
    runner = await start_runner(socket_path, plugins(), request_timeout=0.2, sweep_interval=0.01)
    try:
        reader, writer = await open_raw(socket_path)
        quick = await raw_prepare(reader, writer, [("slow", "0")])
        writer.write(req_frame(quick, 1))
        rpc_type, _ = await read_frame(reader)
        assert rpc_type != 0

        await asyncio.sleep(0.6)  # idle, three times the request deadline
        assert runner.connection_count == 1
        writer.write(req_frame(quick, 2))
        rpc_type, payload = await read_frame(reader)
        assert rpc_type != 0, "the idle connection was closed or its request failed"

        # The sweep is live at this interval: a request that overruns IS cancelled.
        slow = await raw_prepare(reader, writer, [("slow", "5")])
        writer.write(req_frame(slow, 3))
        rpc_type, payload = await read_frame(reader)
        assert rpc_type == 0
        assert decode_error(payload) == ErrorCode.SERVICE_UNAVAILABLE
        await close(writer)
    finally:
        await runner.shutdown()


@pytest.mark.parametrize(
    "extra_plugins",
    [(), ("--plugin", "runner_plugins.context")],  # the production plugin closes its client too
    ids=["helpers", "with-context-plugin"],
)
async def test_sigterm_with_a_request_that_never_ends_still_exits_within_a_second(
    socket_path, extra_plugins
):
    proc = spawn(socket_path, *extra_plugins)
    client = RunnerClient(socket_path, read_timeout=10)
    try:
        await wait_for_socket(proc, socket_path)
        stuck = [
            asyncio.ensure_future(
                client.http_req_call([("slow", "60")], "stuck", method="GET", path=f"/{i}")
            )
            for i in range(3)
        ]
        await asyncio.sleep(0.2)  # the three requests are inside the plugin
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 5)
        exited_after = time.monotonic() - sent
        assert code == 0
        assert exited_after < 1.0  # APISIX sends SIGKILL 1 s after SIGTERM
        assert not os.path.exists(socket_path)
        for call in stuck:
            with pytest.raises(RunnerUnavailable):
                await call
    finally:
        await client.close()
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


async def test_runner_holds_more_connections_than_a_low_default_open_file_limit(socket_path):
    # Debian's default soft limit is 1024 open files, fewer than 1,000 APISIX connections plus
    # the runner's own backend pool need; here 256, with 400 requests that must be inside the
    # plugin at the same time. The runner has to raise its soft limit (the hard limit allows it).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard == resource.RLIM_INFINITY or hard >= 1000
    together = 400

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}",
        "APISIX_LISTEN_ADDRESS": f"unix:{socket_path}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner_plugins", "--plugin", "barrier_plugin"],
        cwd=ROOT,
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=low_limit,
    )
    client = RunnerClient(socket_path, max_idle=together, read_timeout=60)
    try:
        await wait_for_socket(proc, socket_path)
        replies = await asyncio.gather(
            *(
                client.http_req_call([("barrier", str(together))], "b", method="GET", path=f"/{i}")
                for i in range(together)
            ),
            return_exceptions=True,
        )
        statuses = [r.status if isinstance(r, Stop) else repr(r) for r in replies]
        assert statuses == [200] * together, sorted(set(map(str, statuses)))
    finally:
        await client.close()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


async def test_a_hard_limit_too_low_for_apisix_is_reported(socket_path):
    def tight_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 600))

    environ = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}",
        "APISIX_LISTEN_ADDRESS": f"unix:{socket_path}",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner_plugins", "--plugin", "barrier_plugin"],
        cwd=ROOT,
        env=environ,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=tight_limit,
    )
    try:
        await wait_for_socket(proc, socket_path)  # it still serves, within what it has
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "open-file hard limit 600: about 344 APISIX connections at most" in stderr
