"""RunnerConfig.from_env and the explicit plugin registry."""

from __future__ import annotations

import pytest

from runner_plugins.config import DEFAULT_PLUGIN_MODULES, RunnerConfig
from runner_plugins.errors import ConfigError, RegistryError
from runner_plugins.examples.static_stop import StaticStop
from runner_plugins.registry import PluginRegistry


def test_apisix_environment():
    config = RunnerConfig.from_env(
        {
            "APISIX_LISTEN_ADDRESS": "unix:/usr/local/apisix/conf/apisix-1.sock",
            "APISIX_CONF_EXPIRE_TIME": "60",
        }
    )
    assert config.socket_path == "/usr/local/apisix/conf/apisix-1.sock"
    assert (config.conf_expire_time, config.conf_ttl) == (60, 120)
    assert config.plugin_modules == DEFAULT_PLUGIN_MODULES == ("runner_plugins.conference",)
    assert config.log_level == "WARNING"


def test_defaults_when_apisix_does_not_spawn_us():
    config = RunnerConfig.from_env({}, listen="/tmp/runner.sock")
    assert (config.conf_expire_time, config.conf_ttl) == (3600, 7200)


def test_flags_beat_the_environment():
    env = {
        "APISIX_LISTEN_ADDRESS": "unix:/tmp/env.sock",
        "RUNNER_PLUGINS": "a.b, c.d ,",
        "RUNNER_LOG_LEVEL": "debug",
    }
    assert RunnerConfig.from_env(env).plugin_modules == ("a.b", "c.d")
    assert RunnerConfig.from_env(env).log_level == "DEBUG"
    config = RunnerConfig.from_env(env, listen="/tmp/flag.sock", plugins=["x.y"], log_level="error")
    assert (config.socket_path, config.plugin_modules, config.log_level) == (
        "/tmp/flag.sock",
        ("x.y",),
        "ERROR",
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "APISIX_LISTEN_ADDRESS"),
        ({"APISIX_LISTEN_ADDRESS": "tcp:127.0.0.1:1"}, "unix:/path"),
        ({"APISIX_LISTEN_ADDRESS": "unix:/" + "x" * 120}, "longer than"),
        ({"APISIX_LISTEN_ADDRESS": "unix:/s", "APISIX_CONF_EXPIRE_TIME": "soon"}, "number"),
        ({"APISIX_LISTEN_ADDRESS": "unix:/s", "APISIX_CONF_EXPIRE_TIME": "-1"}, "at least"),
        ({"APISIX_LISTEN_ADDRESS": "unix:/s", "RUNNER_LOG_LEVEL": "chatty"}, "log level"),
    ],
)
def test_bad_values_are_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        RunnerConfig.from_env(env)


def test_registry_loads_named_modules_only():
    registry = PluginRegistry.from_modules(
        ["runner_plugins.examples.static_stop", "runner_plugins.examples.api_version"]
    )
    assert registry.names() == ["static-stop", "api-version"]
    assert isinstance(registry.get("static-stop"), StaticStop)
    assert registry.get("conference-context") is None  # nothing else was scanned in


def test_registry_refuses_duplicates_and_bad_modules():
    with pytest.raises(RegistryError, match="registered twice"):
        PluginRegistry([StaticStop(), StaticStop()])
    with pytest.raises(RegistryError, match="registered twice"):
        PluginRegistry.from_modules(["runner_plugins.examples.static_stop"] * 2)
    with pytest.raises(RegistryError, match="no plugins\\(\\) function"):
        PluginRegistry.from_modules(["runner_plugins.protocol"])
    with pytest.raises(RegistryError, match="cannot import"):
        PluginRegistry.from_modules(["runner_plugins.no_such_module"])
    with pytest.raises(RegistryError, match="not a runner_plugins.plugin.Plugin"):
        PluginRegistry([object()])  # type: ignore[list-item]
