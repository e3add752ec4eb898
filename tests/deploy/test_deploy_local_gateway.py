"""The local development gateway accepts the very apisix.yaml that real APISIX runs."""

from __future__ import annotations

import pytest

from tests.deploy.deploy_files import APISIX_YAML
from tests.processes import oauth_public_key

ENV = {
    "CHATGPT_API_KEY": "dummy-chatgpt-key",
    "READONLY_API_KEY": "dummy-readonly-key",
    "CONFERENCE_SHARED_SECRET": "dummy-shared-secret",
    "OAUTH_PUBLIC_KEY": oauth_public_key(),
}


def test_local_gateway_loads_the_deployment_file() -> None:
    config = pytest.importorskip("gateway.config")
    build = pytest.importorskip("gateway.build")
    # Parsed and built: every plugin conf is validated too, as the gateway does at startup.
    loaded = build.build(config.parse(APISIX_YAML.read_text(), ENV))
    assert {route.id for route in loaded.routes} == {
        "public-plugin-surface",
        "speaker-context",
        "mcp",
        "session-feedback",
        "conference-read",
        "oauth-public",
        "oauth-register",
        "not-found",
    }
    assert {consumer.username for consumer in loaded.consumers} == {"chatgpt", "readonly"}


def test_local_gateway_refuses_a_missing_secret() -> None:
    config = pytest.importorskip("gateway.config")
    errors = pytest.importorskip("gateway.errors")
    partial = {k: v for k, v in ENV.items() if k != "CHATGPT_API_KEY"}
    with pytest.raises(errors.ConfigError, match="CHATGPT_API_KEY"):
        config.parse(APISIX_YAML.read_text(), partial)
