# Entry points: `make up` runs the whole system, `make test` runs every test that needs no Docker.
# Both create .venv and install the pinned dependencies (requirements.lock) on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv lock lint typecheck unit test up down logs test-integration \
        bench-backend bench-runner bench-context bench-gateway clean

help:
	@echo "make up                 run the whole system (Docker if an engine answers, else the local stack)"
	@echo "make test               ruff + mypy --strict + pytest (unit, component and local end-to-end)"
	@echo "make test-integration   black-box HTTP suite against a freshly started stack"
	@echo "make bench-backend | bench-runner | bench-context | bench-gateway"
	@echo "make lock               re-pin requirements.lock from pyproject.toml"

# The venv is rebuilt whenever the lock file changes; `pip install -r` pins every transitive package.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

lock: $(STAMP)
	$(VENV)/bin/pip-compile --quiet --extra dev --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy backend runner_plugins

unit: $(STAMP)
	$(PY) -m pytest

test: lint typecheck unit

up: $(STAMP)
	@echo "The gateway is not built yet: running the backend alone under gunicorn on 127.0.0.1:8000."
	$(VENV)/bin/gunicorn --config backend/gunicorn.conf.py "backend:create_app()"

# --- The real APISIX deployment (docker-compose.yml, docs/deployment.md) -------------------------
# `make up/down/logs/test-integration` call these when a Docker engine answers. `env-file` (local
# stack) writes the generated secrets to .env on first run; the scale profile's Redis password is
# added here when missing.
COMPOSE ?= docker compose

.PHONY: docker-env docker-up docker-down docker-logs docker-test-integration

docker-env: env-file
	@grep -q '^CONFERENCE_REDIS_PASSWORD=' .env || \
		$(PY) -c "import secrets; print('CONFERENCE_REDIS_PASSWORD=' + secrets.token_urlsafe(32))" >> .env

docker-up: docker-env
	$(COMPOSE) --env-file .env up --build --detach --wait
	@echo "Gateway: http://127.0.0.1:$${GATEWAY_PORT:-9080} (API keys in .env)"

docker-down:
	@if [ -f .env ]; then $(COMPOSE) --env-file .env down --remove-orphans; \
	else echo "no .env: nothing was started by make docker-up"; fi

docker-logs:
	$(COMPOSE) --env-file .env logs --follow --tail=200

# The black-box suite against a freshly started stack; the stack is removed afterwards.
docker-test-integration: docker-up
	@set -a; . ./.env; set +a; \
	GATEWAY_URL="http://127.0.0.1:$${GATEWAY_PORT:-9080}" $(PY) -m pytest -m e2e tests/integration; \
	status=$$?; $(COMPOSE) --env-file .env down --remove-orphans; exit $$status

# Context plugin: 50 ms backend, real runner over its socket; exit 1 if a target is missed.
bench-context: $(STAMP)
	$(PY) bench/context_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
