"""tcs-registry plugin for the GitHub Container Registry (registry type GHCR).

ghcr.io is a plain V2 registry for everything but one call: it has no ``/v2/_catalog`` for an
owner. So this plugin lists an owner's container packages through the GitHub REST API and leaves
the rest — the token flow, tags, manifests, scanning — to the core.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from tcs_registry import (
    AuthError,
    Confidence,
    Credentials,
    Probe,
    Registry,
    RegistryClient,
    RegistryError,
    RegistryMatch,
    RegistryType,
    VendorPlugin,
)
from tcs_registry.http import NO_AUTH, json_field

GITHUB_API = "https://api.github.com"  # TCS_GHCR_API_URL points elsewhere (a test server, GitHub Enterprise)
PER_PAGE = 100  # the REST API's maximum
# "container", and "docker" for images pushed to docker.pkg.github.com and since moved to ghcr.io
# (github/docs: the package_type parameter of the packages API)
PACKAGE_TYPES = ("container", "docker")


class GhcrClient(RegistryClient):
    """``https://ghcr.io/<owner>``: the path names a user or an organization, not a V2 prefix."""

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        owner, _, prefix = registry.path.strip("/").lower().partition("/")
        self.owner = owner or (credentials.username or "").lower()
        self.prefix = f"{self.owner}/{prefix}/" if prefix else ""  # ghcr.io/<owner>/<team>: that part only
        self.api = os.environ.get("TCS_GHCR_API_URL", GITHUB_API).rstrip("/")
        super().__init__(replace(registry, path=""), credentials, **kwargs)

    def _github(self) -> dict[str, Any]:
        """Request options for the REST API: a token with ``read:packages`` (the password)."""
        if self.credentials.anonymous:
            raise AuthError(
                "listing ghcr.io packages needs a GitHub token with read:packages: "
                "--username <user> and the token as the password (--password-stdin)"
            )
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Authorization": f"Bearer {self.credentials.password}",
        }
        return {"headers": headers, "auth": NO_AUTH}

    def repositories(self) -> Iterator[str]:
        if not self.owner:
            raise RegistryError("which ghcr.io owner? Name it in the URL: https://ghcr.io/<user or organization>")
        account = self.api_json(f"{self.api}/users/{self.owner}", f"GitHub account {self.owner}", **self._github())
        kind = "orgs" if json_field(account, "type", f"GitHub account {self.owner}") == "Organization" else "users"
        seen = set()
        capped: RegistryError | None = None
        for package_type in PACKAGE_TYPES:
            # The API lists at most 10,000 packages of a kind (per_page x page): past that it answers 400.
            # The other kind is listed all the same; then the run ends partial, with that one line.
            what = f"ghcr.io {package_type} packages of {self.owner}"
            url = f"{self.api}/{kind}/{self.owner}/packages?package_type={package_type}"
            pages = self.paginate(url, None, page_size=PER_PAGE, size_param="per_page", what=what, **self._github())
            try:
                for package in pages:
                    name = f"{self.owner}/{json_field(package, 'name', what).lower()}"
                    if name.startswith(self.prefix) and name not in seen:
                        seen.add(name)
                        yield name
            except RegistryError as exc:
                if exc.status != 400:
                    raise
                capped = capped or exc
        if capped:
            raise capped


class GhcrPlugin(VendorPlugin):
    registry_type = RegistryType("GHCR", "GitHub Container Registry (ghcr.io)")
    client_class = GhcrClient

    def sniff(self, url: str, probe: Probe) -> RegistryMatch | None:
        if urlsplit(url).hostname == "ghcr.io":
            return RegistryMatch("GHCR", Confidence.EXACT, "ghcr.io")
        return None


plugin = GhcrPlugin()
