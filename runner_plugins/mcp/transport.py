"""The MCP Streamable HTTP rules of ``/mcp``, without sockets: bytes and headers in, decisions out.

Strategy: the endpoint is stateless and answers every POST with one JSON body (no tool streams,
so no SSE). Two protocol eras share it, told apart by the ``MCP-Protocol-Version`` header as the
official SDK's own server does: absent or a handshake-era version (2024-11-05 ... 2025-11-25,
absent meaning 2025-03-26 as the spec says) is the ``initialize`` era; 2026-07-28 is the
stateless era with per-request ``_meta`` and the ``Mcp-Method``/``Mcp-Name`` headers. Anything
else is a 400 naming every version we serve.

The checks run in two steps so the body is only fetched (one ExtraInfo round trip) when it can
be used: :meth:`Transport.check_head` looks at method and headers (405, 403, 406, 415, 413,
400), :meth:`Transport.read_body` parses the message (-32700, -32600, 202 for notifications,
the SDK's own 2026-07-28 envelope ladder). :meth:`Transport.reply` turns the dispatch outcome
into the HTTP answer. Envelope models, error codes, version lists and the 2026-07-28 ladder
(``classify_inbound_request``) all come from the official SDK; only the HTTP decisions the SDK
keeps inside its ASGI app are written here. Every answer with a body is a JSON-RPC message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    MCP_PROTOCOL_VERSION_HEADER,
    InboundLadderRejection,
    classify_inbound_request,
    find_duplicated_routing_header,
)
from mcp_types import (
    DEFAULT_NEGOTIATED_VERSION,
    HEADER_MISMATCH,
    INVALID_REQUEST,
    PARSE_ERROR,
    UNSUPPORTED_PROTOCOL_VERSION,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
    UnsupportedProtocolVersionErrorData,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from runner_plugins.plugin import Entry

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"
#: Every version this endpoint serves, oldest first (the SDK's two lists).
SERVED_VERSIONS: tuple[str, ...] = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)

Era = Literal["handshake", "modern"]


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """What to send back: status, extra headers and the body (empty for 202)."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Dispatch:
    """A JSON-RPC request that passed every transport rule and is ready for the server."""

    era: Era
    version: str
    request: JSONRPCRequest
    client_info: Any = None
    client_capabilities: Any = None


@dataclass(frozen=True, slots=True)
class TransportRules:
    """The configurable part: who may call from a browser, and how large a message may be."""

    allowed_origins: frozenset[str]
    max_body_bytes: int


class Transport:
    """Stateless Streamable HTTP for one endpoint; one instance per conf."""

    def __init__(self, rules: TransportRules) -> None:
        self._rules = rules

    def check_head(
        self, method: str, headers: Sequence[Entry], folded: Mapping[str, str] | None = None
    ) -> HttpAnswer | None:
        """The rules that need no body; None means "fetch the body and go on".

        ``folded``: ``fold_headers(headers)`` when the caller already has it.
        """
        if method != "POST":
            # Stateless: no GET stream to open, no session to DELETE.
            return error_answer(
                405,
                INVALID_REQUEST,
                f"{method} is not supported here; send each JSON-RPC message as a POST.",
                extra_headers=(("allow", "POST"),),
            )
        if folded is None:
            folded = fold_headers(headers)
        origin = folded.get("origin")
        if origin is not None and origin not in self._rules.allowed_origins:
            # DNS-rebinding protection (2025-11-25: an invalid Origin gets 403).
            return error_answer(403, INVALID_REQUEST, f"Origin {origin!r} is not allowed.")
        if not accepts_json(folded.get("accept", "")):
            return error_answer(
                406,
                INVALID_REQUEST,
                "Not Acceptable: the Accept header must allow application/json.",
            )
        content_type = folded.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != JSON_TYPE:
            return error_answer(
                415, INVALID_REQUEST, "Unsupported Media Type: send Content-Type: application/json."
            )
        declared = folded.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > self._rules.max_body_bytes:
            return self._too_large()
        version = folded.get(MCP_PROTOCOL_VERSION_HEADER)
        if version is not None and version not in SERVED_VERSIONS:
            return unsupported_version(version)
        return None

    def read_body(
        self, headers: Sequence[Entry], body: bytes, folded: Mapping[str, str] | None = None
    ) -> HttpAnswer | Dispatch:
        """Parse one message; a notification or response is acknowledged with 202."""
        if len(body) > self._rules.max_body_bytes:
            return self._too_large()
        decoded = _parse(body)
        if decoded is _UNPARSABLE:
            return error_answer(400, PARSE_ERROR, "Parse error: the body is not valid JSON.")
        if isinstance(decoded, list):
            return error_answer(
                400,
                INVALID_REQUEST,
                "Batches are not supported: send one JSON-RPC message per POST.",
            )
        if not isinstance(decoded, dict):
            return error_answer(400, INVALID_REQUEST, "The body must be one JSON-RPC object.")
        if folded is None:
            folded = fold_headers(headers)
        version = folded.get(MCP_PROTOCOL_VERSION_HEADER)
        era: Era = "modern" if version in MODERN_PROTOCOL_VERSIONS else "handshake"
        if era == "modern":
            duplicated = find_duplicated_routing_header((k, v or "") for k, v in headers)
            if duplicated is not None:
                return error_answer(
                    400,
                    HEADER_MISMATCH,
                    f"{duplicated} header appears more than once.",
                    _id(decoded),
                )
        if "id" not in decoded:
            # JSON-RPC 2.0: no id means a notification; it only needs a valid envelope.
            try:
                JSONRPCNotification.model_validate(decoded)
            except ValidationError:
                return _invalid_envelope()
            return HttpAnswer(202)
        if "method" not in decoded:
            # A client's response to a server request: we never send any, nothing waits for it.
            try:
                JSONRPCResponse.model_validate(decoded)
            except ValidationError:
                try:
                    JSONRPCError.model_validate(decoded)
                except ValidationError:
                    return _invalid_envelope()
            return HttpAnswer(202)
        try:
            request = JSONRPCRequest.model_validate(decoded)
        except ValidationError:
            return _invalid_envelope(_id(decoded))
        if era == "handshake":
            return Dispatch("handshake", version or DEFAULT_NEGOTIATED_VERSION, request)
        verdict = classify_inbound_request(decoded, headers=folded)
        if isinstance(verdict, InboundLadderRejection):
            return _rejection(verdict, request.id)
        return Dispatch(
            "modern",
            verdict.protocol_version,
            request,
            verdict.client_info,
            verdict.client_capabilities,
        )

    @staticmethod
    def reply(dispatch: Dispatch, outcome: dict[str, Any] | bytes | ErrorData) -> HttpAnswer:
        """The JSON-RPC answer to a dispatched request (a result as a dict or as JSON bytes)."""
        if isinstance(outcome, ErrorData):
            # 2026-07-28 maps error codes to statuses (404 for -32601...); the handshake era
            # delivers every JSON-RPC answer as 200.
            status = (
                ERROR_CODE_HTTP_STATUS.get(outcome.code, 200) if dispatch.era == "modern" else 200
            )
            message = JSONRPCError(jsonrpc="2.0", id=dispatch.request.id, error=outcome)
            return HttpAnswer(status, _encode(message.model_dump(mode="json", by_alias=True)))
        if isinstance(outcome, bytes):
            # Already the result's JSON: only the envelope around it is written here.
            head = b'{"jsonrpc":"2.0","id":' + _encode(dispatch.request.id) + b',"result":'
            return HttpAnswer(200, head + outcome + b"}")
        # The SDK already shaped ``outcome`` for the wire; building the envelope as a model would
        # only deep-copy it once more (measured: a tenth of a speaker-context call).
        return HttpAnswer(
            200, _encode({"jsonrpc": "2.0", "id": dispatch.request.id, "result": outcome})
        )

    def _too_large(self) -> HttpAnswer:
        return error_answer(
            413,
            INVALID_REQUEST,
            f"The message exceeds {self._rules.max_body_bytes} bytes.",
        )


_UNPARSABLE = object()


def _parse(body: bytes) -> Any:
    """The decoded message, or ``_UNPARSABLE``.

    orjson first (a sixth of the stdlib's time on a tools/call); the stdlib decides whatever
    orjson refuses (lone surrogate escapes are valid JSON to it) and any message whose id came
    back as a float: orjson reads integers beyond 64 bits as floats, and a request id may be
    any integer, echoed exactly. Truly broken JSON is refused by both.
    """
    try:
        decoded = orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    else:
        if not (isinstance(decoded, dict) and isinstance(decoded.get("id"), float)):
            return decoded
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8 and over-long integer literals too.
        return _UNPARSABLE


def fold_headers(headers: Sequence[Entry]) -> dict[str, str]:
    """Lower-cased names; the first value of a repeated header wins (valueless ones are skipped)."""
    folded: dict[str, str] = {}
    for name, value in headers:
        if value is not None:
            folded.setdefault(name.lower(), value)
    return folded


def accepts_json(accept: str) -> bool:
    """Whether an Accept header allows application/json (wildcards included, RFC 9110)."""
    for item in accept.split(","):
        media = item.split(";", 1)[0].strip().lower()
        if media in (JSON_TYPE, "application/*", "*/*"):
            return True
    return False


def unsupported_version(requested: str) -> HttpAnswer:
    """400 naming the served versions; a dual-era client falls back to ``initialize`` on it."""
    data = UnsupportedProtocolVersionErrorData(supported=list(SERVED_VERSIONS), requested=requested)
    return error_answer(
        400,
        UNSUPPORTED_PROTOCOL_VERSION,
        f"Unsupported MCP-Protocol-Version {requested!r}; supported: {', '.join(SERVED_VERSIONS)}.",
        data=data.model_dump(mode="json"),
    )


def error_answer(
    status: int,
    code: int,
    message: str,
    request_id: RequestId | None = None,
    *,
    data: Any = None,
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> HttpAnswer:
    """A JSON-RPC error as an HTTP answer (``id`` null when the request id is unknown)."""
    error = ErrorData(code=code, message=message, data=data)
    body = JSONRPCError(jsonrpc="2.0", id=request_id, error=error).model_dump(
        mode="json", by_alias=True
    )
    if data is None:
        body["error"].pop("data", None)
    return HttpAnswer(status, _encode(body), extra_headers)


def _rejection(rejection: InboundLadderRejection, request_id: RequestId) -> HttpAnswer:
    status = ERROR_CODE_HTTP_STATUS.get(rejection.code, 400)
    return error_answer(status, rejection.code, rejection.message, request_id, data=rejection.data)


def _invalid_envelope(request_id: RequestId | None = None) -> HttpAnswer:
    return error_answer(
        400,
        INVALID_REQUEST,
        "Invalid Request: expected one JSON-RPC 2.0 request or notification object.",
        request_id,
    )


def _id(decoded: Mapping[str, Any]) -> RequestId | None:
    """The request's id when it is a valid one, for error answers; else None."""
    value = decoded.get("id")
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    return None


def _encode(document: Any) -> bytes:
    try:
        # orjson measured ~10x faster than json.dumps on a tools/call answer (docs/performance.md).
        return orjson.dumps(document)
    except TypeError:
        # Integers beyond 64 bits (a client may pick any request id) and lone surrogates (a
        # method name or argument echoed back): the stdlib takes both, and with its ASCII
        # escapes the text always encodes.
        return json.dumps(document, separators=(",", ":")).encode("ascii")
