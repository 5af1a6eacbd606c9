"""tcs-registry plugin for Azure Container Registry (registry type ACR)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryClient, RegistryMatch, RegistryType, VendorPlugin

from .hosts import is_acr_host


class AcrPlugin(VendorPlugin):
    registry_type = RegistryType("ACR", "Azure Container Registry")

    @property
    def client_class(self) -> type[RegistryClient]:  # type: ignore[override]
        from .client import AcrClient  # azure-identity: imported for an ACR registry only

        return AcrClient

    def sniff(self, url: str, probe: Probe | None = None) -> RegistryMatch | None:
        if is_acr_host(urlsplit(url).netloc):
            return RegistryMatch("ACR", Confidence.EXACT, "an azurecr host name")
        return None


plugin = AcrPlugin()
