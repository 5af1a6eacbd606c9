"""tcs-registry plugin for JFrog Artifactory (registry type ARTIFACTORY).

Only the listing is Artifactory's own (repository keys, then each key's catalog); tags and
descriptions are plain V2 under each key's path prefix, which the client maps.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .client import ArtifactoryClient


class ArtifactoryPlugin(VendorPlugin):
    registry_type = RegistryType("ARTIFACTORY", "JFrog Artifactory")
    client_class = ArtifactoryClient

    def sniff(self, url: str, probe: Probe) -> RegistryMatch | None:
        parts = urlsplit(url)
        if (parts.hostname or "").endswith(".jfrog.io"):
            return RegistryMatch("ARTIFACTORY", Confidence.EXACT, "*.jfrog.io")
        if parts.path.startswith("/artifactory/api/docker/"):
            return RegistryMatch("ARTIFACTORY", Confidence.EXACT, "Artifactory's Docker API path")
        answer = probe.v2_or_root()  # a path (project, organization) is not the V2 root
        if answer is not None:
            challenge = answer.header("WWW-Authenticate")
            if answer.header("X-JFrog-Version") or answer.header("X-Artifactory-Id"):
                return RegistryMatch("ARTIFACTORY", Confidence.PROBED, "X-JFrog-Version header")
            if "/artifactory/api/docker/" in challenge or 'realm="Artifactory Realm"' in challenge:
                return RegistryMatch("ARTIFACTORY", Confidence.PROBED, "Artifactory's realm in the /v2/ challenge")
        if answer is None or answer.status == 404:  # no V2 at this URL: Artifactory's ping decides
            ping = probe.get("/artifactory/api/system/ping")
            jfrog = ping is not None and (ping.header("X-JFrog-Version") or ping.header("X-Artifactory-Id"))
            if jfrog and ping.status == 200 and ping.body.strip() == "OK":
                return RegistryMatch("ARTIFACTORY", Confidence.PROBED, "/artifactory/api/system/ping answered OK")
        if parts.path.startswith("/artifactory"):
            return RegistryMatch("ARTIFACTORY", Confidence.LIKELY, "an /artifactory path")
        return None


plugin = ArtifactoryPlugin()
