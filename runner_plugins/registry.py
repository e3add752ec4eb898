"""Explicit plugin registration.

Strategy: plugins come only from modules named on the command line or in
``RUNNER_PLUGINS``; each module exposes ``plugins() -> list[Plugin]``. Nothing
scans directories or registers itself on import, so what runs is exactly what
the operator listed, and a name registered twice is an error at startup rather
than a silent override.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from typing import Any

from runner_plugins.errors import RegistryError
from runner_plugins.plugin import Plugin

__all__ = ["PluginRegistry"]


class PluginRegistry:
    """Plugins by name."""

    def __init__(self, plugins: Iterable[Plugin[Any]] = ()) -> None:
        self._plugins: dict[str, Plugin[Any]] = {}
        for plugin in plugins:
            self.register(plugin)

    @classmethod
    def from_modules(cls, modules: Iterable[str]) -> PluginRegistry:
        """Import each module and register what its ``plugins()`` returns."""
        registry = cls()
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise RegistryError(f"cannot import plugin module {name!r}: {exc}") from exc
            factory = getattr(module, "plugins", None)
            if not callable(factory):
                raise RegistryError(f"plugin module {name!r} has no plugins() function")
            for plugin in factory():
                registry.register(plugin)
        return registry

    def register(self, plugin: Plugin[Any]) -> None:
        if not isinstance(plugin, Plugin):
            raise RegistryError(f"{plugin!r} is not a runner_plugins.plugin.Plugin")
        name = getattr(plugin, "name", None)
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{type(plugin).__name__} has no name")
        if name in self._plugins:
            raise RegistryError(f"plugin name {name!r} is registered twice")
        self._plugins[name] = plugin

    def get(self, name: str) -> Plugin[Any] | None:
        return self._plugins.get(name)

    def __iter__(self) -> Iterator[Plugin[Any]]:
        return iter(self._plugins.values())

    def __len__(self) -> int:
        return len(self._plugins)

    def names(self) -> list[str]:
        return list(self._plugins)
