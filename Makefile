# Entry points: `make up` runs the whole system, `make test` runs every test that needs no Docker.
# Both create .venv and install the pinned dependencies (requirements.lock) on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# docker when a Docker engine answers, else the local stack; `make up MODE=local` forces one.
MODE   ?= $(shell docker info >/dev/null 2>&1 && echo docker || echo local)
# `make up DETACH=1`: start in the background and give the terminal back (`make down` stops it).
DETACH ?=
# The secrets file of `make up` (both modes); tests point it elsewhere.
ENV_FILE ?= .env
export STACK_ENV_FILE := $(ENV_FILE)

.DEFAULT_GOAL := help
.PHONY: help venv lock lint typecheck unit test up down logs test-integration \
        bench-backend bench-runner bench-runner-metrics bench-context bench-gateway bench-mcp bench-oauth clean

help:
	@echo "make up                 run the whole system (Docker if an engine answers, else the local stack)"
	@echo "make up DETACH=1        the same in the background (the local stack; Docker always detaches)"
	@echo "make down | make logs   stop the stack (either mode) / follow its logs (MODE=local|docker forces a mode)"
	@echo "make test               ruff + mypy --strict + pytest (unit, component and local end-to-end)"
	@echo "make test-integration   black-box HTTP suite against a freshly started stack"
	@echo "make bench-backend | bench-runner | bench-runner-metrics | bench-context | bench-gateway | bench-mcp | bench-oauth"
	@echo "make lock               re-pin requirements.lock from pyproject.toml"

# The venv is rebuilt whenever the lock file changes; `pip install -r` pins every transitive package.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

venv: $(STAMP)

lock: $(STAMP)
	$(VENV)/bin/pip-compile --quiet --all-extras --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy backend runner_plugins gateway stack textfold errorshape bearer tests bench

unit: $(STAMP)
	$(PY) -m pytest

test: lint typecheck unit e2e-local

# --- The local stack (python -m stack, docs/local-stack.md) --------------------------------------
.PHONY: e2e-local env-file

# The black-box suite against a fresh local stack on free ports (state in var/e2e/run-<pid>,
# secrets in var/e2e/.env), so it never collides with a running `make up` or another test run.
e2e-local: $(STAMP)
	$(PY) -m stack test

env-file: $(STAMP)
	$(PY) -m stack env

up: $(STAMP)
	@if [ "$(MODE)" = docker ]; then $(MAKE) docker-up; \
	else $(PY) -m stack up $(if $(filter 1 yes true,$(DETACH)),--detach); fi

# Stops whatever runs: the local stack (foreground in another terminal, or detached) if its
# state file says so, and the Docker stack when a Docker engine answers.
down: $(STAMP)
	@$(PY) -m stack down
	@if [ "$(MODE)" = docker ] && $(COMPOSE) version >/dev/null 2>&1; then $(MAKE) docker-down; fi

logs: $(STAMP)
	@if [ "$(MODE)" = docker ]; then $(MAKE) docker-logs; else $(PY) -m stack logs --follow; fi

test-integration: $(STAMP)
	@if [ "$(MODE)" = docker ]; then $(MAKE) docker-test-integration; else $(PY) -m stack test; fi

# Gateway overhead: wrk at 64 connections through the gateway vs the backend/runner directly.
bench-gateway: $(STAMP)
	$(PY) bench/gateway_bench.py

# MCP vs REST: tools/call get_speaker_context and GET /speaker/1/context through the gateway at
# 32 connections, cache warm and cold; exit 1 if MCP is under 70% of REST req/s or p50 > 1.5x.
bench-mcp: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/mcp_bench.py $(BENCH_ARGS)

# Bearer token vs API key on the warm context route, same run, alternating rounds (>= 90 %).
bench-oauth: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/oauth_bench.py $(BENCH_ARGS)

# --- The real APISIX deployment (docker-compose.yml, docs/deployment.md) -------------------------
# `make up/down/logs/test-integration` call these when a Docker engine answers. `env-file` (local
# stack) writes the generated secrets to .env on first run; the scale profile's Redis password is
# added here when missing.
COMPOSE ?= docker compose

.PHONY: docker-check docker-env docker-up docker-down docker-logs docker-test-integration bench-deploy

# Before anything is written: the docker CLI alone (without the Compose v2 plugin) would fail
# on `--env-file` only after .env had been changed.
docker-check:
	@command -v docker >/dev/null 2>&1 || { echo "make: the docker CLI is not installed;" \
		"install Docker, or run the local stack: make up MODE=local. Nothing was changed." >&2; exit 1; }
	@$(COMPOSE) version >/dev/null 2>&1 || { echo "make: '$(COMPOSE)' is not available (the" \
		"Docker Compose v2 plugin, package docker-compose-plugin, is missing); install it, or" \
		"run the local stack: make up MODE=local. Nothing was changed." >&2; exit 1; }

docker-env: docker-check env-file
	@grep -q '^CONFERENCE_REDIS_PASSWORD=' $(ENV_FILE) || \
		$(PY) -c "import secrets; print('CONFERENCE_REDIS_PASSWORD=' + secrets.token_urlsafe(32))" >> $(ENV_FILE)

docker-up: docker-check docker-env
	$(COMPOSE) --env-file $(ENV_FILE) up --build --detach --wait
	@$(PY) -m stack banner --docker

docker-down:
	@if [ -f $(ENV_FILE) ]; then $(COMPOSE) --env-file $(ENV_FILE) down --remove-orphans; \
	else echo "no $(ENV_FILE): nothing was started by make docker-up"; fi

docker-logs:
	$(COMPOSE) --env-file $(ENV_FILE) logs --follow --tail=200

# Runner cold start as APISIX spawns it, and the cost of one gateway health probe (no Docker).
bench-deploy: $(STAMP)
	$(PY) bench/deploy_bench.py

# The black-box suite against a freshly started stack; the stack is removed afterwards.
docker-test-integration: docker-up
	@set -a; . $(abspath $(ENV_FILE)); set +a; \
	GATEWAY_URL="http://127.0.0.1:$${GATEWAY_PORT:-9080}" $(PY) -m pytest -m e2e tests/integration; \
	status=$$?; $(COMPOSE) --env-file $(ENV_FILE) down --remove-orphans; exit $$status

# Runner: trivial Stop plugin over the real socket from client processes at 1/16/64/256
# connections, then RSS before/after 1,000,000 calls (docs/performance.md, "Runner").
bench-runner: $(STAMP)
	$(PY) bench/runner_bench.py

# Runner metrics off vs on: two runners, 10 alternating rounds at 64 connections, runners pinned
# to one CPU and clients to the other; exit 1 when the drop reaches 5 %.
bench-runner-metrics: $(STAMP)
	$(PY) bench/runner_bench.py --metrics-rounds 10 --seconds 3 --pin --strict $(BENCH_ARGS)

# Context plugin: 50 ms backend, real runner over its socket; exit 1 if a target is missed.
bench-context: $(STAMP)
	$(PY) bench/context_bench.py

# Backend: gunicorn (backend/gunicorn.conf.py, 2 workers) on loopback, wrk at 32 connections
# on three endpoints; prints req/s, p50/p99 and server RSS (docs/performance.md, "Backend").
bench-backend: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) bench/backend_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
