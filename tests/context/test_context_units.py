"""Pure pieces of the context plugin: conf, cache, breaker, names, merge, trim."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner_plugins.context.backend import SourceResult
from runner_plugins.context.breaker import Breaker
from runner_plugins.context.cache import SourceCache
from runner_plugins.context.conf import parse_conf
from runner_plugins.context.merge import build_meta, candidates_document, speaker_document
from runner_plugins.context.trim import dumps, fit, fit_utf8, utf8
from runner_plugins.plugin import ConfError
from tests.context.conftest import TEST_SECRET, FakeClock, strict_json
from textfold import fold

BASE = {"backend_url": "http://127.0.0.1:8000/", "secret": TEST_SECRET}


# --- conf -------------------------------------------------------------------------------


def test_conf_defaults_and_normalised_url() -> None:
    conf = parse_conf(json.dumps(BASE))
    assert conf.backend_url == "http://127.0.0.1:8000"
    assert (conf.call_timeout_ms, conf.budget_ms, conf.max_concurrency) == (2000, 5000, 32)
    assert conf.max_response_chars == 100_000
    assert conf.secret_header == "X-Conference-Secret"
    assert TEST_SECRET not in repr(conf)


def test_conf_from_the_gateway_route_parses() -> None:
    # The exact conf string of apisix/apisix.yaml, with the env placeholders filled in.
    import yaml

    with open("apisix/apisix.yaml", encoding="utf-8") as handle:
        routes = yaml.safe_load(handle)["routes"]
    (route,) = [r for r in routes if r["id"] == "speaker-context"]
    # The bearer check runs first (runner_plugins/bearer_check.py), then the context plugin.
    check, entry = route["plugins"]["ext-plugin-post-req"]["conf"]
    assert check["name"] == "oauth-bearer"
    raw = entry["value"].replace("${{CONFERENCE_BACKEND_ADDR:=127.0.0.1:8000}}", "127.0.0.1:8000")
    raw = raw.replace("${{CONFERENCE_SHARED_SECRET}}", TEST_SECRET)
    conf = parse_conf(raw)
    assert entry["name"] == "conference-context"
    assert conf.budget_ms <= 30_000 and conf.cache_max_entries == 2048


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"budget_ms": 30_001}, "budget_ms", id="budget-over-30s"),
        pytest.param({"budget_ms": True}, "budget_ms", id="bool-is-not-a-number"),
        pytest.param({"call_timeout_ms": 1.5}, "integer", id="float-timeout"),
        pytest.param({"max_concurrency": 0}, "max_concurrency", id="zero-concurrency"),
        pytest.param({"cache_ttl": 3}, "unknown keys: cache_ttl", id="unknown-key"),
        pytest.param({"backend_url": "ftp://x"}, "backend_url", id="bad-scheme"),
        pytest.param({"backend_url": "http://h/?a=1"}, "query", id="url-with-query"),
        pytest.param({"backend_url": "http://h:99999"}, "port", id="bad-port"),
        pytest.param({"secret": ""}, "secret", id="empty-secret"),
        pytest.param({"secret_header": "Bad Header"}, "secret_header", id="bad-header"),
    ],
)
def test_conf_rejects(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfError, match=message):
        parse_conf(json.dumps({**BASE, **change}))


@pytest.mark.parametrize("raw", ["", "[]", "{", '{"secret": "x"}'])
def test_conf_rejects_non_objects_and_missing_keys(raw: str) -> None:
    with pytest.raises(ConfError):
        parse_conf(raw)


# --- cache ------------------------------------------------------------------------------


def test_cache_expires_by_ttl_on_the_injected_clock() -> None:
    clock = FakeClock()
    cache = SourceCache(10, 1000, clock)
    cache.put("a", {"x": 1}, 10)
    clock.advance(29.9)
    assert cache.get("a", 30) == {"x": 1}
    clock.advance(0.1)
    assert cache.get("a", 30) is None
    assert len(cache) == 0 and cache.bytes == 0


def test_cache_ttl_zero_disables() -> None:
    cache = SourceCache(10, 1000, FakeClock())
    cache.put("a", 1, 1)
    assert cache.get("a", 0) is None


def test_cache_bounds_entries_and_bytes_evicting_least_recently_used() -> None:
    cache = SourceCache(3, 100, FakeClock())
    for key in "abc":
        cache.put(key, key, 30)
    assert cache.get("a", 30) == "a"  # a becomes most recent
    cache.put("d", "d", 30)  # 4 entries > 3: b (oldest) goes
    assert cache.get("b", 30) is None and len(cache) == 3
    cache.put("e", "e", 60)  # bytes 30+30+30+60 > 100: evict c, a
    assert cache.bytes <= 100
    assert [k for k in "acde" if cache.get(k, 30) is not None] == ["d", "e"]
    assert cache.put("huge", "x", 101) is False and cache.get("huge", 30) is None


# --- breaker ----------------------------------------------------------------------------


def _state(breaker: Breaker) -> str:
    # A call, so the type checker does not narrow the state between two transitions.
    return breaker.state.value


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    clock = FakeClock()
    breaker = Breaker(clock)
    for _ in range(2):
        breaker.record(False, threshold=3)
    breaker.record(True, threshold=3)  # success resets the streak
    for _ in range(2):
        breaker.record(False, threshold=3)
    assert _state(breaker) == "closed"
    breaker.record(False, threshold=3)
    assert _state(breaker) == "open"
    refused = breaker.admit(reset_s=10)
    assert not refused.allowed and refused.retry_after_s == 10
    clock.advance(9.5)
    assert breaker.admit(reset_s=10).retry_after_s == 1
    clock.advance(0.5)
    probe = breaker.admit(reset_s=10)
    assert probe.allowed and probe.probe and _state(breaker) == "half-open"
    assert not breaker.admit(reset_s=10).allowed  # only one probe at a time
    breaker.record(False, threshold=3)  # the probe failed: open again
    breaker.end_probe()
    assert _state(breaker) == "open"
    clock.advance(10)
    assert breaker.admit(reset_s=10).probe
    breaker.record(True, threshold=3)
    breaker.end_probe()
    assert _state(breaker) == "closed" and breaker.admit(reset_s=10).allowed


def test_breaker_probe_without_outcome_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = Breaker(clock)
    breaker.record(False, threshold=1)
    clock.advance(1)
    assert breaker.admit(reset_s=1).probe
    breaker.end_probe()  # e.g. the probe request was cancelled
    assert breaker.admit(reset_s=1).probe


# --- names ------------------------------------------------------------------------------


def test_normalize_folds_case_accents_and_undecomposed_letters() -> None:
    assert fold("  María   GONZÁLEZ ") == "maria gonzalez"
    assert fold("Łukasz Wiśniewski") == "lukasz wisniewski"
    assert fold("Søren") == "soren"


MARIAS = [
    {"id": 6, "name": "Maria Rossi", "company": "A"},
    {"id": 7, "name": "María González", "company": "B"},
]


# --- merge ------------------------------------------------------------------------------


def _result(name: str, status: str = "ok", **kw: Any) -> SourceResult:
    return SourceResult(name, status, 200 if status == "ok" else None, 1.0, **kw)  # type: ignore[arg-type]


def test_meta_marks_missing_sources_and_completeness() -> None:
    meta = build_meta([_result("speaker"), _result("sessions", "timeout", error="slow")], "rid")
    assert meta["complete"] is False and meta["missing"] == ["sessions"]
    assert meta["request_id"] == "rid" and meta["truncated"] is False
    assert meta["sources"][1] == {
        "name": "sessions",
        "status": "timeout",
        "http_status": None,
        "latency_ms": 1.0,
        "cached": False,
        "error": "slow",
    }
    complete = build_meta([_result("speaker")], None)
    assert complete["complete"] is True and complete["missing"] == []


def test_merge_namespaces_orders_by_schedule_and_never_mutates_inputs() -> None:
    speaker = {"id": 1, "name": "A", "company": "C", "bio": "b"}
    late = {"id": 5, "day": 2, "start": "09:00", "speakers": [{"id": 1}, {"id": 2}], "topics": []}
    early = {"id": 9, "day": 1, "start": "10:00", "speakers": [{"id": 1}], "topics": [{"id": 3}]}
    topics = [{"id": 3, "name": "T", "description": "d"}, {"id": 3, "name": "dup"}]
    sessions = [late, early, dict(late)]
    doc = speaker_document(speaker, sessions, topics, {"complete": True})
    assert [s["id"] for s in doc["sessions"]] == [9, 5]
    assert doc["sessions"][1]["speakers"] == [{"id": 1}, {"id": 2}]  # co-speaker kept
    assert doc["topics"] == [topics[0]] and doc["speaker"] == speaker
    doc["sessions"][0]["title"] = "changed"
    assert "title" not in early


def test_merge_missing_lists_become_empty_and_candidates_are_projected() -> None:
    doc = speaker_document({"id": 1, "name": "A"}, None, None, {})
    assert doc["sessions"] == [] and doc["topics"] == []
    cands = candidates_document([{**MARIAS[0], "bio": "long"}], {})
    assert cands["candidates"] == [{"id": 6, "name": "Maria Rossi", "company": "A"}]


# --- trim -------------------------------------------------------------------------------


def _big_document(n_sessions: int, abstract_len: int) -> dict[str, Any]:
    sessions = [
        {"id": i, "title": f"S{i}", "abstract": "x" * abstract_len, "day": 1, "start": "09:00"}
        for i in range(n_sessions)
    ]
    topics = [{"id": t, "name": f"T{t}", "description": "d" * 50} for t in range(30)]
    meta = {"complete": True, "truncated": False}
    return {
        "speaker": {"id": 1, "name": "A", "bio": "b" * 3000},
        "sessions": sessions,
        "topics": topics,
        "meta": meta,
    }


def test_fit_leaves_small_documents_untouched() -> None:
    doc = _big_document(2, 10)
    assert fit(doc, 100_000) == dumps(doc)


def test_fit_shortens_abstracts_before_dropping_anything() -> None:
    doc = _big_document(20, 3000)
    text = fit(doc, 30_000)
    out = json.loads(text)
    assert len(text) <= 30_000
    assert len(out["sessions"]) == 20 and len(out["topics"]) == 30
    report = out["meta"]["truncated"]
    assert report["abstracts_shortened"] == 20 and report["abstracts_shortened_to"] == 1000
    assert report["sessions_dropped"] == 0 and report["original_chars"] == len(dumps(doc))
    assert out["sessions"][0]["abstract"].endswith("\u2026")
    assert doc["sessions"][0]["abstract"] == "x" * 3000  # input untouched


def test_fit_drops_session_tail_then_topics_when_abstracts_are_not_enough() -> None:
    doc = _big_document(200, 600)
    text = fit(doc, 8000)
    out = json.loads(text)
    assert len(text) <= 8000
    report = out["meta"]["truncated"]
    assert report["abstracts_shortened_to"] == 160
    assert report["sessions_dropped"] == 200 - len(out["sessions"]) > 0
    assert [s["id"] for s in out["sessions"]] == list(range(len(out["sessions"])))
    assert report["topics_dropped"] == 30 - len(out["topics"])


def test_non_finite_numbers_are_written_as_null_and_the_input_is_kept() -> None:
    limits = [math.inf, -math.inf, 1.5]
    doc: dict[str, Any] = {"score": math.nan, "limits": limits, "name": "NaN", "n": 3}
    expected = {"score": None, "limits": [None, None, 1.5], "name": "NaN", "n": 3}
    assert strict_json(dumps(doc)) == expected
    assert math.isnan(doc["score"]) and limits[0] == math.inf


def test_utf8_keeps_a_lone_surrogate_as_its_json_escape() -> None:
    assert utf8(dumps({"a": "x\ud800", "b": "Zo\u00eb"})) == '{"a":"x\\ud800","b":"Zoë"}'.encode()
    assert json.loads(utf8(dumps({"a": "x\ud800"}))) == {"a": "x\ud800"}


def test_fit_writes_strict_json_when_it_trims_too() -> None:
    doc = _big_document(200, 600)
    doc["speaker"]["rating"] = math.nan
    out = strict_json(fit(doc, 8000))
    assert out["speaker"]["rating"] is None and out["meta"]["truncated"]["sessions_dropped"] > 0


@pytest.mark.parametrize(
    ("document", "limit"),
    [
        (_big_document(2, 10), 100_000),  # fits: orjson's bytes as they are
        (_big_document(200, 600), 8000),  # trimmed
        ({"name": "\u00e9" * 3000}, 4000),  # 6,000 bytes but 3,000 characters: fits, untrimmed
        ({"id": 2**70, "score": math.nan}, 100),  # what orjson refuses: the stdlib path
    ],
    ids=["fits", "trimmed", "multibyte", "orjson-refuses"],
)
def test_fit_utf8_is_fit_encoded(document: dict[str, Any], limit: int) -> None:
    encoded = fit_utf8(document, limit)
    assert encoded == utf8(fit(document, limit))
    assert len(encoded.decode("utf-8")) <= limit
    assert json.loads(encoded) == json.loads(fit(document, limit))


def test_fit_is_deterministic() -> None:
    doc = _big_document(120, 900)
    assert fit(doc, 12_345) == fit(doc, 12_345)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 80),
    abstract=st.integers(0, 3000),
    limit=st.integers(4000, 60_000),
    text=st.text(min_size=0, max_size=40),
)
def test_fit_always_respects_the_limit(n: int, abstract: int, limit: int, text: str) -> None:
    doc = _big_document(n, abstract)
    doc["speaker"]["name"] = text  # non-ASCII counts as characters, not bytes
    assert len(fit(doc, limit)) <= limit
