"""Azure for tests: an ACR front over the real CNCF registry, and local Entra ID endpoints that
azure-identity's own credential classes talk to.

- ACR (Azure/acr docs/AAD-OAuth.md; azure-rest-api-specs containerregistry data-plane 2021-07-01):
  the /v2/ challenge `Bearer realm="<host>/oauth2/token",service="<host>"`; POST /oauth2/exchange
  (grant_type=access_token, service, tenant, access_token) -> {"refresh_token"}; POST /oauth2/token
  (grant_type=refresh_token, service, scope, refresh_token) -> {"access_token"}; GET /oauth2/token
  with Basic admin credentials (the docker login flow); GET /acr/v1/_catalog and
  /acr/v1/<repo>/_tags with n/last and a relative Link carrying an empty orderby=; tag entries
  {name, digest, createdTime, lastUpdateTime, changeableAttributes}. /acr/v1 answers ask for the
  scopes registry:catalog:* and repository:<repo>:metadata_read [? the docs name no scope for
  /acr/v1; the client takes it from the challenge anyway].
  Strict where ACR is: POST /oauth2/token requires ``scope`` (the data-plane spec marks it required);
  refresh tokens and access tokens are JWTs that expire (the exchanged refresh token lasts about 3
  hours: azure-sdk's _exchange_client.py exchanges again by its ``exp``); a token is for the
  ``service`` it was asked for (a refresh token too: its ``aud``), and the registry takes only its own
  (its ``aud``, as distribution's token
  authentication checks it); geo-replicas' regional endpoints answer with the registry's own service
  [? no source found says what their challenge names; the client takes the challenge's]; the null GUID
  user (`az acr login --expose-token`)
  carries a refresh token. The exchange takes an Entra token of ACR's own audience, and Azure Resource
  Manager's only while ``arm_audience`` (learn.microsoft.com, "Configure registry acceptance of Microsoft
  Entra authentication scopes"). An identity that may not list the catalog is refused it
  (``catalog_refused``: Azure/acr#675) or reads it empty (``catalog_empty``: Azure/acr#751).
  Throttled as ACR is past its tier's limits ("Registry throughput and throttling",
  learn.microsoft.com/azure/container-registry/container-registry-skus: HTTP 429 "Too many requests"),
  and, for a moment, unavailable (503): ``throttle`` gives the next token requests of each route those
  answers instead of a token (0: the token).
- Managed identity: the App Service flow azure-identity uses when IDENTITY_ENDPOINT and
  IDENTITY_HEADER are set (GET ?api-version=2019-08-01&resource=..., header X-IDENTITY-HEADER).
- Service principal: a local authority over TLS (a trustme CA, trusted through REQUESTS_CA_BUNDLE)
  with the OpenID configuration and the v2.0 token endpoint (client_credentials) that MSAL uses.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from urllib.parse import quote

import pytest
import trustme

from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer
from tcs_registry.testing.fixtures import seed
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.registry import RegistryServer
from tcs_registry.testing.vulnerable import push_debian9

REGISTRY = "myregistry.azurecr.io"
ADMIN = ("myregistry", "acr-admin-password")
# a repository-scoped token (learn.microsoft.com, "Create a token with repository-scoped permissions"): its
# name and password log in by Basic; its scope map names repositories, each with content/read (pull) and
# metadata/read (metadata_read); such a map lists no catalog ("Permissions to allow catalog listing of
# repositories is not supported for repository-scoped permissions"): refused (Azure/acr#675)
SCOPED_TOKEN = ("ci-token", "scope-map-token-password")
SCOPE_MAP = {"production/debian9": {"pull", "metadata_read"}, "production/api": {"pull", "metadata_read"}}
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = ("5b3c8f5e-1111-4222-8333-944455556666", "sp-client-secret")
IDENTITY_HEADER = "identity-header-secret"
ACR_AUDIENCE, ARM_AUDIENCE = "https://containerregistry.azure.net", "https://management.azure.com"


def seed_acr(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=acr-test\n"})]
    api = [("1.0", "2024-12-01T00:00:00Z"), ("1.1", "2024-12-02T00:00:00Z"), ("1.2", "2024-12-03T00:00:00Z")]
    return [
        *push_tags(pusher, "production/api", api, base),
        push_index(pusher, "production/web", "2.0", [("amd64", "2024-12-04T00:00:00Z")], base),
        *push_tags(pusher, "testing/tool", [("v1", "2024-12-05T00:00:00Z")], base, docker=True),
        push_debian9(pusher, "production/debian9"),
    ]


def _jwt(claims: dict) -> str:
    encode = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")  # noqa: E731
    return f"{encode({'alg': 'none'})}.{encode(claims)}.sig"


def _actions(scope: str) -> set[str]:
    """A scope's actions: ``repository:<name>:pull,metadata_read`` -> {pull, metadata_read}."""
    return set(scope.rpartition(":")[2].split(","))


class Entra:
    """The Entra ID tokens the local identity endpoints issued, which the ACR front accepts."""

    def __init__(self) -> None:
        self.issued: dict[str, str] = {}  # token -> its audience

    def issue(self, subject: str, audience: str) -> str:
        """A token for ``audience``: a resource (the managed identity's ``resource``) or a v2.0 scope
        (``<resource>/.default``), named as its ``aud`` claim names it."""
        aud = audience.removesuffix("/.default").rstrip("/")
        token = _jwt({"sub": subject, "aud": aud, "exp": int(time.time()) + 3600, "nonce": secrets.token_hex(4)})
        self.issued[token] = aud
        return token


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _expired(token: str) -> bool:
    return _claims(token).get("exp", 0) <= time.time()


class AcrFacade(Facade):
    page_max = 100  # tests lower it so few repositories and tags span pages
    refresh_lifetime = 3 * 3600.0  # seconds
    access_lifetime = 3600.0
    delay = 0.0  # seconds each /acr/v1 page takes

    def __init__(self, upstream: str, stored: StoredRegistry, entra: Entra) -> None:
        super().__init__(upstream, name="acr")
        self.stored, self.entra = stored, entra
        self.refresh_tokens: set[str] = set()
        self.grants: dict[str, set[str]] = {}  # access token -> scopes
        self.refused = 0  # expired tokens shown
        # repositories deleted after the catalog listed them: ACR answers their tags 404 (as it does a
        # repository that never was) NAME_UNKNOWN, as /v2/ does [? the data-plane spec gives the _tags GET
        # only 200 and its AcrErrors body]
        self.gone: set[str] = set()
        # `az acr update --anonymous-pull-enabled` (learn.microsoft.com, "Make your container registry content
        # publicly available"): anyone may read, data-plane operations only
        self.anonymous_pull = False
        # an identity that may not list the catalog: a repository-scoped token (scope map), or one without
        # the Catalog Lister role in a registry with ABAC repository permissions
        self.catalog_refused = False
        # a repository-scoped token whose scope map has a wildcard other than * (`team/*`): the catalog is
        # listed, empty (Azure/acr#751: "a known limitation of the Catalog API")
        self.catalog_empty = False
        # tags locked for reading: `az acr repository update --image <repo>:<tag> --read-enabled false`
        # ("Lock a container image in an Azure container registry", learn.microsoft.com: it prevents read,
        # that is pull, operations); the tags list shows it (`changeableAttributes.readEnabled`, the
        # data-plane spec's TagAttributesBase)
        self.read_disabled: set[tuple[str, str]] = set()
        self.arm_audience = True  # `az acr config authentication-as-arm update --status disabled` turns it off
        self.throttle: dict[str, list[int]] = {}  # route -> the statuses its next token requests get
        self.route("POST", "/oauth2/exchange")(self.exchange)
        self.route("POST", "/oauth2/token")(self.token_from_refresh)
        self.route("GET", "/oauth2/token")(self.token_from_basic)
        self.route("GET", "/v2/")(lambda request: self._guard(request, "") or json_answer({}))
        self.route("GET", "/acr/v1/_catalog")(self.catalog)
        self.route("GET", "/acr/v1/(?P<repo>.+)/_tags")(self.tags)
        self.route("GET", "/v2/(?P<repo>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)")(self.content)

    def _access(self, scopes: list[str], service: str) -> str:
        # what the identity may do is granted, the rest left out (distribution's docs/spec/auth/token.md)
        if self.catalog_refused:
            scopes = [s for s in scopes if s != "registry:catalog:*"]
        now = time.time()
        claims = {"aud": service, "iat": now, "exp": now + self.access_lifetime, "access": scopes}
        token = _jwt({**claims, "nonce": secrets.token_hex(4)})
        # a scope's actions are comma-separated (distribution's docs/spec/auth/scope.md; ACR takes
        # `repository:<name>:pull,push`, Azure/acr docs/Token-BasicAuth.md): each is granted
        self.grants[token] = {f"{s.rpartition(':')[0]}:{a}" for s in scopes if s for a in _actions(s)}
        return token

    def mint_refresh_token(self, service: str = REGISTRY) -> str:
        """An ACR refresh token for ``service``, as the exchange (or `az acr login --expose-token`) gives
        it: a JWT whose ``aud`` is the login server (azure-cli acr_login's sample token)."""
        now = time.time()
        claims = {"aud": service, "iat": now, "exp": now + self.refresh_lifetime, "nonce": secrets.token_hex(8)}
        refresh = _jwt(claims)
        self.refresh_tokens.add(refresh)
        return refresh

    def _throttled(self, request: Request):
        statuses = self.throttle.get(request.path)
        status = statuses.pop(0) if statuses else 0
        if not status:
            return None
        code, message = ("TOOMANYREQUESTS", "too many requests") if status == 429 else ("UNAVAILABLE", "try again")
        return json_answer({"errors": [{"code": code, "message": message}]}, status)

    def exchange(self, request: Request):
        if throttled := self._throttled(request):
            return throttled
        form = request.form()
        if not form.get("service"):  # the data-plane spec marks service required
            return json_answer({"errors": [{"code": "BAD_REQUEST", "message": "service is required"}]}, 400)
        if form.get("grant_type") != "access_token" or form.get("access_token") not in self.entra.issued:
            return json_answer({"errors": [{"code": "UNAUTHORIZED", "message": "invalid AAD token"}]}, 401)
        # ACR's own audience always; Azure Resource Manager's only while the registry's
        # azureADAuthenticationAsArmPolicy is on (learn.microsoft.com, "Configure registry acceptance of
        # Microsoft Entra authentication scopes"); no other
        audiences = {ACR_AUDIENCE, *((ARM_AUDIENCE,) if self.arm_audience else ())}
        if self.entra.issued[form["access_token"]] not in audiences:
            return json_answer({"errors": [{"code": "UNAUTHORIZED", "message": "invalid token audience"}]}, 401)
        return json_answer({"refresh_token": self.mint_refresh_token(form["service"])})

    def token_from_refresh(self, request: Request):
        if throttled := self._throttled(request):
            return throttled
        form = request.form()
        refresh = form.get("refresh_token")
        if not form.get("scope") or not form.get("service"):
            return json_answer({"errors": [{"code": "BAD_REQUEST", "message": "scope and service are required"}]}, 400)
        if (
            form.get("grant_type") != "refresh_token"
            or refresh not in self.refresh_tokens
            or _expired(refresh)
            or _claims(refresh)["aud"] != form["service"]  # a refresh token serves its own registry only
        ):
            self.refused += refresh in self.refresh_tokens
            return json_answer({"errors": [{"code": "UNAUTHORIZED", "message": "invalid refresh token"}]}, 401)
        return json_answer({"access_token": self._access(form["scope"].split(), form["service"])})

    def token_from_basic(self, request: Request):
        if request.basic() is None and self.anonymous_pull:  # docker's anonymous token request, as for any registry
            # read actions only (learn.microsoft.com, anonymous pull access: "read (pull) actions"); the
            # catalog too (azure-sdk-for-net#20919: every list operation works anonymously)
            scopes = request.query.get("scope", [])
            wanted = [s for s in scopes if _actions(s) <= {"pull", "metadata_read"} or s == "registry:catalog:*"]
            return json_answer({"access_token": self._access(wanted, request.arg("service", ""))})
        if request.basic() == SCOPED_TOKEN:  # its scope map's repositories and actions, nothing else
            scopes = request.query.get("scope", [])
            allowed = [f"{s.rpartition(':')[0]}:{','.join(sorted(_actions(s) & SCOPE_MAP[name]))}"
                       for s in scopes if s.startswith("repository:")
                       and (name := s.split(":")[1]) in SCOPE_MAP and _actions(s) & SCOPE_MAP[name]]  # fmt: skip
            return json_answer({"access_token": self._access(allowed, request.arg("service", ""))})
        if request.basic() != ADMIN:
            return json_answer({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}, 401)
        return json_answer({"access_token": self._access(request.query.get("scope", []), request.arg("service", ""))})

    def _guard(self, request: Request, scope: str):
        token = request.bearer() or ""
        granted = self.grants.get(token)
        if granted is not None and (_expired(token) or _claims(token)["aud"] != REGISTRY):
            self.refused += _expired(token)
            granted = None
        if granted is not None and (not scope or scope in granted):
            return None
        challenge = f'Bearer realm="{self.url}/oauth2/token",service="{REGISTRY}"'
        if scope:
            challenge += f',scope="{scope}"'
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        return json_answer(body, 401, {"WWW-Authenticate": challenge})

    def _page(self, request: Request, base: str, names: list[str], key: str, items: list):
        n = min(int(request.arg("n", "100")), self.page_max)
        last = request.arg("last", "")
        chosen = [(name, item) for name, item in zip(names, items, strict=True) if name > last]
        headers = {}
        if len(chosen) > n:
            # percent-encoded, as ACR's own answers are (azure-sdk-for-python's recorded
            # tests: </acr/v1/_catalog?last=library%2Fbusybox&n=2&orderby=>)
            headers["Link"] = f'<{base}?last={quote(chosen[n - 1][0], safe="")}&n={n}&orderby=>; rel="next"'
        return json_answer(
            {key: [item for _, item in chosen[:n]]}
            if key == "repositories"
            else {
                "registry": REGISTRY,
                "imageName": request.path.split("/acr/v1/")[1].rsplit("/_tags", 1)[0],
                key: [item for _, item in chosen[:n]],
            },
            headers=headers,
        )

    def catalog(self, request: Request):
        time.sleep(self.delay)
        refused = self._guard(request, "registry:catalog:*")
        if refused:
            return refused
        names = [] if self.catalog_empty else self.stored.repositories()
        return self._page(request, "/acr/v1/_catalog", names, "repositories", names)

    def tags(self, request: Request, repo: str):
        time.sleep(self.delay)
        refused = self._guard(request, f"repository:{repo}:metadata_read")
        if refused:
            return refused
        if repo in self.gone or repo not in self.stored.repositories():
            error = {"code": "NAME_UNKNOWN", "message": "repository name not known to registry", "detail": {}}
            return json_answer({"errors": [error]}, 404)
        tags = sorted(self.stored.tags(repo).items())
        items = [
            {
                "name": t,
                "digest": d,
                "createdTime": "2024-12-06T10:11:12.1234567Z",
                "lastUpdateTime": "2024-12-06T10:11:12.1234567Z",
                "changeableAttributes": {
                    "deleteEnabled": True,
                    "writeEnabled": True,
                    "readEnabled": (repo, t) not in self.read_disabled,
                    "listEnabled": True,
                },
            }
            for t, d in tags
        ]
        return self._page(request, f"/acr/v1/{quote(repo, safe='')}/_tags", [t for t, _ in tags], "tags", items)

    def content(self, request: Request, repo: str, kind: str, ref: str):
        if kind == "manifests" and (repo, ref) in self.read_disabled:
            # refused [? no source gives the status and body ACR answers a pull of a read-locked tag]
            body = {"errors": [{"code": "DENIED", "message": "The operation is disallowed on this image."}]}
            return json_answer(body, 403)
        return self._guard(request, f"repository:{repo}:pull") or self.forward(request)


class ManagedIdentity(Facade):
    def __init__(self, entra: Entra) -> None:
        super().__init__("http://unused", name="msi")
        self.route("GET", "/msi/token")(self.token)
        self.entra = entra

    def token(self, request: Request):
        if request.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return json_answer({"error": "invalid header"}, 401)
        return json_answer(
            {
                "access_token": self.entra.issue("managed-identity", request.arg("resource") or ""),
                "token_type": "Bearer",
                "expires_on": str(int(time.time()) + 3600),
                "resource": request.arg("resource"),
            }
        )


class Authority(Facade):
    """login.microsoftonline.com for one tenant: OpenID configuration and the v2.0 token endpoint."""

    def __init__(self, entra: Entra, tls) -> None:
        super().__init__("http://unused", name="authority", tls=tls)
        self.entra = entra
        self.route("GET", f"/{TENANT}/v2.0/.well-known/openid-configuration")(self.openid)
        self.route("POST", f"/{TENANT}/oauth2/v2.0/token")(self.token)

    def openid(self, request: Request):
        base = f"{self.url}/{TENANT}"
        return json_answer(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
        )

    def token(self, request: Request):
        form = request.form()
        if (form.get("client_id"), form.get("client_secret")) != CLIENT or form.get(
            "grant_type"
        ) != "client_credentials":
            return json_answer(
                {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}, 401
            )
        return json_answer(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": self.entra.issue(form["client_id"], (form.get("scope", "").split() or [""])[0]),
            }
        )


@pytest.fixture(scope="session")
def acr_seeded(work):
    return seed(work, "acr", seed_acr)


@pytest.fixture(scope="session")
def entra():
    return Entra()


@pytest.fixture(scope="session")
def acr(acr_seeded, work, entra):
    with (
        RegistryServer(acr_seeded.storage, work) as registry,
        AcrFacade(registry.url, StoredRegistry(acr_seeded.storage), entra) as facade,
    ):
        yield facade


@pytest.fixture(scope="session")
def managed_identity(entra):
    with ManagedIdentity(entra) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def authority(entra, work):
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(work / "entra-ca.pem"))
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with Authority(entra, context) as endpoint:
        endpoint.ca_file = work / "entra-ca.pem"
        yield endpoint


@pytest.fixture
def azure_env(monkeypatch, acr):
    """The registry's requests go to the ACR front; no Azure variable leaks in from outside."""
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_AUTHORITY_HOST",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "AZURE_FEDERATED_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TCS_ACR_REGISTRY_URL", acr.url)
    return acr


@pytest.fixture
def acr_expected(acr_seeded):
    return acr_seeded.expected
