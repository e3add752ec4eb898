"""``python -m backend``: the Flask development server (gunicorn in production).

Binds to ``CONFERENCE_BIND`` (default ``127.0.0.1:8000``), like gunicorn.
"""

from __future__ import annotations

import logging
import os

from backend import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    host, _, port = os.environ.get("CONFERENCE_BIND", "127.0.0.1:8000").rpartition(":")
    create_app().run(host=host.strip("[]") or "127.0.0.1", port=int(port), debug=False)


if __name__ == "__main__":
    main()
