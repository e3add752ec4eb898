"""Read the deployment files the way their consumers do, for the no-Docker checks.

Strategy: APISIX substitutes ``${{NAME}}`` / ``${{NAME:=default}}`` in apisix.yaml on the raw text,
comments included, before YAML parsing (docs/deployment.md cites the observed rules), so
:func:`gateway.variables.expand` (the gateway's own) works on text and reports every name it met;
an unset name without default is an error, as it stops APISIX at start. Compose interpolates
``${NAME}``, ``${NAME:?msg}`` and ``${NAME:-default}`` in values; :func:`compose_variables` lists
them so the tests can check that secrets have no default. Plugin schemas are JSON files written
from APISIX's plugin docs/source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gateway.variables import MissingVariable, expand

__all__ = ["MissingVariable", "expand"]  # the one ${{...}} substitution, re-exported for the tests

ROOT = Path(__file__).resolve().parents[2]
APISIX_YAML = ROOT / "apisix" / "apisix.yaml"
CONFIG_YAML = ROOT / "apisix" / "config.yaml"
COMPOSE_YAML = ROOT / "docker-compose.yml"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

_COMPOSE_VAR = re.compile(r"\$\{(\w+)(?:(:?[-?+])([^}]*))?\}")


def apisix_document(environ: Mapping[str, str]) -> dict[str, Any]:
    """apisix.yaml after substitution, parsed."""
    doc = yaml.safe_load(expand(APISIX_YAML.read_text(), environ).text)
    assert isinstance(doc, dict)
    return doc


def yaml_file(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path} is not a mapping"
    return doc


def schema(name: str) -> dict[str, Any]:
    loaded = json.loads((SCHEMAS / f"{name}.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def validate(instance: Any, schema_name: str) -> list[str]:
    """Every schema violation as ``path: message`` (empty when valid)."""
    validator = jsonschema.Draft7Validator(schema(schema_name))
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]


def plugin_confs(doc: Mapping[str, Any]) -> Iterator[tuple[str, str, str, Any]]:
    """(object kind, object id, plugin name, conf) for every plugin in apisix.yaml."""
    for route in doc.get("routes", []):
        for name, conf in (route.get("plugins") or {}).items():
            yield "route", str(route.get("id")), name, conf
    for consumer in doc.get("consumers", []):
        for name, conf in (consumer.get("plugins") or {}).items():
            yield "consumer", str(consumer.get("username")), name, conf


@dataclass(frozen=True)
class ComposeVariable:
    name: str
    operator: str  # "", ":?", "?", ":-", "-", ":+", "+"
    argument: str


def compose_variables(value: Any) -> Iterator[ComposeVariable]:
    """Every ``${...}`` interpolation in a compose value tree (``$$`` is a literal dollar)."""
    if isinstance(value, str):
        for match in _COMPOSE_VAR.finditer(value.replace("$$", "")):
            yield ComposeVariable(match.group(1), match.group(2) or "", match.group(3) or "")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from compose_variables(key)
            yield from compose_variables(item)
    elif isinstance(value, list):
        for item in value:
            yield from compose_variables(item)
