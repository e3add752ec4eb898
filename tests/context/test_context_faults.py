"""The plugin against the fault-injecting fake backend over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from runner_plugins.context.backend import MAX_UPSTREAM_STATES
from runner_plugins.context.conf import ContextConf
from runner_plugins.context.plugin import ContextPlugin
from tests.context.conftest import TEST_SECRET, FakeClock, ask, strict_json
from tests.context.fake_backend import FakeBackend, seed
from tests.processes import free_port

ConfFor = Callable[..., ContextConf]


async def test_by_id_merges_three_sources_and_propagates_only_safe_headers(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    headers = (
        ("X-Request-Id", "rid-42"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("apikey", "client-key"),
        ("Cookie", "session=1"),
        ("Authorization", "Bearer t"),
    )
    got = await ask(plugin, conf_for(fake.url), "/speaker/1/context", headers=headers)
    assert got.status == 200
    assert got.headers["content-type"] == "application/json; charset=utf-8"
    assert got.headers["x-context-complete"] == "true"
    assert got.body["speaker"]["name"] == "Amelia Hartley"
    expected = {s for s in fake.data["by_speaker"][1]}
    assert {s["id"] for s in got.body["sessions"]} == expected
    assert all("topics" in s and "speakers" in s for s in got.body["sessions"])
    meta = got.body["meta"]
    assert meta["complete"] is True and meta["missing"] == [] and meta["request_id"] == "rid-42"
    assert [s["name"] for s in meta["sources"]] == ["speaker", "sessions", "topics"]
    assert {c[0] for c in fake.calls} == {"speaker", "sessions", "topics"}
    for _, _, sent in fake.calls:
        lowered = {k.lower(): v for k, v in sent.items()}
        assert lowered["x-conference-secret"] == TEST_SECRET
        assert lowered["x-request-id"] == "rid-42"
        assert lowered["traceparent"].startswith("00-0af7")
        assert not {"apikey", "cookie", "authorization"} & set(lowered)


async def test_non_finite_numbers_from_the_backend_go_out_as_null(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    # The fake writes them as the stdlib does (NaN, Infinity): not JSON, yet readable by json.
    fake.data["speakers"][1]["rating"] = math.nan
    fake.data["speakers"][1]["reach"] = math.inf
    got = await ask(plugin, conf_for(fake.url), "/speaker/1/context")
    body = strict_json(got.text)
    assert got.status == 200
    assert body["speaker"]["rating"] is None and body["speaker"]["reach"] is None


async def test_a_lone_surrogate_from_the_backend_is_kept_as_its_escape(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    # Valid JSON ("\\ud800") that decodes to a str UTF-8 cannot encode: the answer keeps it.
    fake.data["speakers"][1]["bio"] = "half \ud800 a pair"
    got = await ask(plugin, conf_for(fake.url), "/speaker/1/context")
    assert got.status == 200
    assert json.loads(got.text)["speaker"]["bio"] == "half \ud800 a pair"


async def test_speaker_with_no_sessions_is_complete_with_empty_lists(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    got = await ask(plugin, conf_for(fake.url), "/speaker/5/context")
    assert got.status == 200 and got.body["speaker"]["name"] == "Oscar Lindgren"
    assert got.body["sessions"] == [] and got.body["topics"] == []
    assert got.body["meta"]["complete"] is True


async def test_slow_source_gives_partial_answer_within_the_budget(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.delay["sessions"] = 5.0
    conf = conf_for(fake.url, budget_ms=1000, call_timeout_ms=3000)
    started = time.monotonic()
    got = await ask(plugin, conf, "/speaker/1/context")
    elapsed = time.monotonic() - started
    # Not a speed assertion: proof the answer did not wait for the 5 s source.
    assert elapsed < 4.0
    assert got.status == 200 and got.headers["x-context-complete"] == "false"
    meta = got.body["meta"]
    assert meta["complete"] is False and meta["missing"] == ["sessions"]
    sessions = next(s for s in meta["sources"] if s["name"] == "sessions")
    assert sessions["status"] == "timeout" and "budget" in sessions["error"]
    assert got.body["sessions"] == [] and got.body["topics"]


async def test_waiting_for_a_concurrency_slot_counts_against_the_budget(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.all_delay = 0.5
    # One slot: the speaker call (started first) holds it for 500 ms of a 900 ms budget, so the
    # queued sessions call cannot finish in time and topics never gets the slot.
    conf = conf_for(fake.url, max_concurrency=1, budget_ms=900, call_timeout_ms=3000)
    got = await ask(plugin, conf, "/speaker/1/context")
    assert got.status == 200 and got.body["speaker"]["id"] == 1
    statuses = {s["name"]: s["status"] for s in got.body["meta"]["sources"]}
    assert statuses == {"speaker": "ok", "sessions": "timeout", "topics": "timeout"}
    assert fake.max_in_flight == 1 and fake.calls_to("topics") == 0


async def test_per_call_timeout_is_reported_as_such(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.delay["topics"] = 5.0
    got = await ask(plugin, conf_for(fake.url, call_timeout_ms=1000), "/speaker/1/context")
    topics = next(s for s in got.body["meta"]["sources"] if s["name"] == "topics")
    assert topics["status"] == "timeout" and "1000 ms" in topics["error"]
    assert got.body["meta"]["missing"] == ["topics"]


async def test_slow_speaker_source_is_a_504(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.delay["speaker"] = 5.0
    got = await ask(plugin, conf_for(fake.url, call_timeout_ms=200), "/speaker/1/context")
    assert got.status == 504
    assert got.body["status"] == 504 and got.body["error"] == "Gateway Timeout"
    assert got.body["request_id"] == "req-1" and "timed out" in got.body["message"]


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        pytest.param("500", 502, id="speaker-500"),
        pytest.param("malformed", 502, id="speaker-malformed-json"),
        pytest.param("wrong-shape", 502, id="speaker-wrong-shape"),
        pytest.param("drop", 502, id="speaker-connection-dropped"),
        pytest.param("404", 404, id="speaker-404"),
    ],
)
async def test_speaker_source_failures_map_to_json_errors(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor, fault: str, status: int
) -> None:
    fake.fault["speaker"] = fault
    got = await ask(plugin, conf_for(fake.url), "/speaker/1/context")
    assert got.status == status
    assert set(got.body) == {"status", "error", "message", "request_id"}
    assert got.body["status"] == status and got.headers["content-type"].startswith(
        "application/json"
    )
    assert "x-context-complete" not in got.headers


async def test_unknown_speaker_is_404(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    got = await ask(plugin, conf_for(fake.url), "/speaker/999/context")
    assert got.status == 404 and got.body["error"] == "Not Found"


@pytest.mark.parametrize("fault", ["500", "malformed", "wrong-shape", "drop"])
async def test_failing_list_sources_give_partial_200(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor, fault: str
) -> None:
    fake.fault["sessions"] = fault
    fake.fault["topics"] = fault
    got = await ask(plugin, conf_for(fake.url), "/speaker/1/context")
    assert got.status == 200 and got.headers["x-context-complete"] == "false"
    assert got.body["meta"]["missing"] == ["sessions", "topics"]
    assert got.body["speaker"]["id"] == 1
    errors = [s["error"] for s in got.body["meta"]["sources"][1:]]
    assert all(errors)


async def test_connection_refused_is_a_502(plugin: ContextPlugin, conf_for: ConfFor) -> None:
    got = await ask(plugin, conf_for(f"http://127.0.0.1:{free_port()}"), "/speaker/1/context")
    assert got.status == 502 and "unreachable" in got.body["message"]


async def test_breaker_opens_fast_503_then_half_opens_and_recovers(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor, clock: FakeClock
) -> None:
    conf = conf_for(fake.url, breaker_failures=5, breaker_reset_s=10, cache_ttl_s=0)
    fake.fault.update({"speaker": "500", "sessions": "500", "topics": "500"})
    statuses: list[int] = []
    while not statuses or statuses[-1] != 503:
        statuses.append((await ask(plugin, conf, "/speaker/1/context")).status)
        assert len(statuses) <= 6, "5 consecutive failures must open the breaker"
    # Each request fails >= 1 call (the others may be cancelled once the speaker failed).
    assert set(statuses[:-1]) == {502} and 2 <= len(statuses) <= 6
    calls = len(fake.calls)
    refused = await ask(plugin, conf, "/speaker/1/context")
    assert refused.status == 503 and refused.headers["retry-after"] == "10"
    assert len(fake.calls) == calls, "an open breaker must not call the backend"
    clock.advance(4)
    assert (await ask(plugin, conf, "/speaker/1/context")).headers["retry-after"] == "6"

    fake.fault.clear()
    clock.advance(6)
    probe = await ask(plugin, conf, "/speaker/1/context")
    assert probe.status == 200 and probe.body["meta"]["complete"] is True
    assert (await ask(plugin, conf, "/speaker/1/context")).status == 200


async def test_breaker_reopens_when_the_probe_fails(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor, clock: FakeClock
) -> None:
    conf = conf_for(fake.url, breaker_failures=1, breaker_reset_s=5, cache_ttl_s=0)
    fake.fault["speaker"] = "500"
    assert (await ask(plugin, conf, "/speaker/1/context")).status == 502
    assert (await ask(plugin, conf, "/speaker/1/context")).status == 503
    clock.advance(5)
    assert (await ask(plugin, conf, "/speaker/1/context")).status == 502  # the probe
    again = await ask(plugin, conf, "/speaker/1/context")
    assert again.status == 503 and again.headers["retry-after"] == "5"


async def test_a_404_does_not_trip_the_breaker(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    conf = conf_for(fake.url, breaker_failures=1)
    for _ in range(3):
        assert (await ask(plugin, conf, "/speaker/999/context")).status == 404


async def test_cache_hit_then_expiry_on_the_injected_clock(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor, clock: FakeClock
) -> None:
    conf = conf_for(fake.url, cache_ttl_s=30)
    first = await ask(plugin, conf, "/speaker/1/context")
    assert len(fake.calls) == 3
    assert not any(s["cached"] for s in first.body["meta"]["sources"])
    clock.advance(29)
    second = await ask(plugin, conf, "/speaker/1/context", headers=(("X-Request-Id", "r2"),))
    assert len(fake.calls) == 3, "fresh entries come from the cache"
    assert all(s["cached"] for s in second.body["meta"]["sources"])
    assert second.body["meta"]["request_id"] == "r2"
    assert second.body["sessions"] == first.body["sessions"]
    clock.advance(1)
    third = await ask(plugin, conf, "/speaker/1/context")
    assert len(fake.calls) == 6 and not any(s["cached"] for s in third.body["meta"]["sources"])


async def test_errors_and_partials_are_never_cached(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    conf = conf_for(fake.url, cache_ttl_s=30)
    fake.fault["sessions"] = "500"
    partial = await ask(plugin, conf, "/speaker/1/context")
    assert partial.body["meta"]["complete"] is False
    fake.fault.clear()
    healed = await ask(plugin, conf, "/speaker/1/context")
    assert healed.body["meta"]["complete"] is True
    cached = {s["name"]: s["cached"] for s in healed.body["meta"]["sources"]}
    assert cached == {"speaker": True, "sessions": False, "topics": True}
    assert fake.calls_to("sessions") == 2


async def test_concurrency_cap_is_never_exceeded(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.all_delay = 0.02
    conf = conf_for(fake.url, max_concurrency=4, cache_ttl_s=0, budget_ms=20_000)
    answers = await asyncio.gather(
        *(ask(plugin, conf, f"/speaker/{1 + i % 8}/context") for i in range(40))
    )
    assert all(a.status == 200 and a.body["meta"]["complete"] for a in answers)
    assert len(fake.calls) == 120
    assert fake.max_in_flight == 4  # saturated, never above


async def test_lists_are_paginated_past_the_backend_limit(
    plugin: ContextPlugin, conf_for: ConfFor
) -> None:
    fake = FakeBackend(data=seed(n_speakers=3, sessions_per_speaker=250), max_limit=100)
    await fake.start()
    try:
        got = await ask(
            plugin, conf_for(fake.url, max_response_chars=10_000_000), "/speaker/3/context"
        )
    finally:
        await fake.stop()
    assert len(got.body["sessions"]) == len(fake.data["by_speaker"][3]) > 250
    assert fake.calls_to("sessions") == 3  # offsets 0, 100, 200 (pages 2 and 3 concurrently)
    assert got.body["meta"]["truncated"] is False


async def test_lists_beyond_the_item_cap_are_reported_not_fetched(
    plugin: ContextPlugin, conf_for: ConfFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real cap is 1000 items; scaled down (30 items, pages of 10) to keep the test fast.
    monkeypatch.setattr("runner_plugins.context.backend.MAX_LIST_ITEMS", 30)
    fake = FakeBackend(data=seed(n_speakers=2, sessions_per_speaker=45), max_limit=10)
    await fake.start()
    try:
        got = await ask(plugin, conf_for(fake.url), "/speaker/2/context")
    finally:
        await fake.stop()
    total = len(fake.data["by_speaker"][2])
    assert len(got.body["sessions"]) == 30 and fake.calls_to("sessions") == 3
    assert got.body["meta"]["truncated"] == {"not_fetched": {"sessions": total - 30}}


async def test_big_answers_are_trimmed_and_say_so(plugin: ContextPlugin, conf_for: ConfFor) -> None:
    data = seed(n_speakers=2, sessions_per_speaker=60)
    for session in data["sessions"].values():
        session["abstract"] = "A long abstract. " * 200
    fake = FakeBackend(data=data)
    await fake.start()
    try:
        got = await ask(plugin, conf_for(fake.url, max_response_chars=20_000), "/speaker/1/context")
    finally:
        await fake.stop()
    assert got.status == 200 and len(got.text) <= 20_000
    report = got.body["meta"]["truncated"]
    assert report["max_chars"] == 20_000 and report["original_chars"] > 20_000
    assert report["abstracts_shortened"] > 0
    assert report["sessions_dropped"] == len(data["by_speaker"][1]) - len(got.body["sessions"])
    assert got.body["meta"]["complete"] is True  # trimmed is not missing


# --- by name ----------------------------------------------------------------------------


async def test_by_name_exact_match_with_accents_and_case(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    got = await ask(
        plugin, conf_for(fake.url), "/speakers/context", args=(("speakername", "MARIA gonzalez"),)
    )
    assert got.status == 200 and got.body["speaker"]["id"] == 3
    assert [s["name"] for s in got.body["meta"]["sources"]] == ["resolve", "sessions", "topics"]
    assert fake.calls_to("speaker") == 0  # the search already returned the full speaker


async def test_by_name_ambiguous_gives_candidates_without_context(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    got = await ask(
        plugin, conf_for(fake.url), "/speakers/context", args=(("speakername", "maria"),)
    )
    assert got.status == 200 and set(got.body) == {"candidates", "meta"}
    assert {c["id"] for c in got.body["candidates"]} == {2, 3}
    assert set(got.body["candidates"][0]) == {"id", "name", "company"}
    assert fake.calls_to("sessions") == 0 and got.headers["x-context-complete"] == "true"


async def test_by_name_unique_non_ascii(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    got = await ask(
        plugin, conf_for(fake.url), "/speakers/context", args=(("speakername", "lukasz"),)
    )
    assert got.status == 200 and got.body["speaker"]["name"] == "Łukasz Wiśniewski"
    assert "Łukasz" in got.text  # sent as UTF-8 text, not \\u escapes


async def test_by_name_phrasing_falls_back_to_the_cached_directory(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    conf = conf_for(fake.url)
    got = await ask(plugin, conf, "/speakers/context", args=(("speakername", "hartley amelia"),))
    assert got.status == 200 and got.body["speaker"]["name"] == "Amelia Hartley"
    searches = [path for name, path, _ in fake.calls if name == "resolve"]
    # The substring search first (it finds nobody), then the whole directory, paginated.
    assert "speakername=hartley+amelia" in searches[0]
    assert all("speakername" not in path for path in searches[1:]) and len(searches) >= 2
    again = await ask(plugin, conf, "/speakers/context", args=(("speakername", "amelia hartly"),))
    assert again.status == 200 and again.body["speaker"]["id"] == got.body["speaker"]["id"]
    # One more search; the directory came from the cache.
    assert fake.calls_to("resolve") == len(searches) + 1


async def test_by_name_found_by_the_search_never_reads_the_directory(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    got = await ask(
        plugin, conf_for(fake.url), "/speakers/context", args=(("speakername", "oscar"),)
    )
    assert got.status == 200 and got.body["speaker"]["name"] == "Oscar Lindgren"
    assert fake.calls_to("resolve") == 1


async def test_by_name_no_match_suggests_the_closest_names(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    got = await ask(
        plugin, conf_for(fake.url), "/speakers/context", args=(("speakername", "Amilia Hatrleigh"),)
    )
    assert got.status == 404
    assert got.body["suggestions"][0] == {"id": 1, "name": "Amelia Hartley"}
    assert "Closest names: Amelia Hartley" in got.body["message"]
    assert got.body["request_id"] == "req-1"


async def test_by_name_unknown_is_404_and_failing_search_is_502(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    conf = conf_for(fake.url)
    nobody = await ask(plugin, conf, "/speakers/context", args=(("speakername", "zzz"),))
    assert nobody.status == 404
    fake.fault["resolve"] = "malformed"
    broken = await ask(plugin, conf, "/speakers/context", args=(("speakername", "yyy"),))
    assert broken.status == 502


@pytest.mark.parametrize(
    ("path", "args", "method", "status"),
    [
        pytest.param("/speaker/abc/context", (), "GET", 400, id="non-numeric-id"),
        pytest.param("/speaker/0/context", (), "GET", 400, id="zero-id"),
        pytest.param("/speakers/context", (), "GET", 400, id="missing-name"),
        pytest.param("/speakers/context", (("speakername", "  "),), "GET", 400, id="blank-name"),
        pytest.param("/speakers/context", (("speakername", "x" * 101),), "GET", 400, id="long"),
        pytest.param("/speakers/context", (("speakername", "a\x00b"),), "GET", 400, id="nul"),
        pytest.param("/speakers/context", (("speakername", "a\nb"),), "GET", 400, id="newline"),
        pytest.param("/speakers/context", (("speakername", "a\x85b"),), "GET", 400, id="c1"),
        pytest.param("/speaker/2147483648/context", (), "GET", 400, id="id-over-int32"),
        pytest.param("/speaker/1/context", (), "POST", 405, id="post"),
        pytest.param("/elsewhere", (), "GET", 404, id="unknown-path"),
        pytest.param("/elsewhere\udce9", (), "GET", 404, id="unknown-path-not-utf8"),
    ],
)
async def test_bad_requests_never_reach_the_backend(
    plugin: ContextPlugin,
    fake: FakeBackend,
    conf_for: ConfFor,
    path: str,
    args: Any,
    method: str,
    status: int,
) -> None:
    got = await ask(plugin, conf_for(fake.url), path, args=args, method=method)
    assert got.status == status and got.body["status"] == status
    assert fake.calls == []
    if status == 400:
        assert got.body["details"]


async def test_each_conf_gets_its_own_concurrency_cap(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    fake.all_delay = 0.02
    narrow = conf_for(fake.url, max_concurrency=2, cache_ttl_s=0)
    wide = conf_for(fake.url, max_concurrency=6, cache_ttl_s=0)
    # The narrow conf is seen first: it used to fix the cap for every later conf.
    assert (await ask(plugin, narrow, "/speaker/1/context")).status == 200
    answers = await asyncio.gather(
        *(ask(plugin, wide, f"/speaker/{1 + i % 8}/context") for i in range(12))
    )
    assert all(a.status == 200 for a in answers)
    assert fake.max_in_flight == 6, "the wide conf's own cap applies"
    fake.max_in_flight = 0
    answers = await asyncio.gather(
        *(ask(plugin, narrow, f"/speaker/{1 + i % 8}/context") for i in range(12))
    )
    assert all(a.status == 200 for a in answers)
    assert fake.max_in_flight == 2, "the narrow conf keeps its own cap"


async def test_each_conf_gets_its_own_cache_bounds(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    tiny = conf_for(fake.url, cache_max_entries=1)
    roomy = conf_for(fake.url, cache_max_entries=100)
    assert (await ask(plugin, tiny, "/speaker/1/context")).status == 200
    for ident in (1, 2, 3):
        assert (await ask(plugin, roomy, f"/speaker/{ident}/context")).status == 200
    calls = len(fake.calls)
    for ident in (1, 2, 3):
        again = await ask(plugin, roomy, f"/speaker/{ident}/context")
        assert all(s["cached"] for s in again.body["meta"]["sources"]), ident
    assert len(fake.calls) == calls
    # The tiny conf's cache holds one entry only: speaker 2 evicts speaker 1.
    await ask(plugin, tiny, "/speaker/2/context")
    calls = len(fake.calls)
    await ask(plugin, tiny, "/speaker/1/context")
    assert len(fake.calls) > calls


async def test_the_set_of_backend_states_is_bounded(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    # Distinct bounds (or backend URLs) used to add one state each, never evicted.
    keep = conf_for(fake.url, max_concurrency=1)
    assert (await ask(plugin, keep, "/speaker/1/context")).status == 200
    for n in range(2, MAX_UPSTREAM_STATES + 40):
        conf = conf_for(fake.url, max_concurrency=n)
        assert (await ask(plugin, conf, "/speaker/1/context")).status == 200
        # The conf in steady use stays (least recently used goes first) and keeps its cache.
        calls = len(fake.calls)
        assert (await ask(plugin, keep, "/speaker/1/context")).status == 200
        assert len(fake.calls) == calls, n
    assert plugin.backend.state_count == MAX_UPSTREAM_STATES


async def test_states_of_one_backend_share_its_breaker(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    first = conf_for(fake.url, max_concurrency=2, breaker_failures=1, breaker_reset_s=60)
    second = conf_for(fake.url, max_concurrency=3, breaker_failures=1, breaker_reset_s=60)
    fake.fault["speaker"] = "500"
    assert (await ask(plugin, first, "/speaker/1/context")).status == 502
    assert fake.calls_to("speaker") == 1
    # Opened through the first conf, the breaker refuses the second conf's call too.
    refused = await ask(plugin, second, "/speaker/2/context")
    assert refused.status == 503
    assert fake.calls_to("speaker") == 1


async def test_cache_hits_are_served_while_the_breaker_is_open(
    plugin: ContextPlugin, fake: FakeBackend, conf_for: ConfFor
) -> None:
    conf = conf_for(fake.url, cache_ttl_s=30, breaker_failures=1, breaker_reset_s=60)
    assert (await ask(plugin, conf, "/speaker/1/context")).status == 200
    fake.fault["speaker"] = "500"
    assert (await ask(plugin, conf, "/speaker/2/context")).status == 502
    calls = len(fake.calls)
    cached = await ask(plugin, conf, "/speaker/1/context")
    assert cached.status == 200 and cached.body["meta"]["complete"] is True
    assert all(s["cached"] for s in cached.body["meta"]["sources"])
    refused = await ask(plugin, conf, "/speaker/3/context")
    assert refused.status == 503 and len(fake.calls) == calls
