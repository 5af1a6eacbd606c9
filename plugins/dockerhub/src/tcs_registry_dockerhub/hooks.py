"""tcs-registry plugin for Docker Hub (registry type DOCKERHUB)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .client import HUB_HOSTS, DockerHubClient


class DockerHubPlugin(VendorPlugin):
    registry_type = RegistryType("DOCKERHUB", "Docker Hub")
    client_class = DockerHubClient

    def sniff(self, url: str, probe: Probe | None = None) -> RegistryMatch | None:
        if (urlsplit(url).hostname or "") in HUB_HOSTS:  # its names are known: no request
            return RegistryMatch("DOCKERHUB", Confidence.EXACT, "a Docker Hub host name")
        return None


plugin = DockerHubPlugin()
