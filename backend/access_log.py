"""gunicorn access log as one JSON object per line (when the access log is on).

Strategy: gunicorn's access log is a printf template over its "atoms", which
does not escape quotes, so a hostile User-Agent could forge fields in a
JSON-looking template. This logger subclass builds a dict from the same atoms
and serialises it with ``json.dumps`` instead. It is off unless
``CONFERENCE_ACCESS_LOG`` names a destination (the gateway already logs every
request).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from gunicorn.glogging import Logger


class JsonAccessLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type hints
    """gunicorn ``logger_class`` whose access lines are JSON."""

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = str(getattr(resp, "status", "") or "").split(" ", 1)[0]
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or "",
            "status": int(status) if status.isdigit() else None,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "request_id": environ.get("HTTP_X_REQUEST_ID"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        self.access_log.info("%s", json.dumps(record, ensure_ascii=False))
