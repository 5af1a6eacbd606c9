"""tcs-registry plugin for Azure Container Registry (registry type ACR)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .hosts import is_acr_host


class AcrPlugin(VendorPlugin):
    registry_type = RegistryType("ACR", "Azure Container Registry")
    client_class = "tcs_registry_acr.client:AcrClient"  # azure-identity: imported for such a registry only

    def sniff(self, url: str, probe: Probe | None = None) -> RegistryMatch | None:
        if is_acr_host(urlsplit(url).netloc):
            return RegistryMatch("ACR", Confidence.EXACT, "an azurecr host name")
        return None


plugin = AcrPlugin()
