"""The stack's .env: generated once, private, completed but never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

from stack.envfile import SECRET_KEYS, ensure_env_file, merged_environment


def test_first_run_generates_private_random_secrets(tmp_path: Path) -> None:
    path = tmp_path / "sub" / ".env"
    values = ensure_env_file(path)
    assert set(values) == set(SECRET_KEYS)
    assert len(set(values.values())) == 3
    assert all(len(v) >= 40 for v in values.values())
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
