"""Happy paths against the REAL Flask backend, served live on a loopback port.

Live HTTP (werkzeug's threaded server in a background thread) rather than an in-process
ASGI bridge: the plugin cancels sibling calls when the speaker fails, and a real socket is
the only transport whose cancellation behaves like production.

The seed facts used here are documented in docs/interfaces.md ("Seed facts").
"""

from __future__ import annotations

import pytest

from runner_plugins.context.conf import ContextConf
from runner_plugins.context.plugin import ContextPlugin
from tests.context.conftest import ask, make_conf


@pytest.fixture
def conf(backend_url: str) -> ContextConf:
    return make_conf(backend_url)


async def test_speaker_with_several_sessions(real_plugin: ContextPlugin, conf: ContextConf) -> None:
    got = await ask(real_plugin, conf, "/speaker/1/context")
    assert got.status == 200 and got.headers["x-context-complete"] == "true"
    assert got.body["speaker"]["name"] == "Amelia Hartley"
    assert got.body["speaker"]["company"] == "Northwind Cloud"
    assert sorted(s["id"] for s in got.body["sessions"]) == [129, 131, 187, 239, 261]
    assert len(got.body["topics"]) == 13
    session_topics = {t["id"] for s in got.body["sessions"] for t in s["topics"]}
    assert session_topics == {t["id"] for t in got.body["topics"]}
    days = [(s["day"], s["start"]) for s in got.body["sessions"]]
    assert days == sorted(days)
    assert got.body["meta"]["complete"] is True and got.body["meta"]["truncated"] is False


async def test_speaker_without_sessions(real_plugin: ContextPlugin, conf: ContextConf) -> None:
    got = await ask(real_plugin, conf, "/speaker/64/context")
    assert got.status == 200 and got.body["speaker"]["name"] == "Oscar Lindgren"
    assert got.body["sessions"] == [] and got.body["topics"] == []
    assert got.body["meta"]["complete"] is True


async def test_two_speaker_session_keeps_the_co_speaker(
    real_plugin: ContextPlugin, conf: ContextConf
) -> None:
    got = await ask(real_plugin, conf, "/speaker/16/context")
    (shared,) = [s for s in got.body["sessions"] if s["id"] == 104]
    assert shared["title"] == "From zero to API Gateways"
    assert {s["name"] for s in shared["speakers"]} == {"François Dubois", "Hannah Schmidt"}
    assert shared["topics"]


async def test_unknown_speaker_is_404(real_plugin: ContextPlugin, conf: ContextConf) -> None:
    got = await ask(real_plugin, conf, "/speaker/9999/context")
    assert got.status == 404 and got.body["request_id"] == "req-1"


async def test_wrong_secret_is_a_502_not_a_404(
    real_plugin: ContextPlugin, backend_url: str
) -> None:
    got = await ask(
        real_plugin, make_conf(backend_url, secret="not-the-secret"), "/speaker/1/context"
    )
    assert got.status == 502
    assert "401" in got.body["message"] or "403" in got.body["message"]


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        pytest.param("maria", {6, 7}, id="maria"),
        pytest.param("daniel", {8, 9}, id="daniel"),
    ],
)
async def test_ambiguous_names_give_candidates(
    real_plugin: ContextPlugin, conf: ContextConf, name: str, ids: set[int]
) -> None:
    got = await ask(real_plugin, conf, "/speakers/context", args=(("speakername", name),))
    assert got.status == 200 and "speaker" not in got.body
    assert {c["id"] for c in got.body["candidates"]} == ids


@pytest.mark.parametrize(
    ("name", "ident"),
    [
        pytest.param("lukasz", 4, id="lukasz-non-ascii"),
        pytest.param("soren", 5, id="soren-non-ascii"),
        pytest.param("JOSE", 2, id="jose-upper"),
        pytest.param("maría gonzález", 7, id="exact-among-ambiguous"),
        pytest.param("Maria Rossi", 6, id="exact-ascii"),
    ],
)
async def test_names_resolve_to_one_speaker(
    real_plugin: ContextPlugin, conf: ContextConf, name: str, ident: int
) -> None:
    got = await ask(real_plugin, conf, "/speakers/context", args=(("speakername", name),))
    assert got.status == 200 and got.body["speaker"]["id"] == ident
    assert got.body["meta"]["complete"] is True


async def test_unknown_name_is_404(real_plugin: ContextPlugin, conf: ContextConf) -> None:
    got = await ask(real_plugin, conf, "/speakers/context", args=(("speakername", "nobody-here"),))
    assert got.status == 404
