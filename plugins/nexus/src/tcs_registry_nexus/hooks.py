"""tcs-registry hooks for Sonatype Nexus Repository 3 (registry type NEXUS)."""

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

from .client import NexusClient

TYPE = "NEXUS"


@hookimpl
def registry_types() -> list[RegistryType]:
    return [RegistryType(TYPE, "Sonatype Nexus Repository 3")]


@hookimpl
def sniff_registry(url: str, probe: Probe) -> RegistryMatch | None:
    answer = probe.v2()
    if answer is not None:
        if answer.header("Server").startswith("Nexus/"):
            return RegistryMatch(TYPE, Confidence.PROBED, "Server: Nexus")
        challenge = answer.header("WWW-Authenticate")
        if "Sonatype Nexus Repository Manager" in challenge:
            return RegistryMatch(TYPE, Confidence.PROBED, "Nexus realm in the /v2/ challenge")
        if not challenge.lower().startswith("bearer"):
            status = probe.get("/service/rest/v1/status")
            if status is not None and status.status == 200 and status.header("Server").startswith("Nexus/"):
                return RegistryMatch(TYPE, Confidence.PROBED, "/service/rest/v1/status answered")
    if urlsplit(url).path.startswith("/repository/"):
        return RegistryMatch(TYPE, Confidence.LIKELY, "a /repository/<name> path")
    return None


@hookimpl
def authenticate(registry: Registry, credentials: Credentials) -> RegistryClient | None:
    if registry.registry_type != TYPE:
        return None
    client = NexusClient(registry, credentials)
    client.ping()
    return client


def _mine(registry: Registry, client: RegistryClient) -> bool:
    return registry.registry_type == TYPE and isinstance(client, NexusClient) and not client.connector


@hookimpl
def list_repositories(registry: Registry, client: RegistryClient) -> Iterable[str] | None:
    return client.repositories() if _mine(registry, client) else None  # type: ignore[attr-defined]


@hookimpl
def list_tags(registry: Registry, client: RegistryClient, repository: str) -> Iterable[str] | None:
    return client.tags(repository) if _mine(registry, client) else None  # type: ignore[attr-defined]


@hookimpl
def describe_image(registry: Registry, client: RegistryClient, repository: str, tag: str) -> ImageDescription | None:
    if not _mine(registry, client):
        return None
    image = describe(client, repository, tag)
    return replace(image, push_time=client.pushed(repository, tag))  # type: ignore[attr-defined]
