"""The reference: messages built and read with the bindings ``flatc`` generated from the schema.

APISIX builds its messages with a FlatBuffers builder (back to front, shared vtables); these
helpers do the same with the Python reference bindings, and read our replies with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flatbuffers
from A6 import TextEntry as FTextEntry
from A6.Err import Resp as ErrResp
from A6.ExtraInfo import Info as FInfo
from A6.ExtraInfo import Req as InfoReq
from A6.ExtraInfo import ReqBody as FReqBody
from A6.ExtraInfo import Resp as InfoResp
from A6.ExtraInfo import RespBody as FRespBody
from A6.ExtraInfo import Var as FVar
from A6.HTTPReqCall import Action as FAction
from A6.HTTPReqCall import Req as ReqCallReq
from A6.HTTPReqCall import Resp as ReqCallResp
from A6.HTTPReqCall import Rewrite as FRewrite
from A6.HTTPReqCall import Stop as FStop
from A6.HTTPRespCall import Req as RespCallReq
from A6.HTTPRespCall import Resp as RespCallResp
from A6.PrepareConf import Req as PrepReq
from A6.PrepareConf import Resp as PrepResp

Entry = tuple[str, str | None]


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


def _entries(b: flatbuffers.Builder, start_vector: Any, entries: Sequence[Entry]) -> int:
    offsets = []
    for name, value in entries:
        name_off = b.CreateString(_raw(name))
        value_off = None if value is None else b.CreateString(_raw(value))
        FTextEntry.Start(b)
        FTextEntry.AddName(b, name_off)
        if value_off is not None:
            FTextEntry.AddValue(b, value_off)
        offsets.append(FTextEntry.End(b))
    start_vector(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return int(b.EndVector())


def _read_entries(obj: Any, getter: str) -> list[Entry]:
    out: list[Entry] = []
    for i in range(getattr(obj, getter + "Length")()):
        entry = getattr(obj, getter)(i)
        out.append((_text(entry.Name()) or "", _text(entry.Value())))
    return out


def _bytes(obj: Any, getter: str) -> bytes | None:
    if getattr(obj, getter + "IsNone")():
        return None
    return bytes(getattr(obj, getter)(i) for i in range(getattr(obj, getter + "Length")()))


# ------------------------------------------------------------ APISIX -> runner


def http_req_call(
    *,
    req_id: int,
    conf_token: int,
    method: int,
    path: str,
    args: Sequence[Entry],
    headers: Sequence[Entry],
    src_ip: bytes,
) -> bytes:
    b = flatbuffers.Builder(256)
    path_off = b.CreateString(_raw(path))
    args_off = _entries(b, ReqCallReq.StartArgsVector, args) if args else None
    headers_off = _entries(b, ReqCallReq.StartHeadersVector, headers) if headers else None
    ip_off = b.CreateByteVector(src_ip)
    ReqCallReq.Start(b)
    ReqCallReq.AddId(b, req_id)
    ReqCallReq.AddSrcIp(b, ip_off)
    ReqCallReq.AddMethod(b, method)
    ReqCallReq.AddPath(b, path_off)
    if args_off is not None:
        ReqCallReq.AddArgs(b, args_off)
    if headers_off is not None:
        ReqCallReq.AddHeaders(b, headers_off)
    ReqCallReq.AddConfToken(b, conf_token)
    b.Finish(ReqCallReq.End(b))
    return bytes(b.Output())


def prepare_conf(conf: Sequence[tuple[str, str]], key: str) -> bytes:
    b = flatbuffers.Builder(256)
    key_off = b.CreateString(_raw(key))
    conf_off = _entries(b, PrepReq.StartConfVector, conf) if conf else None
    PrepReq.Start(b)
    if conf_off is not None:
        PrepReq.AddConf(b, conf_off)
    PrepReq.AddKey(b, key_off)
    b.Finish(PrepReq.End(b))
    return bytes(b.Output())


def http_resp_call(*, req_id: int, conf_token: int, status: int, headers: Sequence[Entry]) -> bytes:
    b = flatbuffers.Builder(256)
    headers_off = _entries(b, RespCallReq.StartHeadersVector, headers) if headers else None
    RespCallReq.Start(b)
    RespCallReq.AddId(b, req_id)
    RespCallReq.AddStatus(b, status)
    if headers_off is not None:
        RespCallReq.AddHeaders(b, headers_off)
    RespCallReq.AddConfToken(b, conf_token)
    b.Finish(RespCallReq.End(b))
    return bytes(b.Output())


def extra_info_result(result: bytes | None) -> bytes:
    b = flatbuffers.Builder(64)
    off = None if result is None else b.CreateByteVector(result)
    InfoResp.Start(b)
    if off is not None:
        InfoResp.AddResult(b, off)
    b.Finish(InfoResp.End(b))
    return bytes(b.Output())


def read_http_req_call(payload: bytes) -> dict[str, Any]:
    req = ReqCallReq.Req.GetRootAs(payload, 0)
    return {
        "id": req.Id(),
        "conf_token": req.ConfToken(),
        "method": req.Method(),
        "path": _text(req.Path()),
        "args": _read_entries(req, "Args"),
        "headers": _read_entries(req, "Headers"),
        "src_ip": _bytes(req, "SrcIp"),
    }


def read_prepare_conf(payload: bytes) -> tuple[list[Entry], str | None]:
    req = PrepReq.Req.GetRootAs(payload, 0)
    return _read_entries(req, "Conf"), _text(req.Key())


def read_http_resp_call(payload: bytes) -> dict[str, Any]:
    req = RespCallReq.Req.GetRootAs(payload, 0)
    return {
        "id": req.Id(),
        "status": req.Status(),
        "headers": _read_entries(req, "Headers"),
        "conf_token": req.ConfToken(),
    }


def read_extra_info_result(payload: bytes) -> bytes | None:
    return _bytes(InfoResp.Resp.GetRootAs(payload, 0), "Result")


# ------------------------------------------------------------ runner -> APISIX


def read_req_call_reply(payload: bytes) -> dict[str, Any]:
    resp = ReqCallResp.Resp.GetRootAs(payload, 0)
    out: dict[str, Any] = {"id": resp.Id(), "action_type": resp.ActionType()}
    table = resp.Action()
    if resp.ActionType() == FAction.Action.Stop:
        stop = FStop.Stop()
        stop.Init(table.Bytes, table.Pos)
        out.update(
            status=stop.Status(),
            headers=_read_entries(stop, "Headers"),
            body=_bytes(stop, "Body"),
        )
    elif resp.ActionType() == FAction.Action.Rewrite:
        rw = FRewrite.Rewrite()
        rw.Init(table.Bytes, table.Pos)
        out.update(
            path=_text(rw.Path()),
            headers=_read_entries(rw, "Headers"),
            args=_read_entries(rw, "Args"),
            resp_headers=_read_entries(rw, "RespHeaders"),
            body=_bytes(rw, "Body"),
        )
    return out


def read_resp_call_reply(payload: bytes) -> dict[str, Any]:
    resp = RespCallResp.Resp.GetRootAs(payload, 0)
    return {
        "id": resp.Id(),
        "status": resp.Status(),
        "headers": _read_entries(resp, "Headers"),
        "body": _bytes(resp, "Body"),
    }


def read_error(payload: bytes) -> int:
    return int(ErrResp.Resp.GetRootAs(payload, 0).Code())


def read_prepare_conf_reply(payload: bytes) -> int:
    return int(PrepResp.Resp.GetRootAs(payload, 0).ConfToken())


def read_extra_info_query(payload: bytes) -> tuple[str, str | None]:
    req = InfoReq.Req.GetRootAs(payload, 0)
    kind = req.InfoType()
    table = req.Info()
    if kind == FInfo.Info.Var:
        var = FVar.Var()
        var.Init(table.Bytes, table.Pos)
        return "var", _text(var.Name())
    if kind == FInfo.Info.ReqBody:
        FReqBody.ReqBody().Init(table.Bytes, table.Pos)
        return "req_body", None
    if kind == FInfo.Info.RespBody:
        FRespBody.RespBody().Init(table.Bytes, table.Pos)
        return "resp_body", None
    raise AssertionError(f"unknown info type {kind}")


# Replies APISIX-side tests may need to build like a foreign runner would.


def stop_reply(req_id: int, status: int, headers: Sequence[Entry], body: bytes | None) -> bytes:
    b = flatbuffers.Builder(256)
    headers_off = _entries(b, FStop.StartHeadersVector, headers) if headers else None
    body_off = None if body is None else b.CreateByteVector(body)
    FStop.Start(b)
    FStop.AddStatus(b, status)
    if headers_off is not None:
        FStop.AddHeaders(b, headers_off)
    if body_off is not None:
        FStop.AddBody(b, body_off)
    stop = FStop.End(b)
    ReqCallResp.Start(b)
    ReqCallResp.AddId(b, req_id)
    ReqCallResp.AddActionType(b, FAction.Action.Stop)
    ReqCallResp.AddAction(b, stop)
    b.Finish(ReqCallResp.End(b))
    return bytes(b.Output())


def rewrite_reply(
    req_id: int,
    path: str | None,
    headers: Sequence[Entry],
    args: Sequence[Entry],
    resp_headers: Sequence[Entry],
    body: bytes | None,
) -> bytes:
    b = flatbuffers.Builder(256)
    path_off = None if path is None else b.CreateString(_raw(path))
    h_off = _entries(b, FRewrite.StartHeadersVector, headers) if headers else None
    a_off = _entries(b, FRewrite.StartArgsVector, args) if args else None
    r_off = _entries(b, FRewrite.StartRespHeadersVector, resp_headers) if resp_headers else None
    body_off = None if body is None else b.CreateByteVector(body)
    FRewrite.Start(b)
    if path_off is not None:
        FRewrite.AddPath(b, path_off)
    if h_off is not None:
        FRewrite.AddHeaders(b, h_off)
    if a_off is not None:
        FRewrite.AddArgs(b, a_off)
    if r_off is not None:
        FRewrite.AddRespHeaders(b, r_off)
    if body_off is not None:
        FRewrite.AddBody(b, body_off)
    rw = FRewrite.End(b)
    ReqCallResp.Start(b)
    ReqCallResp.AddId(b, req_id)
    ReqCallResp.AddActionType(b, FAction.Action.Rewrite)
    ReqCallResp.AddAction(b, rw)
    b.Finish(ReqCallResp.End(b))
    return bytes(b.Output())
