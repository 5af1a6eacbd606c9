"""Azure Container Registry: Entra ID tokens exchanged for ACR tokens, and the /acr/v1 listing API."""

from __future__ import annotations

import os
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import AzureAuthorityHosts, ClientSecretCredential, DefaultAzureCredential

from tcs_registry import AuthError, Credentials, ImageDescription, Registry, RegistryClient
from tcs_registry.default_plugins.v2 import describe
from tcs_registry.http import Challenge, json_field, token_lifetime
from tcs_registry.oci import parse_time

ACR_HOST = re.compile(r"^[a-z0-9-]+\.azurecr\.(io|cn|us)$")
AAD_SCOPE = "https://containerregistry.azure.net/.default"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
PAGE_SIZE = 100
CACHE = 10_000
PUBLIC_AUTHORITIES = {
    AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
    AzureAuthorityHosts.AZURE_CHINA,
    AzureAuthorityHosts.AZURE_GOVERNMENT,
}
_ACR_TAGS = re.compile(r"/acr/v1/(.+)/_tags$")


def is_acr_host(host: str) -> bool:
    return bool(ACR_HOST.match(host.split(":")[0].lower()))


def _entra_options() -> dict[str, Any]:
    """A private authority (AZURE_AUTHORITY_HOST) cannot pass Microsoft's instance discovery."""
    authority = os.environ.get("AZURE_AUTHORITY_HOST", "").rstrip("/")
    host = urlsplit(authority if "://" in authority else f"https://{authority}").netloc
    if authority and host not in PUBLIC_AUTHORITIES:
        return {"disable_instance_discovery": True}
    return {}


class AcrClient(RegistryClient):
    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        self.service = registry.host  # <name>.azurecr.io: the token service's "service"
        override = os.environ.get("TCS_ACR_REGISTRY_URL")
        if override:
            parts = urlsplit(override)
            registry = replace(registry, scheme=parts.scheme, host=parts.netloc)
        self.tenant = os.environ.get("AZURE_TENANT_ID")
        self.entra: TokenCredential | None = None
        username = credentials.username or ""
        if not credentials.username and not credentials.password:
            self.entra = DefaultAzureCredential(**_entra_options())  # managed identity and friends
            self.how = "Entra ID (DefaultAzureCredential)"
        elif GUID.match(username) and self.tenant and credentials.password:
            self.entra = ClientSecretCredential(self.tenant, username, credentials.password, **_entra_options())
            self.how = f"service principal {username}"
        else:
            self.how = f"user {username!r} (Basic)"
        super().__init__(replace(registry, path=""), credentials, **kwargs)
        self.refresh_token: str | None = None
        self._tags: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    # -- Entra ID -> ACR refresh token -> ACR access tokens -----------------------------------------
    def login(self) -> None:
        if self.entra is not None:
            try:
                aad = self.entra.get_token(AAD_SCOPE).token
            except AzureError as exc:
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise AuthError(f"Entra ID refused the {self.how}: {message}") from None
            form = {"grant_type": "access_token", "service": self.service, "access_token": aad}
            if self.tenant:
                form["tenant"] = self.tenant
            response = self._send("POST", self.url("/oauth2/exchange"), data=form)
            if response.status_code in (400, 401, 403):
                raise AuthError(f"{self.service} refused the Entra ID token of the {self.how}")
            body = self.json(self.check(response, "ACR token exchange"), "ACR token exchange")
            self.refresh_token = json_field(body, "refresh_token", "ACR token exchange")
        self.ping()

    def _fetch_token(self, challenge: Challenge, scope: str | None) -> tuple[str, float]:
        if self.refresh_token is None:
            return super()._fetch_token(challenge, scope)  # Basic: the V2 token flow
        form = {"grant_type": "refresh_token", "service": self.service, "refresh_token": self.refresh_token}
        if scope:
            form["scope"] = scope
        response = self._send("POST", challenge.params["realm"], data=form)
        if response.status_code in (401, 403):
            raise AuthError(f"{self.service} refused an access token for {scope or 'the registry'}")
        body = self.json(self.check(response, "ACR access token"), "ACR access token")
        token = json_field(body, "access_token", "ACR access token")
        return token, time.time() + token_lifetime(token)

    def scope_for(self, url: str) -> str | None:
        path = urlsplit(url).path
        if path.endswith("/acr/v1/_catalog"):
            return "registry:catalog:*"
        match = _ACR_TAGS.search(path)
        if match:
            return f"repository:{match.group(1)}:metadata_read"
        return super().scope_for(url)

    # -- listing through /acr/v1 --------------------------------------------------------------------
    def repositories(self) -> Iterable[str]:
        return self.paginate("/acr/v1/_catalog", "repositories", page_size=PAGE_SIZE, what="ACR catalog")

    def tags(self, repository: str) -> list[str]:
        what = f"ACR tags of {repository}"
        names = []
        for tag in self.paginate(f"/acr/v1/{repository}/_tags", "tags", page_size=PAGE_SIZE, what=what):
            name = json_field(tag, "name", what)
            self._tags[(repository, name)] = tag
            while len(self._tags) > CACHE:
                self._tags.popitem(last=False)
            names.append(name)
        return names

    def describe(self, repository: str, tag: str) -> ImageDescription:
        listed = self._tags.pop((repository, tag), None) or {}
        image = describe(self, repository, tag)
        return replace(image, push_time=parse_time(listed.get("lastUpdateTime")))
