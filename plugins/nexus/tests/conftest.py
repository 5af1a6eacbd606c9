"""A strict Nexus 3 facade: path-based Docker routing, a connector port, a context path and the REST
API, serving real images from the CNCF registry (upstream repository ``<name>/<image>`` is image
``<image>`` of Nexus repository ``<name>``).

From sonatype/nexus-public (aec50e47): ``RepositoriesResource``/``RepositoryManagerRESTAdapterImpl.
getRepositories`` keep only what the user may BROWSE (``RepositoryPermissionChecker.
userCanBrowseRepositories``): an account with read (pull) rights alone gets 200 and an empty list, and
the search (``SearchResource``, BROWSE-filtered, a fixed page of 50 with a continuationToken) finds
nothing for it; the Docker V2 API takes read rights. ``RepositoriesResource.getRepository``
(``getReadableRepository``) gives one repository's entry to read rights as well as browse (404 for no
such repository, 403 for neither). Context paths (``nexus-context-path``, Sonatype
support article 39325029843219) put everything under a prefix. From help.sonatype.com: "Pagination"
(items + continuationToken), the search's components (name = image, version = tag, one manifest asset
with path, contentType, checksum.sha256 and blobCreated), the "Server: Nexus/3.x" header,
GET /service/rest/v1/status answering 200 without auth, and forceBasicAuth's Basic challenge (realm
"Sonatype Nexus Repository Manager", sonatype/nexus-public#921). Not confirmed from a source (the
Docker format is not in nexus-public): the asset path layout (v2/<image>/manifests/<tag>) and catalog
paging.

The search is Elasticsearch's, the default outside HA (``SearchResource`` is behind
ELASTIC_SEARCH_ENABLED, on by default): ``ElasticSearchServiceImpl.toAssetSearchResult`` gives an
asset its ``lastModified`` (the blob's, ``DefaultSearchDocumentProducer``) and no ``blobCreated``;
``ElasticSearchQueryServiceImpl.search`` answers an empty page (200, no token) once ``from + size``
passes 10,000 hits; ``RepositoryElasticSearchContribution`` searches a group's members, each hit
naming the member that holds it. The index is updated after a push, not with it
(``DefaultSearchEventHandler``): a tag can be missing from it for a while. A proxy repository's V2 tag
list is the upstream registry's (sonatype/nexus-public#1011), and an image pulled through it by
digest only shows in the search as a ``sha256:`` version.

Anonymous access (Security > Anonymous Access on: ``AnonymousFilter`` runs a request with no credentials
as the anonymous user, whose ``nx-anonymous`` role may search, browse and read every repository:
``NexusSecurityContributor``); a Docker repository reads anonymously only with the Docker Bearer Token
Realm active and ``forceBasicAuth`` off (help.sonatype.com "Docker Authentication"; ansible-nexus3-oss
#27): its /v2/ then challenges for a Bearer token (sonatype/nexus-public#921), given at ``/v2/token`` to
Basic credentials or to none [? the realm's path and ``service`` are not in a source: the client takes
the challenge's].
"""

from __future__ import annotations

import re

import pytest

from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer
from tcs_registry.testing.fixtures import seed, serving
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.vulnerable import push_debian9

USERS = {"ci": "nexus-ci-password", "puller": "read-only-password", "grouped": "group-only-password"}
# who holds nx-repository-view-docker-<name>-browse, for which repositories (None: all); "puller" may
# read (pull) only, "grouped" may browse the group alone
BROWSERS: dict[str, frozenset[str] | None] = {"ci": None, "grouped": frozenset({"docker-group"})}
SERVER = {"Server": "Nexus/3.75.1-01 (OSS)"}
REPOSITORIES = [
    ("docker-hosted", "docker", "hosted"),
    ("docker-proxy", "docker", "proxy"),
    ("docker-group", "docker", "group"),
    ("maven-releases", "maven2", "hosted"),
]
MEMBERS = {"docker-group": ["docker-hosted", "docker-proxy"]}
# tags the proxy's upstream registry has and the proxy does not hold: its V2 tag list (and so its group's)
# names them (sonatype/nexus-public#1011); reading one would fetch it there, which the facade cannot (no
# upstream here): it counts the attempt and answers 404
UPSTREAM_ONLY = {"docker-proxy/library/nginx": ["1.28", "latest"]}
SEARCH_HITS = 10_000  # ElasticSearchQueryServiceImpl.MAX_ELASTIC_RESPONSE_SIZE
PUSHED = "2025-05-30T08:20:00.000+00:00"


def seed_nexus(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=nexus-test\n"})]
    app = [("1.0", "2024-09-01T00:00:00Z"), ("1.1", "2024-09-02T00:00:00Z"), ("1.2", "2024-09-03T00:00:00Z")]
    return [
        *push_tags(pusher, "docker-hosted/app", app, base),
        *push_tags(pusher, "docker-hosted/team/api", [("v1", "2024-09-04T00:00:00Z")], base, docker=True),
        push_index(pusher, "docker-hosted/multi", "2.0", [("amd64", "2024-09-05T00:00:00Z")], base),
        *push_tags(pusher, "docker-proxy/library/nginx", [("1.27", "2024-08-12T00:00:00Z")], base),
        *push_tags(pusher, "docker-proxy/app", [("1.0", "2024-09-01T00:00:00Z")], base),  # cached in both members
        push_debian9(pusher, "docker-hosted/debian9"),
    ]


class NexusFacade(Facade):
    search_page = 50  # SearchResource's fixed page size; tests lower it to span pages
    search_hits = SEARCH_HITS  # tests lower it to reach it
    unindexed: frozenset[str] = frozenset()  # images, or image:tag, the search index has not caught up with yet
    by_digest: frozenset[str] = frozenset()  # proxied images pulled by digest only (none of their tags cached)
    # Docker proxy repositories set offline: still listed (RepositoryManagerRESTAdapterImpl.getRepositories
    # keeps every repository the user may browse, online or not), each request to one answered 503
    # "Repository offline" (ViewServlet.doService, through DefaultHttpResponseSender: Jetty's error page)
    offline: tuple[str, ...] = ()
    anonymous = False  # Security > Anonymous Access
    bearer = False  # the Docker Bearer Token Realm active, forceBasicAuth off on the Docker repositories

    def __init__(
        self, upstream: str, stored: StoredRegistry, connector_for: str | None = None, context: str = ""
    ) -> None:
        super().__init__(upstream, name="nexus")
        self.stored, self.connector_for, self.context = stored, connector_for, context
        self.upstream_pulls: list[str] = []  # reads of what only the upstream registry has
        if connector_for:  # a connector port: one repository's V2 API at the root, nothing else
            self.route("GET", "/v2/token")(lambda request: self.token(request, "/v2/token"))
            self.route("GET", "/v2/_catalog")(lambda request: self.catalog(request, connector_for))
            self.route("GET", "/v2/(?P<rest>.*)")(lambda request, rest: self.v2(request, connector_for, rest))
            return
        self.route("GET", f"{context}/service/rest/v1/status")(lambda request: (200, dict(SERVER), b""))
        self.route("GET", f"{context}/service/rest/v1/repositories")(self.repositories)
        self.route("GET", f"{context}/service/rest/v1/repositories/(?P<name>[^/]+)")(self.repository)
        self.route("GET", f"{context}/service/rest/v1/search")(self.search)
        token = f"{context}/repository/(?P<name>[^/]+)/v2/token"
        self.route("GET", token)(lambda request, name: self.token(request, f"{context}/repository/{name}/v2/token"))
        self.route("GET", f"{context}/repository/(?P<name>[^/]+)/v2/_catalog")(self.catalog)
        self.route("GET", f"{context}/repository/(?P<name>[^/]+)/v2/(?P<rest>.*)")(self.v2)
        self.route("GET", "/v2/")(lambda request: self._challenge())

    def _dispatch(self, request: Request):
        status, headers, body = super()._dispatch(request)
        return status, {**headers, **SERVER}, body

    def _user(self, request: Request, docker: bool = False) -> str | None:
        """Who the request is: a user by Basic (or, to a Docker repository, by a Bearer token of the realm),
        "anonymous" with no credentials while anonymous access is on; None: refused."""
        basic = request.basic()
        if basic:
            return basic[0] if USERS.get(basic[0]) == basic[1] else None
        if (bearer := request.bearer()) is not None:
            return self.tokens.get(bearer) if self.bearer and docker else None
        return "anonymous" if self.anonymous else None

    def _authorized(self, request: Request, docker: bool = False) -> bool:
        """Let in: a Docker repository takes no credentials at all only through the Bearer realm."""
        user = self._user(request, docker)
        return user is not None and not (docker and user == "anonymous" and request.bearer() is None)

    def _browses(self, request: Request, repository: str) -> bool:
        user = self._user(request)
        return user == "anonymous" or (user in BROWSERS and BROWSERS[user] in (None, {repository}))

    def _challenge(self, realm: str = ""):
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "access to the requested resource is not authorized"}]}
        if self.bearer and realm:
            return json_answer(
                body, 401, {"WWW-Authenticate": f'Bearer realm="{self.url}{realm}",service="{self.url}{realm}"'}
            )
        return json_answer(body, 401, {"WWW-Authenticate": 'BASIC realm="Sonatype Nexus Repository Manager"'})

    def token(self, request: Request, realm: str):
        """The Docker Bearer Token Realm's token: for Basic credentials, or for none (anonymous access on)."""
        user = self._user(request) if self.bearer and request.bearer() is None else None
        if user is None:
            return self._challenge(realm)
        return json_answer({"token": self.issue_token(user)})

    def repositories(self, request: Request):
        if not self._authorized(request):
            return json_answer({"message": "unauthorized"}, 401)
        offline = [(name, "docker", "proxy") for name in self.offline]  # (the first listed first, others last)
        return json_answer(
            [
                {"name": n, "format": f, "type": t, "url": f"{self.url}{self.context}/repository/{n}", "attributes": {}}
                for n, f, t in [*offline[:1], *REPOSITORIES, *offline[1:]]
                if self._browses(request, n)
            ]
        )

    def repository(self, request: Request, name: str):
        if not self._authorized(request):
            return json_answer({"message": "unauthorized"}, 401)
        entry = next((r for r in REPOSITORIES if r[0] == name), None)
        if entry is None:
            return 404, {"Content-Type": "text/plain"}, f"Unable to locate repository with id {name}".encode()
        n, f, t = entry  # (every user here may read every repository)
        return json_answer(
            {"name": n, "format": f, "type": t, "url": f"{self.url}{self.context}/repository/{n}", "attributes": {}}
        )

    def _offline(self, name: str):
        uri = f"{self.context}/repository/{name}/v2/"
        page = (
            "<html><head><title>Error 503 Repository offline</title></head>"
            f"<body><h2>HTTP ERROR 503 Repository offline</h2><p>URI: {uri}</p></body></html>"
        )
        return 503, {"Content-Type": "text/html;charset=iso-8859-1"}, page.encode()

    def _images(self, name: str) -> list[str]:
        return sorted(r.split("/", 1)[1] for r in self.stored.repositories() if r.split("/", 1)[0] == name)

    def _realm(self, name: str) -> str:
        return "/v2/token" if self.connector_for else f"{self.context}/repository/{name}/v2/token"

    def catalog(self, request: Request, name: str):
        if not self._authorized(request, docker=True):
            return self._challenge(self._realm(name))
        if name in self.offline:  # (after the security filter's login, before the repository's own view)
            return self._offline(name)
        return json_answer({"repositories": self._images(name)})

    def v2(self, request: Request, name: str, rest: str):
        if not self._authorized(request, docker=True):
            return self._challenge(self._realm(name))
        if name in self.offline:  # (after the security filter's login, before the repository's own view)
            return self._offline(name)
        if not rest:
            return json_answer({})
        proxies = [m for m in [name, *MEMBERS.get(name, ())] if m == "docker-proxy"]
        if proxies and (listed := re.fullmatch(r"(.+)/tags/list", rest)):  # (a group's: its members' merged)
            image = listed.group(1)
            held = {tag for member in MEMBERS.get(name, [name]) for tag in self.stored.tags(f"{member}/{image}")}
            tags = sorted(held | set(UPSTREAM_ONLY.get(f"docker-proxy/{image}", [])))
            if not tags:
                return json_answer({"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}, 404)
            return json_answer({"name": image, "tags": tags})
        wanted = re.fullmatch(r"(.+)/manifests/([^/]+)", rest) if proxies else None
        if wanted and wanted.group(2) in UPSTREAM_ONLY.get(f"docker-proxy/{wanted.group(1)}", []):
            self.upstream_pulls.append(f"{wanted.group(1)}:{wanted.group(2)}")
            return json_answer({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}, 404)
        if name in MEMBERS and re.search(r"/(manifests|blobs)/", rest):
            # a group's content is its first member's that has it (GroupHandler.getFirst, the generic group
            # handler: the Docker group's own is not in nexus-public)
            for member in MEMBERS[name]:
                answer = self.forward(request, f"/v2/{member}/{rest}")
                if answer[0] == 200:
                    return answer
            return answer
        return self.forward(request, f"/v2/{name}/{rest}")

    def search(self, request: Request):
        if not self._authorized(request):
            return json_answer({"message": "unauthorized"}, 401)
        wanted, asked = request.arg("name"), request.arg("repository") or ""
        components = []
        for repository in MEMBERS.get(asked, [asked]) if self._browses(request, asked) else ():
            components += self._hits(repository, wanted)
        start = int(request.arg("continuationToken", "0") or 0)
        if start + self.search_page > self.search_hits:
            return json_answer({"items": [], "continuationToken": None})
        chunk = components[start : start + self.search_page]
        more = start + self.search_page < len(components)
        return json_answer({"items": chunk, "continuationToken": str(start + self.search_page) if more else None})

    def _hits(self, repository: str, wanted: str | None) -> list[dict]:
        components = []
        for image in self._images(repository):
            if (wanted and image != wanted) or image in self.unindexed:
                continue
            for tag, digest in self.stored.tags(f"{repository}/{image}").items():
                if f"{image}:{tag}" in self.unindexed:
                    continue
                manifest, _ = self.upstream_manifest(f"{repository}/{image}", digest)
                tag = digest if image in self.by_digest else tag
                path = f"v2/{image}/manifests/{tag}"
                components.append(
                    {
                        "id": f"{repository}:{image}:{tag}",
                        "repository": repository,
                        "format": "docker",
                        "group": None,
                        "name": image,
                        "version": tag,
                        "assets": [
                            {
                                "downloadUrl": f"{self.url}{self.context}/repository/{repository}/{path}",
                                "path": path,
                                "repository": repository,
                                "format": "docker",
                                "checksum": {"sha256": digest.split(":")[1]},
                                "contentType": manifest.get("mediaType"),
                                "lastModified": PUSHED,
                                "uploader": "ci",
                            }
                        ],
                    }
                )
        return components


@pytest.fixture(scope="session")
def nexus_seeded(work):
    return seed(work, "nexus", seed_nexus)


@pytest.fixture(scope="session")
def nexus(nexus_seeded, work):
    with serving(nexus_seeded, work, NexusFacade) as facade:
        yield facade


@pytest.fixture(scope="session")
def nexus_connector(nexus_seeded, work):
    with serving(nexus_seeded, work, NexusFacade, "docker-hosted") as facade:
        yield facade


@pytest.fixture(scope="session")
def nexus_context(nexus_seeded, work):
    """A Nexus under the context path /nexus."""
    with serving(nexus_seeded, work, NexusFacade, None, "/nexus") as facade:
        yield facade


@pytest.fixture
def nexus_expected(nexus_seeded):
    return nexus_seeded.expected
