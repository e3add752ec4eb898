"""The compiled argument gate (jsonschema-rs) never lets through what jsonschema refuses.

Toolbox.call trusts the gate's "valid" and has jsonschema judge everything the gate refuses, so
the one thing that must never happen is the gate accepting arguments jsonschema finds invalid.
Checked on every tool's schema, at the edges of each constraint and on generated values.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import jsonschema_rs
from hypothesis import given, settings
from hypothesis import strategies as st

from runner_plugins.mcp.tools import BY_NAME

EDGE_VALUES: list[Any] = [
    None, True, False, 0, 1, 2, 3, 4, 5, 6, -1, 1.0, 1.5, 2**31 - 1, 2**31, 2**63, 2**70, -(2**70),
    float("inf"), "", "a", "1", "14:30", "24:00", "14:30\n", " 14:30", "09:5", "x" * 100,
    "x" * 101, "\U0001f600" * 100, "\U0001f600" * 101, "\ud800", "José", [], [1], {}, {"a": 1},
    "speaker:1", "x" * 2000, "x" * 2001,
]  # fmt: skip


def _verdicts(name: str, arguments: Any) -> tuple[bool, bool]:
    schema = BY_NAME[name].tool.input_schema
    try:
        gate = bool(jsonschema_rs.Draft202012Validator(schema).is_valid(arguments))
    except Exception:
        gate = False  # what Toolbox does: the reference validator decides
    return gate, jsonschema.Draft202012Validator(schema).is_valid(arguments)


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases: list[tuple[str, dict[str, Any]]] = []
    for name, spec in BY_NAME.items():
        properties = spec.tool.input_schema.get("properties", {})
        cases.append((name, {}))
        cases.append((name, {"unknown": 1}))
        for key in properties:
            for value in EDGE_VALUES:
                cases.append((name, {key: value}))
                cases.append((name, {**{k: 1 for k in properties}, key: value}))
    return cases


def test_the_gate_is_never_looser_than_jsonschema_at_the_edges() -> None:
    looser = [(name, args) for name, args in _cases() if _verdicts(name, args) == (True, False)]
    assert looser == []


def test_the_gate_agrees_on_nearly_everything() -> None:
    # Not vacuous: the gate really accepts most valid arguments (else it would only be slow), and
    # its refusals of valid ones are the known regex dialect case ($ before a final newline).
    disagreements = [
        (name, arguments)
        for name, arguments in _cases()
        if _verdicts(name, arguments) == (False, True)
    ]
    accepted = [case for case in _cases() if _verdicts(*case)[0]]
    assert len(accepted) > 50
    assert all(args.get("time") == "14:30\n" for _, args in disagreements), disagreements


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=120),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(BY_NAME)),
    st.dictionaries(
        st.sampled_from(["id", "name", "day", "time", "limit", "query", "rating", "session_id",
                         "comment", "keyword", "topic", "speaker", "other"]),
        JSON,
        max_size=4,
    ),
)  # fmt: skip
def test_generated_arguments(name: str, arguments: dict[str, Any]) -> None:
    gate, reference = _verdicts(name, arguments)
    assert reference or not gate
