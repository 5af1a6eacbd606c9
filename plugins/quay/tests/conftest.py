"""A strict Quay facade: Quay's /api/v1 and its V2 auth, serving real images from the CNCF registry.

Each behaviour is Quay's own (quay/quay at ffba0c70e2d8):

* ``endpoints/v2/v2auth.py`` ``generate_registry_jwt``: Basic credentials are checked first (wrong
  ones: 401 UNAUTHORIZED with the validator's message); each ``scope`` must match
  ``SCOPE_REGEX_TEMPLATE`` (``repository:<name>:<actions>``), anything else, ``registry:catalog:*``
  included, is 400 INVALID_REQUEST "Unable to decode repository and actions"; no scope at all is 401
  when anonymous and a token with no access when signed in; scopes the account may not use are
  granted no actions (downscoped, not refused); the answer is ``{"token": ...}`` alone, a JWT valid
  for ``TOKEN_VALIDITY_LIFETIME_S`` (an hour).
* ``auth/credentials.py`` ``validate_credentials``: ``$oauthtoken`` (an OAuth token), ``$app`` (an
  application token), ``$token`` (a repository's access token, ``model.token.load_token_data``: its
  context has no user, ``auth/context_entity.py``), robots ``org+name`` and plain users.
* ``endpoints/v2/__init__.py`` ``v2_support_enabled`` and ``auth/registry_jwt_auth.py``: ``/v2/``
  answers 401 with ``Bearer realm="<host>/v2/auth",service="<host>"`` without a token, 200 with one;
  any other Authorization (Basic) is 401 ``{"error": ...}``; a repository the token does not grant
  is 401 with the scope in the challenge.
* ``endpoints/v2/catalog.py`` ``catalog_search``: an anonymous catalog is 200 with an empty list
  (``FEATURE_PUBLIC_CATALOG`` is off by default); a token's *user* decides what is listed (the
  repositories it has a permission on), not its scopes (an access token's context, with no user, lists
  none); pages of at most 100 with a relative Link carrying an opaque ``next_page`` (``paginate``,
  ``os.path.join(get_app_url(), "/v2/...")``).
* ``endpoints/v2/tag.py``: ``tags/list`` ordered by name, at most 100 a page, ``last`` a tag name, a
  relative Link.
* ``endpoints/api/__init__.py`` ``process_oauth``: /api/v1 takes a Bearer OAuth token; Basic
  credentials are ignored (the call is anonymous); a Bearer JWT (a registry token) is refused, 401.
* ``endpoints/api/repository.py`` and ``repository_models_pre_oci.py``: ``GET /api/v1/repository``
  needs ``namespace``, ``public`` or ``starred`` (else 400); ``public=true`` adds the public
  repositories, ``namespace`` filters all; anonymous without ``public`` lists nothing; 100 a page
  (``REPOS_PER_PAGE``) with an opaque ``next_page``.
* ``endpoints/api/tag.py`` and ``data/model/oci/tag.py`` ``list_repository_tag_history``: ``limit``
  (default 50, 1 to 100) and ``page`` (from 1) over the tags ordered newest first
  (``lifetime_start_ms`` descending, then name), ``has_additional`` when more rows exist; without
  ``onlyActiveTags=true`` ended tags (with ``end_ts``) come too; a private repository is 401
  anonymously, 403 for a signed-in user without permission.
* ``endpoints/api/__init__.py`` ``check_anon_protection``: with ``FEATURE_ANONYMOUS_ACCESS`` off, an
  anonymous call to a protected endpoint (the repository list, a repository's tag list: every
  ``ApiResource``) is 401 "Anonymous access is not allowed"; so is the V2 catalog (``@anon_protect``).
* ``endpoints/api/organization.py`` ``Organization.get`` and ``endpoints/api/user.py`` ``Users.get``
  (``get_nonrobot_user``: users, not organizations nor robots): 404 for a name that is none; both are
  ``ApiResource``s, so anonymous access off makes them 401 to an anonymous caller. The listings filter by
  namespace without asking whether it exists (``data/model/_basequery.py`` ``filter_to_repos_for_user``):
  an unknown one lists nothing, 200.
* ``conf/nginx/rate-limiting.conf.jnj``: a request over a ``limit_req`` zone is refused with 429
  (``limit_req_status 429``).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import pytest

from tcs_registry.oci import INDEX_TYPES
from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer
from tcs_registry.testing.fixtures import seed, serving
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.vulnerable import push_debian9

ROBOT = ("acme+ci", "ROBOTTOKEN0123456789")
USER = ("dev", "dev-Passw0rd")
APP = ("$app", "app-token-0123456789abcdef")  # an application token of user dev
OAUTH = "oauth-access-token-abcdef"  # an OAuth token of user dev ($oauthtoken)
# an access token of acme/api: a 32-character name and a code of 32 or more (data/model/token.py); Quay
# makes them only for build triggers and builds now, with the write role (endpoints/api/trigger.py)
ACCESS = ("$token", "TRIGGERTOKENNAME0123456789abcdef" + "c0de" * 8)
CREDENTIALS = {ROBOT: "acme+ci", USER: "dev", APP: "dev", ("$oauthtoken", OAUTH): "dev", ACCESS: "$token"}
# who holds a permission on what (the robot's and the team's grants, the access token's repository);
# acme/tool and other/pub are public
PERMISSIONS = {
    "acme+ci": ("acme/api", "acme/web", "acme/debian9"),
    "dev": ("acme/api", "acme/web", "acme/debian9"),
    "$token": ("acme/api",),
}
PUBLIC = ("acme/tool", "acme/debian9", "other/pub")
ORGANIZATIONS = ("acme", "other", "empty")  # "empty" holds no repository
USERS = ("dev",)
DELETED_AT = 1700000000  # the deleted tag "old" ended then
EXPIRES_AT = 4102444800  # 2100-01-01: "latest" of acme/api was pushed with quay.expires-after and is alive
TOKEN_VALIDITY_LIFETIME_S = 3600
# SCOPE_REGEX_TEMPLATE, with the server's host name; then the name itself must be a valid one
# (util/names.py REPOSITORY_NAME_EXTENDED_REGEX: lower case), else 400 NAME_INVALID (v2auth.py)
SCOPE = r"^repository:((?:{}\/)?((?:[\.a-zA-Z0-9_\-]+\/)*[\.a-zA-Z0-9_\-]+)):((?:push|pull|\*)(?:,(?:push|pull|\*))*)$"
NAME = re.compile(r"^(?=.{0,255}$)[a-z0-9][\.a-z0-9_-]*(?:\/[a-z0-9][\.a-z0-9_-]*)*$")


def seed_quay(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=quay-test\n"})]
    api = [("1.0", "2024-04-01T00:00:00Z"), ("1.1", "2024-04-02T00:00:00Z"), ("latest", "2024-04-02T00:00:00Z")]
    expected = [
        *push_tags(pusher, "acme/api", api, base),
        push_index(pusher, "acme/web", "2.0", [("amd64", "2024-05-01T00:00:00Z")], base),
        *push_tags(pusher, "acme/tool", [("v1", "2024-06-01T00:00:00Z")], base),
        push_debian9(pusher, "acme/debian9"),
    ]
    pusher.image("other/thing", "1", created="2024-07-01T00:00:00Z", layers=base)  # private, another namespace
    pusher.image("other/pub", "1", created="2024-07-01T00:00:00Z", layers=base)  # public, another namespace
    return expected


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _error(code: str, message: str, status: int, headers: dict[str, str] | None = None):
    return json_answer({"errors": [{"code": code, "message": message, "detail": {}}]}, status, headers)


def _anonymous_refused():
    """endpoints/decorators.py anon_protect: abort(401, message=...) -> {"error": message} (util/http.py)."""
    return json_answer({"error": "Anonymous access is not allowed"}, 401)


def _api_error(base: str, kind: str, detail: str, status: int):
    """An /api/v1 refusal as endpoints/exception.py ApiException.to_dict writes it (``type``: url_for
    with _external, an absolute URL)."""
    body = {"detail": detail, "error_message": detail, "error_type": kind, "title": kind, "status": status}
    return json_answer({**body, "type": f"{base}/api/v1/error/{kind}"}, status)


class QuayFacade(Facade):
    repos_per_page = 100  # REPOS_PER_PAGE; tests lower it to span pages with few repositories
    anonymous_access = True  # FEATURE_ANONYMOUS_ACCESS (on by default)

    def __init__(self, upstream: str, stored: StoredRegistry) -> None:
        super().__init__(upstream, name="quay")
        self.stored = stored
        self.deleted_tags = {("acme/api", "old"): "1.0"}  # tag history: "old" pointed where 1.0 does, then ended
        # live tags that will expire (endpoints/api/tag.py _tag_dict gives them end_ts and expiration too)
        self.expiring = {("acme/api", "latest"): EXPIRES_AT}
        self.grants: dict[str, tuple[str, set[str]]] = {}  # registry token -> (user, repositories it may pull)
        self.after_tag_page: Callable[[int], None] | None = None  # a test's hook: a push between two pages
        self.route("GET", "/v2/auth")(self.auth)
        self.route("GET", "/v2/")(self.ping)
        self.route("GET", "/v2/_catalog")(self.catalog)
        self.route("GET", "/v2/(?P<repository>.+)/tags/list")(self.tags_list)
        for method in ("GET", "HEAD"):  # (Flask answers HEAD for a GET route: endpoints/v2/manifest.py)
            self.route(method, "/v2/(?P<repository>.+)/(?:manifests|blobs)/[^/]+")(self.content)
        self.route("GET", "/api/v1/repository")(self.repositories)
        self.route("GET", "/api/v1/organization/(?P<name>[^/]+)")(
            lambda request, name: self.namespace(request, name, ORGANIZATIONS)
        )
        self.route("GET", "/api/v1/users/(?P<name>[^/]+)")(lambda request, name: self.namespace(request, name, USERS))
        # (any depth: extended repository names, endpoints/api/tag.py and path_converters.py)
        self.route("GET", "/api/v1/repository/(?P<ns>[^/]+)/(?P<repo>.+?)/tag/")(self.tags)

    # -- who is asking ---------------------------------------------------------------------------
    @staticmethod
    def may_read(user: str | None, repository: str) -> bool:
        return repository in PUBLIC or repository in PERMISSIONS.get(user or "", ())

    def _challenge(self, scope: str | None = None, body=None):
        challenge = f'Bearer realm="{self.url}/v2/auth",service="{self.host}"'
        if scope:
            challenge += f',scope="{scope}"'
        headers = {"WWW-Authenticate": challenge, "Docker-Distribution-API-Version": "registry/2.0"}
        if body is not None:
            return json_answer(body, 401, headers)
        return _error("UNAUTHORIZED", "access to the requested resource is not authorized", 401, headers)

    def _token(self, request: Request) -> tuple[str, set[str]] | None:
        return self.grants.get(request.bearer() or "")

    def auth(self, request: Request):
        basic = request.basic()
        if basic is None and not self.anonymous_access:
            # endpoints/v2/v2auth.py generate_registry_jwt is @anon_protect'ed (endpoints/decorators.py):
            # with FEATURE_ANONYMOUS_ACCESS off, no token for anyone without credentials
            return _anonymous_refused()
        user = CREDENTIALS.get(basic) if basic else None
        if basic and user is None:  # (validate_credentials' messages)
            message = "Invalid access token" if basic[0] == "$token" else "Invalid Username or Password"
            return _error("UNAUTHORIZED", message, 401)
        scopes = request.query.get("scope", [])
        if not user and not scopes:
            return _error("UNAUTHORIZED", "access to the requested resource is not authorized", 401)
        granted = set()
        for scope in scopes:
            match = re.match(SCOPE.format(re.escape(self.host)), scope)
            if not match:
                return _error("INVALID_REQUEST", f"Unable to decode repository and actions: {scope}", 400)
            repository = match.group(2)
            if not NAME.match(repository.partition("/")[2]):
                return _error("NAME_INVALID", f"Invalid repository name: {repository}", 400)
            if self.may_read(user, repository):
                granted.add(repository)
        now = int(time.time())
        claims = {"iat": now, "nbf": now, "exp": now + TOKEN_VALIDITY_LIFETIME_S, "sub": user or "(anonymous)"}
        header = _b64(json.dumps({"typ": "JWT", "alg": "RS256"}).encode())
        token = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(32))}"
        self.grants[token] = (user or "", granted)
        return json_answer({"token": token})

    def ping(self, request: Request):
        if request.headers.get("Authorization") is None:
            return self._challenge(body=True)
        if self._token(request) is None:
            return self._challenge(body={"error": "Invalid bearer token format"})
        return json_answer(True)

    def content(self, request: Request, repository: str):
        token = self._token(request)
        if token is None or repository not in token[1]:
            return self._challenge(f"repository:{repository}:pull")
        return self.forward(request)

    # -- V2 listing ------------------------------------------------------------------------------
    def _v2_page(self, request: Request, path: str, names: list[str], key: str, body: dict):
        limit = max(min(int(request.arg("n", "100") or 100), 100), 1)
        start = json.loads(base64.b64decode(request.arg("next_page", "") or "e30=")).get("start", 0)
        if key == "tags" and request.arg("last"):
            start = sum(1 for name in names if name <= request.arg("last"))
        chunk = names[start : start + limit]
        headers = {}
        if start + limit < len(names):
            if key == "tags":
                cursor = f"last={chunk[-1]}"
            else:
                cursor = "next_page=" + base64.b64encode(json.dumps({"start": start + limit}).encode()).decode()
            headers["Link"] = f'<{path}?n={limit}&{cursor}>; rel="next"'
        return json_answer({**body, key: chunk}, headers=headers)

    def catalog(self, request: Request):
        if request.headers.get("Authorization") is None:
            if not self.anonymous_access:  # (catalog_search is @anon_protect)
                return _anonymous_refused()
            return json_answer({"repositories": []})  # anonymous: FEATURE_PUBLIC_CATALOG is off
        token = self._token(request)
        if token is None:
            return self._challenge(body={"error": "Invalid bearer token format"})
        user = None if token[0] == "$token" else token[0]  # (an access token's context has no user)
        names = [r for r in self.stored.repositories() if user and r in PERMISSIONS.get(user, ())]
        return self._v2_page(request, "/v2/_catalog", names, "repositories", {})

    def tags_list(self, request: Request, repository: str):
        token = self._token(request)
        if token is None or repository not in token[1]:
            return self._challenge(f"repository:{repository}:pull")
        names = sorted(self.stored.tags(repository))
        return self._v2_page(request, f"/v2/{repository}/tags/list", names, "tags", {"name": repository})

    # -- REST API /api/v1 --------------------------------------------------------------------------
    def _rest_user(self, request: Request):
        """The OAuth token's user; None when anonymous (Basic is ignored); a 401 for a Bearer JWT, and for
        an anonymous call while anonymous access is off (check_anon_protection: every ApiResource)."""
        bearer = request.bearer()
        if bearer == OAUTH:
            return "dev"
        if bearer and bearer.startswith("eyJ"):  # a JWT: validated as SSO, no issuer matches
            return json_answer({"error": "Issuer quay not configured"}, 401)
        return None if self.anonymous_access else _anonymous_refused()

    def repositories(self, request: Request):
        user = self._rest_user(request)
        if isinstance(user, tuple):
            return user
        namespace, public = request.arg("namespace"), request.arg("public") == "true"
        if not (namespace or public or request.arg("starred")):
            return json_answer({"error_message": "namespace, starred or public are required for this API call"}, 400)
        names = [
            r
            for r in self.stored.repositories()
            if (not namespace or r.startswith(f"{namespace}/"))
            and ((public and r in PUBLIC) or r in PERMISSIONS.get(user or "", ()))
        ]
        offset = int(base64.b64decode(request.arg("next_page", "") or "MA==").decode() or 0)
        chunk = names[offset : offset + self.repos_per_page]
        body = {
            "repositories": [
                {
                    "namespace": r.split("/", 1)[0],
                    "name": r.split("/", 1)[1],
                    "description": None,
                    "is_public": r in PUBLIC,
                    "kind": "image",
                    "state": "NORMAL",
                }
                for r in chunk
            ]
        }
        if offset + self.repos_per_page < len(names):
            body["next_page"] = base64.b64encode(str(offset + self.repos_per_page).encode()).decode()
        return json_answer(body)

    def namespace(self, request: Request, name: str, known: tuple[str, ...]):
        """An organization's or a user's public view: 404 for a name that is not one."""
        user = self._rest_user(request)
        if isinstance(user, tuple):
            return user
        if name not in known:
            return _api_error(self.url, "not_found", "Not Found", 404)
        return json_answer({"name": name, "avatar": {}, "is_admin": False})

    def _history(self, repository: str) -> list[dict]:
        """Every tag row of the repository, newest first (lifetime_start_ms descending, then name)."""
        current = self.stored.tags(repository)
        rows = []
        for name, digest in current.items():
            manifest, _ = self.upstream_manifest(repository, digest)
            link = self.stored.root / repository / "_manifests" / "tags" / name / "current" / "link"
            start_ms = link.stat().st_mtime_ns // 1_000_000
            rows.append(
                {
                    "name": name,
                    "reversion": False,
                    "start_ts": start_ms // 1000,
                    "manifest_digest": digest,
                    "is_manifest_list": manifest.get("mediaType") in INDEX_TYPES,
                    "size": None,
                    "last_modified": formatdate(start_ms / 1000),
                    "_start_ms": start_ms,
                }
            )
            if (ends := self.expiring.get((repository, name))) is not None:
                rows[-1].update(end_ts=ends, expiration=formatdate(ends))
        for (r, name), alias in self.deleted_tags.items():
            if r == repository and alias in current:
                start = DELETED_AT - 86400
                rows.append(
                    {
                        "name": name,
                        "reversion": False,
                        "start_ts": start,
                        "end_ts": DELETED_AT,
                        "manifest_digest": current[alias],
                        "is_manifest_list": False,
                        "last_modified": formatdate(start),
                        "expiration": formatdate(DELETED_AT),
                        "_start_ms": start * 1000,
                    }
                )
        rows.sort(key=lambda row: (-row["_start_ms"], row["name"]))
        return [{k: v for k, v in row.items() if k != "_start_ms"} for row in rows]

    def tags(self, request: Request, ns: str, repo: str):
        user = self._rest_user(request)
        if isinstance(user, tuple):
            return user
        repository = f"{ns}/{repo}"
        if not self.may_read(user, repository):
            if user is None:
                return _api_error(self.url, "invalid_token", "Requires authentication", 401)
            return _api_error(self.url, "insufficient_scope", "Unauthorized", 403)
        limit = max(min(int(request.arg("limit", "50")), 100), 1)
        page = max(int(request.arg("page", "1")), 1)
        rows = self._history(repository)
        if request.arg("onlyActiveTags") == "true":  # data/model/oci/tag.py filter_to_alive_tags
            rows = [row for row in rows if row.get("end_ts") is None or row["end_ts"] > time.time()]
        chunk = rows[(page - 1) * limit : page * limit]
        answer = json_answer({"tags": chunk, "page": page, "has_additional": page * limit < len(rows)})
        if self.after_tag_page is not None:
            self.after_tag_page(page)
        return answer


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


@pytest.fixture
def fresh_quay(fresh_registry, tmp_path):
    """A Quay of the test's own over ``fresh_registry`` (push with ``pusher``)."""
    with QuayFacade(fresh_registry.url, StoredRegistry(Path(tmp_path) / "storage")) as facade:
        yield facade
