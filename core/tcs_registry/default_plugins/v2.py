"""DEFAULT_V2: any Docker Registry V2 / OCI distribution registry, and the fallback for every type.

Each operation here is ``trylast``: a vendor plugin answers first for its own type and returns
None for whatever it leaves to plain V2.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..errors import ImageError, RegistryError
from ..hookspecs import hookimpl
from ..http import RegistryClient
from ..models import (
    Confidence,
    Credentials,
    ImageDescription,
    LayerSize,
    Platform,
    Registry,
    RegistryMatch,
    RegistryType,
)
from ..oci import IMAGE_CONFIG_TYPES, Manifest, build_time, config_diff_ids, config_platform

log = logging.getLogger("tcs_registry")

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


def describe(client: RegistryClient, repository: str, tag: str, reference: str | None = None) -> ImageDescription:
    """Describe an image over plain V2; vendor plugins call this for what their API lacks, by the
    digest they listed (``reference``) or by the tag.

    An index's build time is the newest of its platforms' (each platform's config is fetched; one the
    registry does not hold is left out: a sparse index). Artifacts (signatures, attestations, SBOMs,
    Helm charts) are described as what they are, and no more is fetched for them.
    """
    manifest = client.manifest(repository, reference or tag)
    artifact = manifest.not_an_image()
    if artifact:
        return ImageDescription(repository, tag, manifest.digest, manifest.media_type, artifact=artifact)
    if manifest.is_index:
        present = client.platform_manifests(repository, manifest, manifest.platforms())
        if any(child.config is None for _, child in present):
            raise ImageError(
                f"{client.registry.host}/{repository}:{tag}: nested index is not supported",
                code="unsupported-media-type",
            )
        platforms = manifest.platforms()  # as the index says (a scan of one it lacks fails: asked for, not there)
        held = {platform for platform, _ in present}
        if absent := [str(p) for p in platforms if p not in held]:
            log.warning(
                "Platforms not in the registry image=%s/%s:%s platforms=%s (a sparse index: left out)",
                client.registry.host, repository, tag, ",".join(absent),
            )  # fmt: skip
        sized = [
            (platform, child, client.config(repository, digest))
            for platform, child in present
            if (digest := _image_config(child))
        ]
        configs = [config for _, _, config in sized]
    else:
        digest = _image_config(manifest)
        configs = [client.config(repository, digest)] if digest else []
        platforms = tuple(p for p in (config_platform(c, manifest.digest) for c in configs) if p)
        sized = [(None, manifest, configs[0])] if configs else []
    times = [t for t in map(build_time, configs) if t is not None]
    return ImageDescription(
        repository=repository,
        tag=tag,
        digest=manifest.digest,
        media_type=manifest.media_type,
        platforms=platforms,
        build_time=max(times) if times else None,
        layers=layer_sizes(sized),
    )


def layer_sizes(images: list[tuple[Platform | None, Manifest, dict]]) -> tuple[LayerSize, ...] | None:
    """The layers of (platform, manifest, config) as a scan would download them: each diff_id (the
    layer cache's key) with its blob's size. A platform whose config's diff_ids do not match its layers
    has none (its scan fails before downloading any); a single image of that kind is of unknown size."""
    sizes = []
    for platform, manifest, config in images:
        diff_ids = config_diff_ids(config)
        if len(diff_ids) != len(manifest.layers) or not all(isinstance(d, str) for d in diff_ids):
            if platform is None:
                return None
            continue
        sizes += [LayerSize(platform, d, layer.size) for d, layer in zip(diff_ids, manifest.layers, strict=True)]
    return tuple(sizes)


def _image_config(manifest: Manifest) -> str | None:
    """The digest of the manifest's image config; None for artifacts and indexes."""
    if manifest.config is not None and manifest.config.media_type in IMAGE_CONFIG_TYPES:
        return manifest.config.digest
    return None
