# The Conference API image: the Flask backend under gunicorn (backend/gunicorn.conf.py).
#
# Exact Python patch release on Debian bookworm, the same minor version and distribution as the
# gateway image. The app never runs as root and keeps its SQLite database in a volume.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN set -eux; \
    groupadd --system --gid 10001 conference; \
    useradd --system --gid conference --uid 10001 --no-create-home \
        --shell /usr/sbin/nologin conference; \
    install -d -o conference -g conference -m 0750 /var/lib/conference

COPY pyproject.toml requirements.lock README.md /opt/conference/src/
COPY backend /opt/conference/src/backend
COPY textfold /opt/conference/src/textfold
COPY errorshape /opt/conference/src/errorshape
COPY bearer /opt/conference/src/bearer
RUN set -eux; \
    python -m venv /opt/conference/venv; \
    /opt/conference/venv/bin/pip install -c /opt/conference/src/requirements.lock \
        "/opt/conference/src[backend]"; \
    cp /opt/conference/src/backend/gunicorn.conf.py /opt/conference/gunicorn.conf.py; \
    rm -rf /opt/conference/src

# Listen on the container's interfaces: the compose network is internal and the port is never
# published. The database lives in the volume mounted at /var/lib/conference.
ENV CONFERENCE_BIND=0.0.0.0:8000 \
    CONFERENCE_DATABASE_URL=sqlite:////var/lib/conference/conference.sqlite3

USER conference
WORKDIR /var/lib/conference
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["/opt/conference/venv/bin/python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["/opt/conference/venv/bin/gunicorn", "--config", "/opt/conference/gunicorn.conf.py"]
