"""Turn the parsed configuration's plugin confs into plugin objects: routes and consumers to run.

Strategy: :mod:`gateway.config` only reads the YAML into plain data, and the plugins only know the
request context; this step is the one place that knows both, so the layers stay one-way
(``context`` <- ``plugins`` <- ``build`` -> ``config``) with no import circle. It runs once at
startup (:class:`gateway.app.Gateway`); a plugin conf the stand-in does not implement is a
:class:`gateway.errors.ConfigError` from here, naming the route or consumer and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.config import ConsumerConf, GatewayConfig, RouteConf
from gateway.context import Consumer, Plugin, Route
from gateway.plugins.catalog import build_plugin

__all__ = ["Built", "build"]


@dataclass(frozen=True, slots=True)
class Built:
    """The configuration's routes and consumers with their plugins built, in file order."""

    routes: tuple[Route, ...]
    consumers: tuple[Consumer, ...]


def _plugins(confs: Mapping[str, Any], where: str) -> dict[str, Plugin]:
    return {name: build_plugin(name, conf, where) for name, conf in confs.items()}


def _consumer(conf: ConsumerConf) -> Consumer:
    return Consumer(conf.username, _plugins(conf.plugins, f"consumer {conf.username!r}"))


def _route(conf: RouteConf) -> Route:
    return Route(
        id=conf.id,
        uris=conf.uris,
        methods=conf.methods,
        priority=conf.priority,
        upstream_id=conf.upstream_id,
        plugins=_plugins(conf.plugins, f"route {conf.id!r}"),
        version=conf.version,
    )


def build(config: GatewayConfig) -> Built:
    """Build every plugin of ``config`` (consumers first, then routes, as the file is read)."""
    consumers = tuple(_consumer(conf) for conf in config.consumers)
    return Built(routes=tuple(_route(conf) for conf in config.routes), consumers=consumers)
