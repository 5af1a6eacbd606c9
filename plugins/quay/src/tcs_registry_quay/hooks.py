"""tcs-registry plugin for Quay (registry type QUAY)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .client import QuayClient


class QuayPlugin(VendorPlugin):
    registry_type = RegistryType("QUAY", "Quay (quay.io, Red Hat Quay)")
    client_class = QuayClient

    def sniff(self, url: str, probe: Probe) -> RegistryMatch | None:
        host = urlsplit(url).hostname or ""
        if host == "quay.io" or host.endswith(".quay.io"):
            return RegistryMatch("QUAY", Confidence.EXACT, "quay.io")
        answer = probe.v2_or_root()  # a path (project, organization) is not the V2 root
        challenge = answer.header("WWW-Authenticate") if answer else ""
        # Quay always answers /v2/ with its own token endpoint: no vendor probe is needed.
        if challenge.lower().startswith("bearer") and '/v2/auth"' in challenge:
            return RegistryMatch("QUAY", Confidence.PROBED, "Quay's /v2/auth token endpoint in the /v2/ challenge")
        return None


plugin = QuayPlugin()
