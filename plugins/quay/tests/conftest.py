"""A Quay facade: Quay's /api/v1 and /v2/ auth, serving real images from the CNCF registry.

Faithful to quay/quay: endpoints/api/repository.py (GET /api/v1/repository needs one of
namespace/public/starred, else 400; REPOS_PER_PAGE = 100 per page with an opaque next_page),
endpoints/api/tag.py (limit <= 100, page, has_additional; onlyActiveTags=true drops deleted and
expired tags, which otherwise appear with end_ts), auth/registry_jwt_auth.py and endpoints/v2
(the challenge Bearer realm="<host>/v2/auth",service="<host>"; the catalog pages through an
absolute Link carrying next_page), endpoints/v2/v2auth.py (the token endpoint answers
{"token": ...}), and auth/oauth.py (/api/v1 takes a Bearer OAuth token, never a robot's Basic
credentials; `$oauthtoken` is the docker user for an OAuth token).
"""

from __future__ import annotations

import base64
import json
from email.utils import formatdate

import pytest

from tcs_registry.oci import INDEX_TYPES
from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer
from tcs_registry.testing.fixtures import seed, serving
from tcs_registry.testing.images import Pusher, make_layer

ROBOT = ("acme+ci", "ROBOTTOKEN0123456789")
OAUTH = "oauth-access-token-abcdef"
DELETED_AT = 1700000000  # the deleted tag "old" ended then


def seed_quay(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=quay-test\n"})]
    api = [("1.0", "2024-04-01T00:00:00Z"), ("1.1", "2024-04-02T00:00:00Z"), ("latest", "2024-04-02T00:00:00Z")]
    expected = [
        *push_tags(pusher, "acme/api", api, base),
        push_index(pusher, "acme/web", "2.0", [("amd64", "2024-05-01T00:00:00Z")], base),
        *push_tags(pusher, "acme/tool", [("v1", "2024-06-01T00:00:00Z")], base),
    ]
    pusher.image("other/thing", "1", created="2024-07-01T00:00:00Z", layers=base)  # another namespace
    return expected


class QuayFacade(Facade):
    repos_per_page = 100  # Quay's fixed REPOS_PER_PAGE; tests lower it to span pages with few repositories

    def __init__(self, upstream: str, stored: StoredRegistry) -> None:
        super().__init__(upstream, name="quay")
        self.stored = stored
        self.deleted_tags = {
            ("acme/api", "old"): "1.0"
        }  # tag history: "old" pointed where 1.0 points, then was deleted
        self.route("GET", "/api/v1/discovery")(lambda request: json_answer({"paths": {}, "swagger": "2.0"}))
        self.route("GET", "/v2/auth")(self.auth)
        self.route("GET", "/v2/_catalog")(self.catalog)
        self.route("GET", "/v2/.*")(self.v2)
        self.route("GET", "/api/v1/repository")(self.repositories)
        self.route("GET", "/api/v1/repository/(?P<ns>[^/]+)/(?P<repo>[^/]+)/tag/")(self.tags)

    def _token_user(self, request: Request) -> str | None:
        return self.tokens.get(request.bearer() or "")

    def auth(self, request: Request):
        basic = request.basic()
        if basic is None:
            return json_answer({"token": self.issue_token("")})
        if basic != ROBOT and basic != ("$oauthtoken", OAUTH):
            return json_answer({"error": "Invalid username or password"}, 401)
        return json_answer({"token": self.issue_token(basic[0])})

    def _challenge(self):
        challenge = f'Bearer realm="{self.url}/v2/auth",service="{self.host}"'
        return json_answer(
            {"errors": [{"code": "UNAUTHORIZED", "message": "access to the requested resource is not authorized"}]},
            401,
            {"WWW-Authenticate": challenge},
        )

    def v2(self, request: Request):
        if not self._token_user(request):
            return self._challenge()
        return self.forward(request)

    def _visible(self, user: str) -> list[str]:
        return [r for r in self.stored.repositories() if user == "$oauthtoken" or r.startswith("acme/")]

    def catalog(self, request: Request):
        user = self._token_user(request)
        if not user:
            return self._challenge()
        n = min(int(request.arg("n", "100")), 100)
        offset = json.loads(base64.b64decode(request.arg("next_page", "") or "e30=")).get("offset", 0)
        names = self._visible(user)
        headers = {}
        if offset + n < len(names):
            token = base64.b64encode(json.dumps({"offset": offset + n}).encode()).decode()
            headers["Link"] = f'<{self.url}/v2/_catalog?n={n}&next_page={token}>; rel="next"'
        return json_answer({"repositories": names[offset : offset + n]}, headers=headers)

    def _oauth(self, request: Request) -> bool:
        return request.bearer() == OAUTH

    def repositories(self, request: Request):
        if not self._oauth(request):
            return json_answer({"error": "Unauthorized"}, 401)
        namespace = request.arg("namespace")
        if not (namespace or request.arg("public") or request.arg("starred")):
            return json_answer({"error_message": "namespace, public or starred is required"}, 400)
        names = [r for r in self.stored.repositories() if r.startswith(f"{namespace}/")]
        offset = int(base64.b64decode(request.arg("next_page", "") or "MA==").decode() or 0)
        chunk = names[offset : offset + self.repos_per_page]
        body = {
            "repositories": [
                {
                    "namespace": namespace,
                    "name": r.split("/", 1)[1],
                    "description": None,
                    "is_public": False,
                    "kind": "image",
                    "state": "NORMAL",
                }
                for r in chunk
            ]
        }
        if offset + self.repos_per_page < len(names):
            body["next_page"] = base64.b64encode(str(offset + self.repos_per_page).encode()).decode()
        return json_answer(body)

    def tags(self, request: Request, ns: str, repo: str):
        if not self._oauth(request):
            return json_answer({"error": "Unauthorized"}, 401)
        repository = f"{ns}/{repo}"
        limit = min(int(request.arg("limit", "50")), 100)
        page = int(request.arg("page", "1"))
        current = self.stored.tags(repository)
        tags = []
        for name, digest in sorted(current.items()):
            manifest, _ = self.upstream_manifest(repository, digest)
            revision = self.stored.root / repository / "_manifests" / "tags" / name / "current" / "link"
            start = int(revision.stat().st_mtime)
            tags.append(
                {
                    "name": name,
                    "reversion": False,
                    "start_ts": start,
                    "manifest_digest": digest,
                    "is_manifest_list": manifest.get("mediaType") in INDEX_TYPES,
                    "size": None,
                    "last_modified": formatdate(start),
                }
            )
        if request.arg("onlyActiveTags") != "true":
            for (r, name), alias in self.deleted_tags.items():
                if r == repository:
                    tags.append(
                        {
                            "name": name,
                            "reversion": False,
                            "start_ts": DELETED_AT - 86400,
                            "end_ts": DELETED_AT,
                            "manifest_digest": current[alias],
                            "is_manifest_list": False,
                            "last_modified": formatdate(DELETED_AT - 86400),
                            "expiration": formatdate(DELETED_AT),
                        }
                    )
        chunk = tags[(page - 1) * limit : page * limit]
        return json_answer({"tags": chunk, "page": page, "has_additional": page * limit < len(tags)})


@pytest.fixture(scope="session")
def quay_seeded(work):
    return seed(work, "quay", seed_quay)


@pytest.fixture(scope="session")
def quay(quay_seeded, work):
    with serving(quay_seeded, work, QuayFacade) as facade:
        yield facade


@pytest.fixture
def quay_expected(quay_seeded):
    return quay_seeded.expected
