"""Per image: select platforms, fetch each layer once (the layer cache), squash, list the packages."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import replace
from functools import lru_cache
from typing import IO, Any, Protocol, TypeVar

from packageurl import PackageURL

from ..errors import ImageError, TcsError
from ..http import BODY_ATTEMPTS, BoundedCache, RegistryClient
from ..models import ImageDescription, Inventory, Package, Platform
from ..oci import Descriptor, Manifest, config_diff_ids
from . import ANALYSER_VERSION, NO_SECRETS
from .osrelease import OperatingSystem, detect
from .squash import Removals, squash
from .stream import Download, LayerStream
from .walk import LayerRecord, read_hardlinks, walk

log = logging.getLogger("tcs_registry")
T = TypeVar("T")

LAYER_TYPES = re.compile(
    r"^application/vnd\.(oci\.image\.layer(\.nondistributable)?\.v1\.tar(\+gzip|\+zstd)?"
    r"|docker\.image\.rootfs\.(foreign\.)?diff\.tar\.gzip)$"
)
FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
RECENT_LAYERS = 32  # decoded layer records kept in memory,
RECENT_PATHS = 400_000  # and the paths they hold, ~275 bytes each decoded (a layer of node_modules: 200,000)
OS_KINDS = {"dpkg": "deb", "apk": "apk", "rpm": "rpm"}
LANGUAGE_KINDS = {
    "python": ("pypi", "PyPI"),
    "npm": ("npm", "npm"),
    "go": ("golang", "Go"),
    "rust": ("cargo", "crates.io"),
    "java": ("maven", "Maven"),
    "gem": ("gem", "RubyGems"),
    "composer": ("composer", "Packagist"),
    "dotnet": ("nuget", "NuGet"),
    "conda": ("conda", ""),  # (OSV has no conda ecosystem: listed, not matched)
}


CPU_BUDGET = 600.0  # seconds of CPU an image's analysis may take (decompression, hashing and parsing)
_image = threading.local()


def _within_budget() -> None:
    started = getattr(_image, "started", None)
    if started is not None and time.thread_time() - started > CPU_BUDGET:
        raise ImageError(f"the analysis took over {CPU_BUDGET:.0f} s of CPU: stopped", code="timeout")


class LayerCache(Protocol):
    def get_layer(self, diff_id: str, analyser: str) -> dict[str, Any] | None: ...

    def put_layer(self, diff_id: str, analyser: str, record: dict[str, Any]) -> None: ...


def _paths(record: LayerRecord) -> int:
    paths = len(record.entries) + len(record.directories) + len(record.whiteouts) + len(record.opaque)
    return paths + len(record.links) + 4 * len(record.files)  # (a file's record: its packages' dicts too)


def select_platforms(manifest: Manifest, wanted: Iterable[str] | None) -> list[Platform]:
    """The platforms of an index to scan: those named by ``wanted`` (``linux/arm64``, ``linux/arm/v7``),
    by default every linux platform."""
    return [platform for platform in manifest.platforms() if platform.scanned_with(wanted or ())]


class Analyser:
    """Shared by every worker of a run: a layer is fetched and analysed once, whoever asks first, and
    then served from the layer cache (in the state store, across runs)."""

    def __init__(
        self, cache: LayerCache | None = None, platforms: Iterable[str] | None = None, secrets: bool = True
    ) -> None:
        self.cache = cache
        self.platforms = list(platforms or [])
        self.secrets = secrets
        # a record made without the secret search is cached apart; one made with it serves both
        self._versions = [ANALYSER_VERSION] if secrets else [ANALYSER_VERSION, ANALYSER_VERSION + NO_SECRETS]
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[LayerRecord]] = {}
        # the records of the layers most images share (base layers), decoded once, not per image
        self._recent: BoundedCache[str, LayerRecord] = BoundedCache(RECENT_LAYERS, _paths, RECENT_PATHS)
        self.layers_analysed = 0  # fetched and read in this run
        self.layers_reused = 0  # answered by the cache or by another worker

    # -- images ------------------------------------------------------------------------------
    def analyse(self, client: RegistryClient, image: ImageDescription) -> list[Inventory]:
        _image.started = time.thread_time()  # the image's CPU budget (this worker thread's CPU time)
        manifest = client.manifest(image.repository, image.digest)
        if not manifest.is_index:
            return [self.inventory(client, image, manifest, None, None)]
        chosen = select_platforms(manifest, self.platforms)
        if not chosen:
            offered = ", ".join(str(p) for p in manifest.platforms()) or "none"
            raise ImageError(f"no platform of the image matches --platform (it has: {offered})", code="platform")
        return [
            self.inventory(client, image, child, platform, manifest.digest)
            for platform, child in client.platform_manifests(image.repository, manifest, chosen)
        ]

    def inventory(
        self,
        client: RegistryClient,
        image: ImageDescription,
        manifest: Manifest,
        platform: Platform | None,
        index: str | None,
    ) -> Inventory:
        what = f"{client.registry.host}/{image.repository}@{manifest.digest}"
        if manifest.is_index or manifest.config is None:
            raise ImageError(f"{what}: a nested index is not an image", code="unsupported-media-type")
        config = client.config(image.repository, manifest.config.digest)
        diff_ids = config_diff_ids(config)
        if len(diff_ids) != len(manifest.layers) or not all(isinstance(d, str) for d in diff_ids):
            raise ImageError(f"{what}: the config lists {len(diff_ids)} diff_ids for {len(manifest.layers)} layers")
        for layer in manifest.layers:
            if not LAYER_TYPES.match(layer.media_type):
                raise ImageError(
                    f"{what}: not a container image (layer media type {layer.media_type!r})",
                    code="unsupported-media-type",
                )
        records = [
            self.layer(client, image.repository, layer, diff_id)
            for layer, diff_id in zip(manifest.layers, diff_ids, strict=True)
        ]
        found = build(image, manifest.digest, platform, index, records, _within_budget)
        # (a cached record may hold secrets the user did not ask for)
        return replace(found, config_digest=manifest.config.digest, secrets=found.secrets if self.secrets else ())

    # -- layers ------------------------------------------------------------------------------
    def layer(self, client: RegistryClient, repository: str, layer: Descriptor, diff_id: str) -> LayerRecord:
        if layer.media_type == FOREIGN:  # Windows base layers live elsewhere; never cached under their diff_id
            return LayerRecord(diff_id, problems=[f"{layer.digest}: foreign layer, not downloaded"])
        while True:
            with self._lock:
                future = self._inflight.get(diff_id)
                owner = future is None
                if owner:
                    future = self._inflight[diff_id] = Future()
            assert future is not None
            if owner:
                return self._own(future, client, repository, layer, diff_id)
            try:
                record = future.result()
            except Exception as exc:  # the other worker's failure may be its own (its repository, its token)
                log.debug("Layer %s failed for another image (%s); trying it for this one", diff_id, exc)
                continue
            self._count(reused=1)
            return record

    def _own(
        self, future: Future[LayerRecord], client: RegistryClient, repository: str, layer: Descriptor, diff_id: str
    ) -> LayerRecord:
        try:
            record = self._cached(diff_id)
            if record is None:
                record = self._fetch(client, repository, layer, diff_id)
                self._count(analysed=1)
                self._store(record)
            else:
                self._count(reused=1)
            future.set_result(record)
            return record
        except BaseException as exc:
            future.set_exception(exc)
            raise
        finally:
            with self._lock:  # later askers read the cache; memory does not grow with the run
                self._inflight.pop(diff_id, None)

    def _count(self, analysed: int = 0, reused: int = 0) -> None:
        with self._lock:
            self.layers_analysed += analysed
            self.layers_reused += reused

    def _cached(self, diff_id: str) -> LayerRecord | None:
        if (record := self._recent.get(diff_id)) is not None:
            return record
        if self.cache is None:
            return None
        try:
            data = next(filter(None, (self.cache.get_layer(diff_id, version) for version in self._versions)), None)
            record = LayerRecord.from_json(data) if data is not None else None
            if record is not None:
                self._recent.put(diff_id, record)
            return record
        except Exception as exc:  # an unreadable cache entry is analysed again
            log.warning("Layer cache entry unreadable, analysing again diff_id=%s error=%s", diff_id, exc)
            return None

    def _store(self, record: LayerRecord) -> None:
        self._recent.put(record.diff_id, record)
        if self.cache is None:
            return
        try:
            self.cache.put_layer(record.diff_id, self._versions[-1], record.to_json())
        except Exception as exc:  # a full disk or a locked store costs a re-analysis later, not this image
            log.warning("Could not cache a layer's analysis diff_id=%s error=%s", record.diff_id, exc)

    def _fetch(self, client: RegistryClient, repository: str, layer: Descriptor, diff_id: str) -> LayerRecord:
        log.debug("Analysing layer %s/%s@%s", client.registry.host, repository, layer.digest)
        record, hardlinks = self._read(
            client, repository, layer, diff_id, lambda tar: walk(tar, diff_id, self.secrets, _within_budget)
        )
        if hardlinks:  # rare: wanted files stored as hard links to files not read; their targets need a second read
            self._read(client, repository, layer, diff_id, lambda tar: read_hardlinks(tar, record, hardlinks))
        return record

    @staticmethod
    def _read(
        client: RegistryClient, repository: str, layer: Descriptor, diff_id: str, reader: Callable[[IO[bytes]], T]
    ) -> T:
        """Stream the layer through ``reader``, then check its digest and diff_id; any failure is this image's.
        A download broken off mid-body is fetched again (BODY_ATTEMPTS in all)."""
        what = f"{client.registry.host}/{repository}@{layer.digest}"
        for attempt in range(1, BODY_ATTEMPTS + 1):
            download: Download | None = None
            try:
                with client.open_blob(repository, layer.digest) as response:
                    download = Download(response.raw, what, grace=client.timeout[1])
                    with LayerStream(download, layer.digest, diff_id, what) as stream:
                        result = reader(stream.tar)
                        stream.verify()
                return result
            except Exception as exc:  # tarfile, gzip or zstd on a broken layer, or a broken connection
                if download is None or download.broken is None:
                    if isinstance(exc, TcsError):
                        raise
                    raise ImageError(
                        f"{what}: cannot read the layer: {type(exc).__name__}: {exc}", code="analysis-error"
                    ) from None
                if attempt == BODY_ATTEMPTS:
                    reason = f"the download broke off {BODY_ATTEMPTS} times ({download.broken})"
                    raise ImageError(f"{what}: {reason}", code="registry-error") from None
                log.debug("Layer download broke off, fetching it again layer=%s error=%s", what, download.broken)
        raise AssertionError("unreachable")


# -- the inventory -------------------------------------------------------------------------------
def build(
    image: ImageDescription,
    digest: str,
    platform: Platform | None,
    index: str | None,
    records: list[LayerRecord],
    budget: Callable[[], None] = lambda: None,
) -> Inventory:
    view = squash(records, budget)
    found = detect(view.release_files())
    system = found or OperatingSystem("")
    # the files the OS package manager installed, but a vendor's packages' (vendors.VENDORS): the npm that
    # NodeSource's nodejs bundles is npm's packages, not Debian's
    vendored = {raw["name"] for _, entry in view.files.values() if entry["kind"] == "dpkg"
                for raw in entry["packages"] if raw.get("third_party")}  # fmt: skip
    owned: set[str] = set()
    for path, (_, entry) in view.files.items():
        if entry["kind"] == "dpkg-files" and path.rpartition("/")[2].removesuffix(".list").split(":")[0] in vendored:
            continue
        owned.update(entry.get("files") or ())
        for package in entry.get("packages") or ():
            owned.update(() if package.get("third_party") else package.get("files") or ())
    packages = []
    # each Debian package's licenses, from its usr/share/doc/<package>/copyright
    licenses = {path.split("/")[3]: entry["license"] for path, (_, entry) in view.files.items()
                if entry["kind"] == "dpkg-copyright"}  # fmt: skip
    for path, (top, entry) in sorted(view.files.items()):
        kind = entry["kind"]
        if kind in ("os-release", "dpkg-files", "dpkg-copyright") or (kind in LANGUAGE_KINDS and path in owned):
            continue  # a language package the OS package manager installed is reported as the OS package
        # each layer's copy of this file, as (name, version) sets: a package came with the first that has it
        copies = [_listed(records[i].files.get(path)) for i in range(top + 1)]
        for raw in entry["packages"]:
            key = (raw["name"], raw["version"])
            layer = next((i for i, listed in enumerate(copies) if key in listed), top)
            if kind == "dpkg" and raw["name"] in licenses and not raw.get("license"):
                raw = {**raw, "license": licenses[raw["name"]]}
            packages.append(_package(kind, raw, path, records[layer].diff_id, system))
    problems = tuple(p for r in records for p in r.problems)
    # each secret once, with the first layer that carries it (its bytes are there for anyone who pulls the
    # image), the others that carry it again, and whether the file is gone from the image: a layer above
    # the last of them deletes or replaces it
    secrets: dict[tuple[str, str, int], dict[str, Any]] = {}
    for position, record in enumerate(records):
        for found in record.secrets:
            key = (found["path"], found["rule"], found["line"])
            if key in secrets:
                secrets[key]["again"].append(position)
            else:
                secrets[key] = {**found, "layer_index": position, "again": []}
    removals = Removals(records)
    for secret in secrets.values():
        secret["removed"] = removals.after((secret["again"] or [secret["layer_index"]])[-1], secret["path"])
    return Inventory(
        repository=image.repository,
        tag=image.tag,
        digest=digest,
        platform=platform,
        os=system.name or (f"{system.id} {system.version}".strip() if found else ""),
        os_id=system.id,
        os_version=system.version,
        ecosystem=system.ecosystem,
        layers=tuple(r.diff_id for r in records),
        packages=tuple(packages),
        problems=problems,
        index_digest=index,
        secrets=tuple(secrets.values()),
    )


def _listed(entry: dict[str, Any] | None) -> set[tuple[str, str]]:
    return {(p["name"], p["version"]) for p in (entry or {}).get("packages") or ()}


def _package(kind: str, raw: dict[str, Any], path: str, layer: str, system: OperatingSystem) -> Package:
    name, version = raw["name"], raw["version"]
    if kind in OS_KINDS:
        # a vendor's package (vendors.VENDORS) is listed, not matched against the distribution's advisories
        purl_type, ecosystem = OS_KINDS[kind], "" if raw.get("third_party") else system.ecosystem
        qualifiers = {"arch": raw.get("arch", ""), "distro": system.purl_distro if system.id else ""}
        purl_version = version
        if kind == "rpm" and raw.get("epoch") is not None:
            qualifiers["epoch"] = str(raw["epoch"])
            purl_version = version.split(":", 1)[-1]
        source, source_version = raw.get("source_name") or name, raw.get("source_version") or version
        if kind != "rpm" and (source != name or source_version != version):  # (as Syft writes it: the
            # source's version too where it differs, a binNMU's "+b1" say)
            qualifiers["upstream"] = source + (f"@{source_version}" if source_version != version else "")
        purl = _purl(purl_type, system.id or None, name, purl_version, tuple(q for q in qualifiers.items() if q[1]))
    else:
        purl_type, ecosystem = LANGUAGE_KINDS[kind]
        purl = _purl(*_language_purl(purl_type, name, version))
        if raw.get("unmatched"):  # not the registry's package of that name (a Rust workspace's own crate)
            ecosystem = ""
    return Package(
        name=name,
        version=version,
        type=purl_type,
        ecosystem=ecosystem,
        purl=purl,
        location=path + (f"!{raw['path']}" if raw.get("path") else ""),
        layer=layer,
        source_name=raw.get("source_name", ""),
        source_version=raw.get("source_version", ""),
        arch=raw.get("arch", ""),
        license=raw.get("license", ""),
        epoch=raw.get("epoch"),
        module=raw.get("module", ""),
    )


@lru_cache(maxsize=16384)
def _purl(
    purl_type: str, namespace: str | None, name: str, version: str | None, qualifiers: tuple[tuple[str, str], ...] = ()
) -> str:
    """The package URL, made once for the packages of a layer many images share (its normalising is most
    of an image's inventory time otherwise)."""
    return PackageURL(purl_type, namespace, name, version, dict(qualifiers)).to_string()


def _language_purl(purl_type: str, name: str, version: str) -> tuple[str, str | None, str, str | None]:
    """The type, namespace, name and version of a language package's URL."""
    if purl_type == "pypi":
        return "pypi", None, re.sub(r"[-_.]+", "-", name).lower(), version
    if purl_type == "npm" and name.startswith("@") and "/" in name:
        scope, _, short = name.partition("/")
        return "npm", scope, short, version
    if purl_type == "golang":
        namespace, _, short = name.rpartition("/")
        tagged = version if name == "stdlib" or not version else "v" + version
        return "golang", namespace or None, short, tagged or None
    if purl_type == "maven" and ":" in name:
        group, _, artifact = name.partition(":")
        return "maven", group, artifact, version
    if purl_type == "composer" and "/" in name:
        vendor, _, package = name.partition("/")
        return "composer", vendor, package, version
    return purl_type, None, name, version
