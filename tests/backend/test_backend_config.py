"""Configuration precedence: defaults < DATABASE_URL < CONFERENCE_* < mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend import create_app
from backend.config import DEFAULTS, NO_SECRET_OPT_OUT, ConfigError


def _db(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def test_defaults(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": _db(tmp_path, "a.db"), "SHARED_SECRET": "s"}, environ={})
    assert app.config["PUBLIC_URL"] == DEFAULTS["PUBLIC_URL"]
    assert DEFAULTS["SHARED_SECRET"] == ""
    assert app.config["MAX_CONTENT_LENGTH"] == 65536
    assert DEFAULTS["DATABASE_URL"].endswith("/var/conference.sqlite3")


def test_environment_then_mapping(tmp_path: Path) -> None:
    environ = {
        "DATABASE_URL": _db(tmp_path, "plain.db"),
        "CONFERENCE_PUBLIC_URL": "https://env.example/",
        "CONFERENCE_SHARED_SECRET": "from-env",
    }
    app = create_app(None, environ=environ)
    assert app.config["DATABASE_URL"] == _db(tmp_path, "plain.db")
    assert app.config["PUBLIC_URL"] == "https://env.example"  # trailing slash dropped
    assert app.config["SHARED_SECRET"] == "from-env"
    app = create_app({"SHARED_SECRET": "from-mapping"}, environ=environ)
    assert app.config["SHARED_SECRET"] == "from-mapping"


def test_prefixed_database_url_beats_plain(tmp_path: Path) -> None:
    environ = {
        "DATABASE_URL": _db(tmp_path, "plain.db"),
        "CONFERENCE_DATABASE_URL": _db(tmp_path, "prefixed.db"),
        "CONFERENCE_SHARED_SECRET": "s",
    }
    app = create_app(None, environ=environ)
    assert app.config["DATABASE_URL"] == _db(tmp_path, "prefixed.db")
    assert (tmp_path / "prefixed.db").exists()
    assert not (tmp_path / "plain.db").exists()


def test_environment_values_stay_strings(tmp_path: Path) -> None:
    environ = {
        "CONFERENCE_DATABASE_URL": _db(tmp_path, "a.db"),
        "CONFERENCE_SHARED_SECRET": "12345",
        "CONFERENCE_SEED_ON_START": "false",
        "CONFERENCE_MAX_CONTENT_LENGTH": "1024",
    }
    app = create_app(None, environ=environ)
    assert app.config["SHARED_SECRET"] == "12345"
    assert app.config["SEED_ON_START"] is False
    assert app.config["MAX_CONTENT_LENGTH"] == 1024
    assert app.test_client().get("/healthz").status_code == 200


def test_real_process_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFERENCE_DATABASE_URL", _db(tmp_path, "env.db"))
    monkeypatch.setenv("CONFERENCE_SHARED_SECRET", "true")
    app = create_app()
    assert app.config["SHARED_SECRET"] == "true"
    assert app.test_client().get("/speakers").status_code == 401


@pytest.mark.parametrize(
    ("key", "value"),
    [("CONFERENCE_SEED_ON_START", "maybe"), ("CONFERENCE_MAX_CONTENT_LENGTH", "big")],
)
def test_bad_typed_values_fail_clearly(tmp_path: Path, key: str, value: str) -> None:
    environ = {
        "CONFERENCE_DATABASE_URL": _db(tmp_path, "a.db"),
        "CONFERENCE_SHARED_SECRET": "s",
        key: value,
    }
    with pytest.raises(ConfigError, match=key.removeprefix("CONFERENCE_")):
        create_app(None, environ=environ)


@pytest.mark.parametrize(
    "environ",
    [
        pytest.param({}, id="unset"),
        pytest.param({"CONFERENCE_SHARED_SECRET": ""}, id="empty"),
        # Environment values are strings: no variable can reach the test-only opt-out.
        pytest.param(
            {"CONFERENCE_TESTING": "true", f"CONFERENCE_{NO_SECRET_OPT_OUT}": "true"},
            id="opt-out-from-environment",
        ),
    ],
)
def test_no_secret_refuses_to_start(tmp_path: Path, environ: dict[str, str]) -> None:
    db = tmp_path / "a.db"
    environ = {"CONFERENCE_DATABASE_URL": f"sqlite:///{db}", **environ}
    with pytest.raises(ConfigError, match="CONFERENCE_SHARED_SECRET") as caught:
        create_app(None, environ=environ)
    assert "refuses to start" in str(caught.value)
    assert not db.exists()  # refused before touching the database


@pytest.mark.parametrize(
    "mapping",
    [
        pytest.param({NO_SECRET_OPT_OUT: True}, id="without-TESTING"),
        pytest.param({"TESTING": True}, id="TESTING-alone"),
        pytest.param({"TESTING": True, NO_SECRET_OPT_OUT: "true"}, id="string-not-bool"),
    ],
)
def test_only_an_explicit_test_configuration_opts_out(
    tmp_path: Path, mapping: dict[str, object]
) -> None:
    config = {"DATABASE_URL": _db(tmp_path, "a.db"), **mapping}
    with pytest.raises(ConfigError, match="CONFERENCE_SHARED_SECRET"):
        create_app(config, environ={})
    opted_out = create_app(
        {"DATABASE_URL": _db(tmp_path, "a.db"), "TESTING": True, NO_SECRET_OPT_OUT: True},
        environ={},
    )
    assert opted_out.test_client().get("/speaker/1").status_code == 200
