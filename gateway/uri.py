"""nginx's view of a request path, which APISIX routes on and proxies.

Strategy: APISIX matches routes against nginx's ``$uri``: the request path percent-decoded
(``%2F`` included), with ``//`` merged (``merge_slashes on``) and ``.``/``..`` segments
resolved; a ``..`` above the root, a bad ``%`` escape or a decoded NUL is a 400
(``ngx_http_parse_complex_uri``). ``proxy-rewrite`` then sends ``uri_safe_encode($uri)``
upstream (apisix/plugins/proxy-rewrite.lua, apisix/core/utils.lua), which is nginx's
``ngx_escape_uri`` in its URI mode: only control bytes, space, ``#``, ``%``, ``?`` and bytes
from 0x7F up are escaped. Two small pure functions; the gateway applies them.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SAFE = frozenset(range(0x21, 0x7F)) - {ord("#"), ord("%"), ord("?")}


def normalize(raw_path: str) -> str | None:
    """``$uri`` for a request path as sent (without query); None where nginx answers 400."""
    if _BAD_ESCAPE.search(raw_path):
        return None
    data = unquote_to_bytes(raw_path)
    if b"\0" in data or not data.startswith(b"/"):
        return None
    parts = data.split(b"/")[1:]
    kept: list[bytes] = []
    trailing = False
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part in (b"", b"."):
            trailing = last
        elif part == b"..":
            if not kept:
                return None
            kept.pop()
            trailing = last
        else:
            kept.append(part)
            trailing = False
    path = b"/" + b"/".join(kept) + (b"/" if trailing and kept else b"")
    # Bytes that are not UTF-8 read as U+FFFD, as the runner and the backend would read them.
    return path.decode("utf-8", "replace")


def safe_encode(uri: str) -> str:
    """APISIX's ``core.utils.uri_safe_encode`` (``ngx_escape_uri``, URI mode)."""
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in uri.encode())
