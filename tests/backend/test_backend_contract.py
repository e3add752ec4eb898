"""Contract: the served OpenAPI document is valid, within GPT Actions' limits,
matches the app's routes, and every backend response fits its operation's schema."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.backend.conftest import TEST_SECRET

PUBLIC_URL = "https://conference.example.test"
CONTEXT_OPERATIONS = {"getSpeakerContext", "findSpeakerContext"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SURFACE_PATHS = {"/.well-known/ai-plugin.json", "/openapi.yaml", "/logo.png", "/healthz"}


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    loaded: dict[str, Any] = yaml.load(response.data, Loader=_LOADER)
    return loaded


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_document_is_valid_openapi_31(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert document["servers"][0]["url"] == PUBLIC_URL


def test_security_schemes_are_the_apikey_header_or_oauth(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["apikey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "apikey",
        "description": schemes["apikey"]["description"],
    }
    flow = schemes["oauth2"]["flows"]["authorizationCode"]
    assert set(flow["scopes"]) == {"conference:read", "conference:feedback"}
    # Alternatives: either requirement object satisfies the operation.
    assert document["security"] == [{"apikey": []}, {"oauth2": ["conference:read"]}]
    feedback = document["paths"]["/session/{id}/feedback"]["post"]
    assert feedback["security"] == [{"apikey": []}, {"oauth2": ["conference:feedback"]}]


def test_served_oauth_urls_point_at_the_public_url(client: FlaskClient) -> None:
    served = yaml.safe_load(client.get("/openapi.yaml").get_data(as_text=True))
    flow = served["components"]["securitySchemes"]["oauth2"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{PUBLIC_URL}/oauth/authorize"
    assert flow["tokenUrl"] == flow["refreshUrl"] == f"{PUBLIC_URL}/oauth/token"


def test_operations_follow_gpt_action_limits(document: dict[str, Any]) -> None:
    ids = []
    for path, method, operation in _operations(document):
        ids.append(operation["operationId"])
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", operation["operationId"])
        assert operation["description"].strip()
        assert len(operation["description"]) <= 300, (path, method)
        assert len(operation.get("summary", "")) <= 300, (path, method)
        for parameter in operation.get("parameters", []):
            parameter = _resolve(document, parameter)
            assert len(parameter.get("description", "")) <= 700
            assert parameter["schema"]["type"] in {"integer", "string"}
        codes = set(operation["responses"])
        assert {"400", "401", "429", "500"} <= codes, (path, method)
        for code, response in operation["responses"].items():
            response = _resolve(document, response)
            schema = response["content"]["application/json"]["schema"]
            assert schema, (path, method, code)
    assert len(ids) == len(set(ids)) == 14


def test_feedback_is_consequential_and_reads_are_not(document: dict[str, Any]) -> None:
    for _, method, operation in _operations(document):
        flagged = operation.get("x-openai-isConsequential", False)
        assert flagged is (method == "post")
    assert document["paths"]["/session/{id}/feedback"]["post"]["x-openai-isConsequential"] is True


def test_context_operations_are_described(document: dict[str, Any]) -> None:
    found = {op["operationId"]: (path, op) for path, _, op in _operations(document)}
    assert found["getSpeakerContext"][0] == "/speaker/{id}/context"
    assert found["findSpeakerContext"][0] == "/speakers/context"
    for name in CONTEXT_OPERATIONS:
        codes = set(found[name][1]["responses"])
        assert {"200", "400", "401", "404", "429", "502", "503", "504"} <= codes


def test_every_app_route_is_documented(app: Flask, document: dict[str, Any]) -> None:
    documented = {
        (path, method.upper())
        for path, method, op in _operations(document)
        if op["operationId"] not in CONTEXT_OPERATIONS
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule in SURFACE_PATHS:
            continue
        path = re.sub(r"<raw_id>", "{id}", rule.rule)
        for method in rule.methods or ():
            if method not in {"HEAD", "OPTIONS"}:
                served.add((path, method))
    assert served == documented


# (method, url, body, expected status, operationId): one or more per operation.
SAMPLES: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
    ("GET", "/speakers", None, 200, "getSpeakers"),
    ("GET", "/speakers?speakername=maria&dayno=2&limit=5", None, 200, "getSpeakers"),
    ("GET", "/speakers?dayno=9", None, 400, "getSpeakers"),
    ("GET", "/speaker/4", None, 200, "getSpeaker"),
    ("GET", "/speaker/9999", None, 404, "getSpeaker"),
    ("GET", "/speaker/abc", None, 400, "getSpeaker"),
    ("GET", "/speaker/1/sessions", None, 200, "getSpeakerSessions"),
    ("GET", "/speaker/64/sessions", None, 200, "getSpeakerSessions"),
    ("GET", "/speaker/9999/sessions", None, 404, "getSpeakerSessions"),
    ("GET", "/speaker/1/topics?limit=3", None, 200, "getSpeakerTopics"),
    ("GET", "/speaker/0/topics", None, 400, "getSpeakerTopics"),
    ("GET", "/sessions?keyword=observability&limit=100", None, 200, "getSessions"),
    ("GET", "/sessions?limit=100&offset=100", None, 200, "getSessions"),
    ("GET", "/sessions?limit=1000", None, 400, "getSessions"),
    ("GET", "/session/104", None, 200, "getSession"),
    ("GET", "/session/1", None, 404, "getSession"),
    ("GET", "/session/104/topics", None, 200, "getSessionTopics"),
    ("GET", "/session/9999/topics", None, 404, "getSessionTopics"),
    ("POST", "/session/104/feedback", {"rating": 4, "comment": "ok"}, 201, "submitSessionFeedback"),
    ("POST", "/session/104/feedback", {"rating": 0}, 400, "submitSessionFeedback"),
    ("POST", "/session/9999/feedback", {"rating": 3}, 404, "submitSessionFeedback"),
    ("GET", "/topics?dayno=3", None, 200, "getTopics"),
    ("GET", "/topics?offset=-5", None, 400, "getTopics"),
    ("GET", "/topic/1", None, 200, "getTopic"),
    ("GET", "/topic/9999", None, 404, "getTopic"),
    ("GET", "/topic/2/speakers", None, 200, "getTopicSpeakers"),
    ("GET", "/topic/9999/speakers", None, 404, "getTopicSpeakers"),
    ("GET", "/topic/2/sessions", None, 200, "getTopicSessions"),
    ("GET", "/topic/x/sessions", None, 400, "getTopicSessions"),
]


def _validator_for(
    document: dict[str, Any], operation_id: str, status: int
) -> Callable[[Any], None]:
    operation = next(op for _, _, op in _operations(document) if op["operationId"] == operation_id)
    response = _resolve(document, operation["responses"][str(status)])
    schema = response["content"]["application/json"]["schema"]
    # Root keeps "components" so every "#/components/..." reference resolves.
    validator = Draft202012Validator(
        {**schema, "components": document["components"]},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return validator.validate


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "operation_id"),
    [pytest.param(*sample, id=f"{sample[0]} {sample[1]} {sample[3]}") for sample in SAMPLES],
)
def test_responses_match_their_schema(
    client: FlaskClient,
    document: dict[str, Any],
    method: str,
    url: str,
    body: dict[str, Any] | None,
    status: int,
    operation_id: str,
) -> None:
    response = client.open(url, method=method, json=body)
    assert response.status_code == status
    _validator_for(document, operation_id, status)(response.get_json())


def test_samples_cover_every_backend_operation(document: dict[str, Any]) -> None:
    backend_ops = {op["operationId"] for _, _, op in _operations(document)} - CONTEXT_OPERATIONS
    succeeded = {s[4] for s in SAMPLES if s[3] < 300}
    assert succeeded == backend_ops


def test_special_error_statuses_match_their_schema(
    make_app: Callable[..., Flask], document: dict[str, Any]
) -> None:
    client = make_app(SHARED_SECRET=TEST_SECRET).test_client()
    headers = {"X-Conference-Secret": TEST_SECRET}
    checks = [
        (client.get("/speaker/1"), "getSpeaker", 401),
        (
            client.post("/session/101/feedback", data="x", headers=headers),
            "submitSessionFeedback",
            415,
        ),
        (
            client.post(
                "/session/101/feedback",
                data="[" + "1," * 40000 + "1]",
                content_type="application/json",
                headers=headers,
            ),
            "submitSessionFeedback",
            413,
        ),
    ]
    for response, operation_id, status in checks:
        assert response.status_code == status
        _validator_for(document, operation_id, status)(response.get_json())


def test_schema_rejects_a_wrong_document(document: dict[str, Any]) -> None:
    """The validators are not vacuous: a drifted speaker fails."""
    check = _validator_for(document, "getSpeaker", 200)
    with pytest.raises(Exception, match="company"):
        check({"id": 1, "name": "x", "bio": "y"})
    with pytest.raises(Exception, match="Additional properties"):
        check({"id": 1, "name": "x", "company": "c", "bio": "y", "email": "e"})


def test_manifest_within_openai_limits(client: FlaskClient) -> None:
    response = client.get("/.well-known/ai-plugin.json")
    assert response.status_code == 200
    manifest = response.get_json()
    assert manifest["schema_version"] == "v1"
    assert len(manifest["name_for_human"]) <= 20
    assert re.fullmatch(r"[A-Za-z0-9_]{1,50}", manifest["name_for_model"])
    assert len(manifest["description_for_human"]) <= 100
    assert len(manifest["description_for_model"]) <= 8000
    assert manifest["api"] == {
        "type": "openapi",
        "url": f"{PUBLIC_URL}/openapi.yaml",
        "is_user_authenticated": False,
    }
    assert manifest["logo_url"] == f"{PUBLIC_URL}/logo.png"
    assert manifest["auth"]["type"] == "oauth"
    assert manifest["auth"]["client_url"] == f"{PUBLIC_URL}/oauth/authorize"
    assert manifest["auth"]["authorization_url"] == f"{PUBLIC_URL}/oauth/token"
    assert manifest["auth"]["verification_tokens"] == {}


def test_manifest_carries_the_verification_token(make_app: Callable[..., Flask]) -> None:
    client = make_app(OPENAI_VERIFICATION_TOKEN="tok-123").test_client()
    auth = client.get("/.well-known/ai-plugin.json").get_json()["auth"]
    assert auth["verification_tokens"] == {"openai": "tok-123"}


def test_logo_is_a_valid_png(client: FlaskClient) -> None:
    response = client.get("/logo.png")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    data = response.data
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        payload = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + payload) == crc
        chunks.append((kind, payload))
        position += 12 + length
    kinds = [kind for kind, _ in chunks]
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    assert (width, height, depth, colour) == (512, 512, 8, 6)
    raw = zlib.decompress(chunks[1][1])
    assert len(raw) == 512 * (1 + 512 * 4)
    assert len(data) < 100_000
