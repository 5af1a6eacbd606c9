"""The values that cross the hook boundary. Plugins receive and return these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Confidence:
    """How sure a `sniff_registry` answer is; the highest wins, a tie is an error."""

    EXACT = 100  # a hostname the vendor owns (quay.io, *.azurecr.io)
    PROBED = 80  # the vendor's fingerprint in the anonymous /v2/ answer or a vendor probe
    LIKELY = 50  # a naming convention (a path containing /artifactory/)
    FALLBACK = 1  # "any V2 registry": only the built-in DEFAULT_V2 plugin answers this


@dataclass(frozen=True)
class RegistryType:
    """A registry type a plugin serves; `name` is what `--registry-type` accepts."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class RegistryMatch:
    """An answer to `sniff_registry`."""

    registry_type: str
    confidence: int
    reason: str = ""


@dataclass(frozen=True)
class ProbeResponse:
    """What an anonymous request to the registry answered (status and headers only)."""

    status: int
    headers: dict[str, str]
    body: str = ""  # the first bytes of the answer (a vendor probe's "Pong", "OK"...)

    def header(self, name: str) -> str:
        """The header's value (case-insensitive name), or ''."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")


class Probe(Protocol):
    """Lazy anonymous requests for sniffing; each answer is fetched once and shared by all plugins."""

    def v2(self) -> ProbeResponse | None:
        """`GET <url>/v2/` without credentials (under the URL's path); None if unreachable."""

    def get(self, path: str) -> ProbeResponse | None:
        """One anonymous `GET` of a path at the host's root, such as `/api/v2.0/ping`, or `/v2/`
        when the URL has a path that is not the V2 root (a Harbor project, a Quay organization)."""

    def v2_or_root(self) -> ProbeResponse | None:
        """`v2()`, or the host root's `/v2/` when the URL's own has no V2 API (absent or 404)."""


@dataclass(frozen=True)
class Credentials:
    """What the user gave to log in. The secret never shows in repr, logs or errors."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    source: str = "anonymous"  # "flag", "stdin", "env", "config", "docker-config", a plugin's label
    # the password is an identity token: the OAuth refresh token `docker login` keeps for a registry whose
    # token service gave one (distribution's docs/spec/auth/oauth.md), sent with grant_type=refresh_token
    identity_token: bool = False

    @property
    def anonymous(self) -> bool:
        return not self.username and not self.password

    @property
    def origin(self) -> str:
        """Where they came from, as the user gave them: ``--username/--password``, ``the config file``..."""
        source = self.source
        if source.startswith("auth-file:"):
            return f"the auth file {source.partition(':')[2]}"
        if source.startswith("docker-credential-"):
            return f"the credential helper {source}"
        if source == "stdin":
            return "--username/--password-stdin" if self.username else "--password-stdin"
        return _ORIGINS.get(source, source)

    def refused(self, who: str) -> str:
        """The line for credentials ``who`` (the registry, its token service) refused, or asked for."""
        if self.anonymous:
            return f"{who} requires credentials: pass --username and --password (or --password-stdin)"
        if self.identity_token:
            user = "an identity token (docker login's)"
        else:
            user = f"user {self.username!r}" if self.username else "a password without --username (a token)"
        return f"{who} refused the credentials of {user}, from {self.origin}"


_ORIGINS = {
    "flag": "--username/--password",
    "env": "TCS_REGISTRY_USERNAME/TCS_REGISTRY_PASSWORD",
    "config": "the config file",
    "anonymous": "nowhere",
    "stdin+env": "TCS_REGISTRY_USERNAME and --password-stdin",
    "stdin+config": "the config file's username and --password-stdin",
}


@dataclass(frozen=True)
class Registry:
    """The registry being scanned, as every hook sees it."""

    url: str  # normalised: scheme://host[:port][/path], no trailing slash
    scheme: str
    host: str  # host[:port], as it appears in image references
    path: str  # "" or "/some/prefix"
    registry_type: str
    project: str = "default"
    verify: bool | str = True  # requests' verify: False (--insecure), a CA bundle path, or True
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def api_root(self) -> str:
        """Base URL under which `/v2/...` paths live."""
        return f"{self.scheme}://{self.host}{self.path}"


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None
    digest: str | None = None  # the platform's manifest digest, inside an index

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def named_by(self, wanted: Iterable[str]) -> bool:
        """Whether --platform values name this platform: ``linux/arm64`` names ``linux/arm64/v8`` too."""
        names = {w.strip().lower() for w in wanted}
        return str(self).lower() in names or f"{self.os}/{self.architecture}".lower() in names

    def scanned_with(self, wanted: Iterable[str]) -> bool:
        """Whether a scan with these --platform values takes this platform of an index: one they name,
        by default every linux one."""
        names = [w for w in wanted if w.strip()]
        return self.named_by(names) if names else self.os == "linux"


@dataclass(frozen=True)
class LayerSize:
    """A layer of an image as its manifest and config give it: what a scan would download."""

    platform: Platform | None  # the index's platform it is in (None: a single image)
    diff_id: str
    size: int


@dataclass(frozen=True)
class ImageDescription:
    """An answer to `describe_image`."""

    repository: str
    tag: str
    digest: str
    media_type: str
    platforms: tuple[Platform, ...] = ()
    build_time: datetime | None = None  # the config's `created`, UTC
    push_time: datetime | None = None  # where the vendor's API knows it
    # what it is when it is no container image (a signature, an attestation, a Helm chart): it is then
    # reported as skipped with this reason, never scanned
    artifact: str = ""
    layers: tuple[LayerSize, ...] | None = None  # every platform's, where the description read them


@dataclass(frozen=True)
class Package:
    """One installed package, as the image analysis found it."""

    name: str
    version: str
    type: str  # the purl type: deb, apk, rpm, pypi, npm, golang, maven
    ecosystem: str  # the OSV ecosystem: Debian:12, Alpine:v3.19, PyPI, ... ('' if the distribution has none)
    purl: str
    location: str  # the file that records it (a package database, a METADATA, a binary)
    layer: str  # diff_id of the layer that introduced it
    source_name: str = ""  # dpkg source package, apk origin, source rpm name
    source_version: str = ""
    arch: str = ""
    license: str = ""
    epoch: int | None = None
    module: str = ""  # a modular rpm's name:stream (its MODULARITYLABEL's first two parts: nodejs:18)


@dataclass(frozen=True)
class Inventory:
    """What is installed in one platform of an image."""

    repository: str
    tag: str
    digest: str  # the image manifest's digest (a platform's own digest inside an index)
    platform: Platform | None
    os: str  # the distribution's pretty name, or ''
    os_id: str
    os_version: str
    ecosystem: str
    layers: tuple[str, ...]  # diff_ids, base first
    packages: tuple[Package, ...]
    problems: tuple[str, ...] = ()  # files the analysis refused or could not read, with the reason
    index_digest: str | None = None  # the index the platform came from, if any
    config_digest: str = ""  # the image config blob (for the config and history checks)
    # credentials found in the layers' files: {"path", "rule", "line", "layer_index", "again", "removed"}
    secrets: tuple[dict[str, Any], ...] = ()

    @property
    def matchable(self) -> bool:
        """Whether its packages can be looked up in advisories: one at least has an OSV ecosystem, or it has
        none. Kali's or Amazon Linux's packages have none: a zero found for them is no "none found"."""
        return not self.packages or any(package.ecosystem for package in self.packages)


@dataclass(frozen=True)
class Vulnerability:
    """A known vulnerability of one installed package in one image platform (aliases merged)."""

    id: str  # the CVE when the advisories agree on one, else the advisory's own id
    aliases: tuple[str, ...]
    package: str
    package_type: str  # purl type
    purl: str
    installed_version: str
    fixed_version: str  # '' when no fix is published
    severity: str  # CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN
    severity_source: str  # Debian, Ubuntu, CVSS_V3, GHSA...
    score: float | None  # CVSS base score, when the advisory gives a vector
    vector: str
    layer: str  # diff_id of the layer that introduced the package
    location: str
    title: str
    platform: str = ""


@dataclass(frozen=True)
class Violation:
    """A misconfiguration found in an image's config or build history."""

    id: str  # stable: TCS-CFG-001...
    title: str
    severity: str
    detail: str  # what was seen; secret values are never included
    remedy: str
    platform: str = ""


@dataclass(frozen=True)
class ScanResult:
    """An answer to `submit_scan`."""

    image: ImageDescription
    scanner: str
    inventories: tuple[Inventory, ...] = ()  # one per scanned platform
    vulnerabilities: tuple[Vulnerability, ...] = ()
    violations: tuple[Violation, ...] = ()
    report: str | None = None  # where the scanner wrote details, if anywhere
