"""tcs-registry plugin for Amazon ECR (registry type ECR)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryClient, RegistryMatch, RegistryType, VendorPlugin

from .hosts import parse_host


class EcrPlugin(VendorPlugin):
    registry_type = RegistryType("ECR", "Amazon Elastic Container Registry")

    @property
    def client_class(self) -> type[RegistryClient]:  # type: ignore[override]
        from .client import EcrClient  # boto3: imported for an ECR registry only (every run loads the plugin)

        return EcrClient

    def sniff(self, url: str, probe: Probe | None = None) -> RegistryMatch | None:
        if parse_host(urlsplit(url).netloc):
            return RegistryMatch("ECR", Confidence.EXACT, "an ECR host name")
        return None


plugin = EcrPlugin()
