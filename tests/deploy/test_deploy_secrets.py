"""No secret literal in the repository: every key and password comes from the environment.

detect-secrets (Yelp) scans every tracked or to-be-tracked file for high-entropy strings and
known token formats. Its keyword detector ("password = ...") is applied to the deployment files
only: elsewhere tests legitimately hold obvious dummy values such as ``test-only-secret``.
"""

from __future__ import annotations

import math
import re
import secrets
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import transient_settings

from tests.deploy.deploy_files import ROOT

# A run of base64/url-safe characters long enough to be a key; detect-secrets only looks at
# quoted strings, so unquoted ones (KEY=value, YAML plain scalars) are checked here.
TOKEN = re.compile(r"[A-Za-z0-9_\-+]{32,}={0,2}")
SNAKE_CASE = re.compile(r"[a-z0-9]+(_[a-z0-9]+)+")
BINARY = (".png", ".jpg", ".ico", ".fbs", ".sqlite3", ".db")
DEPLOYMENT = ("apisix/", "docker/", "docker-compose.yml", ".dockerignore", "Makefile")


def _repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    return [f for f in listed if not f.endswith(BINARY) and (ROOT / f).is_file()]


@contextmanager
def _scanner(keywords: bool) -> Iterator[None]:
    classes: list[type] = list(get_mapping_from_secret_type_to_class().values())
    names = sorted(c.__name__ for c in classes)
    plugins: list[dict[str, object]] = []
    for name in names:
        if name == "KeywordDetector" and not keywords:
            continue
        plugin: dict[str, object] = {"name": name}
        if name == "Base64HighEntropyString":
            plugin["limit"] = 4.5
        elif name == "HexHighEntropyString":
            plugin["limit"] = 3.0
        plugins.append(plugin)
    with transient_settings({"plugins_used": plugins}):
        yield


def _findings(files: list[str], keywords: bool) -> list[str]:
    collection = SecretsCollection(root=str(ROOT))
    with _scanner(keywords):
        for name in files:
            collection.scan_file(name)
    return [f"{name}:{found.line_number} {found.type}" for name, found in collection]


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(token: str) -> bool:
    if re.fullmatch(r"[0-9a-fA-F]+", token):
        return _entropy(token) >= 3.3
    if SNAKE_CASE.fullmatch(token):  # identifiers such as long test names
        return False
    classes = sum(bool(re.search(p, token)) for p in (r"\d", r"[a-z]", r"[A-Z]"))
    return classes >= 2 and _entropy(token) >= 4.0


def _unquoted_tokens(text: str) -> list[str]:
    return [m.group() for m in TOKEN.finditer(text) if _looks_random(m.group())]


def test_no_secret_literal_in_any_file() -> None:
    files = _repository_files()
    assert "apisix/apisix.yaml" in files and len(files) > 20
    assert _findings(files, keywords=False) == []
    random_looking = {
        name: found for name in files if (found := _unquoted_tokens((ROOT / name).read_text()))
    }
    assert random_looking == {}


def test_deployment_files_have_no_keyword_secret() -> None:
    files = [f for f in _repository_files() if f.startswith(DEPLOYMENT)]
    assert "docker-compose.yml" in files
    assert _findings(files, keywords=True) == []


def test_no_env_file_is_tracked() -> None:
    assert not [f for f in _repository_files() if Path(f).name == ".env"]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param('key: "{}"', id="yaml-urlsafe-key"),
        pytest.param("CHATGPT_API_KEY={}", id="env-style"),
        pytest.param('X-Conference-Secret: "{}"', id="header-value"),
    ],
)
def test_the_scan_finds_a_generated_key(tmp_path: Path, line: str) -> None:
    # Positive control: a key as the secret generator makes it must be reported.
    leaked = tmp_path / "leak.yaml"
    leaked.write_text(line.format(secrets.token_urlsafe(32)) + "\n")
    collection = SecretsCollection(root=str(tmp_path))
    with _scanner(keywords=False):
        collection.scan_file("leak.yaml")
    # One of the two scans must report it (detect-secrets sees quoted values only).
    assert len(list(collection)) == 1 or _unquoted_tokens(leaked.read_text())


@pytest.mark.parametrize("make", [secrets.token_urlsafe, secrets.token_hex], ids=["urlsafe", "hex"])
def test_unquoted_generated_keys_look_random(make: object) -> None:
    assert callable(make)
    found = [_unquoted_tokens(f"KEY={make(32)}\n") for _ in range(50)]
    assert all(found)
    assert _unquoted_tokens("test_public_routes_are_only_the_plugin_surface_and_the_404") == []
