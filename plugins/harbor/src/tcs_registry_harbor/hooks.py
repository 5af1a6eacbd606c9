"""tcs-registry hooks for Harbor (registry type HARBOR)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from tcs_registry import (
    Confidence,
    Credentials,
    ImageDescription,
    Probe,
    Registry,
    RegistryClient,
    RegistryMatch,
    RegistryType,
    hookimpl,
)

from .client import HarborClient

TYPE = "HARBOR"


@hookimpl
def registry_types() -> list[RegistryType]:
    return [RegistryType(TYPE, "Harbor (API v2.0)")]


@hookimpl
def sniff_registry(url: str, probe: Probe) -> RegistryMatch | None:
    answer = probe.v2()
    challenge = answer.header("WWW-Authenticate") if answer else ""
    if 'service="harbor-registry"' in challenge or challenge.lower().startswith('basic realm="harbor"'):
        return RegistryMatch(TYPE, Confidence.PROBED, "Harbor's token service in the /v2/ challenge")
    if answer is not None and not challenge.lower().startswith("bearer"):  # no vendor named: ask Harbor's ping
        ping = probe.get("/api/v2.0/ping")
        if ping is not None and ping.status == 200:
            return RegistryMatch(TYPE, Confidence.PROBED, "/api/v2.0/ping answered")
    if (urlsplit(url).hostname or "").startswith("harbor."):
        return RegistryMatch(TYPE, Confidence.LIKELY, "host name")
    return None


@hookimpl
def authenticate(registry: Registry, credentials: Credentials) -> RegistryClient | None:
    if registry.registry_type != TYPE:
        return None
    client = HarborClient(registry, credentials)
    client.ping()
    return client


@hookimpl
def list_repositories(registry: Registry, client: RegistryClient) -> Iterable[str] | None:
    if registry.registry_type != TYPE or not isinstance(client, HarborClient):
        return None
    return client.repositories()


@hookimpl
def list_tags(registry: Registry, client: RegistryClient, repository: str) -> Iterable[str] | None:
    if registry.registry_type != TYPE or not isinstance(client, HarborClient):
        return None
    return client.tags(repository)


@hookimpl
def describe_image(registry: Registry, client: RegistryClient, repository: str, tag: str) -> ImageDescription | None:
    if registry.registry_type != TYPE or not isinstance(client, HarborClient):
        return None
    return client.describe(repository, tag)  # None: not listed by us, plain V2 answers
