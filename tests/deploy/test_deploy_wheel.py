"""What the images install: a wheel built from exactly the files the Docker build context holds.

Both Dockerfiles ``pip install`` this repository from the context .dockerignore lets through, so
the wheel built here from the same files must carry the runner, the console script
``ext-plugin.cmd`` names, and the backend's data and static files, and nothing from the tests
(the flatc bindings the codec tests use as their oracle live under ``tests/``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.deploy_files import CONFIG_YAML, ROOT, yaml_file

CONTEXT = ("pyproject.toml", "README.md", "backend", "runner_plugins")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    context = tmp_path_factory.mktemp("context")
    for name in CONTEXT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, context / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / name)
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "-w",
            str(dist),
            str(context),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = dist.glob("*.whl")
    return zipfile.ZipFile(built)


def _names(wheel: zipfile.ZipFile) -> set[str]:
    return set(wheel.namelist())


def test_console_script_of_ext_plugin_cmd_is_declared(wheel: zipfile.ZipFile) -> None:
    script = Path(yaml_file(CONFIG_YAML)["ext-plugin"]["cmd"][0]).name
    (entry_points,) = [n for n in _names(wheel) if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert f"{script} = runner_plugins.__main__:main" in text


def test_runner_is_packaged_without_the_test_oracle(wheel: zipfile.ZipFile) -> None:
    names = _names(wheel)
    assert "runner_plugins/__main__.py" in names
    assert "runner_plugins/context/plugin.py" in names
    assert not [n for n in names if "_generated" in n or n.startswith(("tests/", "A6/"))]


def test_backend_data_and_static_files_are_packaged(wheel: zipfile.ZipFile) -> None:
    names = _names(wheel)
    for folder in ("data", "static"):
        local = sorted(
            p.relative_to(ROOT).as_posix()
            for p in (ROOT / "backend" / folder).iterdir()
            if p.is_file()
        )
        assert local and set(local) <= names, folder
    assert "backend/gunicorn.conf.py" in names


def _requires(wheel: zipfile.ZipFile) -> dict[str, set[str]]:
    """Requires-Dist names by extra ("" for the base install)."""
    (metadata,) = [n for n in _names(wheel) if n.endswith(".dist-info/METADATA")]
    out: dict[str, set[str]] = {}
    for line in wheel.read(metadata).decode().splitlines():
        if not line.startswith("Requires-Dist: "):
            continue
        spec = line.removeprefix("Requires-Dist: ")
        name = re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0].lower()
        extra = re.search(r'extra == "([\w-]+)"', spec)
        out.setdefault(extra.group(1) if extra else "", set()).add(name)
    return out


def test_the_runner_install_carries_no_backend_gateway_or_test_dependency(
    wheel: zipfile.ZipFile,
) -> None:
    """The APISIX image installs the base: the runner's own dependencies and nothing more."""
    requires = _requires(wheel)
    # mcp, orjson, jsonschema(-rs): the conference-mcp plugin runs inside the runner; joserfc:
    # the runner's oauth-bearer check verifies access tokens (package bearer/).
    # prometheus-client: the runner's metrics (RUNNER_METRICS).
    assert requires[""] == {
        "httpx",
        "httpx-aiohttp",
        "aiohttp",
        "uvloop",
        "rapidfuzz",
        "mcp",
        "orjson",
        "jsonschema",
        "joserfc",
        "prometheus-client",
        "jsonschema-rs",
    }
    assert {"flask", "sqlalchemy", "gunicorn", "authlib"} <= requires["backend"]
    assert "authlib" not in requires[""]
    assert {"limits", "jsonschema", "pyyaml"} <= requires["gateway"]
    assert "flatbuffers" in requires["dev"]
    assert "flatbuffers" not in requires[""] | requires["backend"] | requires["gateway"]


def test_each_image_installs_its_part() -> None:
    gateway = (ROOT / "docker" / "gateway.Dockerfile").read_text()
    backend = (ROOT / "docker" / "backend.Dockerfile").read_text()
    assert "/opt/conference/src;" in gateway and "/opt/conference/src[" not in gateway
    assert '"/opt/conference/src[backend]"' in backend
