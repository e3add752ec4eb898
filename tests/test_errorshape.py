"""The one JSON error shape (errorshape.error_body)."""

from __future__ import annotations

import pytest

from errorshape import error_body


def test_the_documented_fields_in_order() -> None:
    body = error_body(404, "No speaker 7.")
    assert list(body.items()) == [
        ("status", 404),
        ("error", "Not Found"),
        ("message", "No speaker 7."),
    ]


def test_details_only_when_given() -> None:
    assert "details" not in error_body(400, "Invalid request.", {})
    body = error_body(400, "Invalid request.", {"limit": "must be at most 50"})
    assert body["details"] == {"limit": "must be at most 50"}


def test_an_unknown_status_needs_a_reason() -> None:
    with pytest.raises(ValueError):
        error_body(499, "Client closed the request.")
    assert error_body(499, "m", reason="Client Closed Request")["error"] == "Client Closed Request"
