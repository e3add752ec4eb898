"""The APISIX side of the ext-plugin protocol, as a small asyncio library.

Strategy: behave like APISIX's Lua client
(https://github.com/apache/apisix/blob/3.18.0/apisix/plugins/ext-plugin/init.lua: conf tokens,
connections, ExtraInfo, replies, errors and retries) so that tests, the benchmark and the local
gateway exercise the runner the way production does: PrepareConf with the idempotency ``key`` and a
key -> token cache, one exchange at a time per connection, ExtraInfo questions answered in order
until the final reply, connections pooled for reuse (at most ``max_idle``), and on
CONF_TOKEN_NOT_FOUND the token cache flushed and the call retried, three tries in all. Every other
failure (connect, timeout, error frame, unexpected frame type, oversize payload) raises
:class:`RunnerUnavailable` and closes that connection, which is where APISIX answers 503.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from runner_plugins.client import codec
from runner_plugins.client.codec import ExtraInfoQuery
from runner_plugins.errors import ProtocolError, RunnerUnavailable
from runner_plugins.plugin import Entry, ResponseChange, Rewrite, Stop
from runner_plugins.protocol import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    ErrorCode,
    RpcType,
    decode_header,
    encode_frame,
)

__all__ = ["ExtraInfoHandler", "ExtraInfoQuery", "RunnerClient"]

logger = logging.getLogger(__name__)

#: Answers the runner's ExtraInfo question; None means "no value" (result omitted).
ExtraInfoHandler = Callable[[ExtraInfoQuery], Awaitable[bytes | None]]

_T = TypeVar("_T")
_TRIES = 3
_MAX_TOKENS = 1024


class _TokenNotFound(Exception):
    pass


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class RunnerClient:
    """Talks to one runner socket like an APISIX worker does."""

    def __init__(
        self,
        socket_path: str,
        *,
        connect_timeout: float = 1.0,
        read_timeout: float = 60.0,
        max_idle: int = 32,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        self.socket_path = socket_path
        #: Replies announcing a longer payload are refused from their header alone.
        self.max_payload = max_payload
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self._idle: deque[_Connection] = deque()
        self._tokens: dict[str, int] = {}
        self._closed = False

    # ------------------------------------------------------------------ public

    async def http_req_call(
        self,
        conf: Sequence[tuple[str, str]],
        key: str,
        *,
        method: str,
        path: str,
        args: Sequence[Entry] = (),
        headers: Sequence[Entry] = (),
        src_ip: str = "127.0.0.1",
        request_id: int = 0,
        extra_info: ExtraInfoHandler | None = None,
    ) -> Stop | Rewrite | None:
        """One HTTPReqCall; returns the runner's Stop, Rewrite or None (no action)."""

        def build(token: int) -> bytes:
            return codec.encode_http_req_call(
                req_id=request_id,
                conf_token=token,
                method=method,
                path=path,
                args=args,
                headers=headers,
                src_ip=src_ip,
            )

        return await self._with_token(
            conf, key, RpcType.HTTP_REQ_CALL, build, extra_info, codec.decode_req_call_reply
        )

    async def http_resp_call(
        self,
        conf: Sequence[tuple[str, str]],
        key: str,
        *,
        status: int,
        headers: Sequence[Entry] = (),
        request_id: int = 0,
        extra_info: ExtraInfoHandler | None = None,
    ) -> ResponseChange | None:
        """One HTTPRespCall (ext-plugin-post-resp); None keeps the upstream response."""

        def build(token: int) -> bytes:
            return codec.encode_http_resp_call(
                req_id=request_id, conf_token=token, status=status, headers=headers
            )

        return await self._with_token(
            conf, key, RpcType.HTTP_RESP_CALL, build, extra_info, codec.decode_resp_call_reply
        )

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            connection = self._idle.popleft()
            connection.close()
            await _wait_closed(connection)

    # ---------------------------------------------------------------- internals

    async def _with_token(
        self,
        conf: Sequence[tuple[str, str]],
        key: str,
        rpc_type: RpcType,
        build: Callable[[int], bytes],
        extra_info: ExtraInfoHandler | None,
        decode: Callable[[bytes], _T],
    ) -> _T:
        for attempt in range(1, _TRIES + 1):
            token = await self._token(conf, key)
            try:
                return await self._call(rpc_type, build(token), extra_info, decode)
            except _TokenNotFound:
                # APISIX flushes every cached token (not only this one) and retries.
                logger.warning("conf token %d not found (try %d); re-preparing", token, attempt)
                self._tokens.clear()
        raise RunnerUnavailable(
            f"conf token not found after {_TRIES} tries", code=ErrorCode.CONF_TOKEN_NOT_FOUND
        )

    async def _token(self, conf: Sequence[tuple[str, str]], key: str) -> int:
        token = self._tokens.get(key)
        if token is not None:
            return token
        payload = codec.encode_prepare_conf(conf, key)
        try:
            token = await self._call(
                RpcType.PREPARE_CONF, payload, None, codec.decode_prepare_conf_reply
            )
        except _TokenNotFound:
            raise RunnerUnavailable(
                "PrepareConf answered conf token not found", code=ErrorCode.CONF_TOKEN_NOT_FOUND
            ) from None
        if len(self._tokens) >= _MAX_TOKENS:
            self._tokens.clear()
        self._tokens[key] = token
        return token

    async def _call(
        self,
        rpc_type: RpcType,
        payload: bytes,
        extra_info: ExtraInfoHandler | None,
        decode: Callable[[bytes], _T],
    ) -> _T:
        """Send one request frame, answer ExtraInfo, return the decoded final reply.

        The connection goes back to the pool only after a fully successful exchange.
        """
        try:
            frame = encode_frame(rpc_type, payload)
        except ProtocolError as exc:
            raise RunnerUnavailable(str(exc)) from exc
        connection = await self._acquire()
        reusable = False
        try:
            # One deadline per exchange, pushed back after each ExtraInfo answer: every wait for
            # the runner gets the whole read timeout, as with APISIX's per-read socket timeout,
            # without arming a timer per frame.
            async with asyncio.timeout(self.read_timeout) as deadline:
                connection.writer.write(frame)
                while True:
                    reply_type, reply = await self._read_frame(connection)
                    if reply_type == RpcType.EXTRA_INFO:
                        answer = await self._answer(reply, extra_info)
                        connection.writer.write(encode_frame(RpcType.EXTRA_INFO, answer))
                        deadline.reschedule(asyncio.get_running_loop().time() + self.read_timeout)
                        continue
                    if reply_type == RpcType.ERROR:
                        code = self._decode(codec.decode_error, reply)
                        if code == ErrorCode.CONF_TOKEN_NOT_FOUND:
                            raise _TokenNotFound
                        name = _code_name(code)
                        raise RunnerUnavailable(f"runner answered error {name}", code=code)
                    if reply_type != rpc_type:
                        raise RunnerUnavailable(
                            f"expected a type {int(rpc_type)} reply, got type {reply_type}"
                        )
                    result = self._decode(decode, reply)
                    reusable = True
                    return result
        except TimeoutError as exc:  # before OSError, of which it is a subclass
            raise RunnerUnavailable(f"runner did not answer within {self.read_timeout} s") from exc
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise RunnerUnavailable(f"runner connection failed: {exc!r}") from exc
        except ProtocolError as exc:
            raise RunnerUnavailable(f"bad frame from the runner: {exc}") from exc
        finally:
            self._release(connection, reusable)

    async def _answer(self, query_payload: bytes, extra_info: ExtraInfoHandler | None) -> bytes:
        query = self._decode(codec.decode_extra_info_query, query_payload)
        result = None if extra_info is None else await extra_info(query)
        return codec.encode_extra_info_result(result)

    async def _read_frame(self, connection: _Connection) -> tuple[int, bytes]:
        header = await connection.reader.readexactly(HEADER_SIZE)
        rpc_type, length = decode_header(header, self.max_payload)
        payload = await connection.reader.readexactly(length) if length else b""
        return rpc_type, payload

    async def _acquire(self) -> _Connection:
        if self._closed:
            raise RunnerUnavailable("client is closed")
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.close()
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=2**25)
        except (OSError, TimeoutError) as exc:
            raise RunnerUnavailable(
                f"failed to connect to the unix socket {self.socket_path}: {exc!r}"
            ) from exc
        return _Connection(reader, writer)

    def _release(self, connection: _Connection, reusable: bool) -> None:
        if reusable and not self._closed and len(self._idle) < self.max_idle:
            self._idle.append(connection)
        else:
            connection.close()

    @staticmethod
    def _decode(decode: Callable[[bytes], _T], payload: bytes) -> _T:
        try:
            return decode(payload)
        except ProtocolError as exc:
            raise RunnerUnavailable(f"undecodable reply: {exc}") from exc


def _code_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"unknown error {code}"


async def _wait_closed(connection: _Connection) -> None:
    try:
        await connection.writer.wait_closed()
    except OSError:
        pass
