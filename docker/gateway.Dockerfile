# The gateway image: official Apache APISIX (Debian) + Python + our ext-plugin runner.
#
# APISIX spawns and supervises the runner itself (apisix/config.yaml, ext-plugin.cmd), so the
# runner lives in this image. The official image has no Python: the Debian bookworm base that
# apache/apisix *-debian images use since 3.17 ships Python 3.11, our minimum, as python3.
# The tag is an exact release: 3.18.0 is the version whose behaviour docs/deployment.md relies
# on (ext-plugin protocol 0.6.1, query kept on path rewrites since 3.16).
FROM apache/apisix:3.18.0-debian

USER root

# Python from Debian only: the base still lists the APISIX package repository, which is not
# needed (APISIX is installed) and would make the build depend on one more host. Fail early, with
# a clear message, if the base ever stops providing Python >= 3.11.
RUN set -eux; \
    rm -f /etc/apt/sources.list.d/apisix.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 python3-venv; \
    rm -rf /var/lib/apt/lists/*; \
    python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version'

# Install the runner from this repository into its own venv, every dependency pinned by the
# lock file (used as constraints, so only what the package needs is installed).
COPY pyproject.toml requirements.lock README.md /opt/conference/src/
COPY runner_plugins /opt/conference/src/runner_plugins
COPY textfold /opt/conference/src/textfold
COPY errorshape /opt/conference/src/errorshape
COPY bearer /opt/conference/src/bearer
RUN set -eux; \
    python3 -m venv /opt/conference/venv; \
    /opt/conference/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c /opt/conference/src/requirements.lock /opt/conference/src; \
    rm -rf /opt/conference/src; \
    test -x /opt/conference/venv/bin/conference-runner

COPY --chown=apisix:apisix apisix/config.yaml /usr/local/apisix/conf/config.yaml
# The project's own Lua plugin (conference-errors), found through config.yaml's extra_lua_path.
COPY apisix/lua /opt/conference/lua
COPY --chown=apisix:apisix apisix/apisix.yaml /usr/local/apisix/conf/apisix.yaml
COPY docker/gateway_healthcheck.py /opt/conference/gateway_healthcheck.py

# The official entrypoint then skips etcd initialisation and checks the standalone settings.
ENV APISIX_STAND_ALONE=true

USER apisix

EXPOSE 9080

HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/opt/conference/venv/bin/python", "/opt/conference/gateway_healthcheck.py"]
