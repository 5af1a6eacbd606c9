"""tcs-registry plugin for Sonatype Nexus Repository 3 (registry type NEXUS)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .client import NexusClient


class NexusPlugin(VendorPlugin):
    registry_type = RegistryType("NEXUS", "Sonatype Nexus Repository 3")
    client_class = NexusClient

    def sniff(self, url: str, probe: Probe) -> RegistryMatch | None:
        answer = probe.v2_or_root()  # a path (project, organization) is not the V2 root
        if answer is not None:
            if answer.header("Server").startswith("Nexus/"):
                return RegistryMatch("NEXUS", Confidence.PROBED, "Server: Nexus")
            challenge = answer.header("WWW-Authenticate")
            if "Sonatype Nexus Repository Manager" in challenge:
                return RegistryMatch("NEXUS", Confidence.PROBED, "Nexus realm in the /v2/ challenge")
        if answer is None or answer.status == 404:  # no V2 at this URL (the main port): ask the status
            status = probe.get("/service/rest/v1/status")
            if status is not None and status.status == 200 and status.header("Server").startswith("Nexus/"):
                return RegistryMatch("NEXUS", Confidence.PROBED, "/service/rest/v1/status answered")
        if "/repository/" in urlsplit(url).path:  # under a context path too (/nexus/repository/<name>)
            return RegistryMatch("NEXUS", Confidence.LIKELY, "a /repository/<name> path")
        return None


plugin = NexusPlugin()
