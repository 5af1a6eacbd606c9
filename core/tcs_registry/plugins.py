"""The plugin manager: built-in plugins plus every distribution in the ``tcs_registry`` entry-point group."""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pluggy

from . import __version__, hookspecs
from .errors import PluginError
from .models import RegistryType

log = logging.getLogger("tcs_registry")
BUILTIN_PLUGINS = ("tcs_registry.default_plugins.v2", "tcs_registry.default_plugins.scanner")
DISABLE_ENV = "TCS_REGISTRY_DISABLE_PLUGINS"  # comma-separated entry-point or built-in module names


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def get_plugin_manager(
    *,
    load_entrypoints: bool = True,
    builtins: bool = True,
    plugins: Iterable[object] = (),
    env: Mapping[str, str] | None = None,
) -> pluggy.PluginManager:
    """A fresh plugin manager; tests pass ``load_entrypoints=False`` and their own ``plugins``."""
    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    disabled = _names(env.get(DISABLE_ENV))
    for name in disabled:
        pm.set_blocked(name)
    if load_entrypoints:  # a name that is no plugin's disables nothing: said, as a typo would leave it on
        known = {e.name for e in importlib.metadata.entry_points(group=hookspecs.PROJECT)} | set(BUILTIN_PLUGINS)
        for name in (n for n in disabled if n not in known):
            log.warning("%s names no installed plugin: %r (tcs-registry plugins lists them)", DISABLE_ENV, name)
    if builtins:
        for module_name in BUILTIN_PLUGINS:
            if not pm.is_blocked(module_name):
                pm.register(importlib.import_module(module_name), name=module_name)
    if load_entrypoints:
        for entry_point in importlib.metadata.entry_points(group=hookspecs.PROJECT):
            try:
                pm.load_setuptools_entrypoints(hookspecs.PROJECT, name=entry_point.name)
            except Exception as exc:  # a broken plugin must say which one it is
                raise PluginError(
                    f"plugin {entry_point.name!r} failed to load: {exc}; "
                    f"disable it with {DISABLE_ENV}={entry_point.name}"
                ) from None
    for plugin in plugins:
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements an unknown hook: {exc}") from None
    return pm


def registry_types(pm: pluggy.PluginManager) -> dict[str, RegistryType]:
    """Every declared registry type by name; two plugins declaring one name is an error."""
    owners: dict[str, str] = {}
    types: dict[str, RegistryType] = {}
    for impl in pm.hook.registry_types.get_hookimpls():
        for rtype in impl.function() or ():
            if rtype.name in owners:
                raise PluginError(
                    f"registry type {rtype.name} is declared by both {owners[rtype.name]} and {impl.plugin_name}"
                )
            owners[rtype.name] = impl.plugin_name
            types[rtype.name] = rtype
    return types


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    registry_types: tuple[str, ...]
    hooks: tuple[str, ...]


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """What `tcs-registry plugins` shows: one entry per registered plugin."""
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        dist = dists.get(id(plugin))
        if dist is not None:
            name, version = dist.metadata["Name"], dist.version
        else:
            version = __version__ if name in BUILTIN_PLUGINS else ""
        declared = getattr(plugin, "registry_types", None)
        types = tuple(t.name for t in declared()) if callable(declared) else ()
        hooks = tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))
        infos.append(PluginInfo(name, version, types, hooks))
    return sorted(infos, key=lambda info: info.name)
