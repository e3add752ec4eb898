"""The OpenAPI document describes exactly what the context plugin returns.

Real plugin answers (the real Flask backend for the found/candidates/404/400 answers, the
fault fake for 502/504/503 and a trimmed document) are validated against the response schema
and headers that backend/static/openapi.yaml declares for their operation and status.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from runner_plugins.context.conf import ContextConf
from runner_plugins.context.plugin import ContextPlugin
from tests.context.conftest import Answer, FakeClock, ask, make_conf
from tests.context.fake_backend import FakeBackend, seed

SPEC_PATH = Path(__file__).resolve().parents[2] / "backend" / "static" / "openapi.yaml"
BY_ID = ("/speaker/{id}/context", "get")
BY_NAME = ("/speakers/context", "get")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    return loaded


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check(spec: dict[str, Any], operation: tuple[str, str], got: Answer) -> None:
    """Validate status, headers and body of one answer against the operation."""
    path, method = operation
    responses = spec["paths"][path][method]["responses"]
    assert str(got.status) in responses, f"{got.status} is not documented for {path}"
    response = _resolve(spec, responses[str(got.status)])
    media = response["content"]
    assert got.headers["content-type"].split(";")[0] in media
    schema = media["application/json"]["schema"]
    # The whole document is the root, so every "#/components/..." reference resolves.
    validator = Draft202012Validator({**spec, **schema})
    errors = sorted(validator.iter_errors(got.body), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    for name, header in response.get("headers", {}).items():
        value = got.headers.get(name.lower())
        assert value is not None, f"header {name} is documented for {got.status} but missing"
        header_schema = _resolve(spec, header)["schema"]
        typed: Any = int(value) if header_schema.get("type") == "integer" else value
        Draft202012Validator(header_schema).validate(typed)


@pytest.mark.parametrize(
    ("operation", "path", "args", "status"),
    [
        pytest.param(BY_ID, "/speaker/1/context", (), 200, id="by-id"),
        pytest.param(BY_ID, "/speaker/64/context", (), 200, id="no-sessions"),
        pytest.param(BY_ID, "/speaker/9999/context", (), 404, id="unknown-id"),
        pytest.param(BY_ID, "/speaker/2147483647/context", (), 404, id="max-id"),
        pytest.param(BY_ID, "/speaker/x/context", (), 400, id="bad-id"),
        pytest.param(BY_NAME, "/speakers/context", (("speakername", "soren"),), 200, id="name"),
        pytest.param(BY_NAME, "/speakers/context", (("speakername", "maria"),), 200, id="cands"),
        pytest.param(BY_NAME, "/speakers/context", (("speakername", "qqq"),), 404, id="no-name"),
        pytest.param(BY_NAME, "/speakers/context", (), 400, id="missing-name"),
    ],
)
async def test_answers_from_the_real_backend_match_the_spec(
    spec: dict[str, Any],
    real_plugin: ContextPlugin,
    backend_url: str,
    operation: tuple[str, str],
    path: str,
    args: Any,
    status: int,
) -> None:
    got = await ask(real_plugin, make_conf(backend_url), path, args=args)
    assert got.status == status
    check(spec, operation, got)


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        pytest.param({"speaker": "500"}, 502, id="502"),
        pytest.param({"speaker": "slow"}, 504, id="504"),
        pytest.param({"sessions": "500", "topics": "slow"}, 200, id="partial-200"),
    ],
)
async def test_fault_answers_match_the_spec(
    spec: dict[str, Any],
    plugin: ContextPlugin,
    fake: FakeBackend,
    fault: dict[str, str],
    status: int,
) -> None:
    for source, kind in fault.items():
        if kind == "slow":
            fake.delay[source] = 5.0
        else:
            fake.fault[source] = kind
    got = await ask(plugin, make_conf(fake.url, call_timeout_ms=1000), "/speaker/1/context")
    assert got.status == status
    check(spec, BY_ID, got)


async def test_breaker_503_matches_the_spec(
    spec: dict[str, Any], plugin: ContextPlugin, fake: FakeBackend, clock: FakeClock
) -> None:
    conf: ContextConf = make_conf(fake.url, breaker_failures=1)
    fake.fault["speaker"] = "500"
    assert (await ask(plugin, conf, "/speaker/1/context")).status == 502
    got = await ask(plugin, conf, "/speakers/context", args=(("speakername", "zed"),))
    assert got.status == 503
    check(spec, BY_NAME, got)


async def test_trimmed_answer_matches_the_spec(spec: dict[str, Any], plugin: ContextPlugin) -> None:
    data = seed(n_speakers=2, sessions_per_speaker=40)
    for session in data["sessions"].values():
        session["abstract"] = "Very long abstract. " * 150
    fake = FakeBackend(data=data)
    await fake.start()
    try:
        got = await ask(plugin, make_conf(fake.url, max_response_chars=5000), "/speaker/1/context")
    finally:
        await fake.stop()
    assert got.body["meta"]["truncated"]["sessions_dropped"] > 0
    check(spec, BY_ID, got)
