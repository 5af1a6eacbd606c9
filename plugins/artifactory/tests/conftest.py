"""A strict Artifactory facade: the Artifactory Docker API and REST listing, serving real images from
the CNCF registry (upstream repository ``<key>/<image>`` is image ``<image>`` of repository key ``<key>``).

From JFrog's documentation (jfrog.com/help, JFrog REST APIs): "Get Repositories"
(GET /artifactory/api/repositories?packageType=docker -> [{key, type, url, packageType}], types LOCAL,
REMOTE, VIRTUAL, FEDERATED), "List Docker Repositories" (GET /artifactory/api/docker/<key>/v2/_catalog
with n/last paging; on a remote repository it asks the upstream registry unless
artifactory.docker.catalogs.tags.fallback.fetch.remote.cache is set, false by default: the facade
counts such walks), "File List" (GET /api/storage/<key>/<folder>?list&deep=1&listFolders=0, for any
repository type, a remote's cache ``<key>-cache`` included; a signed-in user only), the Docker layout
(<image>/<tag>/manifest.json, list.manifest.json for an index), "System Health Ping"
(GET /artifactory/api/system/ping -> OK), the X-JFrog-Version / X-Artifactory-Id response headers,
access tokens ("Access Tokens": as a Bearer token, or as a Basic password with the user the token was
made for, never another), API keys ("API Key": the X-JFrog-Art-Api header, or a Basic password with its
user or, in Artifactory's source, none: PasswordDecryptingManager, PropsAuthenticationProvider), and
the token flow at <key>/v2/token (realm form from renovatebot/renovate#11765).
Next-page links are relative and leave out the /artifactory/api/docker/<key> prefix, as Artifactory
7.46 sends them (renovatebot/renovate#15080: `</v2/renovate/renovate/tags/list?last=10000&n=10000>`;
JFrog RTFACT-18971); for _catalog the same form is assumed (no capture found).
A virtual repository's lists are its members' together, a remote member's asked of its upstream (JFrog
"Virtual Repositories"; renovatebot/renovate#20745: a path-based virtual with Docker Hub behind it
lists openjdk's 10,000+ tags): the facade counts them as walks. A manifest a virtual has in no member
but a remote's upstream is pulled there (a walk too).
From Artifactory's own source (6.20, the open-source edition): Get Repositories gives a remote's url as
its upstream's and lists only the repositories the caller may read (RepositoriesResource,
addRemoteRepoDetails: userHasPermissionsOnRepositoryRoot, remoteRepo.getUrl()); a File List without
the Pro add-on is a 400 in plain text (MissingRestAddonException); a path that is not there is a 404
"Unable to find item" (ArtifactResource); a user who may read part of a virtual repository gets its
configuration's public part from GET /api/repositories/<key> (PublicVirtualRepoConfig: key, rclass,
packageType, description, repositories: its members' keys).
"""

from __future__ import annotations

import pytest

from tcs_registry.oci import INDEX_TYPES
from tcs_registry.testing.datasets import Expected, push_index, push_tags
from tcs_registry.testing.facade import Facade, Request, StoredRegistry, json_answer, text_answer
from tcs_registry.testing.fixtures import seed, serving
from tcs_registry.testing.images import Pusher, make_layer
from tcs_registry.testing.vulnerable import push_debian9

USERS = {"deployer": "Passw0rd!", "ci": "identity-token-for-ci"}
ACCESS_TOKEN = "eyJ2ZXIiOiIyIn0.access-token"
TOKEN_USER = "ci"  # the user the access token was made for
# API keys of the user deployer: of a recent version (jfrog-client-go's IsApiKey: "AKCp8", 73 characters at
# least) and an older one (AKCp5: trufflesecurity/trufflehog#4710, gitleaks/gitleaks#1906)
API_KEYS = ("AKCp8" + "k" * 68, "AKCp5" + "q" * 68)
API_KEY_USER = "deployer"
JFROG = {"X-JFrog-Version": "Artifactory/7.90.10 79010900", "X-Artifactory-Id": "8a1b2c3d4e5f"}
REPOSITORIES = [
    ("docker-local", "LOCAL"),
    ("docker-remote", "REMOTE"),
    ("docker", "VIRTUAL"),
    ("docker-fed", "FEDERATED"),
    ("docker-internal", "VIRTUAL"),
    ("docker-all", "VIRTUAL"),
]
# each virtual repository's members, in their resolution order (locals first, as JFrog advises)
VIRTUALS = {
    "docker": ["docker-local", "docker-fed", "docker-remote"],  # what Set Me Up gives, Docker Hub behind it
    "docker-internal": ["docker-local", "docker-fed"],
    "docker-all": ["docker-internal", "docker"],  # a virtual of virtuals
}
# repositories of other package types: Get Repositories leaves them out of ?packageType=docker, since
# 6.2.0 ("packageType option was introduced in version 6.2.0": older servers ignore it and list them all)
OTHER_REPOSITORIES = [("libs-release-local", "LOCAL", "Maven"), ("npm-remote", "REMOTE", "Npm")]
CACHED = {"docker-remote/library/busybox"}  # what the remote's cache holds; library/nginx is upstream only


def rest_error(status: int, message: str):
    """An error of Artifactory's REST API, as its resources answer one (ErrorResponse: errors, status, message)."""
    return json_answer({"errors": [{"status": status, "message": message}]}, status, JFROG)


def seed_artifactory(pusher: Pusher) -> list[Expected]:
    base = [make_layer({"etc/os-release": b"ID=artifactory-test\n"})]
    expected = [
        *push_tags(
            pusher, "docker-local/app", [("1.0", "2024-08-01T00:00:00Z"), ("1.1", "2024-08-02T00:00:00Z")], base
        ),
        *push_tags(pusher, "docker-local/team/svc", [("v1", "2024-08-03T00:00:00Z")], base, docker=True),
        push_index(pusher, "docker-local/multi", "2.0", [("amd64", "2024-08-04T00:00:00Z")], base),
        push_debian9(pusher, "docker-local/debian9"),
        *push_tags(pusher, "docker-remote/library/busybox", [("1.36", "2023-05-19T00:00:00Z")], base),
        *push_tags(pusher, "docker-fed/tool", [("2", "2024-08-05T00:00:00Z")], base),
    ]
    pusher.image("docker-remote/library/nginx", "1.27", created="2024-08-06T00:00:00Z", layers=base)  # upstream
    return expected


class ArtifactoryFacade(Facade):
    catalog_max = 1000  # tests lower it so a small repository spans pages
    file_list_refused = False  # tests: an account that may not list a remote's cache (a 403)
    file_list_pro_only = False  # tests: an edition without the REST add-on File List belongs to
    repositories_refused = False  # tests: a caller Get Repositories refuses (a 403)
    package_type_filter = True  # tests: False for a server before 6.2.0, which lists every package type
    # tests: repositories the account may read only below their root (a permission target's include pattern):
    # Get Repositories leaves them out (RepositoriesResource: userHasPermissionsOnRepositoryRoot)
    below_root: frozenset[str] = frozenset()
    blacked_out: frozenset[str] = frozenset()  # tests: remote repositories blacked out (storage answers 404)

    def __init__(self, upstream: str, stored: StoredRegistry) -> None:
        super().__init__(upstream, name="artifactory")
        self.stored = stored
        self.file_lists: list[str] = []  # the folders of a cache listed (tests: the whole cache is "")
        self.upstream_walks: list[str] = []  # lists of a remote repository, which would ask its upstream
        self.route("GET", "/artifactory/api/system/ping")(lambda request: text_answer("OK", headers=JFROG))
        self.route("GET", "/artifactory/api/repositories")(self.repositories)
        self.route("GET", "/artifactory/api/repositories/(?P<key>[^/]+)")(self.configuration)
        self.route("GET", "/artifactory/api/storage/(?P<key>[^/]+)/(?P<folder>.*)")(self.file_list)
        self.route("GET", "/artifactory/api/storage/(?P<key>[^/]+)")(self.folder_info)
        self.route("GET", "/artifactory/api/docker/(?P<key>[^/]+)/v2/token")(self.token)
        self.route("GET", "/artifactory/api/docker/(?P<key>[^/]+)/v2/_catalog")(self.catalog)
        self.route("GET", "/artifactory/api/docker/(?P<key>[^/]+)/v2/(?P<rest>.*)")(self.v2)
        self.route("GET", "/v2/")(lambda request: self._challenge("docker"))

    def _user(self, request: Request) -> str | None:
        basic = request.basic()
        if basic and (USERS.get(basic[0]) == basic[1] or (basic == (TOKEN_USER, ACCESS_TOKEN))):
            return basic[0]
        # an API key as a Basic password: its own user's, whatever user name comes with it as long as it
        # is that one or blank (PasswordDecryptingManager.authenticate, PropsAuthenticationProvider). That is
        # the REST API's way in; the Docker API's is in a closed add-on: taken to be the same [unsourced]
        if basic and basic[1] in API_KEYS and basic[0] in ("", API_KEY_USER):
            return API_KEY_USER
        if request.headers.get("X-JFrog-Art-Api") in API_KEYS:  # (AuthenticationFilterUtils)
            return API_KEY_USER
        bearer = request.bearer()
        if bearer == ACCESS_TOKEN:  # (an API key is no access token: as a Bearer token it is refused)
            return TOKEN_USER
        return self.tokens.get(bearer or "")

    def _challenge(self, key: str):
        challenge = f'Bearer realm="{self.url}/artifactory/api/docker/{key}/v2/token",service="{self.host}"'
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        return json_answer(body, 401, {**JFROG, "WWW-Authenticate": challenge})

    def token(self, request: Request, key: str):
        basic = request.basic()
        if basic and not self._user(request):
            return json_answer({"errors": [{"code": "UNAUTHORIZED", "message": "Bad credentials"}]}, 401, JFROG)
        return json_answer({"token": self.issue_token(self._user(request) or "" if basic else "")}, headers=JFROG)

    def repositories(self, request: Request):
        if not self._user(request):
            return rest_error(401, "Bad credentials")
        if self.repositories_refused:
            return rest_error(403, "Forbidden")
        wanted = request.arg("packageType") if self.package_type_filter else None
        every = [(key, kind, "Docker") for key, kind in REPOSITORIES] + OTHER_REPOSITORIES
        return json_answer(
            [
                {"key": key, "type": kind, "url": self._url(key, kind), "packageType": package}
                for key, kind, package in every
                if wanted in (None, package.lower()) and key not in self.below_root
            ],
            headers=JFROG,
        )

    def configuration(self, request: Request, key: str):
        """What a user who is not an admin gets of a repository's configuration: a virtual one's public
        part (PublicVirtualRepoConfig); for the others, the fields the docs' sample begins with."""
        if not self._user(request):
            return rest_error(401, "Bad credentials")
        kind = dict(REPOSITORIES).get(key)
        if kind is None:  # [? the status for a key that is not there is not documented]
            return rest_error(404, "Not Found")
        config = {"key": key, "rclass": kind.lower(), "packageType": "docker", "description": ""}
        return json_answer({**config, "repositories": VIRTUALS[key]} if key in VIRTUALS else config, headers=JFROG)

    def _url(self, key: str, kind: str) -> str:
        return "https://registry-1.docker.io/" if kind == "REMOTE" else f"{self.url}/artifactory/{key}"

    def folder_info(self, request: Request, key: str):
        """Folder Info of a repository's root: only a remote has a `<key>-cache`."""
        if not self._user(request):
            return rest_error(401, "Bad credentials")
        blacked_out = key.removesuffix("-cache") in self.blacked_out  # (ArtifactResource: a 404 as well)
        if blacked_out or (
            not (key.endswith("-cache") and self._remote(key.removesuffix("-cache"))) and key not in dict(REPOSITORIES)
        ):
            return rest_error(404, "Unable to find item")
        uri = f"{self.url}/artifactory/api/storage/{key}"
        return json_answer({"repo": key, "path": "/", "uri": uri, "children": []}, headers=JFROG)

    def _members(self, key: str) -> list[str]:
        """The repositories a key stands for, in resolution order: a virtual one's members, their members'..."""
        return [m for member in VIRTUALS[key] for m in self._members(member)] if key in VIRTUALS else [key]

    def _images(self, key: str) -> list[str]:
        # a virtual repository's catalog is its members' (a remote's: its upstream's)
        keys = self._members(key)
        return sorted({r.split("/", 1)[1] for r in self.stored.repositories() if r.split("/", 1)[0] in keys})

    def _remote(self, key: str) -> bool:
        return dict(REPOSITORIES).get(key) == "REMOTE"

    def _upstream_behind(self, key: str) -> bool:
        """Its lists ask an upstream registry: a remote repository, or a virtual one with one among its members."""
        return any(self._remote(m) for m in self._members(key))

    def file_list(self, request: Request, key: str, folder: str):
        """Every file below the folder, each uri relative to it (JFrog "File List": the listing of
        /libs-release-local/org/acme gives "/doc.txt"); a folder that is not there: ArtifactResource's 404."""
        if not self._user(request):
            return rest_error(401, "Bad credentials")
        if self.file_list_refused:
            return rest_error(403, "Forbidden")
        if self.file_list_pro_only:
            return text_answer(
                "This REST API is available only in Artifactory Pro (see: jfrog.com/artifactory/features). If you "
                "are already running Artifactory Pro please make sure your server is activated with a valid "
                "license key.\n",
                400,
            )
        # (stricter than Artifactory, on purpose: anything but the deep listing of a cache is not ours to ask)
        if "list" not in request.query or request.arg("deep") != "1" or not key.endswith("-cache"):
            return rest_error(404, "Not Found")
        if key.removesuffix("-cache") in self.blacked_out:
            return rest_error(404, "Not Found")
        remote = key.removesuffix("-cache")
        files = []
        for repository in sorted(CACHED):
            if repository.startswith(f"{remote}/"):
                image = repository.split("/", 1)[1]
                for tag, digest in self.stored.tags(repository).items():
                    manifest, _ = self.upstream_manifest(repository, digest)
                    name = "list.manifest.json" if manifest.get("mediaType") in INDEX_TYPES else "manifest.json"
                    files.append({"uri": f"/{image}/{tag}/{name}", "size": "1024", "folder": False})
                files.append({"uri": f"/{image}/sha256__{'0' * 64}/manifest.json", "size": "1024", "folder": False})
        below = f"/{folder.strip('/')}" if folder.strip("/") else ""
        files = [{**f, "uri": f["uri"][len(below) :]} for f in files if f["uri"].startswith(f"{below}/")]
        if below and not files:
            return rest_error(404, "Unable to find item")
        self.file_lists.append(below)
        uri = f"{self.url}/artifactory/api/storage/{key}{below}"
        return json_answer({"uri": uri, "created": "2024-08-01T00:00:00.000Z", "files": files}, headers=JFROG)

    def catalog(self, request: Request, key: str):
        if not self._user(request):
            return self._challenge(key)
        if self._upstream_behind(key):
            self.upstream_walks.append(request.target)
        n = min(int(request.arg("n", "100")), self.catalog_max)
        last = request.arg("last", "")
        remaining = [name for name in self._images(key) if name > last]
        headers = dict(JFROG)
        if len(remaining) > n:
            headers["Link"] = f'</v2/_catalog?last={remaining[n - 1]}&n={n}>; rel="next"'
        return json_answer({"repositories": remaining[:n]}, headers=headers)

    def v2(self, request: Request, key: str, rest: str):
        if not self._user(request):
            return self._challenge(key)
        if not rest:
            return json_answer({}, headers=JFROG)
        member = self._member(key, rest)
        listing = rest.endswith("/tags/list")
        if self._remote(member) and (listing or f"{member}/{self._image(rest)}" not in CACHED):
            self.upstream_walks.append(request.target)  # a remote's list, or a pull of what it has not cached
        status, headers, body = self.forward(request, f"/v2/{member}/{rest}")
        return status, {**headers, **JFROG}, body

    @staticmethod
    def _image(rest: str) -> str:
        return rest.removesuffix("/tags/list") if rest.endswith("/tags/list") else rest.rsplit("/", 2)[0]

    def _member(self, key: str, rest: str) -> str:
        """The repository that serves ``rest`` under ``key``: a virtual one's first member holding the
        image (JFrog's "Virtual Repositories": resolution in the order of its repositories, locals first;
        a remote's cache, then its upstream), else the key itself."""
        if key not in VIRTUALS:
            return key
        image = self._image(rest)
        members = self._members(key)
        cached = next((m for m in members if f"{m}/{image}" in CACHED), None)
        local = next((m for m in members if not self._remote(m) and f"{m}/{image}" in self.stored.repositories()), None)
        upstream = next((m for m in members if self._remote(m) and f"{m}/{image}" in self.stored.repositories()), None)
        if rest.endswith("/tags/list") and upstream:  # the member lists together, a remote's from its upstream
            return upstream if local is None else local  # (no image here is in both)
        return local or cached or upstream or key


@pytest.fixture(scope="session")
def artifactory_seeded(work):
    return seed(work, "artifactory", seed_artifactory)


@pytest.fixture(scope="session")
def artifactory(artifactory_seeded, work):
    with serving(artifactory_seeded, work, ArtifactoryFacade) as facade:
        yield facade


@pytest.fixture
def artifactory_expected(artifactory_seeded):
    return artifactory_seeded.expected


class SubdomainFacade(Facade):
    """One repository (docker-local) served at a host's root by the subdomain method
    (``dockerReverseProxyMethod=SUBDOMAIN``): /v2/ there, no Artifactory API."""

    def __init__(self, upstream: str, stored: StoredRegistry) -> None:
        super().__init__(upstream, name="artifactory-subdomain")
        self.stored = stored
        self.route("GET", "/v2/_catalog")(self.catalog)
        self.route("GET", "/v2/(?P<rest>.*)")(self.v2)

    def _denied(self, request: Request):
        if USERS.get((request.basic() or ("", ""))[0]) == (request.basic() or ("", ""))[1]:
            return None
        challenge = 'Basic realm="Artifactory Realm"'
        return json_answer({"errors": [{"code": "UNAUTHORIZED"}]}, 401, {**JFROG, "WWW-Authenticate": challenge})

    def catalog(self, request: Request):
        names = sorted(r.split("/", 1)[1] for r in self.stored.repositories() if r.startswith("docker-local/"))
        return self._denied(request) or json_answer({"repositories": names}, headers=JFROG)

    def v2(self, request: Request, rest: str):
        if denied := self._denied(request):
            return denied
        if not rest:
            return json_answer({}, headers=JFROG)
        status, headers, body = self.forward(request, f"/v2/docker-local/{rest}")
        return status, {**headers, **JFROG}, body


@pytest.fixture(scope="session")
def artifactory_subdomain(artifactory, artifactory_seeded):
    with SubdomainFacade(artifactory.upstream, StoredRegistry(artifactory_seeded.storage)) as facade:
        yield facade
