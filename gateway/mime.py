"""The Content-Type nginx gives a body that a Lua plugin prints without setting one.

Strategy: nginx types such a response from the extension of the request URI through its
``types`` map (``mime.types``, included by APISIX's nginx.conf), else ``default_type``
(``text/plain``), and appends ``; charset=utf-8`` (APISIX's ``charset utf-8``) to the types of
``charset_types``. That is why real APISIX sent a rate-limit rejection on ``/logo.png`` as
``image/png`` (docs/local-stack.md). The table holds the entries of nginx's stock ``mime.types``
that a web API's URIs plausibly end with; an extension missing here is typed ``text/plain``, as
nginx types any extension its table lacks.
"""

from __future__ import annotations

import posixpath

DEFAULT_TYPE = "text/plain"
CHARSET = "utf-8"
#: nginx's default ``charset_types`` plus text/plain, which APISIX's template adds by ``charset``.
CHARSET_TYPES = frozenset(
    {
        "text/html",
        "text/xml",
        "text/plain",
        "text/vnd.wap.wml",
        "application/javascript",
        "application/rss+xml",
    }
)
#: Extension (lower case) -> type, from nginx's conf/mime.types.
TYPES: dict[str, str] = {
    "html": "text/html",
    "htm": "text/html",
    "shtml": "text/html",
    "css": "text/css",
    "xml": "text/xml",
    "gif": "image/gif",
    "jpeg": "image/jpeg",
    "jpg": "image/jpeg",
    "js": "application/javascript",
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "txt": "text/plain",
    "png": "image/png",
    "svg": "image/svg+xml",
    "svgz": "image/svg+xml",
    "webp": "image/webp",
    "ico": "image/x-icon",
    "bmp": "image/x-ms-bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "json": "application/json",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "gz": "application/octet-stream",
    "bin": "application/octet-stream",
    "exe": "application/octet-stream",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "xhtml": "application/xhtml+xml",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "mp4": "video/mp4",
    "mpeg": "video/mpeg",
    "mpg": "video/mpeg",
    "webm": "video/webm",
    "mov": "video/quicktime",
}


def exit_content_type(path: str) -> str:
    """The Content-Type nginx sends for an untyped body answering ``path``."""
    _, ext = posixpath.splitext(posixpath.basename(path))
    kind = TYPES.get(ext[1:].lower(), DEFAULT_TYPE) if ext else DEFAULT_TYPE
    return f"{kind}; charset={CHARSET}" if kind in CHARSET_TYPES else kind
