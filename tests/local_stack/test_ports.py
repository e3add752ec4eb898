"""The up-front port check of ``python -m stack up``."""

from __future__ import annotations

import socket

from stack.probes import port_in_use


def test_a_listening_port_is_in_use() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert port_in_use(listener.getsockname()[1])


def test_time_wait_connections_of_a_stopped_server_do_not_block_a_restart() -> None:
    # The gateway closes first on "Connection: close", so a stopped stack leaves TIME_WAIT
    # sockets on its port for a minute; the servers themselves bind with SO_REUSEADDR.
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            served, _ = listener.accept()
            served.close()  # the server side closes first: it keeps the TIME_WAIT
            assert client.recv(1) == b""
    assert not port_in_use(port)
