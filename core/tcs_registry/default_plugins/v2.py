"""DEFAULT_V2: any Docker Registry V2 / OCI distribution registry, and the fallback for every type.

Each operation here is ``trylast``: a vendor plugin answers first for its own type and returns
None for whatever it leaves to plain V2.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ImageError, RegistryError
from ..hookspecs import hookimpl
from ..http import RegistryClient
from ..models import (
    Confidence,
    Credentials,
    ImageDescription,
    Platform,
    Registry,
    RegistryMatch,
    RegistryType,
)
from ..oci import IMAGE_CONFIG_TYPES, build_time, config_platform

TYPE = "DEFAULT_V2"


@hookimpl
def registry_types() -> list[RegistryType]:
    return [RegistryType(TYPE, "Docker Registry V2 / OCI distribution (generic)")]


@hookimpl
def sniff_registry(url: str) -> RegistryMatch:
    return RegistryMatch(TYPE, Confidence.FALLBACK, "generic V2")


@hookimpl(trylast=True)
def authenticate(registry: Registry, credentials: Credentials) -> RegistryClient:
    client = RegistryClient(registry, credentials)
    client.ping()
    return client


@hookimpl(trylast=True)
def list_repositories(registry: Registry, client: RegistryClient) -> Iterable[str]:
    return _catalog(client)


def _catalog(client: RegistryClient) -> Iterable[str]:
    try:
        yield from client.paginate("/v2/_catalog", "repositories", what="repository catalog")
    except RegistryError as exc:
        if exc.status not in (401, 403, 404):
            raise
        raise RegistryError(f"{exc}; this registry may not allow listing its catalog", exc.status) from None


@hookimpl(trylast=True)
def list_tags(registry: Registry, client: RegistryClient, repository: str) -> Iterable[str]:
    # A repository listed in the catalog whose tags were all deleted answers 404: no tags.
    return client.paginate(f"/v2/{repository}/tags/list", "tags", what=f"tags of {repository}", missing_ok=True)


@hookimpl(trylast=True)
def describe_image(registry: Registry, client: RegistryClient, repository: str, tag: str) -> ImageDescription:
    return describe(client, repository, tag)


def describe(client: RegistryClient, repository: str, tag: str) -> ImageDescription:
    """Describe an image over plain V2; vendor plugins call this for what their API lacks."""
    manifest = client.manifest(repository, tag)
    if manifest.is_index:
        platforms = manifest.platforms()
        times = []
        for platform in platforms:
            child = client.manifest(repository, platform.digest or "")
            if child.is_index or child.config is None:
                raise ImageError(f"{client.registry.host}/{repository}:{tag}: nested index is not supported")
            if child.config.media_type in IMAGE_CONFIG_TYPES:
                times.append(build_time(client.config(repository, child.config.digest)))
        known = [t for t in times if t is not None]
        return ImageDescription(
            repository=repository,
            tag=tag,
            digest=manifest.digest,
            media_type=manifest.media_type,
            platforms=platforms,
            build_time=max(known) if known else None,
        )
    assert manifest.config is not None
    platforms: tuple[Platform, ...] = ()
    created = None
    if manifest.config.media_type in IMAGE_CONFIG_TYPES:  # artifacts (Helm charts, SBOMs) have no image config
        config = client.config(repository, manifest.config.digest)
        created = build_time(config)
        platform = config_platform(config, manifest.digest)
        platforms = (platform,) if platform else ()
    return ImageDescription(
        repository=repository,
        tag=tag,
        digest=manifest.digest,
        media_type=manifest.media_type,
        platforms=platforms,
        build_time=created,
    )
