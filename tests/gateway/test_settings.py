"""The local gateway's settings: built once from flags, then the environment, then defaults."""

from __future__ import annotations

from pathlib import Path

from gateway.settings import MAX_UPSTREAM_BODY, GatewaySettings, Limits, RunnerSettings


def test_defaults_are_apisix_and_nginx_ones() -> None:
    settings = GatewaySettings.from_args([], {})
    assert settings == GatewaySettings()
    assert (settings.host, settings.port, settings.config_path) == (
        "127.0.0.1",
        9080,
        Path("apisix/apisix.yaml"),
    )
    assert settings.runner == RunnerSettings("var/run/runner.sock", 1.0, 60.0, 32)
    assert settings.limits.client_header_timeout == 10.0
    assert settings.limits.client_body_timeout == 10.0
    assert settings.limits.max_upstream_body == MAX_UPSTREAM_BODY


def test_the_environment_beats_defaults_and_flags_beat_the_environment() -> None:
    environ = {
        "GATEWAY_HOST": "127.0.0.2",
        "GATEWAY_PORT": "9500",
        "RUNNER_SOCKET": "unix:/tmp/env.sock",
        "GATEWAY_LOG_LEVEL": "debug",
        "GATEWAY_CLIENT_HEADER_TIMEOUT": "3",
        "GATEWAY_CLIENT_BODY_TIMEOUT": "5",
    }
    from_env = GatewaySettings.from_args([], environ)
    assert (from_env.host, from_env.port, from_env.log_level) == ("127.0.0.2", 9500, "DEBUG")
    assert from_env.runner.socket_path == "/tmp/env.sock"  # the 'unix:' prefix is dropped
    assert from_env.limits == Limits(client_header_timeout=3.0, client_body_timeout=5.0)
    flags = GatewaySettings.from_args(
        ["--port", "9600", "--runner-socket", "/tmp/flag.sock", "--client-header-timeout", "4"]
        + ["--client-body-timeout", "6"],
        environ,
    )
    assert (flags.host, flags.port, flags.runner.socket_path) == (
        "127.0.0.2",
        9600,
        "/tmp/flag.sock",
    )
    assert flags.limits.client_header_timeout == 4.0
    assert flags.limits.client_body_timeout == 6.0


def test_the_runner_client_gets_the_settings() -> None:
    client = RunnerSettings("/tmp/r.sock", connect_timeout=0.5, read_timeout=7, max_idle=3).client()
    assert (client.socket_path, client.connect_timeout, client.read_timeout, client.max_idle) == (
        "/tmp/r.sock",
        0.5,
        7,
        3,
    )
