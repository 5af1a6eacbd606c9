"""tcs-registry plugin for Harbor (registry type HARBOR)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tcs_registry import Confidence, Probe, RegistryMatch, RegistryType, VendorPlugin

from .client import HarborClient


class HarborPlugin(VendorPlugin):
    registry_type = RegistryType("HARBOR", "Harbor (API v2.0)")
    client_class = HarborClient

    def sniff(self, url: str, probe: Probe) -> RegistryMatch | None:
        answer = probe.v2_or_root()  # a path (project, organization) is not the V2 root
        challenge = answer.header("WWW-Authenticate") if answer else ""
        if 'service="harbor-registry"' in challenge or challenge.lower().startswith('basic realm="harbor"'):
            return RegistryMatch("HARBOR", Confidence.PROBED, "Harbor's token service in the /v2/ challenge")
        # No V2 at this URL (a project path), or a Basic challenge that names no vendor (a proxy
        # in front): Harbor's ping, which answers "Pong", decides.
        if answer is None or answer.status == 404 or challenge.lower().startswith("basic"):
            ping = probe.get("/api/v2.0/ping")
            if ping is not None and ping.status == 200 and ping.body.strip() == "Pong":
                return RegistryMatch("HARBOR", Confidence.PROBED, "/api/v2.0/ping answered Pong")
        if (urlsplit(url).hostname or "").startswith("harbor."):
            return RegistryMatch("HARBOR", Confidence.LIKELY, "host name")
        return None


plugin = HarborPlugin()
