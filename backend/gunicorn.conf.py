"""gunicorn settings for the Conference API (``gunicorn -c backend/gunicorn.conf.py``).

Strategy: loopback by default and everything overridable from the
environment. gthread workers keep client connections alive (the gateway and
the runner reuse pooled connections; sync workers close after each request).
The database is prepared once in the master (``on_starting``) so workers never
race to create tables or load the seed, and the few errors gunicorn answers
itself are rendered as JSON (:mod:`backend.wire_errors`).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from backend import wire_errors

# gunicorn's own parser errors (bad request line, 414, 431) answer JSON too.
wire_errors.install()
# The app's own loggers (backend.*) go to stderr next to gunicorn's error log;
# set here, in the master, so forked workers inherit the handler.
logging.basicConfig(
    level=os.environ.get("CONFERENCE_LOG_LEVEL", "info").upper(),
    format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
)

bind = [os.environ.get("CONFERENCE_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("CONFERENCE_WORKERS", "2"))
worker_class = os.environ.get("CONFERENCE_WORKER_CLASS", "gthread")
threads = int(os.environ.get("CONFERENCE_THREADS", "4"))
# A request that takes longer than this is stuck: the worker is restarted.
timeout = int(os.environ.get("CONFERENCE_WORKER_TIMEOUT", "30"))
graceful_timeout = 10
# Longer than the gateway's upstream idle timeout (60 s in apisix.yaml), so the
# gateway closes idle connections first instead of racing a server-side close.
keepalive = int(os.environ.get("CONFERENCE_KEEPALIVE", "75"))
# Bounded request line and headers (werkzeug bounds the body: 64 KiB).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# Access log off by default (the gateway logs requests); "-" sends it to stdout,
# one JSON object per line.
accesslog = os.environ.get("CONFERENCE_ACCESS_LOG") or None
logger_class = "backend.access_log.JsonAccessLogger"
errorlog = "-"
loglevel = os.environ.get("CONFERENCE_LOG_LEVEL", "info")
wsgi_app = "backend:create_app()"
# gunicorn 24+ opens a control socket at one fixed path in $HOME; several
# instances (tests, benchmarks, the local stack) would fight over it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Create the schema and load the seed once, before any worker starts."""
    from backend import create_app

    app = create_app()
    # Workers are forked from this process and build their own engines; a pooled connection
    # left open here would sit idle in the master for good (and be shared by every fork).
    app.extensions["store"].engine.dispose()
