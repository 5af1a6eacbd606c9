"""tcs-registry hooks for JFrog Artifactory (registry type ARTIFACTORY)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from tcs_registry import (
    Confidence,
    Credentials,
    Probe,
    Registry,
    RegistryClient,
    RegistryMatch,
    RegistryType,
    hookimpl,
)

from .client import ArtifactoryClient

TYPE = "ARTIFACTORY"


@hookimpl
def registry_types() -> list[RegistryType]:
    return [RegistryType(TYPE, "JFrog Artifactory")]


@hookimpl
def sniff_registry(url: str, probe: Probe) -> RegistryMatch | None:
    parts = urlsplit(url)
    if (parts.hostname or "").endswith(".jfrog.io"):
        return RegistryMatch(TYPE, Confidence.EXACT, "*.jfrog.io")
    if parts.path.startswith("/artifactory/api/docker/"):
        return RegistryMatch(TYPE, Confidence.EXACT, "Artifactory's Docker API path")
    answer = probe.v2()
    if answer is not None:
        challenge = answer.header("WWW-Authenticate")
        if answer.header("X-JFrog-Version") or answer.header("X-Artifactory-Id"):
            return RegistryMatch(TYPE, Confidence.PROBED, "X-JFrog-Version header")
        if "/artifactory/api/docker/" in challenge or 'realm="Artifactory Realm"' in challenge:
            return RegistryMatch(TYPE, Confidence.PROBED, "Artifactory's realm in the /v2/ challenge")
        if not challenge.lower().startswith("bearer"):
            ping = probe.get("/artifactory/api/system/ping")
            if ping is not None and ping.status == 200:
                return RegistryMatch(TYPE, Confidence.PROBED, "/artifactory/api/system/ping answered")
    if parts.path.startswith("/artifactory"):
        return RegistryMatch(TYPE, Confidence.LIKELY, "an /artifactory path")
    return None


@hookimpl
def authenticate(registry: Registry, credentials: Credentials) -> RegistryClient | None:
    if registry.registry_type != TYPE:
        return None
    client = ArtifactoryClient(registry, credentials)
    client.ping()
    return client


@hookimpl
def list_repositories(registry: Registry, client: RegistryClient) -> Iterable[str] | None:
    if registry.registry_type != TYPE or not isinstance(client, ArtifactoryClient):
        return None
    return client.repositories()  # <key>/<image>; tags and descriptions are plain V2 under the key's prefix
