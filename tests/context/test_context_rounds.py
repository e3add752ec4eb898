"""Rounds of backend latency, proved by overlap rather than by timing (issue 4, "Behaviour").

By id, the speaker, sessions and topics calls are in flight together (one round). By name, the
search comes first and alone, then sessions and topics together (two rounds), and the speaker
found by the search is not fetched again. The fake holds every call long enough that calls
which may overlap do; its in-flight high-water mark shows which did.
"""

from __future__ import annotations

from collections.abc import Callable

from runner_plugins.context.conf import ContextConf
from runner_plugins.context.plugin import ContextPlugin
from tests.context.conftest import ask
from tests.context.fake_backend import FakeBackend

ConfFor = Callable[..., ContextConf]


async def test_by_id_is_one_round_of_three_concurrent_calls(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.all_delay = 0.5  # wide enough that calls started together overlap on a busy machine
    got = await ask(plugin, conf_for(fake.url, cache_ttl_s=0), "/speaker/1/context")
    assert got.status == 200 and got.body["meta"]["complete"] is True
    assert sorted(name for name, _, _ in fake.calls) == ["sessions", "speaker", "topics"]
    assert fake.max_in_flight == 3


async def test_by_name_is_the_search_then_one_round_of_two(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.all_delay = 0.5
    got = await ask(
        plugin,
        conf_for(fake.url, cache_ttl_s=0),
        "/speakers/context",
        args=(("speakername", "Amelia Hartley"),),
    )
    assert got.status == 200 and got.body["speaker"]["id"] == 1
    names = [name for name, _, _ in fake.calls]
    assert names[0] == "resolve" and sorted(names[1:]) == ["sessions", "topics"]
    assert fake.max_in_flight == 2  # sessions and topics overlapped; the search ran alone
