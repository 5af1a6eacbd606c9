"""OCI and Docker manifest parsing: pure functions over bytes, no I/O."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import ImageError, RegistryError
from .models import Platform

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

LAYER_TYPES = ("application/vnd.oci.image.layer.", "application/vnd.docker.image.rootfs.")  # prefixes

INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
IMAGE_CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
# Indexes first: a registry that has both answers with the index, which names every platform.
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + IMAGE_TYPES)

MAX_MANIFEST_BYTES = 4 * 1024 * 1024  # the OCI distribution spec's recommended limit
MAX_CONFIG_BYTES = 8 * 1024 * 1024

# The OCI distribution spec's grammar for the names a registry lists: anything else cannot be asked for
# safely (a path, a query, a control character) and is reported instead of fetched.
_NAME_PART = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPOSITORY_NAME = re.compile(rf"{_NAME_PART}(?:/{_NAME_PART})*")
_TAG_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
MAX_REPOSITORY_NAME, MAX_TAG = 255, 128  # longer names never reach the patterns (backtracking)
_DIGEST = re.compile(r"^(sha256|sha512):([a-f0-9]{64}|[a-f0-9]{128})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# cosign's tags for what it attaches to an image (sigstore/cosign pkg/oci/remote: <alg>-<hex>.sig, .att,
# .sbom). The referrers tag schema's bare sha256-<hex> is told by its content (an index of artifacts): an
# image may carry such a tag too.
_ATTACHED_TAG = re.compile(r"sha(?:256|512)-[a-f0-9]{64,128}\.(sig|att|sbom)")
_ATTACHED = {"sig": "a cosign signature", "att": "a cosign attestation", "sbom": "a cosign SBOM"}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int = 0
    platform: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    artifact_type: str = ""  # an index entry for an artifact (a referrers index lists only those)

    @property
    def is_attestation(self) -> bool:
        """BuildKit attestation manifests ride in an index but are not platforms."""
        if self.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            return True
        return self.platform.get("os") == "unknown" and self.platform.get("architecture") == "unknown"


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    config: Descriptor | None = None  # image manifests
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()  # indexes
    subject: str = ""  # the digest of the manifest this one is attached to (OCI 1.1 referrers)
    artifact_type: str = ""

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def not_an_image(self) -> str:
        """What the manifest is if it is no container image, or ''."""
        if self.subject:
            return f"an artifact attached to {self.subject} (a signature, attestation or SBOM)"
        if self.artifact_type:
            return f"an artifact of type {self.artifact_type}"
        if self.is_index:
            return "an index of no image platform" if self.manifests and not self.platforms() else ""
        if self.config is not None and self.config.media_type not in IMAGE_CONFIG_TYPES:
            return f"an artifact (config {self.config.media_type or 'without a type'})"
        if self.layers and not any(d.media_type.startswith(LAYER_TYPES) for d in self.layers):
            return f"an artifact (layers {self.layers[0].media_type or 'without a type'})"
        return ""

    def platforms(self) -> tuple[Platform, ...]:
        """The platforms of an index, without attestation manifests; a platform listed twice is its first
        entry, the one a runtime pulling that platform gets."""
        found: dict[str, Platform] = {}
        for d in self.manifests:
            if d.media_type in IMAGE_TYPES and not d.is_attestation and not d.artifact_type:
                platform = Platform(
                    os=_text(d.platform.get("os")),
                    architecture=_text(d.platform.get("architecture")),
                    variant=_text(d.platform.get("variant")) or None,
                    digest=d.digest,
                )
                found.setdefault(str(platform), platform)
        return tuple(found.values())


def name_problem(repository: str, tag: str | None = None, longest: int = MAX_REPOSITORY_NAME) -> str | None:
    """Why a listed repository name (or tag) breaks the distribution grammar, or None if it does not.
    ``longest``: a vendor whose repository names may be longer than distribution's (ECR: 256)."""
    if tag is not None:
        if not _TAG_NAME.fullmatch(tag):
            return f"the registry listed an invalid tag name {tag[:MAX_TAG]!r}"
        return None
    if len(repository) > longest or not _REPOSITORY_NAME.fullmatch(repository):
        return f"the registry listed an invalid repository name {repository[:longest]!r}"
    return None


def in_namespace(repositories: Iterable[str], namespace: str) -> Iterator[str]:
    """The repositories that are ``namespace`` or under it (``team`` holds ``team`` and ``team/api``, not
    ``teamwork``): all of them for the namespace "" (a URL with no path); none is an error (a typo in the
    URL's path is not an empty registry)."""
    found = False
    for repository in repositories:
        if not namespace or repository == namespace or repository.startswith(f"{namespace}/"):
            found = True
            yield repository
    if namespace and not found:
        raise RegistryError(f"no repository is named {namespace!r} or under it (the URL's path)", 404)


def attached_tag(tag: str) -> str:
    """What a tag names when it is the tag scheme of something attached to an image, or ''."""
    match = _ATTACHED_TAG.fullmatch(tag)
    return _ATTACHED[match.group(1)] if match else ""


def compute_digest(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def is_digest(reference: str) -> bool:
    return bool(_DIGEST.match(reference))


def verify_digest(body: bytes, expected: str, what: str) -> None:
    """Raise ImageError unless ``body`` hashes to ``expected``."""
    match = _DIGEST.match(expected)
    if not match:
        raise ImageError(f"{what}: the registry sent an invalid digest {expected!r}")
    actual = compute_digest(body, match.group(1))
    if actual != expected:
        raise ImageError(f"{what}: content does not match its digest (expected {expected}, got {actual})")


def descriptor(raw: Any, what: str) -> Descriptor:
    """A manifest's or an index's entry (a vendor's list of an index's entries too); ImageError if malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("digest"), str):
        raise ImageError(f"{what}: malformed descriptor in manifest")
    size = raw.get("size") or 0
    valid = (isinstance(size, int) and size >= 0) or (isinstance(size, str) and size.isdigit())
    if isinstance(size, bool) or not valid:
        raise ImageError(f"{what}: malformed descriptor in manifest (size {size!r})")
    return Descriptor(
        media_type=str(raw.get("mediaType", "")),
        digest=raw["digest"],
        size=int(size),
        platform=_mapping(raw.get("platform")),
        annotations=_mapping(raw.get("annotations")),
        artifact_type=_text(raw.get("artifactType")),
    )


def json_object(body: bytes, what: str) -> dict[str, Any]:
    """``body`` as a JSON object; ``what`` (the image and the document) names it in the error."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise ImageError(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise ImageError(f"{what} is not a JSON object")
    return doc


def schema1(what: str) -> ImageError:
    """The error for an image whose manifest is Docker's schema 1 (a vendor's listing may say so first)."""
    return ImageError(
        f"{what}: schema 1 manifests are not supported (deprecated format; re-push the image)",
        code="unsupported-media-type",
    )


def parse_manifest(body: bytes, content_type: str, digest: str, what: str) -> Manifest:
    """Parse an image manifest or an index; ``what`` names the image in error messages."""
    header_type = content_type.split(";")[0].strip()
    if header_type == "text/html" or body.lstrip()[:1] == b"<":  # a login or error page in the way
        raise ImageError(f"{what}: the registry answered an HTML page ({header_type or 'no type'}), not a manifest")
    doc = json_object(body, f"{what}: the manifest")
    media_type = doc.get("mediaType") or header_type
    if doc.get("schemaVersion") == 1 or media_type in SCHEMA1:
        raise schema1(what)
    subject = doc.get("subject")
    attached = {
        "subject": _text(subject.get("digest")) if isinstance(subject, dict) else "",
        "artifact_type": _text(doc.get("artifactType")),
    }
    if "manifests" in doc and media_type in (*INDEX_TYPES, "", "application/json"):
        entries = doc["manifests"] if isinstance(doc["manifests"], list) else []
        return Manifest(
            digest=digest,
            media_type=media_type if media_type in INDEX_TYPES else OCI_INDEX,
            manifests=tuple(descriptor(d, what) for d in entries),
            **attached,
        )
    if "config" in doc and media_type in (*IMAGE_TYPES, "", "application/json"):
        layers = doc.get("layers") if isinstance(doc.get("layers"), list) else []
        return Manifest(
            digest=digest,
            media_type=media_type if media_type in IMAGE_TYPES else OCI_MANIFEST,
            config=descriptor(doc["config"], what),
            layers=tuple(descriptor(d, what) for d in layers),
            **attached,
        )
    raise ImageError(
        f"{what}: unsupported manifest media type {media_type or 'unknown'!r}", code="unsupported-media-type"
    )


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time from a config or an API (any fraction length, Z or offset) as UTC, else None."""
    if not isinstance(value, str) or not value:
        return None
    text = re.sub(r"(\.\d{1,6})\d*", r"\1", value.strip())  # Python keeps at most microseconds
    text = text.replace("z", "Z").replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
        parsed = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range
        return None
    return None if parsed.year <= 1 else parsed


def format_time(value: datetime | None) -> str:
    """RFC 3339 UTC to the second, e.g. ``2025-05-30T08:12:44Z``; '' for unknown."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def build_time(config: dict[str, Any]) -> datetime | None:
    """The image's build time: the config's ``created``, else the OCI ``created`` label.

    Reproducible builds often stamp the Unix epoch; that says nothing about when the image was
    built, so it counts as unknown unless the label says better.
    """
    created = parse_time(config.get("created"))
    if created is not None and created != _EPOCH:
        return created
    inner = config.get("config")
    labels = (inner.get("Labels") if isinstance(inner, dict) else None) or {}
    labelled = parse_time(labels.get("org.opencontainers.image.created")) if isinstance(labels, dict) else None
    return labelled or None


def config_diff_ids(config: dict[str, Any]) -> list[Any]:
    """An image config's ``rootfs.diff_ids`` (the layers' uncompressed digests, base first), or []."""
    rootfs = config.get("rootfs") if isinstance(config.get("rootfs"), dict) else {}
    return rootfs.get("diff_ids") if isinstance(rootfs.get("diff_ids"), list) else []


def config_platform(config: dict[str, Any], digest: str | None = None) -> Platform | None:
    if not config.get("os") and not config.get("architecture"):
        return None
    return Platform(
        os=_text(config.get("os")),
        architecture=_text(config.get("architecture")),
        variant=_text(config.get("variant")) or None,
        digest=digest,
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """A string field from registry JSON, whatever type the registry sent."""
    return value if isinstance(value, str) else "" if value is None else str(value)
