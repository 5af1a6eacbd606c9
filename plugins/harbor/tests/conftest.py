"""A strict Harbor facade: Harbor's API v2.0, its token service and /v2/, serving real images from the
CNCF registry. Each behaviour is Harbor's own (goharbor/harbor at c50c7ddd):

* ``src/server/middleware/security/``: Basic credentials of a user (``basic_auth.go``) or a robot
  (``robot.go``: ``<ROBOT_NAME_PREFIX><project>+<name>``, the prefix ``robot$`` by default); wrong ones
  make the request anonymous, not refused. In OIDC mode (``oidc_cli.go`` ``valid()``) a user's CLI
  secret is taken only on ``/v2``, ``/service/token`` and the GET lists of projects, repositories and
  artifacts; on any other path (``GET .../artifacts/{reference}`` among them) the request is anonymous.
* ``src/server/v2.0/handler/base.go`` ``RequireProjectAccess``: a permission missing is 401
  UNAUTHORIZED for an anonymous caller, 403 FORBIDDEN otherwise; ``repository.go`` ListRepositories
  needs ``repository:list``, ``artifact.go`` ListArtifacts ``artifact:list`` and GetArtifact
  ``artifact:read``; a robot holds exactly what its ``access`` list grants (``security/robot/context.go``).
  ``rbac_util.go`` ``publicProjectPolicies``: anyone may list and pull in a public project;
  ``project.go`` ListProjects shows an anonymous caller the public projects only.
* ``src/server/middleware/v2auth/auth.go`` and ``src/core/service/token/creator.go``: ``/v2/``
  without credentials is 401 with ``Bearer realm="<url>/service/token",service="harbor-registry"``;
  the token service refuses an anonymous request without a scope (401, empty body) and grants only
  the actions the caller holds (``pull`` on a public project to anyone); the token answer is
  ``{"token", "access_token": "", "expires_in", "issued_at"}``.
* ``src/pkg/artifact/dao/dao.go``: untagged children of an index are not listed; artifacts come
  newest first (``-push_time``); ``manifest_v2.go``: ``extra_attrs`` is created, architecture, os,
  config, author (no variant; ``{}`` for an index); ``references[].platform`` keeps the variant; each tag
  has its own ``push_time`` (``tag/controller.go`` Ensure), the artifact's is its first push. Cosign
  signatures and anything with an OCI ``subject`` are accessories, left out of the lists.
* ``dao.go``/``model.go``: the default order is newest first, the id breaking ties (artifacts
  ``-push_time,-id``, repositories ``-creation_time,-repository_id``); ``sort=push_time`` /
  ``sort=creation_time`` give oldest first and replace the default whole, tie-breaker included
  (``lib/orm/query.go`` ``setSorts``); pages are LIMIT/OFFSET (``QuerySetter``), so what leaves the
  list while it is read shifts the later pages; ``q=tags=*`` keeps tagged artifacts only.
  ``lib/q/builder.go``: ``q`` is ``k=v`` pairs split on ``,`` (an empty key or value is 400), a value
  exact, ``~fuzzy``, ``[min~max]``, ``{or list}`` or ``(and list)`` split on spaces; ``dao.go``
  ``setBaseQuery``: ``base=*`` lists an index's untagged children too (any other base is 400);
  ``digest`` is a column filter (``lib/orm/query.go``).
* ``src/server/registry/manifest.go`` ``getManifest``: a GET of a manifest (not a HEAD) is a pull
  event, which sets the artifact's ``pull_time`` and the repository's pull count
  (``controller/event/handler/internal/artifact.go`` onPull): kept in ``pulled``.
  ``creator.go``: wrong Basic credentials with a scope get an anonymous
  token (the security chain falls through), without a scope a 401.
* paging: ``page`` from 1, ``page_size`` default 10, more than 100 refused (swagger: 422),
  ``X-Total-Count``, ``Link: <path?page=N&page_size=M>; rel="prev" , <...>; rel="next"`` (``lib/link.go``).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, unquote_plus

import pytest

from tcs_registry.oci import INDEX_TYPES
from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer, text_answer
from tcs_registry.testing.fixtures import seed, serving
from tcs_registry.testing.images import HELM_CONFIG, Pusher, make_layer
from tcs_registry.testing.vulnerable import push_debian9

NEVER = "0001-01-01T00:00:00.000Z"
PUBLIC_PROJECTS = {"library"}
EVERYTHING = ("repository:list", "repository:pull", "artifact:list", "artifact:read")


@dataclass(frozen=True)
class Account:
    secret: str
    projects: tuple[str, ...] = ()  # member of (every permission), or the robot's project
    permissions: tuple[str, ...] = EVERYTHING
    listed_only: tuple[str, ...] = ()  # projects it sees (a system robot's namespaces) but holds nothing in
    admin: bool = False
    oidc: bool = False  # an OIDC user: the secret is the CLI secret


ACCOUNTS = {
    "admin": Account("Harbor12345", admin=True),
    "robot$team+ci": Account("robot-secret-token-1", ("team",)),
    "robot$team+puller": Account("robot-secret-token-2", ("team",), ("repository:pull",)),
    "robot$team+lister": Account("robot-secret-token-3", ("team",), ("repository:list", "repository:pull")),
    "robot@team+ci": Account("robot-secret-token-4", ("team",)),  # a Harbor with ROBOT_NAME_PREFIX=robot@
    "oidc-user": Account("cli-secret-abcdef", ("team",), oidc=True),
    "robot$team+lister-only": Account(
        "robot-secret-token-6", ("team",), ("repository:list", "artifact:list", "artifact:read")
    ),  # may list, not pull
    "robot$sys": Account("robot-secret-token-5", ("team",), listed_only=("ops",)),  # a system robot
}
HARBOR_USERS = {name: account.secret for name, account in ACCOUNTS.items()}


def seed_harbor(pusher: Pusher) -> list[Expected]:
    """Projects library (public), ops and team; an untagged image, a Helm chart, an index with an
    attestation, an arm64/v8 image, a cosign signature, a vulnerable Debian 9 image."""
    base = [make_layer({"etc/os-release": b"ID=harbor-test\n"})]
    alpine = [
        ("3.19", "2024-01-10T10:00:00Z"),
        ("3.20", "2024-05-20T12:30:45.5Z"),
        ("latest", "2024-05-20T12:30:45.5Z"),
    ]
    expected = [*push_tags(pusher, "library/alpine", alpine, base), push_debian9(pusher, "library/debian9")]
    pusher.image("team/api", None, created="2023-06-01T00:00:00Z", layers=base)  # untagged: not reported
    api = [("1.0.0", "2024-02-01T08:00:00Z"), ("1.1.0", "2024-02-15T09:00:00Z")]
    expected += [
        *push_tags(pusher, "team/api", api, base, docker=True),
        *push_tags(pusher, "team/sub/app", [("v1", "2023-12-31T23:59:59Z")], base),
        push_index(
            pusher, "team/web", "2.0", [("amd64", "2024-03-01T00:00:00Z"), ("arm64", "2024-03-01T00:05:00Z")], base
        ),
        *push_tags(pusher, "team/pi", [("1", "2024-03-02T00:00:00Z")], base, architecture="arm64", variant="v8"),
        Expected("team/repro", "1", "2024-02-02T02:02:02Z", "team/repro@1"),
        push_debian9(pusher, "team/debian9"),
        Expected("ops/tool", "1.0", "2025-01-01T00:00:00Z", "ops/tool@1.0"),
    ]
    tool = pusher.image("ops/tool", "1.0", created="2025-01-01T00:00:00Z", layers=base)
    reproducible = {"org.opencontainers.image.created": "2024-02-02T02:02:02Z"}  # ko, apko, bazel: epoch
    pusher.image("team/repro", "1", created="1970-01-01T00:00:00Z", layers=base, labels=reproducible)
    pusher.signature("ops/tool", tool)  # an accessory: Harbor does not list it
    pusher.chart("ops/chart", "0.1.0")  # type CHART
    return expected


def _keywords(q: str) -> dict[str, Any] | tuple:
    """Harbor's ``q`` (lib/q/builder.go parseKeywords): a value exact or ``~fuzzy`` (a string), or
    (bracket, [items]) for an or/and list (ranges: not modelled). A malformed one is its 400."""
    keywords: dict[str, Any] = {}
    for param in unquote_plus(q).split(",") if q else ():
        key, equals, value = param.partition("=")
        if not equals or not key or not value:
            message = 'the query string must contain "=" and the key/value cannot be empty'
            return _errors("BAD_REQUEST", message, 400)
        closing = {"{": "}", "(": ")"}.get(value[0])
        if closing and value[-1] != closing:
            return _errors("BAD_REQUEST", f"invalid query string value: {value}", 400)
        keywords[key] = (value[0], [v for v in value[1:-1].split(" ") if v]) if closing else value
    return keywords


def _errors(code: str, message: str, status: int):
    return json_answer({"errors": [{"code": code, "message": message}]}, status)


@dataclass
class Caller:
    name: str | None  # None: anonymous
    account: Account | None = None
    granted: set[str] = field(default_factory=set)  # a token's repositories (pull)


class HarborFacade(Facade):
    def __init__(self, upstream: str, stored: StoredRegistry, auth_mode: str = "db_auth") -> None:
        super().__init__(upstream, name="harbor")
        self.stored, self.auth_mode = stored, auth_mode
        self.robot_prefix = "robot$"
        self.grants: dict[str, Caller] = {}
        self._artifacts: dict[tuple[str, str], dict[str, Any]] = {}
        self.deleted: set[str] = set()  # digests of artifacts deleted meanwhile (retention, GC): not listed
        self.after_artifacts: Any = None  # called with each artifact page's request once it is answered
        # images whose config Harbor could not read at push: extra_attrs {} (pkg/artifact/model.go From)
        self.unread_configs: set[str] = set()
        self.pulled: list[tuple[str, str]] = []  # (repository, reference) of each manifest GET: a pull to Harbor
        # projects with "Prevent vulnerable images from running" at this severity, and the repositories whose
        # images Harbor's scanner found vulnerable at it: their manifests are refused, 412 (server/registry/
        # route.go puts vulnerable.Middleware on every GET and HEAD of a manifest; vulnerable.go's message;
        # only a token with scanner-pull, Harbor's own scanner's, passes: middleware/util SkipPolicyChecking)
        self.prevent_vul: dict[str, str] = {}
        self.vulnerable: dict[str, int] = {}  # repository -> vulnerabilities found at or above the severity
        self.route("GET", "/api/v2.0/ping")(lambda request: text_answer("Pong"))
        self.route("GET", "/api/v2.0/systeminfo")(lambda request: json_answer({"auth_mode": self.auth_mode}))
        self.route("GET", "/service/token")(self.token)
        self.route("GET", "/v2/")(self.ping)
        for method in ("GET", "HEAD"):
            self.route(method, "/v2/(?P<repository>.+)/(?:manifests|blobs|tags)/.*")(self.v2)
        self.route("GET", "/api/v2.0/projects")(self.projects)
        self.route("GET", "/api/v2.0/projects/(?P<project>[^/]+)/repositories")(self.repositories)
        self.route("GET", "/api/v2.0/projects/(?P<project>[^/]+)/repositories/(?P<repo>[^/]+)/artifacts")(
            self.artifacts
        )
        self.route(
            "GET", "/api/v2.0/projects/(?P<project>[^/]+)/repositories/(?P<repo>[^/]+)/artifacts/(?P<ref>[^/]+)"
        )(self.one_artifact)

    # -- who is asking ---------------------------------------------------------------------------
    @property
    def users(self) -> dict[str, str]:
        return HARBOR_USERS

    def _basic(self, request: Request, oidc_ok: bool) -> Caller:
        """The Basic caller, or anonymous (Harbor's security chain falls through to anonymous)."""
        basic = request.basic()
        account = ACCOUNTS.get(basic[0]) if basic else None
        if basic is None or account is None or account.secret != basic[1]:
            return Caller(None)
        robot = basic[0].startswith("robot")
        if robot and not basic[0].startswith(self.robot_prefix):
            return Caller(None)  # another prefix: no robot of this Harbor
        if self.auth_mode == "oidc_auth" and not robot and not account.admin and not (account.oidc and oidc_ok):
            return Caller(None)
        return Caller(basic[0], account)

    def _may(self, caller: Caller, project: str, permission: str) -> bool:
        if project in PUBLIC_PROJECTS and permission in EVERYTHING:
            return True
        account = caller.account
        if account is None:
            return False
        return account.admin or (project in account.projects and permission in account.permissions)

    def _denied(self, caller: Caller):
        if caller.name is None:
            return _errors("UNAUTHORIZED", "unauthorized", 401)
        return _errors("FORBIDDEN", "forbidden", 403)

    # -- /v2/ and the token service -----------------------------------------------------------------
    def _challenge(self, request: Request, scope: str | None = None):
        if request.headers.get("Authorization"):
            challenge = 'Basic realm="harbor"'
        else:
            challenge = f'Bearer realm="{self.url}/service/token",service="harbor-registry"'
            if scope:
                challenge += f',scope="{scope}"'
        return json_answer(
            {"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized: unauthorized"}]},
            401,
            {"WWW-Authenticate": challenge, "Docker-Distribution-Api-Version": "registry/2.0"},
        )

    def token(self, request: Request):
        if request.arg("service") != "harbor-registry":
            return text_answer(f"Unable to handle service: {request.arg('service')}", 400)
        caller = self._basic(request, oidc_ok=True)
        scopes = request.query.get("scope", [])
        if caller.name is None and not scopes:  # anonymous (or refused credentials) without a scope
            return text_answer("", 401)
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            repository = rest.rpartition(":")[0]
            if kind == "repository" and self._may(caller, repository.split("/")[0], "repository:pull"):
                caller.granted.add(repository)
        token = secrets.token_urlsafe(24)
        self.grants[token] = caller
        now = datetime.now(UTC)
        return json_answer({"token": token, "access_token": "", "expires_in": 1800, "issued_at": now.isoformat()})

    def _v2_caller(self, request: Request) -> Caller:
        if request.bearer():
            return self.grants.get(request.bearer(), Caller(None))
        return self._basic(request, oidc_ok=True)

    def ping(self, request: Request):
        # v2auth/auth.go check(): the login target wants an authenticated caller, which an anonymous token
        # (no subject: security/v2token/context.go IsAuthenticated) is not
        caller = self._v2_caller(request)
        if caller.name is None:
            return self._challenge(request)
        return json_answer({})

    def v2(self, request: Request, repository: str):
        caller = self._v2_caller(request)
        if request.bearer():
            allowed = repository in caller.granted
        else:
            allowed = caller.name is not None and self._may(caller, repository.split("/")[0], "repository:pull")
        if not allowed:
            return self._challenge(request, f"repository:{repository}:pull")
        severity = self.prevent_vul.get(repository.split("/")[0])
        if severity and "/manifests/" in request.path and (count := self.vulnerable.get(repository)):
            thing = "vulnerabilities" if count > 1 else "vulnerability"
            message = (
                f"current image with {count} {thing} cannot be pulled due to configured policy in 'Prevent images "
                f'with vulnerability severity of "{severity}" or higher from running.\' To continue with pull, please '
                "contact your project administrator to exempt matched vulnerabilities through configuring the CVE"
                " allowlist."
            )
            return _errors("PROJECTPOLICYVIOLATION", message, 412)
        answer = self.forward(request)
        if request.method == "GET" and "/manifests/" in request.path and answer[0] == 200:
            self.pulled.append((repository, request.path.rpartition("/")[2]))
        return answer

    # -- paging ---------------------------------------------------------------------------------
    def _page(self, request: Request, items: list[Any]):
        page = int(request.arg("page", "1"))
        size = int(request.arg("page_size", "10"))
        if size > 100:
            return _errors("UNPROCESSABLE_ENTITY", "page_size in query should be less than or equal to 100", 422)
        chunk = items[(page - 1) * size : page * size]
        other = "&".join(f"{k}={v[0]}" for k, v in sorted(request.query.items()) if k not in ("page", "page_size"))
        base = request.target.split("?")[0] + "?" + (other + "&" if other else "")
        links = []
        if page > 1 and (page - 1) * size < len(items):
            links.append(f'<{base}page={page - 1}&page_size={size}>; rel="prev"')
        if size * page < len(items):
            links.append(f'<{base}page={page + 1}&page_size={size}>; rel="next"')
        headers = {"X-Total-Count": str(len(items))}
        if links:
            headers["Link"] = " , ".join(links)
        return json_answer(chunk, headers=headers)

    # -- REST ----------------------------------------------------------------------------------
    def projects(self, request: Request):
        caller = self._basic(request, oidc_ok=True)
        names = sorted({r.split("/")[0] for r in self.stored.repositories()})
        account = caller.account
        seen = (*account.projects, *account.listed_only) if account else ()
        visible = [n for n in names if n in PUBLIC_PROJECTS or (account and (account.admin or n in seen))]
        return self._page(
            request,
            [
                {
                    "project_id": i + 1,
                    "name": n,
                    "registry_id": None,
                    "deleted": False,
                    # (project metadata: values are strings, pkg/project/models/project.go)
                    "metadata": {"public": str(n in PUBLIC_PROJECTS).lower()}
                    | (
                        {"prevent_vul": "true", "severity": self.prevent_vul[n].lower()}
                        if n in self.prevent_vul
                        else {}
                    ),
                }
                for i, n in enumerate(visible)
            ],
        )

    def repositories(self, request: Request, project: str):
        caller = self._basic(request, oidc_ok=True)
        if not self._may(caller, project, "repository:list"):
            return self._denied(caller)
        if project not in {r.split("/")[0] for r in self.stored.repositories()}:
            # (the access check first: handler/base.go; then handler/repository.go ListRepositories' GetByName)
            return _errors("NOT_FOUND", f"project {project} not found", 404)
        names = [r for r in self.stored.repositories() if r.startswith(project + "/")]
        items = [{"id": i + 1, "name": n, "artifact_count": len(self.stored.manifests(n))} for i, n in enumerate(names)]
        if request.arg("sort", "").split(",")[0] != "creation_time":  # (lib/q/builder.go ParseSorting: a list)
            items.reverse()  # -creation_time,-repository_id: the newest first
        return self._page(request, items)

    def _pushed(self, path) -> str:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def _artifact(self, repository: str, digest: str) -> dict[str, Any] | None:
        """The artifact as Harbor lists it; None for an accessory (a cosign signature, a subject's)."""
        key = (repository, digest)
        if key not in self._artifacts:
            manifest, _ = self.upstream_manifest(repository, digest)
            revision = self.stored.root / repository / "_manifests" / "revisions" / "sha256" / digest[7:] / "link"
            layers = manifest.get("layers") or []
            accessory = "subject" in manifest or any(
                layer.get("mediaType") == "application/vnd.dev.cosign.simplesigning.v1+json" for layer in layers
            )
            artifact: dict[str, Any] = {
                "digest": digest,
                "manifest_media_type": manifest.get("mediaType"),
                "push_time": self._pushed(revision),  # its first push
                "pull_time": NEVER,
                "extra_attrs": {},
                "references": None,
                "repository_name": repository,
                "accessory": accessory,
            }
            if manifest.get("mediaType") in INDEX_TYPES:
                artifact.update(
                    type="IMAGE",
                    media_type=manifest["mediaType"],
                    references=[
                        {
                            "child_digest": m["digest"],
                            "platform": m.get("platform"),
                            "annotations": m.get("annotations"),
                        }
                        for m in manifest["manifests"]
                    ],
                )
            else:
                config_type = manifest["config"]["mediaType"]
                artifact.update(media_type=config_type, type="CHART" if config_type == HELM_CONFIG else "IMAGE")
                # manifest/v2.go: the manifest's artifactType, else its config's media type
                artifact["artifact_type"] = manifest.get("artifactType") or config_type
                if artifact["type"] == "IMAGE":
                    config = self.upstream_json(f"/v2/{repository}/blobs/{manifest['config']['digest']}")
                    extra = {k: config.get(k) for k in ("created", "architecture", "os")}  # no variant
                    artifact["extra_attrs"] = {**extra, "author": "", "config": config.get("config")}
            self._artifacts[key] = artifact
        artifact = dict(self._artifacts[key])
        if artifact.pop("accessory"):
            return None
        if digest in self.unread_configs:
            artifact["extra_attrs"] = {}
        tags = [t for t, d in self.stored.tags(repository).items() if d == digest]
        tag_dir = self.stored.root / repository / "_manifests" / "tags"
        artifact["tags"] = [
            {
                "name": t,
                "push_time": self._pushed(tag_dir / t / "current" / "link"),  # when this tag was pushed
                "pull_time": NEVER,
                "immutable": False,
            }
            for t in tags
        ] or None
        return artifact

    def artifacts(self, request: Request, project: str, repo: str):
        caller = self._basic(request, oidc_ok=True)
        if not self._may(caller, project, "artifact:list"):
            return self._denied(caller)
        repository = f"{project}/{unquote(repo)}"  # the path segment arrives double-encoded
        stored = [d for d in self.stored.manifests(repository) if d not in self.deleted]
        every = [a for a in (self._artifact(repository, d) for d in stored) if a]
        query = _keywords(request.arg("q", ""))
        if isinstance(query, tuple):
            return query
        children = {r["child_digest"] for a in every for r in a["references"] or ()}
        if "base" in query:
            if query.pop("base") != "*":
                return _errors("BAD_REQUEST", 'the value of "base" query can only be exact match value with "*"', 400)
            listed = every
        else:
            listed = [a for a in every if a["digest"] not in children or a["tags"]]  # dao.go hides untagged children
        for key, value in query.items():
            if key == "tags" and value == "*":
                listed = [a for a in listed if a["tags"]]
            elif key == "tags" and isinstance(value, str) and value[:1] != "~":  # setTagQuery: one tag, exactly
                listed = [a for a in listed if value in {t["name"] for t in a["tags"] or ()}]
            elif key == "digest" and isinstance(value, tuple):  # query.go: an or list is IN, an and list ignored
                listed = [a for a in listed if a["digest"] in value[1]] if value[0] == "{" else listed
            elif key == "digest":  # exact, or ~ a part of it (LIKE)
                listed = [a for a in listed if (value[1:] in a["digest"] if value[0] == "~" else value == a["digest"])]
            else:  # (what the plugin does not ask: not modelled here)
                return _errors("BAD_REQUEST", f"the facade does not model q={key}", 400)
        if request.arg("sort") == "push_time":  # push_time alone: equal times in no set order
            listed.sort(key=lambda a: a["push_time"])
        else:  # -push_time,-id (the digest stands in for the id)
            listed.sort(key=lambda a: (a["push_time"], a["digest"]), reverse=True)
        if request.arg("with_tag", "true") != "true":
            for a in listed:
                a.pop("tags")
        answer = self._page(request, listed)
        if self.after_artifacts:
            self.after_artifacts(request)
        return answer

    def one_artifact(self, request: Request, project: str, repo: str, ref: str):
        caller = self._basic(request, oidc_ok=False)  # not one of oidc_cli.go's list endpoints
        if not self._may(caller, project, "artifact:read"):
            return self._denied(caller)
        repository = f"{project}/{unquote(repo)}"
        digest = self.stored.tags(repository).get(ref, ref)
        artifact = self._artifact(repository, digest) if digest in self.stored.manifests(repository) else None
        if artifact is None:
            return _errors("NOT_FOUND", "artifact not found", 404)
        return json_answer(artifact)


@pytest.fixture(scope="session")
def harbor_seeded(work):
    return seed(work, "harbor", seed_harbor)


@pytest.fixture(scope="session")
def harbor(harbor_seeded, work):
    with serving(harbor_seeded, work, HarborFacade) as facade:
        yield facade


@pytest.fixture
def harbor_over(work):
    """``with harbor_over(name, seeder) as facade``: a Harbor over a dataset of the test's own, which it
    may change."""

    @contextmanager
    def over(name: str, seeder: Any) -> Iterator[HarborFacade]:
        with serving(seed(work, name, seeder), work, HarborFacade) as facade:
            yield facade

    return over


@pytest.fixture(scope="session")
def harbor_oidc(harbor_seeded, work):
    with serving(harbor_seeded, work, HarborFacade, "oidc_auth") as facade:
        yield facade


@pytest.fixture
def harbor_expected(harbor_seeded):
    return harbor_seeded.expected
