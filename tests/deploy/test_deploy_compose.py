"""docker-compose.yml: the backend stays internal, secrets only from .env, health and restarts."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.deploy_files import (
    COMPOSE_YAML,
    ROOT,
    apisix_document,
    compose_variables,
    expand,
    validate,
    yaml_file,
)

SECRET_NAME = re.compile(r"(KEY|SECRET|PASSWORD|TOKEN)$")
DEFAULT_SERVICES = {"gateway", "backend"}
SCALE_SERVICES = {"redis", "gateway-node", "gateway-lb"}
INTERNAL_PORTS = {"8000", "9091", "9092", "6379"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml_file(COMPOSE_YAML)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(compose["services"])


def _published(service: dict[str, Any]) -> list[str]:
    return [str(p) for p in service.get("ports", [])]


def _resolve(value: str) -> str:
    """Compose interpolation with dummy values for required variables."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        if op in (":-", "-"):
            return arg
        return f"dummy-{name.lower()}"

    return re.sub(r"\$\{(\w+)(?:(:?[-?+])([^}]*))?\}", one, value)


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "use the mapping form for environment"
    return {str(k): _resolve(str(v)) for k, v in env.items()}


def test_services_and_profiles(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == DEFAULT_SERVICES | SCALE_SERVICES
    for name in DEFAULT_SERVICES:
        assert "profiles" not in services[name], name
    for name in SCALE_SERVICES:
        assert services[name]["profiles"] == ["scale"], name


def test_backend_is_never_published_and_only_internal(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    backend = services["backend"]
    assert "ports" not in backend and "network_mode" not in backend
    assert backend["networks"] == ["internal"]
    assert compose["networks"]["internal"]["internal"] is True
    assert services["redis"]["networks"] == ["internal"]
    assert services["gateway-node"]["networks"] == ["internal"]


def test_only_gateways_publish_and_never_an_internal_port(
    services: dict[str, dict[str, Any]],
) -> None:
    publishing = {name for name, s in services.items() if s.get("ports")}
    assert publishing == {"gateway", "gateway-lb"}
    assert _published(services["gateway"])[0].endswith(":9080")
    for name, service in services.items():
        for port in _published(service):
            container_port = port.rsplit(":", 1)[-1]
            assert container_port not in INTERNAL_PORTS, (name, port)
            # Loopback unless the operator opts in.
            assert port.startswith("${GATEWAY_BIND:-127.0.0.1}:"), (name, port)


def test_every_service_has_health_check_and_restart_policy(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert service.get("restart") in ("unless-stopped", "always"), name
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name


def test_gateways_wait_for_a_healthy_backend(services: dict[str, dict[str, Any]]) -> None:
    for name in ("gateway", "gateway-node"):
        assert services[name]["depends_on"]["backend"]["condition"] == "service_healthy"
    assert services["gateway-node"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_secrets_come_only_from_env_and_are_required(compose: dict[str, Any]) -> None:
    seen = set()
    for var in compose_variables(compose):
        if SECRET_NAME.search(var.name):
            seen.add(var.name)
            assert var.operator == ":?", f"{var.name} must be required (${{{var.name}:?...}})"
    assert {"CHATGPT_API_KEY", "READONLY_API_KEY", "CONFERENCE_SHARED_SECRET"} <= seen


def test_no_literal_secret_in_any_environment(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(str(key)):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), (name, key)


def test_gateway_environment_satisfies_apisix_yaml(services: dict[str, dict[str, Any]]) -> None:
    raw = (ROOT / "apisix" / "apisix.yaml").read_text()
    for name in ("gateway", "gateway-node"):
        env = _environment(services[name])
        required = expand(raw, env).without_default
        assert required <= set(env), name
        doc = apisix_document(env)
        backend = next(u for u in doc["upstreams"] if u["id"] == "conference-api")
        assert list(backend["nodes"]) == ["backend:8000"]


def test_scale_nodes_share_quotas_through_redis(services: dict[str, dict[str, Any]]) -> None:
    env = _environment(services["gateway-node"])
    assert env["CONFERENCE_LIMIT_POLICY"] == "redis"
    assert env["CONFERENCE_REDIS_HOST"] in services
    # redis-server listens on its default port; the nodes are told so explicitly.
    assert env["CONFERENCE_REDIS_PORT"] == "6379"
    assert int(env["CONFERENCE_REDIS_TIMEOUT"]) >= 1
    assert services["gateway-node"]["deploy"]["replicas"] >= 2
    doc = apisix_document(env)
    for consumer in doc["consumers"]:
        limit = consumer["plugins"]["limit-count"]
        assert limit["policy"] == "redis" and limit["redis_host"] == "redis"
        assert limit["redis_password"] == "dummy-conference_redis_password"
        assert validate(limit, "limit-count") == []
    # The default gateway keeps node-local counters (no Redis outside the profile).
    assert "CONFERENCE_LIMIT_POLICY" not in _environment(services["gateway"])


def test_mounted_files_exist_and_are_read_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), (name, volume)
                assert str(volume).endswith(":ro"), (name, volume)


def test_third_party_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "build" in service:
            continue
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+(-[\w.]+)?", image), (name, image)


def test_no_privileged_or_host_networking(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        assert not service.get("privileged"), name
        assert service.get("network_mode") != "host", name
    for name in ("gateway", "backend", "gateway-node", "redis"):
        assert services[name]["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in services[name]["security_opt"], name


def test_every_gateway_variable_reaches_nginx_workers_and_the_runner(
    services: dict[str, dict[str, Any]],
) -> None:
    # nginx clears the environment of its workers and of the spawned runner except for the
    # names declared in config.yaml; an undeclared variable would silently not arrive.
    declared = set(yaml_file(ROOT / "apisix" / "config.yaml")["nginx_config"]["envs"])
    for name in ("gateway", "gateway-node"):
        assert set(_environment(services[name])) <= declared, name
