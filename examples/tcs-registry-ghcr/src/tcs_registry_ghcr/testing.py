"""Test servers for ghcr.io and api.github.com (built with the tcs-registry plugin kit) that serve real
images from the CNCF registry: for this plugin's tests and for plugins tested together with it.

Faithful to what GitHub documents and what ghcr.io is seen to answer:
- GitHub REST API, github/docs src/rest/data/fpt-2022-11-28/packages.json: GET /orgs/{org}/packages
  and /users/{username}/packages need package_type (container, or docker for images pushed to
  docker.pkg.github.com and migrated since) and a token with read:packages; per_page (default 30,
  max 100) and page, and 400 "The value of `per_page` multiplied by `page` cannot be greater than
  10000."; the package object's fields (id, name, package_type, visibility, url, html_url,
  version_count, created_at, updated_at, owner); a Link header with absolute rel="next" and
  rel="last" URLs, none when one page holds everything
  (docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api). GET /users/{username}
  answers for users and organizations alike, with "type": "User" or "Organization".
- ghcr.io's V2 auth (captured answers, e.g. toddysm.com 2024-02-12 and oras-project/oras#1128):
  GET /v2/ without a token is 401 with Bearer realm="https://ghcr.io/token",service="ghcr.io" and
  the placeholder scope repository:user/image:pull; GET /token with Basic user:PAT (or none, for
  public packages) answers {"token": ...}; a private package without a token is 401 again.
"""

from __future__ import annotations

import math
from urllib.parse import urlencode

import pytest

from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer
from tcs_registry.testing.fixtures import seed
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.registry import RegistryServer
from tcs_registry.testing.vulnerable import push_debian9

ACCOUNT = ("mona", "ghp_0123456789abcdefghijklmnopqrstuvwxyz")
ACCOUNTS = {"octo-org": "Organization", "mona": "User", "someone-else": "User"}
PRIVATE = {"octo-org/tool"}
MANY = 104  # packages of octo-org beyond one page of 100
MIGRATED = {"octo-org/legacy"}  # pushed to docker.pkg.github.com, migrated: package_type docker


def seed_ghcr(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=ghcr-test\n"})]
    day = "2025-03-0{}T10:00:00Z"
    expected = [
        *push_tags(pusher, "octo-org/api", [("1.0", day.format(1)), ("1.1", day.format(2))], base),
        push_index(pusher, "octo-org/team/web", "2.0", [("amd64", day.format(3)), ("arm64", day.format(4))], base),
        *push_tags(pusher, "octo-org/tool", [("v1", day.format(5))], base),
        *push_tags(pusher, "mona/dotfiles", [("latest", day.format(6))], base),
        push_debian9(pusher, "mona/debian9"),
        *push_tags(pusher, "someone-else/thing", [("1", day.format(7))], base),
    ]
    for i in range(MANY):
        expected += push_tags(pusher, f"octo-org/svc-{i:03d}", [("1", day.format(8))], base)
    expected += push_tags(pusher, "octo-org/legacy", [("2019", day.format(9))], base)
    return expected


class GitHubApiFacade(Facade):
    results_cap = 10_000  # per_page x page beyond this is a 400; tests lower it

    def __init__(self, upstream: str, stored: StoredRegistry) -> None:
        super().__init__(upstream, name="api.github.com")
        self.stored = stored
        self.route("GET", "/users/(?P<owner>[^/]+)")(self.account)
        self.route("GET", "/(?P<kind>orgs|users)/(?P<owner>[^/]+)/packages")(self.packages)

    def _authorized(self, request: Request) -> bool:
        return request.bearer() == ACCOUNT[1]

    def account(self, request: Request, owner: str):
        if owner not in ACCOUNTS:
            return json_answer({"message": "Not Found", "status": "404"}, 404)
        return json_answer({"login": owner, "id": 1000 + len(owner), "type": ACCOUNTS[owner]})

    def packages(self, request: Request, kind: str, owner: str):
        if not self._authorized(request):
            return json_answer({"message": "Requires authentication", "status": "401"}, 401)
        if (kind == "orgs") != (ACCOUNTS.get(owner) == "Organization"):
            return json_answer({"message": "Not Found", "status": "404"}, 404)
        package_type = request.arg("package_type")
        if package_type not in ("container", "docker"):
            return json_answer({"message": "Invalid package_type", "status": "422"}, 422)
        page, per_page = int(request.arg("page", "1")), min(int(request.arg("per_page", "30")), 100)
        if page * per_page > self.results_cap:
            message = f"The value of `per_page` multiplied by `page` cannot be greater than {self.results_cap}."
            return json_answer({"message": message, "status": "400"}, 400)
        names = sorted(
            r.split("/", 1)[1]
            for r in self.stored.repositories()
            if r.startswith(f"{owner}/") and (r in MIGRATED) == (package_type == "docker")
        )
        items = [
            {
                "id": 5000 + i,
                "name": name,
                "package_type": package_type,
                "visibility": "private" if f"{owner}/{name}" in PRIVATE else "public",
                "url": f"{self.url}/{kind}/{owner}/packages/container/{name.replace('/', '%2F')}",
                "html_url": f"https://github.com/{kind}/{owner}/packages/container/package/{name}",
                "version_count": len(self.stored.manifests(f"{owner}/{name}")),
                "created_at": "2025-03-01T10:00:00Z",
                "updated_at": "2025-03-08T10:00:00Z",
                "owner": {"login": owner, "type": ACCOUNTS[owner]},
            }
            for i, name in enumerate(names)
        ]
        last = max(1, math.ceil(len(items) / per_page))

        def link(n: int) -> str:
            query = urlencode({"package_type": package_type, "per_page": per_page, "page": n})
            return f"<{self.url}{request.path}?{query}>"

        headers = {}
        if last > 1:
            rels = ([f'{link(page + 1)}; rel="next"', f'{link(last)}; rel="last"'] if page < last else []) + (
                [f'{link(1)}; rel="first"', f'{link(page - 1)}; rel="prev"'] if page > 1 else []
            )
            headers["Link"] = ", ".join(rels)
        return json_answer(items[(page - 1) * per_page : page * per_page], headers=headers)


class GhcrFacade(Facade):
    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, name="ghcr.io")
        self.route("GET", "/token")(self.token)
        self.route("GET", "/v2/")(lambda request: json_answer({}) if self._user(request) else self._challenge())
        for method in ("GET", "HEAD"):
            self.route(method, "/v2/(?P<repository>.+)/(?P<kind>manifests|blobs|tags)/(?P<rest>.+)")(self.pull)

    def _challenge(self, scope: str = "repository:user/image:pull"):
        challenge = f'Bearer realm="{self.url}/token",service="ghcr.io",scope="{scope}"'
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        return json_answer(
            body, 401, {"WWW-Authenticate": challenge, "Docker-Distribution-API-Version": "registry/2.0"}
        )

    def _user(self, request: Request) -> str | None:
        return self.tokens.get(request.bearer() or "")

    def token(self, request: Request):
        basic = request.basic()
        if basic is not None and basic != ACCOUNT:
            return json_answer({"errors": [{"code": "DENIED", "message": "denied"}]}, 403)
        return json_answer({"token": self.issue_token(basic[0] if basic else "anonymous")})

    def pull(self, request: Request, repository: str, kind: str, rest: str):
        user = self._user(request)
        if user is None or (repository in PRIVATE and user != ACCOUNT[0]):
            return self._challenge(f"repository:{repository}:pull")
        return self.forward(request)


# -- fixtures: import them into a conftest (`from tcs_registry_ghcr.testing import ghcr, ghcr_seeded`) --
@pytest.fixture(scope="session")
def ghcr_seeded(work):
    """The registry's storage, seeded once per session (the kit's ``seed``)."""
    return seed(work, "ghcr", seed_ghcr)


@pytest.fixture
def ghcr(ghcr_seeded, work, monkeypatch):
    """(registry facade, API facade), with TCS_GHCR_API_URL pointing at the API facade."""
    with (
        RegistryServer(ghcr_seeded.storage, work) as registry,
        GitHubApiFacade(registry.url, StoredRegistry(ghcr_seeded.storage)) as api,
        GhcrFacade(registry.url) as facade,
    ):
        monkeypatch.setenv("TCS_GHCR_API_URL", api.url)
        yield facade, api
