"""Static checks of the images: pinned bases, build context, and the layout APISIX relies on."""

from __future__ import annotations

import ast
import fnmatch
import re
import tomllib
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from tests.deploy.deploy_files import COMPOSE_YAML, CONFIG_YAML, ROOT, yaml_file

GATEWAY = ROOT / "docker" / "gateway.Dockerfile"
BACKEND = ROOT / "docker" / "backend.Dockerfile"
APISIX_CONF_DIR = "/usr/local/apisix/conf"


def _commands(path: Path) -> tuple[dockerfile.Command, ...]:
    commands: tuple[dockerfile.Command, ...] = dockerfile.parse_file(str(path))
    return commands


def _of(path: Path, cmd: str) -> list[dockerfile.Command]:
    return [c for c in _commands(path) if c.cmd == cmd]


def _copies(path: Path) -> list[tuple[list[str], str]]:
    out = []
    for command in _of(path, "COPY"):
        *sources, destination = command.value
        out.append((sources, destination))
    return out


def _dockerignore_includes(relative: str) -> bool:
    """Docker's rule: the last matching .dockerignore line wins; ``!`` re-includes."""
    included = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes) or fnmatch.fnmatchcase(
            relative, pattern
        ):
            included = negate
    return included


@pytest.mark.parametrize("path", [GATEWAY, BACKEND], ids=["gateway", "backend"])
def test_base_image_is_an_exact_release(path: Path) -> None:
    bases = [c.value[0] for c in _of(path, "FROM")]
    assert bases, path
    for base in bases:
        assert "@" not in base and not base.endswith(":latest")
        assert re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+(-[\w.-]+)?", base), base


def test_gateway_builds_on_the_official_debian_apisix_3_image() -> None:
    (base,) = [c.value[0] for c in _of(GATEWAY, "FROM")]
    assert re.fullmatch(r"apache/apisix:3\.\d+\.\d+-debian", base), base


@pytest.mark.parametrize("path", [GATEWAY, BACKEND], ids=["gateway", "backend"])
def test_images_run_as_an_unprivileged_user(path: Path) -> None:
    users = [c.value[0] for c in _of(path, "USER")]
    assert users and users[-1] not in ("root", "0"), users


@pytest.mark.parametrize("path", [GATEWAY, BACKEND], ids=["gateway", "backend"])
def test_every_copied_source_is_in_the_build_context(path: Path) -> None:
    for sources, _ in _copies(path):
        for source in sources:
            assert (ROOT / source).exists(), source
            assert _dockerignore_includes(source), f"{source} is excluded by .dockerignore"


def test_build_context_keeps_secrets_and_local_state_out() -> None:
    for path in (".env", "var/conference.sqlite3", ".venv/bin/python", "tests/deploy"):
        assert not _dockerignore_includes(path), path


@pytest.mark.parametrize("path", [GATEWAY, BACKEND], ids=["gateway", "backend"])
def test_images_have_a_health_check(path: Path) -> None:
    (check,) = _of(path, "HEALTHCHECK")
    assert check.value[0] == "CMD" and check.json


def test_runner_command_exists_in_the_image_layout() -> None:
    """ext-plugin.cmd must name the console script the Dockerfile installs from this repo."""
    cmd = yaml_file(CONFIG_YAML)["ext-plugin"]["cmd"]
    venv, script = cmd[0].rsplit("/bin/", 1)
    runs = " ".join(" ".join(c.value) for c in _of(GATEWAY, "RUN"))
    assert f"venv {venv}" in runs
    assert f"{venv}/bin/pip install" in runs
    assert f"test -x {cmd[0]}" in runs
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    target = project["scripts"][script]
    module_name, function = target.split(":")
    # The script's package is what the gateway image copies.
    copied = {d.rstrip("/").rsplit("/", 1)[-1] for s, d in _copies(GATEWAY) for _ in s}
    assert module_name.split(".")[0] in copied
    module = pytest.importorskip(module_name)
    assert callable(getattr(module, function))


def test_apisix_reads_our_files_where_the_image_puts_them() -> None:
    destinations = {d for _, d in _copies(GATEWAY)}
    assert f"{APISIX_CONF_DIR}/config.yaml" in destinations
    assert f"{APISIX_CONF_DIR}/apisix.yaml" in destinations
    env = " ".join(" ".join(c.value) for c in _of(GATEWAY, "ENV"))
    assert "APISIX_STAND_ALONE true" in env or "APISIX_STAND_ALONE=true" in env
    compose = yaml_file(COMPOSE_YAML)["services"]["gateway"]
    targets = [str(v).split(":")[1] for v in compose["volumes"]]
    assert targets == [f"{APISIX_CONF_DIR}/apisix.yaml"]


def test_health_check_scripts_are_where_compose_and_the_image_run_them() -> None:
    compose: dict[str, Any] = yaml_file(COMPOSE_YAML)["services"]
    (check,) = _of(GATEWAY, "HEALTHCHECK")
    script = next(v for v in check.value if v.endswith(".py"))
    assert script in {d for _, d in _copies(GATEWAY)}
    assert script in compose["gateway"]["healthcheck"]["test"]
    assert script in compose["gateway-node"]["healthcheck"]["test"]


def test_backend_serves_with_the_repository_gunicorn_config() -> None:
    (cmd,) = _of(BACKEND, "CMD")
    assert cmd.json and cmd.value[0].endswith("/bin/gunicorn")
    config = cmd.value[cmd.value.index("--config") + 1]
    runs = " ".join(" ".join(c.value) for c in _of(BACKEND, "RUN"))
    assert f"backend/gunicorn.conf.py {config}" in runs
    env = " ".join(" ".join(c.value) for c in _of(BACKEND, "ENV"))
    assert "CONFERENCE_BIND 0.0.0.0:8000" in env or "CONFERENCE_BIND=0.0.0.0:8000" in env
    assert (ROOT / "backend" / "gunicorn.conf.py").is_file()


def test_config_passes_the_official_entrypoint_standalone_checks() -> None:
    # With APISIX_STAND_ALONE=true the official docker-entrypoint.sh refuses to start unless
    # config.yaml matches these (grep -z, i.e. across lines) patterns.
    text = CONFIG_YAML.read_text()
    for pattern in (r"role:\s*data_plane", r"role_data_plane:", r"config_provider:\s*yaml"):
        assert re.search(pattern, text), pattern


@pytest.mark.parametrize(
    ("package", "image"),
    [("runner_plugins", GATEWAY), ("backend", BACKEND)],
    ids=["gateway-image", "backend-image"],
)
def test_each_image_holds_every_package_its_code_imports(package: str, image: Path) -> None:
    """Each image copies its package (and textfold, errorshape); importing a sibling would fail."""
    copied = {Path(s).name for sources, _ in _copies(image) for s in sources}
    assert package in copied
    packages = {
        "backend",
        "runner_plugins",
        "gateway",
        "stack",
        "textfold",
        "errorshape",
        "tests",
        "bench",
    }
    siblings = packages - copied
    for source in (ROOT / package).rglob("*.py"):
        tree = ast.parse(source.read_text(), filename=str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in siblings, f"{source}: imports {name}"
