"""tcs-registry plugin for Harbor (registry type HARBOR)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .client import HarborClient


class HarborPlugin(VendorPlugin):
    registry_type = RegistryType("HARBOR", "Harbor (API v2.0)")
    client_class = HarborClient

    def sniff(self, url: str, probe: Probe) -> RegistryMatch | None:
        answer = probe.v2()
        challenge = answer.header("WWW-Authenticate") if answer else ""
        if 'service="harbor-registry"' in challenge or challenge.lower().startswith('basic realm="harbor"'):
            return RegistryMatch("HARBOR", Confidence.PROBED, "Harbor's token service in the /v2/ challenge")
        if answer is not None and not challenge.lower().startswith("bearer"):  # no vendor named: ask Harbor's ping
            ping = probe.get("/api/v2.0/ping")
            if ping is not None and ping.status == 200:
                return RegistryMatch("HARBOR", Confidence.PROBED, "/api/v2.0/ping answered")
        if (urlsplit(url).hostname or "").startswith("harbor."):
            return RegistryMatch("HARBOR", Confidence.LIKELY, "host name")
        return None


plugin = HarborPlugin()
