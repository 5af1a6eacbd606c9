"""tcs-registry hooks for Quay (registry type QUAY)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
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
from tcs_registry.default_plugins.v2 import describe

from .client import QuayClient

TYPE = "QUAY"


@hookimpl
def registry_types() -> list[RegistryType]:
    return [RegistryType(TYPE, "Quay (quay.io, Red Hat Quay)")]


@hookimpl
def sniff_registry(url: str, probe: Probe) -> RegistryMatch | None:
    host = urlsplit(url).hostname or ""
    if host == "quay.io" or host.endswith(".quay.io"):
        return RegistryMatch(TYPE, Confidence.EXACT, "quay.io")
    answer = probe.v2()
    challenge = answer.header("WWW-Authenticate") if answer else ""
    if challenge.lower().startswith("bearer") and '/v2/auth"' in challenge:
        return RegistryMatch(TYPE, Confidence.PROBED, "Quay's /v2/auth token endpoint in the /v2/ challenge")
    if answer is not None and not challenge.lower().startswith("bearer"):
        discovery = probe.get("/api/v1/discovery")
        if discovery is not None and discovery.status == 200:
            return RegistryMatch(TYPE, Confidence.PROBED, "/api/v1/discovery answered")
    return None


@hookimpl
def authenticate(registry: Registry, credentials: Credentials) -> RegistryClient | None:
    if registry.registry_type != TYPE:
        return None
    client = QuayClient(registry, credentials)
    client.ping()
    return client


@hookimpl
def list_repositories(registry: Registry, client: RegistryClient) -> Iterable[str] | None:
    if registry.registry_type != TYPE or not isinstance(client, QuayClient):
        return None
    if client.oauth:
        return client.repositories()
    # Robots cannot use /api/v1: the V2 catalog lists what they may see, kept to the namespace.
    catalog = client.paginate("/v2/_catalog", "repositories", what="repository catalog")
    prefix = f"{client.namespace}/" if client.namespace else ""
    return (name for name in catalog if name.startswith(prefix))


@hookimpl
def list_tags(registry: Registry, client: RegistryClient, repository: str) -> Iterable[str] | None:
    if registry.registry_type != TYPE or not isinstance(client, QuayClient) or not client.oauth:
        return None  # robots: plain V2 tags/list
    return client.tags(repository)


@hookimpl
def describe_image(registry: Registry, client: RegistryClient, repository: str, tag: str) -> ImageDescription | None:
    if registry.registry_type != TYPE or not isinstance(client, QuayClient):
        return None
    image = describe(client, repository, tag)
    return replace(image, push_time=client.pushed(repository, tag))
