"""Build small real images and push them over the V2 API (blob uploads, manifests, indexes)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ..analysis.stream import zstd
from ..oci import DOCKER_CONFIG, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST

LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
IN_TOTO = "application/vnd.in-toto+json"
COSIGN_SIGNATURE = "application/vnd.dev.cosign.simplesigning.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer(files: Mapping[str, bytes]) -> tuple[bytes, str]:
    """A reproducible gzipped tar of ``files``; returns (blob, diff_id)."""
    return tar_layer([Entry(name, content) for name, content in sorted(files.items())])


@dataclass(frozen=True)
class Entry:
    """One tar member: a file (``data``), a symlink or hard link (``link``), or a directory."""

    name: str
    data: bytes = b""
    symlink: str | None = None
    hardlink: str | None = None
    directory: bool = False
    mode: int = 0o644
    pax: Mapping[str, str] | None = None  # extended header records (GNU.sparse.*, long names)


def tar_layer(entries: Sequence[Entry], compression: str = "gzip") -> tuple[bytes, str]:
    """A layer of ``entries`` in order, names written exactly as given (``../x`` too), compressed with
    ``gzip``, ``gzip-multi`` (one gzip member per 4 KiB, as pigz and eStargz write), ``zstd`` or ``none``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mtime, info.mode = 0, entry.mode
            info.pax_headers = dict(entry.pax or {})
            if entry.symlink is not None:
                info.type, info.linkname = tarfile.SYMTYPE, entry.symlink
            elif entry.hardlink is not None:
                info.type, info.linkname = tarfile.LNKTYPE, entry.hardlink
            elif entry.directory:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size = len(entry.data)
            tar.addfile(info, io.BytesIO(entry.data) if info.isreg() else None)
    uncompressed = raw.getvalue()
    if compression == "gzip":
        blob = gzip.compress(uncompressed, mtime=0)
    elif compression == "gzip-multi":
        step = 4096
        blob = b"".join(gzip.compress(uncompressed[i : i + step], mtime=0) for i in range(0, len(uncompressed), step))
    elif compression == "zstd":
        blob = zstd.compress(uncompressed)
    elif compression == "none":
        blob = uncompressed
    else:
        raise ValueError(f"unknown compression {compression!r}")
    return blob, digest_of(uncompressed)


def layer_type(blob: bytes, docker: bool = False) -> str:
    """The media type a builder would give this layer blob, from its compression."""
    if docker:
        return DOCKER_LAYER
    if blob.startswith(b"\x28\xb5\x2f\xfd"):
        return LAYER_GZIP.replace("gzip", "zstd")
    return LAYER_GZIP if blob.startswith(b"\x1f\x8b") else LAYER_GZIP.removesuffix("+gzip")


@dataclass(frozen=True)
class Pushed:
    digest: str
    size: int
    media_type: str


class Pusher:
    """Pushes to a registry (anonymous or Basic auth), skipping blobs the repository already has."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None, verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.auth = auth
        self.session.verify = verify

    def blob(self, repository: str, data: bytes) -> str:
        digest = digest_of(data)
        head = self.session.head(f"{self.base_url}/v2/{repository}/blobs/{digest}")
        if head.status_code == 200:
            return digest
        start = self.session.post(f"{self.base_url}/v2/{repository}/blobs/uploads/")
        start.raise_for_status()
        location = requests.compat.urljoin(self.base_url + "/", start.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = self.session.put(
            f"{location}{separator}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        done.raise_for_status()
        return digest

    def manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> Pushed:
        response = self.session.put(
            f"{self.base_url}/v2/{repository}/manifests/{reference}", data=body, headers={"Content-Type": media_type}
        )
        response.raise_for_status()
        return Pushed(digest_of(body), len(body), media_type)

    def image(
        self,
        repository: str,
        tag: str | None,
        *,
        created: str | None,
        layers: list[tuple[bytes, str]],
        architecture: str = "amd64",
        os: str = "linux",
        variant: str | None = None,
        docker: bool = False,
        labels: Mapping[str, str] | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> Pushed:
        """Push an image (config + layers + manifest); ``tag=None`` pushes it by digest only."""
        config: dict[str, Any] = {
            "architecture": architecture,
            "os": os,
            "config": {"Labels": dict(labels or {})},
            "rootfs": {"type": "layers", "diff_ids": [diff_id for _, diff_id in layers]},
            "history": [{"created": created, "created_by": "tcs-registry test image"}] if created else [],
        }
        if created is not None:
            config["created"] = created
        if variant:
            config["variant"] = variant
        config.update(extra_config or {})
        config_bytes = json.dumps(config, sort_keys=True).encode()
        self.blob(repository, config_bytes)
        for blob, _ in layers:
            self.blob(repository, blob)
        media_type = DOCKER_MANIFEST if docker else OCI_MANIFEST
        manifest = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
                "digest": digest_of(config_bytes),
                "size": len(config_bytes),
            },
            "layers": [
                {"mediaType": layer_type(blob, docker), "digest": digest_of(blob), "size": len(blob)}
                for blob, _ in layers
            ],
        }
        body = json.dumps(manifest, sort_keys=True).encode()
        return self.manifest(repository, tag or digest_of(body), body, media_type)

    def artifact(
        self,
        repository: str,
        tag: str | None,
        config: tuple[str, bytes],
        layers: list[tuple[str, bytes, dict[str, str]]],
        **fields: Any,
    ) -> Pushed:
        """An OCI manifest of (media type, bytes) ``config`` and (media type, bytes, annotations)
        ``layers``, its blobs pushed first; ``fields`` go into the manifest (artifactType, subject);
        ``tag=None`` pushes it by digest."""
        config_type, config_bytes = config
        self.blob(repository, config_bytes)
        for _, blob, _ in layers:
            self.blob(repository, blob)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": config_type, "digest": digest_of(config_bytes), "size": len(config_bytes)},
            "layers": [
                {
                    "mediaType": kind,
                    "digest": digest_of(blob),
                    "size": len(blob),
                    **({"annotations": notes} if notes else {}),
                }
                for kind, blob, notes in layers
            ],
            **fields,
        }
        body = json.dumps(manifest, sort_keys=True).encode()
        return self.manifest(repository, tag or digest_of(body), body, OCI_MANIFEST)

    def attestation(self, repository: str, subject: Pushed) -> Pushed:
        """A BuildKit-style attestation manifest for ``subject`` (an in-toto layer, unknown platform)."""
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1", "subject": [{"digest": subject.digest}]})
        predicate = {"in-toto.io/predicate-type": "https://spdx.dev/Document"}
        return self.artifact(repository, None, (OCI_CONFIG, b"{}"), [(IN_TOTO, statement.encode(), predicate)])

    def signature(self, repository: str, subject: Pushed) -> Pushed:
        """A cosign signature of ``subject`` as cosign pushes it (sigstore/cosign pkg/oci/static): an
        image config with no platform and a year-1 time, one simplesigning layer, tag
        ``sha256-<hex>.sig``."""
        payload = json.dumps({"critical": {"image": {"docker-manifest-digest": subject.digest}}}).encode()
        config = {
            "architecture": "",
            "os": "",
            "created": "0001-01-01T00:00:00Z",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(payload)]},
            "history": [{"created": "0001-01-01T00:00:00Z"}],
        }
        tag = subject.digest.replace(":", "-") + ".sig"
        signed = {"dev.cosignproject.cosign/signature": "MEUCIQ..."}
        return self.artifact(
            repository, tag, (OCI_CONFIG, json.dumps(config).encode()), [(COSIGN_SIGNATURE, payload, signed)]
        )

    def referrer(self, repository: str, tag: str, subject: Pushed, artifact_type: str) -> Pushed:
        """An OCI 1.1 artifact attached to ``subject`` (``subject`` and ``artifactType``, an empty config)."""
        document = json.dumps({"spdxVersion": "SPDX-2.3"}).encode()
        attached = {"mediaType": subject.media_type, "digest": subject.digest, "size": subject.size}
        return self.artifact(
            repository, tag, (OCI_EMPTY, b"{}"), [(artifact_type, document, {})],
            artifactType=artifact_type, subject=attached,
        )  # fmt: skip

    def chart(self, repository: str, tag: str) -> Pushed:
        """A Helm chart as an OCI artifact (its own config type, a chart layer)."""
        config = json.dumps({"name": repository.rsplit("/", 1)[-1], "version": tag, "apiVersion": "v2"}).encode()
        chart = ("application/vnd.cncf.helm.chart.content.v1.tar+gzip", b"chart tarball", {})
        return self.artifact(repository, tag, (HELM_CONFIG, config), [chart])

    def index(
        self,
        repository: str,
        tag: str,
        platforms: list[tuple[Pushed, dict[str, str]]],
        attestations: Sequence[tuple[Pushed, Pushed]] = (),
    ) -> Pushed:
        """An OCI index of (image, platform) entries plus (attestation, subject) entries."""
        entries: list[dict[str, Any]] = [
            {"mediaType": image.media_type, "digest": image.digest, "size": image.size, "platform": platform}
            for image, platform in platforms
        ]
        entries += [
            {
                "mediaType": att.media_type,
                "digest": att.digest,
                "size": att.size,
                "platform": {"architecture": "unknown", "os": "unknown"},
                "annotations": {
                    "vnd.docker.reference.type": "attestation-manifest",
                    "vnd.docker.reference.digest": subject.digest,
                },
            }
            for att, subject in attestations
        ]
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, sort_keys=True).encode()
        return self.manifest(repository, tag, body, OCI_INDEX)

    def referrers_index(self, repository: str, tag: str, referrers: list[tuple[Pushed, str]]) -> Pushed:
        """The index the OCI distribution spec's referrers tag schema keeps under ``sha256-<hex>``: one
        entry per (artifact, artifactType) attached to an image."""
        entries = [
            {"mediaType": r.media_type, "digest": r.digest, "size": r.size, "artifactType": kind}
            for r, kind in referrers
        ]
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        return self.manifest(repository, tag, body, OCI_INDEX)

    def delete(self, repository: str, digest: str) -> None:
        self.session.delete(f"{self.base_url}/v2/{repository}/manifests/{digest}").raise_for_status()


class StorageWriter(Pusher):
    """Writes images straight into a CNCF registry's filesystem storage, in the layout its filesystem
    driver keeps (blobs by digest; per repository, links to its layers, manifest revisions and tags):
    tens of thousands of images in seconds, for benchmarks. Write before the registry starts."""

    def __init__(self, storage: Path) -> None:  # no HTTP session: nothing is pushed
        self.root = storage / "docker" / "registry" / "v2"

    def _data(self, data: bytes) -> str:
        digest = digest_of(data)
        path = self.root / "blobs" / "sha256" / digest[7:9] / digest[7:] / "data"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return digest

    def _link(self, path: Path, digest: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "link").write_text(digest)

    def blob(self, repository: str, data: bytes) -> str:
        digest = self._data(data)
        self._link(self.root / "repositories" / repository / "_layers" / "sha256" / digest[7:], digest)
        return digest

    def manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> Pushed:
        digest = self._data(body)
        manifests = self.root / "repositories" / repository / "_manifests"
        self._link(manifests / "revisions" / "sha256" / digest[7:], digest)
        if not reference.startswith("sha256:"):
            self._link(manifests / "tags" / reference / "current", digest)
            self._link(manifests / "tags" / reference / "index" / "sha256" / digest[7:], digest)
        return Pushed(digest, len(body), media_type)
