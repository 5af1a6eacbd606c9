"""tcs-registry hooks for Docker Hub (registry type DOCKERHUB)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from tcs_registry import (
    Confidence,
    Credentials,
    ImageDescription,
    Registry,
    RegistryClient,
    RegistryMatch,
    RegistryType,
    hookimpl,
)
from tcs_registry.oci import IMAGE_CONFIG_TYPES, INDEX_TYPES, build_time, parse_time

from .client import HUB_HOSTS, DockerHubClient

TYPE = "DOCKERHUB"


@hookimpl
def registry_types() -> list[RegistryType]:
    return [RegistryType(TYPE, "Docker Hub")]


@hookimpl
def sniff_registry(url: str) -> RegistryMatch | None:
    if (urlsplit(url).hostname or "") in HUB_HOSTS:
        return RegistryMatch(TYPE, Confidence.EXACT, "a Docker Hub host name")
    return None


@hookimpl
def authenticate(registry: Registry, credentials: Credentials) -> RegistryClient | None:
    if registry.registry_type != TYPE:
        return None
    client = DockerHubClient(registry, credentials)
    client.login()
    client.ping()
    return client


def _mine(registry: Registry, client: RegistryClient) -> bool:
    return registry.registry_type == TYPE and isinstance(client, DockerHubClient)


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
    assert isinstance(client, DockerHubClient)
    listed = client.listed(repository, tag)
    if listed is None:
        return None  # not from our listing: plain V2 describes it
    platforms = client.platforms(listed)
    digest = str(listed["digest"])
    media_type = str(listed.get("media_type") or "")
    # One counted pull per image: for an index, straight to the platform image that dates it.
    target = client.representative(platforms) if media_type in INDEX_TYPES else None
    manifest = client.manifest(repository, target or digest)
    if manifest.is_index:  # the listing named no platforms
        child = client.representative(manifest.platforms())
        media_type = media_type or manifest.media_type
        manifest = client.manifest(repository, child) if child else manifest
    created = None
    if manifest.config is not None and manifest.config.media_type in IMAGE_CONFIG_TYPES:
        created = build_time(client.config(repository, manifest.config.digest))
    return ImageDescription(
        repository=repository,
        tag=tag,
        digest=digest,
        media_type=media_type or manifest.media_type,
        platforms=platforms,
        build_time=created,
        push_time=parse_time(listed.get("tag_last_pushed")),
    )
