"""Docker Hub facades: the Hub API (hub.docker.com) and the registry with its auth service
(registry-1.docker.io + auth.docker.io), serving real images from the CNCF registry.

Faithful to docker/docs content/reference/api/hub/latest.yaml (POST /v2/auth/token with
identifier/secret -> access_token; GET /v2/namespaces/{ns}/repositories and .../{repo}/tags with
page and page_size <= 100 and the {count, next, previous, results} envelope whose next is an
absolute URL; tag fields digest, media_type, images[] with per-platform digests, tag_last_pushed;
private repositories only for their owner) and content/manuals/docker-hub/usage (a manifest GET is
a counted pull, HEAD is not; ratelimit-limit / ratelimit-remaining "N;w=21600" headers; 429
TOOMANYREQUESTS when the quota is gone). The registry challenge names service="registry.docker.io"; a
registry token opens the repositories its scopes asked for and the caller may pull, no other
(distribution's docs/spec/auth/token.md).

The Hub API's own limits (latest.yaml): its access token is a JWT that lasts 10 minutes (a token past
its end is 401), and its calls are limited per minute: past the limit a call is 429 with
``X-Retry-After`` (a Unix time: "when you can call the API again") and
``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (a Unix time);
``page_size`` above 100 is refused (its ``maximum: 100``). Not confirmed: latest.yaml gives the tags
list ``bearerAuth`` only, but public repositories' tags are listed without a token in practice; the
facade lists them anonymously.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
import threading
import time
from dataclasses import replace
from urllib.parse import quote

import pytest

from tcs_registry.oci import INDEX_TYPES
from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer, text_answer
from tcs_registry.testing.fixtures import seed
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.registry import RegistryServer
from tcs_registry.testing.vulnerable import push_debian9

ACCOUNT = ("acme", "dckr_pat_0123456789abcdef")
# organization access tokens of acme (docker/docs, "Organization access tokens"): they log in with the
# organization's name, and hold the scopes they were made with; the Hub API's list of a namespace's
# repositories shows an OAT without "scope-repository-list" the public ones only, silently (latest.yaml,
# listNamespaceRepositories: "OAT listing behavior"); its tags need "scope-tag-read"
OATS = {
    "dckr_oat_everything": {"scope-image-pull", "scope-tag-read", "scope-repository-list"},
    "dckr_oat_no-repository-list": {"scope-image-pull", "scope-tag-read"},
    "dckr_oat_no-tag-read": {"scope-image-pull", "scope-repository-list"},
}
PRIVATE = {"acme/private-tool"}
PUSHED = "2025-05-31T01:02:03.456789Z"


def seed_hub(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=hub-test\n"})]
    api = [("1.0", "2024-10-01T00:00:00Z"), ("1.1", "2024-10-02T00:00:00Z"), ("latest", "2024-10-02T00:00:00Z")]
    web = push_index(
        pusher, "acme/web", "2.0", [("amd64", "2024-10-03T00:00:00Z"), ("arm64", "2024-10-03T00:09:00Z")], base
    )
    return [
        *push_tags(
            pusher, "library/alpine", [("3.19", "2024-01-26T00:00:00Z"), ("3.20", "2024-05-22T00:00:00Z")], base
        ),
        *push_tags(pusher, "acme/api", api, base),
        replace(web, build_time="2024-10-03T00:00:00Z"),  # Docker Hub dates an index by linux/amd64
        *push_tags(pusher, "acme/private-tool", [("v1", "2024-10-04T00:00:00Z")], base),
        push_debian9(pusher, "acme/debian9"),
    ]


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class HubApiFacade(Facade):
    token_lifetime = 600  # seconds: the Hub API's access token lasts 10 minutes
    per_minute = 10_000  # calls a window allows; tests lower it
    window = 60.0  # seconds
    # a 429 says when to call again in X-Retry-After, a Unix time (latest.yaml, "Rate limiting"); tests
    # make it Retry-After as that Unix time ("unix", as docker/hub-feedback#2459 saw it), Retry-After in
    # seconds ("seconds": RFC 9110's, as a gateway in front may answer) or nothing (None), leaving
    # X-RateLimit-Reset
    retry_after: str | None = "x-unix"
    delay = 0.0  # seconds each answer takes (tests: tokens growing old between pages)
    anonymous_tags = True  # public repositories' tags listed without a token (practice; see above)

    def __init__(self, upstream: str, stored: StoredRegistry) -> None:
        super().__init__(upstream, name="hub-api")
        self.stored = stored
        self.scopes: dict[str, set[str] | None] = {}  # API token -> an OAT's scopes (None: a PAT's)
        self.refused = 0  # calls answered 401 for an expired or unknown token
        self._calls: list[float] = []
        self._lock = threading.Lock()
        self.route("POST", "/v2/auth/token")(self.limited(self.login))  # "the Docker Hub API is limited": all of it
        self.route("GET", "/v2/namespaces/(?P<ns>[^/]+)/repositories")(self.limited(self.repositories))
        self.route("GET", "/v2/namespaces/(?P<ns>[^/]+)/repositories/(?P<repo>[^/]+)/tags")(self.limited(self.tags))

    def login(self, request: Request):
        body = request.json() or {}
        oat = body.get("secret") if body.get("identifier") == ACCOUNT[0] and body.get("secret") in OATS else None
        if (body.get("identifier"), body.get("secret")) != ACCOUNT and oat is None:
            return json_answer({"detail": "Incorrect authentication credentials"}, 401)
        now = time.time()  # NumericDate may have a fraction (RFC 7519); a whole second would blur short tests
        claims = {"sub": ACCOUNT[0], "iat": now, "exp": now + self.token_lifetime}
        token = f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_urlsafe(16)}"
        self.tokens[token] = ACCOUNT[0]
        self.scopes[token] = OATS[oat] if oat else None  # (a personal access token: its user's whole access)
        return json_answer({"access_token": token})

    def limited(self, handler):
        """The per-minute limit, then the token's lifetime, then the call."""

        def answer(request: Request, **groups):
            with self._lock:
                now = time.time()
                self._calls = [t for t in self._calls if t > now - self.window]
                if len(self._calls) >= self.per_minute:
                    reset = self._calls[0] + self.window
                    headers = {
                        "X-RateLimit-Limit": str(self.per_minute),
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(int(reset)),
                    }
                    if self.retry_after == "x-unix":
                        headers["X-Retry-After"] = str(int(reset))
                    elif self.retry_after == "unix":
                        headers["Retry-After"] = str(int(reset))
                    elif self.retry_after == "seconds":
                        headers["Retry-After"] = str(max(math.ceil(reset - now), 1))
                    return json_answer({"detail": "Too Many Requests"}, 429, headers)
                self._calls.append(now)
            token = request.bearer()
            if token is not None and not self._alive(token):
                self.refused += 1
                return json_answer({"detail": "Token is expired or invalid"}, 401)
            time.sleep(self.delay)
            return handler(request, **groups)

        return answer

    def _alive(self, token: str) -> bool:
        if token not in self.tokens:
            return False
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        return claims["exp"] > time.time()

    def _may_see(self, request: Request, repository: str, scope: str = "scope-repository-list") -> bool:
        """A public repository; a private one to its owner, with the OAT scope the call needs."""
        token = request.bearer() or ""
        if repository not in PRIVATE:
            return True
        scopes = self.scopes.get(token)
        return self.tokens.get(token) == repository.split("/")[0] and (scopes is None or scope in scopes)

    def _page(self, request: Request, items: list):
        page, size = int(request.arg("page", "1")), int(request.arg("page_size", "10"))
        if size > 100:
            return json_answer({"fields": {"page_size": ["Ensure this value is less than or equal to 100."]}}, 400)
        last = math.ceil(len(items) / size)
        if page > 1 and page > last:  # latest.yaml: "requesting a page number >1 that exceeds the available results"
            return json_answer({"detail": "Not found", "message": "Page not found"}, 404)
        ordering = f"ordering={request.arg('ordering')}&" if request.arg("ordering") else ""
        link = lambda n: f"{self.url}{quote(request.path)}?{ordering}page={n}&page_size={size}"  # noqa: E731
        return json_answer(
            {
                "count": len(items),
                "next": link(page + 1) if page < last else None,
                "previous": link(page - 1) if page > 1 else None,
                "results": items[(page - 1) * size : page * size],
            }
        )

    def repositories(self, request: Request, ns: str):
        names = [r for r in self.stored.repositories() if r.startswith(f"{ns}/") and self._may_see(request, r)]
        ordering = request.arg("ordering")
        if ordering not in (None, "name", "-name", "last_updated", "-last_updated", "pull_count", "-pull_count"):
            # latest.yaml's example of the 400
            fields = {"ordering": ["Invalid ordering value. Must be one of: name, -name, last_updated, "
                                   "-last_updated, pull_count, -pull_count"]}  # fmt: skip
            return json_answer({"fields": fields, "text": "Invalid ordering value"}, 400)
        if ordering in ("name", "-name"):
            names.sort(reverse=ordering == "-name")
        return self._page(
            request,
            [
                {
                    "name": r.split("/", 1)[1],
                    "namespace": ns,
                    "repository_type": "image",
                    "is_private": r in PRIVATE,
                    "status": 1,
                    "last_updated": PUSHED,
                }
                for r in names
            ],
        )

    def tags(self, request: Request, ns: str, repo: str):
        repository = f"{ns}/{repo}"
        if not self.anonymous_tags and request.bearer() is None:  # latest.yaml: bearerAuth, no {} alternative
            return json_answer({"detail": "Authentication credentials were not provided."}, 401)
        scopes = self.scopes.get(request.bearer() or "")
        if scopes is not None and "scope-tag-read" not in scopes and ns == ACCOUNT[0]:  # [its body: unsourced]
            return json_answer({"detail": "insufficient scope: scope-tag-read"}, 403)
        if not self._may_see(request, repository):
            return json_answer({"message": "object not found"}, 404)
        results = []
        for name, digest in sorted(self.stored.tags(repository).items()):
            manifest, _ = self.upstream_manifest(repository, digest)
            if manifest.get("mediaType") in INDEX_TYPES:
                images = [
                    {
                        "architecture": m["platform"]["architecture"],
                        "os": m["platform"]["os"],
                        "variant": m["platform"].get("variant"),
                        "digest": m["digest"],
                        "status": "active",
                    }
                    for m in manifest["manifests"]
                ]
            else:
                config = self.upstream_json(f"/v2/{repository}/blobs/{manifest['config']['digest']}")
                images = [
                    {
                        "architecture": config["architecture"],
                        "os": config["os"],
                        "variant": None,
                        "digest": digest,
                        "status": "active",
                    }
                ]
            results.append(
                {
                    "name": name,
                    "digest": digest,
                    "media_type": manifest.get("mediaType"),
                    "content_type": "image",
                    "tag_status": "active",
                    "tag_last_pushed": PUSHED,
                    "last_updated": PUSHED,
                    "v2": True,
                    "images": images,
                }
            )
        return self._page(request, results)


class HubRegistryFacade(Facade):
    pull_limit = 100  # pulls per window for each account (and for anonymous callers)
    # the next manifest GETs the abuse limit refuses: "a simple 429 Too Many Requests response", whatever
    # the account (docker/docs content/manuals/docker-hub/usage/_index.md, "Abuse rate limit"); its text
    # as docker/hub-feedback#1907 shows it, with no ratelimit headers and `Retry-After: 60` (tests: 1)
    abusive = 0
    abuse_retry_after = "60"
    abusive_blobs = 0  # the same, for the next blob GETs (the limit is the registry's, not the pulls')

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, name="registry-1")
        self.pulls: dict[str, int] = {}
        self.granted: dict[str, set[str]] = {}  # token -> the repositories it may pull
        self.route("GET", "/token")(self.token)
        self.route("GET", "/v2/")(lambda request: self._challenge() if not self._user(request) else json_answer({}))
        self.route("GET", "/v2/(?P<repository>.+)/manifests/(?P<ref>[^/]+)")(self.manifest)
        self.route("HEAD", "/v2/(?P<repository>.+)/manifests/(?P<ref>[^/]+)")(self.forward_allowed)
        self.route("GET", "/v2/(?P<repository>.+)/blobs/(?P<ref>[^/]+)")(self.forward_allowed)
        # the distribution API's tags list, with a pull token for the repository (not a counted pull)
        self.route("GET", "/v2/(?P<repository>.+)/tags/(?P<ref>list)")(self.forward_allowed)

    def _challenge(self, repository: str | None = None):
        """401, naming the scope a repository's request needs (token.md)."""
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        challenge = f'Bearer realm="{self.url}/token",service="registry.docker.io"'
        if repository:
            challenge += f',scope="repository:{repository}:pull"'
        return json_answer(body, 401, {"WWW-Authenticate": challenge})

    def _user(self, request: Request) -> str | None:
        return self.tokens.get(request.bearer() or "")

    def token(self, request: Request):
        """A token for the scopes asked that the caller holds, the rest left out (distribution's
        docs/spec/auth/token.md: "the token will only contain the access the client is authorized
        for"): pull on public repositories, and on private ones to their owner."""
        basic = request.basic()
        oat = basic is not None and basic[0] == ACCOUNT[0] and "scope-image-pull" in OATS.get(basic[1], ())
        if basic is not None and basic != ACCOUNT and not oat:
            return json_answer({"details": "incorrect username or password"}, 401)
        user = basic[0] if basic else "anonymous"
        token = self.issue_token(user)
        self.granted[token] = {
            name
            for scope in request.query.get("scope", [])
            if (parts := scope.split(":"))[0] == "repository" and "pull" in parts[-1].split(",")
            and ((name := ":".join(parts[1:-1])) not in PRIVATE or user == name.split("/")[0])
        }  # fmt: skip
        return json_answer({"token": token, "expires_in": 300})

    def forward_allowed(self, request: Request, repository: str, ref: str):
        if repository not in self.granted.get(request.bearer() or "", ()):
            return self._challenge(repository)
        if self.abusive_blobs > 0 and "/blobs/" in request.path:
            self.abusive_blobs -= 1
            return text_answer("Too Many Requests (HAP429).\n", 429, {"Retry-After": self.abuse_retry_after})
        return self.forward(request)

    def manifest(self, request: Request, repository: str, ref: str):
        user = self._user(request)
        if not user or repository not in self.granted.get(request.bearer() or "", ()):
            return self._challenge(repository)
        if self.abusive > 0:
            self.abusive -= 1
            return text_answer("Too Many Requests (HAP429).\n", 429, {"Retry-After": self.abuse_retry_after})
        used = self.pulls.get(user, 0)
        limit = {"ratelimit-limit": f"{self.pull_limit};w=21600"}
        if used >= self.pull_limit:
            body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached your pull rate limit."}]}
            return json_answer(body, 429, {**limit, "ratelimit-remaining": "0;w=21600"})
        self.pulls[user] = used + 1
        status, headers, body = self.forward_allowed(request, repository, ref)
        return status, {**headers, **limit, "ratelimit-remaining": f"{self.pull_limit - used - 1};w=21600"}, body


@pytest.fixture(scope="session")
def hub_seeded(work):
    return seed(work, "dockerhub", seed_hub)


@pytest.fixture
def hub(hub_seeded, work, monkeypatch):
    """(Hub API facade, registry facade), with TCS_DOCKERHUB_API_URL pointing at the first."""
    with (
        RegistryServer(hub_seeded.storage, work) as registry,
        HubApiFacade(registry.url, StoredRegistry(hub_seeded.storage)) as api,
        HubRegistryFacade(registry.url) as registry_facade,
    ):
        monkeypatch.setenv("TCS_DOCKERHUB_API_URL", api.url)
        yield api, registry_facade


@pytest.fixture
def hub_expected(hub_seeded):
    return hub_seeded.expected
