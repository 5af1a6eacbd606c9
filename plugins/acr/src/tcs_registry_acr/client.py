"""Azure Container Registry: Entra ID tokens exchanged for ACR tokens, and the /acr/v1 listing API."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError
from azure.identity import AzureAuthorityHosts, ClientSecretCredential, DefaultAzureCredential

from tcs_registry import AuthError, Credentials, ImageDescription, Registry, RegistryClient, RegistryError, UsageError
from tcs_registry.default_plugins.v2 import describe
from tcs_registry.errors import CredentialsExpired
from tcs_registry.http import Challenge, error_detail, json_field, origin, token_expiry, token_lifetime
from tcs_registry.logs import redact
from tcs_registry.oci import in_namespace, parse_time

from .hosts import acr_host, is_acr_host

# Each cloud's Entra ID authority (azure-identity AzureAuthorityHosts, azure-cli cloud.py's login server
# suffixes). The audience is ACR's own in every cloud, as the current SDKs ask for it: a registry may
# refuse Azure Resource Manager audience tokens (az acr config authentication-as-arm), never its own.
CLOUDS = {
    "io": AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
    "cn": AzureAuthorityHosts.AZURE_CHINA,
    "us": AzureAuthorityHosts.AZURE_GOVERNMENT,
}
AAD_SCOPE = "https://containerregistry.azure.net/.default"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
NULL_GUID = "00000000-0000-0000-0000-000000000000"  # `az acr login --expose-token`: its password is a refresh token
PAGE_SIZE = 100
LOGIN_SCOPE = "registry:catalog:*"  # /oauth2/token wants a scope; a narrower account is granted less, not refused
log = logging.getLogger("tcs_registry.acr")
CLOCK_SKEW = 300.0  # seconds another clock may be ahead of ours
REFRESH_MARGIN = 300.0  # seconds: an ACR refresh token (about 3 hours) is exchanged again this long before its end
_ACR_TAGS = re.compile(r"/acr/v1/(.+)/_tags$")
# why a registry with repositories may list none (Azure/acr#751)
EMPTY_CATALOG = "an empty registry, or a repository-scoped token whose scope map has a wildcard other than *"


def _azure_https(url: str) -> bool:
    """An ACR host over HTTPS: where Entra ID and ACR tokens may go."""
    parts = urlsplit(url)
    return parts.scheme == "https" and is_acr_host(parts.netloc)


def _entra_options(cloud: str) -> dict[str, Any]:
    """The cloud's authority, unless AZURE_AUTHORITY_HOST names one (a private authority cannot pass
    Microsoft's instance discovery)."""
    authority = os.environ.get("AZURE_AUTHORITY_HOST", "").rstrip("/")
    if not authority:
        return {"authority": CLOUDS[cloud]}
    host = urlsplit(authority if "://" in authority else f"https://{authority}").netloc
    return {} if host in CLOUDS.values() else {"disable_instance_discovery": True}


class _NoIdentity(AuthError):
    """DefaultAzureCredential found no Azure identity it could use."""


class AcrClient(RegistryClient):
    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        match = acr_host(registry.host)
        override = os.environ.get("TCS_ACR_REGISTRY_URL")
        if match is None and not override:
            # Entra ID and ACR tokens go to the registry: never to a host that is not Azure's (a forced
            # --registry-type=ACR), nor over plain HTTP
            raise UsageError(f"{registry.host} is not an Azure Container Registry host (<name>.azurecr.io, .cn, .us)")
        if registry.scheme != "https" and not override:
            raise UsageError(f"{registry.host}: Azure Container Registry is reached over HTTPS only")
        self.cloud = match.group("cloud") if match else "io"
        self.namespace = registry.path.strip("/")  # a URL's path names a namespace: its repositories alone
        self.assumed: str | None = None  # the path taken for one repository (the catalog refused)
        self.service = registry.host.split(":")[0]  # until the registry's challenge names its own
        if override:  # a test server in the registry's place
            parts = urlsplit(override)
            registry = replace(registry, scheme=parts.scheme, host=parts.netloc)
        self.tenant = os.environ.get("AZURE_TENANT_ID")
        self.entra: TokenCredential | None = None
        self.refresh_token: str | None = None
        self._refresh_until = float("inf")  # time.time() at which to exchange the refresh token again
        username = credentials.username or ""
        try:
            self._credentials(credentials, username)
        except ValueError as exc:  # a malformed AZURE_TENANT_ID or AZURE_AUTHORITY_HOST (MSAL's checks)
            raise UsageError(f"Azure's settings cannot be used to log in: {exc}") from None
        super().__init__(replace(registry, path=""), credentials, **kwargs)
        self._exchange_lock = threading.Lock()

    def _credentials(self, credentials: Credentials, username: str) -> None:
        """How to log in: Entra ID (DefaultAzureCredential, a service principal), an ACR refresh token or Basic."""
        if not credentials.username and not credentials.password:
            self.entra = DefaultAzureCredential(**_entra_options(self.cloud))  # managed identity and friends
            self.how = "Entra ID (DefaultAzureCredential)"
        elif (username == NULL_GUID or credentials.identity_token) and credentials.password:
            # what `az acr login --expose-token` printed, or the identitytoken `az acr login` had docker keep
            self.refresh_token = credentials.password
            how = "az acr login, kept by docker" if credentials.identity_token else "az acr login --expose-token"
            self.how = f"refresh token ({how})"
        elif GUID.match(username) and self.tenant and credentials.password:
            options = _entra_options(self.cloud)
            self.entra = ClientSecretCredential(self.tenant, username, credentials.password, **options)
            self.how = f"service principal {username}"
        else:
            self.how = f"user {username!r} (Basic)"

    def _anonymously(self, challenge: Challenge, scope: str | None, failed: AuthError) -> tuple[str, float]:
        """No credentials given and no Azure identity to use: a registry whose anonymous pull is on gives
        anonymous users tokens (`az acr update --anonymous-pull-enabled`); else the identity's error."""
        try:
            token = super()._fetch_token(challenge, scope)
        except (AuthError, RegistryError):
            raise failed from None
        self.entra, self.how = None, "anonymous access (anonymous pull)"
        log.warning("%s; reading the registry anonymously, as its anonymous pull allows", failed)
        return token

    def _expired(self, ends: float) -> str:
        when = datetime.fromtimestamp(ends, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"the {self.how} expired at {when}: get a new one"

    def _refused(self, who: str) -> str:
        if self.entra is not None or self.refresh_token is not None:
            return f"{who} refused the {self.how}"
        return super()._refused(who)

    # -- Entra ID -> ACR refresh token -> ACR access tokens -----------------------------------------
    def _exchange(self, realm: str) -> None:
        """An Entra ID token for an ACR refresh token, at the token service's host (azure-cli derives it
        from the realm), renewed by its own ``exp`` (azure-sdk's _exchange_client.py does the same)."""
        assert self.entra is not None
        try:
            aad = self.entra.get_token(AAD_SCOPE).token
            redact(aad)  # sent in a form, not in an Authorization header, where the core keeps them secret
        except (AzureError, ValueError) as exc:  # (MSAL refuses an authority that is not HTTPS with ValueError)
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            failed = _NoIdentity if isinstance(self.entra, DefaultAzureCredential) else AuthError
            raise failed(f"Entra ID refused the {self.how}: {message}") from None
        form = {"grant_type": "access_token", "service": self.service, "access_token": aad}
        if self.tenant:
            form["tenant"] = self.tenant
        fetched = time.time()
        parts = urlsplit(realm)
        # sent again as a GET is (a 429, a 5xx, a broken connection): asking twice mints a second token,
        # nothing more. azure-core's RetryPolicy sends the SDK's exchanges again on fewer (_retry.py: a POST
        # on 500, 503 or 504, any answer with Retry-After), since it knows nothing of what a POST does
        exchange = f"{parts.scheme}://{parts.netloc}/oauth2/exchange"
        response = self._send("POST", exchange, data=form, resendable=True, token_service=True)
        if response.status_code in (400, 401, 403):  # (ACR's reason, as its spec's error body gives it)
            reason = f" ({detail})" if (detail := error_detail(response)) else ""
            raise AuthError(f"{self.service} refused the Entra ID token of the {self.how}{reason}")
        body = self.json(self.check(response, "ACR token exchange"), "ACR token exchange")
        self.refresh_token = json_field(body, "refresh_token", "ACR token exchange")
        redact(self.refresh_token)
        lifetime = token_lifetime(self.refresh_token, floor=0.0)
        self._refresh_until = fetched + lifetime - min(REFRESH_MARGIN, lifetime / 10)

    def _fetch_token(self, challenge: Challenge, scope: str | None, renewed: bool = False) -> tuple[str, float]:
        """An access token for ``scope`` from the ACR refresh token, which is exchanged for at the first
        challenge (its service is the registry's login server, not a regional endpoint's host) and again
        before it ends, or once more when the token service refuses it (revoked, the registry's keys
        rolled) before the refusal is taken as the answer."""
        if self.entra is None and self.refresh_token is None:
            return super()._fetch_token(challenge, scope)  # Basic: the V2 token flow
        realm = challenge.params["realm"]
        if origin(realm) != origin(self.registry.api_root) and not _azure_https(realm):
            raise AuthError(f"{self.service}'s token service {realm} is not the registry's; refusing to send a token")
        self.service = challenge.params.get("service") or self.service
        with self._exchange_lock:
            if self.entra is not None and (self.refresh_token is None or time.time() >= self._refresh_until):
                try:
                    self._exchange(realm)
                except _NoIdentity as exc:
                    if self.refresh_token is not None:  # (an identity that worked: not a reason to go anonymous)
                        raise
                    return self._anonymously(challenge, scope, exc)
            refresh_token = self.refresh_token
            if self.entra is None and refresh_token is None:  # (gone anonymous meanwhile)
                return super()._fetch_token(challenge, scope)
        # a refresh token given (not exchanged for here) cannot be renewed: past its end (about 3 hours),
        # every request would be refused, so the run stops (and the next one resumes it)
        ends = token_expiry(refresh_token or "") if self.entra is None else None
        if ends is not None and time.time() >= ends:
            raise CredentialsExpired(self._expired(ends))
        form = {"grant_type": "refresh_token", "service": self.service, "refresh_token": refresh_token}
        form["scope"] = scope or LOGIN_SCOPE
        fetched = time.time()
        response = self._send("POST", realm, data=form, resendable=True, token_service=True)
        if response.status_code in (401, 403):
            if ends is not None and time.time() >= ends - CLOCK_SKEW:  # (the token service's clock may be ahead)
                raise CredentialsExpired(self._expired(ends))
            if self.entra is not None and not renewed:
                with self._exchange_lock:
                    if self.refresh_token == refresh_token:  # (not exchanged again meanwhile by another thread)
                        self._refresh_until = 0.0
                log.info("The ACR refresh token was refused: exchanging the Entra ID token for a new one")
                return self._fetch_token(challenge, scope, renewed=True)
            raise AuthError(f"{self.service} refused an access token for {scope or 'the registry'} to the {self.how}")
        body = self.json(self.check(response, "ACR access token"), "ACR access token")
        token = json_field(body, "access_token", "ACR access token")
        return token, fetched + token_lifetime(token, floor=0.0)

    def scope_for(self, url: str) -> str | None:
        """One token a repository, for its tags (``metadata_read``) and its images (``pull``) alike: ACR
        takes several actions in one scope (Azure/acr docs/Token-BasicAuth.md, ``pull,push``), and one
        token request a repository is half as many as one for each."""
        path = urlsplit(url).path
        if path.endswith("/acr/v1/_catalog"):
            return "registry:catalog:*"
        match = _ACR_TAGS.search(path)
        # (ACR's Links percent-encode the name: library%2Fhello-world, azure-sdk's recorded answers)
        scope = f"repository:{unquote(match.group(1))}:pull" if match else super().scope_for(url)
        if scope and scope.startswith("repository:") and scope.endswith(":pull"):
            return scope.removesuffix(":pull") + ":metadata_read,pull"
        return scope

    # -- listing through /acr/v1 --------------------------------------------------------------------
    def repositories(self) -> Iterable[str]:
        """The catalog's repositories, those of the URL's namespace (its path) alone. A catalog the account
        may not list is said so; with a path, the path is then taken for one repository. ACR refuses it
        (401) to a repository-scoped token whose scope map names repositories (Azure/acr#675) and, in a
        registry with ABAC, to an identity without the Catalog Lister role; it lists it empty to a token
        whose scope map has a wildcard other than ``*`` (Azure/acr#751, "a known limitation")."""
        listed, read = 0, False

        def counted(repositories: Iterable[str]) -> Iterator[str]:
            nonlocal listed, read
            for repository in repositories:
                listed += 1
                yield repository
            read = True  # (the whole catalog: a 404 after it is in_namespace's, nothing under the path)

        catalog = self.paginate("/acr/v1/_catalog", "repositories", page_size=PAGE_SIZE, what="ACR catalog")
        try:
            yield from in_namespace(counted(catalog), self.namespace)
        except AuthError as exc:
            if listed:  # (refused part-way: not a catalog it may not list)
                raise
            if not self.namespace:
                raise AuthError(
                    f"{exc}; listing the catalog needs the registry:catalog:* scope (with ABAC repository "
                    "permissions, the Container Registry Repository Catalog Lister role; a repository-scoped "
                    "token has none): name a repository in the URL"
                ) from None
            yield self._assumed(f"the catalog cannot be listed ({exc})")
        except RegistryError:
            if listed or not read:
                raise
            yield self._assumed(f"the catalog lists no repository ({EMPTY_CATALOG})")
        if not listed and not self.namespace:
            log.warning("The catalog lists no repository (%s): name a repository in the URL", EMPTY_CATALOG)

    def _assumed(self, why: str) -> str:
        log.warning("%s: taking %s for one repository", why[0].upper() + why[1:], self.namespace)
        self.assumed = self.namespace
        return self.namespace

    def tags(self, repository: str) -> list[str]:
        what = f"ACR tags of {repository}"
        names = []
        # (a repository deleted since the catalog listed it answers 404: no tags, as over /v2/; one taken
        # from the URL, not listed, is not there)
        gone_ok = repository != self.assumed
        tags = self.paginate(f"/acr/v1/{repository}/_tags", "tags", page_size=PAGE_SIZE, what=what, missing_ok=gone_ok)
        try:
            for tag in tags:
                name = json_field(tag, "name", what)
                self.listed.put((repository, name), tag)
                names.append(name)
        except AuthError as exc:
            if exc.status not in (401, 403):  # (a token refused: the credentials, said as they are)
                raise
            # ACR's answer to the listing itself, the account logged in: this repository is not theirs
            raise AuthError(
                f"{what}: ACR answers {exc.status}: it grants the {self.how} no read of it (a repository-scoped "
                "token's scope map does not name it, the identity has no role on it, or there is no such repository)",
                exc.status,
            ) from None
        return names

    def describe(self, repository: str, tag: str) -> ImageDescription:
        listed = self.listed.pop((repository, tag)) or {}
        attributes = listed.get("changeableAttributes")
        if isinstance(attributes, dict) and attributes.get("readEnabled") is False:
            # locked for reading (`az acr repository update --read-enabled false`): no pull would be granted
            raise AuthError(
                "ACR: reading this tag is disabled (its readEnabled attribute is false; "
                "az acr repository update --read-enabled true allows it)",
                403,
            )
        image = describe(self, repository, tag)
        return replace(image, push_time=parse_time(listed.get("lastUpdateTime")))
