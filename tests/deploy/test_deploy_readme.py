"""The README's configuration table is the whole truth (issue 2: "every environment variable in
one table"): each variable the code or the deployment files read is listed, and each listed
variable is really read somewhere, so the table can neither miss a knob nor advertise a dead one.
"""

from __future__ import annotations

import re
from pathlib import Path

from backend.config import DEFAULTS
from backend.oauth.settings import DEFAULTS as OAUTH_DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("backend", "runner_plugins", "gateway", "stack", "docker")
#: ``os.environ.get("X")``, ``os.environ["X"]``, ``_number(environ, "X", ...)``.
_READ = re.compile(
    r"""(?:environ\.get\(|environ\[|_number\(environ,)\s*["']([A-Z][A-Z0-9_]+)["']"""
)
_APISIX_VAR = re.compile(r"\$\{\{\s*([A-Z][A-Z0-9_]+)")
_COMPOSE_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]+)")
#: WSGI/CGI keys the access log reads from the request environ, not the process environment.
_WSGI = re.compile(r"(HTTP_\w+|REMOTE_ADDR|REQUEST_METHOD|PATH_INFO|QUERY_STRING)\Z")


def _sources() -> list[Path]:
    files = [
        path
        for folder in CODE_DIRS
        for path in (ROOT / folder).rglob("*.py")
        if "_generated" not in path.parts
    ]
    return files


def _read_by_code() -> set[str]:
    names = {
        name
        for path in _sources()
        for name in _READ.findall(path.read_text(encoding="utf-8"))
        if not _WSGI.match(name)
    }
    # backend/config.py: every CONFERENCE_<KEY> of the defaults, and the plain DATABASE_URL.
    names |= {f"CONFERENCE_{key}" for key in DEFAULTS} | {"DATABASE_URL"}
    # backend/oauth/settings.py: the authorization server's CONFERENCE_OAUTH_* keys.
    names |= {f"CONFERENCE_{key}" for key in OAUTH_DEFAULTS}
    names |= set(_APISIX_VAR.findall((ROOT / "apisix" / "apisix.yaml").read_text()))
    compose = (ROOT / "docker-compose.yml").read_text()
    names |= {n for n in _COMPOSE_VAR.findall(compose) if n != "NAME"}  # NAME: a comment's example
    return names


def _readme_table() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def test_every_variable_read_is_in_the_readme_table() -> None:
    missing = _read_by_code() - _readme_table()
    assert not missing, f"environment variables missing from README's table: {sorted(missing)}"


def test_every_variable_in_the_readme_table_is_read_somewhere() -> None:
    corpus = "\n".join(path.read_text(encoding="utf-8") for path in _sources())
    corpus += (ROOT / "apisix" / "apisix.yaml").read_text()
    corpus += (ROOT / "docker-compose.yml").read_text()
    corpus += "\n".join(f"CONFERENCE_{key}" for key in DEFAULTS)
    corpus += "\n".join(f"CONFERENCE_{key}" for key in OAUTH_DEFAULTS)
    dead = {name for name in _readme_table() if name not in corpus}
    assert not dead, f"README documents variables nothing reads: {sorted(dead)}"


def test_the_table_is_not_empty() -> None:
    # Guards the parser above: a reformatted table must not make both checks vacuous.
    assert {"CONFERENCE_SHARED_SECRET", "APISIX_CONF_EXPIRE_TIME"} <= _readme_table()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip() for line in quick_start.strip().splitlines()]
    assert "make test" in commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert steps[-1] == "make test" and not any("pytest" in step for step in steps)
