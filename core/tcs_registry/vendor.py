"""The base of a vendor plugin: one registry type, its client, and the hooks routed to that client.

A vendor plugin subclasses `VendorPlugin`, names its `RegistryType` and its `RegistryClient`
subclass, writes `sniff()`, and registers an instance as its entry point::

    class HarborPlugin(VendorPlugin):
        registry_type = RegistryType("HARBOR", "Harbor (API v2.0)")
        client_class = HarborClient

        def sniff(self, url, probe): ...

    plugin = HarborPlugin()          # [project.entry-points.tcs_registry] x = "pkg.hooks:plugin"

``client_class`` may also name the class as ``"package.module:Class"``, imported when a registry of
the type is first used: every command loads every installed plugin, so a client that needs a heavy
SDK (boto3, azure-identity) costs nothing to the runs that never use it.

The client specialises what its vendor does better than plain V2 by defining any of
``repositories()``, ``tags(repository)`` and ``describe(repository, tag)``; each may also return
None to leave that call to the generic V2 plugin. ``login()`` checks the credentials (by default the
``/v2/`` ping).
"""

from __future__ import annotations

import pkgutil
from collections.abc import Iterable
from typing import Any

from .hookspecs import hookimpl
from .http import RegistryClient
from .models import Credentials, ImageDescription, Probe, Registry, RegistryMatch, RegistryType


def log_in(registry: Registry, credentials: Credentials) -> RegistryClient:
    """The client that the plugin of ``registry``'s type builds, logged in with ``credentials``.

    For auth-override plugins that change only where credentials come from (a secret manager): their
    ``authenticate`` answers first with ``log_in(registry, their_credentials)`` and the vendor's own
    client does the rest. The core puts the client class of the registered plugin of the registry's
    type in ``registry.options["client_class"]``; a type without a vendor plugin gets the generic V2
    client.
    """
    client_class = registry.options.get("client_class") or RegistryClient
    client = client_class(registry, credentials)
    client.login()
    return client


def client_class(plugins: Iterable[object], registry_type: str) -> type[RegistryClient] | None:
    """The client class of the registered `VendorPlugin` serving ``registry_type``, if any."""
    for plugin in plugins:
        if isinstance(plugin, VendorPlugin) and plugin.registry_type.name == registry_type:
            return plugin.client()
    return None


class VendorPlugin:
    registry_type: RegistryType
    client_class: type[RegistryClient] | str = RegistryClient  # or "package.module:Class", imported when used

    def client(self) -> type[RegistryClient]:
        """The client class, imported now if ``client_class`` names it."""
        if isinstance(self.client_class, str):
            self.client_class = pkgutil.resolve_name(self.client_class)
        return self.client_class

    def sniff(self, url: str, probe: Probe) -> RegistryMatch | None:
        """Override: recognise the vendor (URL rules first; then ``probe.v2()``, one ``probe.get()``)."""
        return None

    def _mine(self, registry: Registry, client: RegistryClient | None = None) -> bool:
        if registry.registry_type != self.registry_type.name:
            return False
        return client is None or isinstance(client, self.client())

    def _ask(self, client: RegistryClient, method: str, *args: Any) -> Any:
        answer = getattr(client, method, None)
        return answer(*args) if answer is not None else None

    @hookimpl
    def registry_types(self) -> list[RegistryType]:
        return [self.registry_type]

    @hookimpl
    def sniff_registry(self, url: str, probe: Probe) -> RegistryMatch | None:
        return self.sniff(url, probe)

    @hookimpl
    def authenticate(self, registry: Registry, credentials: Credentials) -> RegistryClient | None:
        if not self._mine(registry):
            return None
        client = self.client()(registry, credentials)
        client.login()
        return client

    @hookimpl
    def list_repositories(self, registry: Registry, client: RegistryClient) -> Iterable[str] | None:
        return self._ask(client, "repositories") if self._mine(registry, client) else None

    @hookimpl
    def list_tags(self, registry: Registry, client: RegistryClient, repository: str) -> Iterable[str] | None:
        return self._ask(client, "tags", repository) if self._mine(registry, client) else None

    @hookimpl
    def describe_image(
        self, registry: Registry, client: RegistryClient, repository: str, tag: str
    ) -> ImageDescription | None:
        return self._ask(client, "describe", repository, tag) if self._mine(registry, client) else None
