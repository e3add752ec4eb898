"""The stack's .env: generated once, private, completed but never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

from stack.envfile import (
    PUBLIC_KEY,
    SECRET_KEYS,
    SIGNING_KEY,
    ensure_env_file,
    merged_environment,
    public_key_of,
)


def test_first_run_generates_private_random_secrets(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".env"
    values = ensure_env_file(path)
    assert set(values) == {*SECRET_KEYS, SIGNING_KEY, PUBLIC_KEY}
    assert len(set(values.values())) == len(values)
    assert all(len(v) >= 40 for v in values.values())
    # The key pair: one line each, and the public key is the private key's half.
    assert "\n" not in values[SIGNING_KEY] and "\\n" in values[SIGNING_KEY]
    assert public_key_of(values[SIGNING_KEY]) == values[PUBLIC_KEY]
    assert "PRIVATE KEY" in values[SIGNING_KEY] and "PUBLIC KEY" in values[PUBLIC_KEY]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = ensure_env_file(tmp_path / "other.env")
    assert set(other.values()).isdisjoint(values.values())


def test_second_run_keeps_values(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    first = ensure_env_file(path)
    assert ensure_env_file(path) == first


def test_missing_secrets_are_added_and_others_kept(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("CHATGPT_API_KEY=mine\nCHATGPT_RATE_LIMIT=5\n")
    path.chmod(0o644)
    values = ensure_env_file(path)
    assert values["CHATGPT_API_KEY"] == "mine"
    assert values["CHATGPT_RATE_LIMIT"] == "5"
    assert values["READONLY_API_KEY"] and values["CONFERENCE_SHARED_SECRET"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened


def test_environment_beats_the_file() -> None:
    merged = merged_environment({"A": "file", "B": "file"}, {"B": "shell"})
    assert merged == {"A": "file", "B": "shell"}


def test_a_missing_public_key_is_derived_from_the_kept_private_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    first = ensure_env_file(path)
    kept = [line for line in path.read_text().splitlines() if not line.startswith(PUBLIC_KEY)]
    path.write_text("\n".join(kept) + "\n")
    again = ensure_env_file(path)
    assert again[SIGNING_KEY] == first[SIGNING_KEY]
    assert again[PUBLIC_KEY] == first[PUBLIC_KEY]
