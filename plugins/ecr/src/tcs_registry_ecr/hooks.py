"""tcs-registry plugin for Amazon ECR (registry type ECR)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .hosts import parse_host


class EcrPlugin(VendorPlugin):
    registry_type = RegistryType("ECR", "Amazon Elastic Container Registry")
    client_class = "tcs_registry_ecr.client:EcrClient"  # boto3: imported for such a registry only

    def sniff(self, url: str, probe: Probe | None = None) -> RegistryMatch | None:
        if parse_host(urlsplit(url).netloc):
            return RegistryMatch("ECR", Confidence.EXACT, "an ECR host name")
        return None


plugin = EcrPlugin()
