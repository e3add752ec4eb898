"""Route precedence as radixtree_uri_with_parameter resolves it, on the project's routes."""

from __future__ import annotations

import pytest

from gateway.build import build
from gateway.config import parse
from gateway.router import Router
from tests.gateway.conftest import APISIX_YAML


@pytest.fixture
def router(keys: dict[str, str]) -> Router:
    return Router(build(parse(APISIX_YAML.read_text(), keys)).routes)


@pytest.mark.parametrize(
    ("method", "path", "route_id"),
    [
        pytest.param("GET", "/speaker/1/context", "speaker-context", id="param-beats-star"),
        pytest.param("GET", "/speakers/context", "speaker-context", id="exact"),
        pytest.param("GET", "/speakers", "conference-read", id="exact-list"),
        pytest.param("GET", "/speaker/1", "conference-read", id="param-mismatch-falls-through"),
        pytest.param("GET", "/speaker/1/context/extra", "conference-read", id="param-is-whole"),
        pytest.param("POST", "/session/101/feedback", "session-feedback", id="priority-5"),
        pytest.param("GET", "/session/101", "conference-read", id="method-falls-through"),
        pytest.param("GET", "/openapi.yaml", "public-plugin-surface", id="public"),
        pytest.param("DELETE", "/speakers", "not-found", id="wrong-method-catch-all"),
        pytest.param("GET", "/nothing/here", "not-found", id="unknown-path"),
        pytest.param("GET", "/speaker", "not-found", id="star-needs-the-slash"),
    ],
)
def test_project_routes(router: Router, method: str, path: str, route_id: str) -> None:
    match = router.match(method, path)
    assert match is not None
    assert match.route.id == route_id


def test_params_are_captured(router: Router) -> None:
    match = router.match("GET", "/speaker/42/context")
    assert match is not None and match.params == {"id": "42"}


def test_longest_prefix_then_priority() -> None:
    text = """
upstreams:
  - id: up
    nodes: {"127.0.0.1:1": 1}
routes:
  - {id: short-high, uri: "/a/*", priority: 100, upstream_id: up}
  - {id: long-low, uri: "/a/b/*", priority: 0, upstream_id: up}
  - {id: same-high, uri: "/a/b/*", priority: 5, upstream_id: up, methods: [POST]}
#END
"""
    router = Router(build(parse(text, {})).routes)
    assert router.match("GET", "/a/b/c").route.id == "long-low"  # type: ignore[union-attr]
    assert router.match("POST", "/a/b/c").route.id == "same-high"  # type: ignore[union-attr]
    assert router.match("GET", "/a/c").route.id == "short-high"  # type: ignore[union-attr]
    assert router.match("GET", "/b") is None
