"""Artifactory: Docker repositories by key, each under /artifactory/api/docker/<key>/v2/."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from tcs_registry import Credentials, Registry, RegistryError, UsageError
from tcs_registry.http import RoutedRegistryClient, json_field, json_list
from tcs_registry.report import plural

DOCKER_API = "/artifactory/api/docker/{key}"
LISTED_TYPES = ("LOCAL", "FEDERATED")  # what lists come from directly
MANIFESTS = ("manifest.json", "list.manifest.json")  # a tag's folder in Artifactory's Docker layout
log = logging.getLogger("tcs_registry.artifactory")
API_KEY_FORM = re.compile(r"AKCp[0-9][A-Za-z0-9]{68,}")
# The URLs Artifactory gives for a repository and an image, its UI's, and the repository path method's:
# /artifactory/api/docker/<key>[/v2/<image>], /ui/repos/tree/General/<key>[/<image>], /artifactory/<key>[/<image>],
# /<key>[/<image>]
# /v2/<key>[/<image>] (what `docker pull <host>/<key>/<image>` asks, the repository path method:
# Artifactory's DockerInternalRewrite)
_PATH = re.compile(
    r"^(?:/artifactory/api/docker/(?P<api>[^/]+)(?:/v2)?|(?:/ui|/artifactory/webapp/#)/repos/tree/\w+/(?P<ui>[^/]+)"
    r"|/artifactory/(?P<web>[^/]+)|/v2/(?P<v2>[^/]+)|/(?P<key>[^/]+))"
)


@dataclass(frozen=True)
class Target:
    keys: list[str]  # repository keys named in the URL; empty: every one the account sees
    image: str | None = None  # an image named in the URL


def target(path: str) -> Target:
    path = path.rstrip("/")
    if path in ("", "/artifactory", "/artifactory/api/docker", "/ui", "/artifactory/webapp"):
        return Target([])
    match = _PATH.match(path)
    if not match:
        raise UsageError(
            f"cannot tell the Docker repository from the URL path {path!r}: "
            "use https://<host>/artifactory/api/docker/<repo-key> or https://<host>/<repo-key>"
        )
    key = next(k for k in match.group("api", "ui", "web", "v2", "key") if k)
    image = path[match.end() :].strip("/")
    named = image or key  # (`docker pull`'s reference pasted whole: a tag is in no key's or image's name)
    if ":" in named:
        tag = named.rpartition(":")[2]
        raise UsageError(
            f"the URL path names {named!r}, with its tag: a URL names a repository or an image (every tag of"
            f" it); for one tag, name the image alone and add --allowList='*:{tag}'"
        )
    return Target([key], image.lower() or None)


def repository_urls(listed: list[Any]) -> list[tuple[str, str]]:
    """(key, URL) of each repository Get Repositories lists. A remote's url is its upstream's
    (Artifactory's RepositoriesResource, addRemoteRepoDetails): it is taken to be on the instance's own
    host, the one the others' URLs name."""
    remote = {str(r["key"]) for r in listed if str(r.get("type", "")).upper() == "REMOTE"}
    urls = {str(r["key"]): str(r.get("url") or "") for r in listed}
    own = next((url for key, url in urls.items() if key not in remote), "")
    return [(key, own if key in remote else url) for key, url in urls.items()]


def is_api_key(secret: str) -> bool:
    """An Artifactory API key: "AKCp", a digit, 68 letters and digits or more (jfrog-client-go's IsApiKey
    knows the AKCp8 keys of recent versions only; older ones begin AKCp2 or AKCp5). Access tokens are
    JWTs (eyJ...), reference and identity tokens cmVmdGtu..."""
    return bool(API_KEY_FORM.fullmatch(secret))


class ArtifactoryClient(RoutedRegistryClient):
    route = DOCKER_API
    # Artifactory's next links leave out the /artifactory/api/docker/<key> prefix (and, for virtual
    # repositories, the key: JFrog RTFACT-18971): only their query is followed.
    link_paths_are_right = False

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        self.target = target(registry.path)
        super().__init__(replace(registry, path=""), credentials, list(self.target.keys), **kwargs)
        # an access token alone is sent as a Bearer token; with a user name it is a Basic password, as an API
        # key always is (Artifactory takes one with its own user name or none; as a Bearer token, never)
        alone = credentials.password if credentials.password and not credentials.username else None
        self.access_token = alone if alone and not is_api_key(alone) else None
        self.remotes: set[str] = set()  # remote repositories: listed from their caches, never upstream
        self._cached: dict[str, list[str]] = {}  # <remote>/<image> -> the tags its cache holds

    def describes_left_out(self, repository: str) -> bool:
        """Not a remote's images the patterns leave out: what its cache lacks (a platform never pulled, a
        tag whose metadata expired) Artifactory fetches from the upstream registry, a pull there."""
        return repository.partition("/")[0] not in self.remotes

    def _authorization(self, scope: str | None, *, fresh: bool) -> str | None:
        if self.access_token:
            return f"Bearer {self.access_token}"
        return super()._authorization(scope, fresh=fresh)

    def api_auth(self) -> Any:
        return None if self.access_token else super().api_auth()

    def _rest(self, path: str, what: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        return self.api_json(path, what, params=params, headers=headers, auth=self.api_auth())

    def docker_repositories(self) -> list[str]:
        """Keys to list: the URL's, else every local and federated one. Remote repositories are listed
        from their caches: their own lists would ask the upstream registry (JFrog "List Docker
        Repositories"), virtual ones only repeat the others."""
        what = "Artifactory Docker repositories"
        listed = json_list(self._rest("/artifactory/api/repositories", what, packageType="docker"), what)
        # (a server before 6.2.0 ignores packageType and lists every repository, each saying its type)
        listed = [
            r for r in listed if not isinstance(r, dict) or str(r.get("packageType", "docker")).lower() == "docker"
        ]
        kinds = {json_field(r, "key", what): str(r.get("type", "")).upper() for r in listed}
        self.remotes = {key for key, kind in kinds.items() if kind == "REMOTE"}
        if not self.keys and (key := self.subdomain_key(repository_urls(listed))):
            self.keys, self.at_root = [key], True  # this host is the repository's own (the subdomain method)
        if self.keys:
            if self.keys[0] not in kinds:  # the list has only what the account may read at a repository's root
                self._remote_or_not(self.keys[0])
            elif kinds[self.keys[0]] == "VIRTUAL":
                self._virtual(self.keys[0], kinds)
            return self.keys
        self.keys = [key for key, kind in kinds.items() if kind in LISTED_TYPES or kind == "REMOTE"]
        if not self.keys:
            raise RegistryError(
                "no Docker repository is visible to this account (OCI repositories, package type oci, are not read)"
            )
        return self.keys

    def _virtual(self, key: str, kinds: dict[str, str]) -> None:
        """A virtual repository named in the URL is read through it, unless a remote one is among its members:
        its lists would ask that remote's upstream registry (JFrog "Virtual Repositories"), a walk of Docker
        Hub, say. Its members are then read instead, each under its own key, the remote ones from their caches."""
        try:
            members, unreadable = self._members(key, kinds, {key})
        except RegistryError as exc:
            log.warning(
                "Cannot tell the members of the virtual repository %s (%s): if one is remote, its lists ask its "
                "upstream registry", key, exc,
            )  # fmt: skip
            return
        for member in unreadable:  # (not listed: read below its root at most, and maybe a remote all the same)
            self._remote_or_not(member)
        members += [m for m in unreadable if m in self.remotes]
        unreadable = [m for m in unreadable if m not in self.remotes]
        remote = [m for m in members if m in self.remotes]
        if remote:
            self.keys = members
            but = f"; not {', '.join(unreadable)}, which this account may not read" if unreadable else ""
            log.warning(
                "%s is a virtual repository whose lists would ask the upstream registries of its remote members "
                "(%s): its members are read instead, each under its own key: %s%s",
                key, ", ".join(remote), ", ".join(members), but,
            )  # fmt: skip

    def _members(self, key: str, kinds: dict[str, str], seen: set[str]) -> tuple[list[str], list[str]]:
        """The repositories a virtual one stands for (its members', virtual ones opened in turn), from its
        configuration's public part, and those of them the account may not read (not in its list)."""
        what = f"configuration of {key}"
        config = self._rest(f"/artifactory/api/repositories/{quote(key)}", what)
        members: list[str] = []
        unreadable: list[str] = []
        for name in json_list(config.get("repositories") if isinstance(config, dict) else None, what):
            if (name := str(name)) in seen:
                continue
            seen.add(name)
            if kinds.get(name) == "VIRTUAL":
                more, hidden = self._members(name, kinds, seen)
                members, unreadable = members + more, unreadable + hidden
            else:
                (members if name in kinds else unreadable).append(name)
        return members, unreadable

    def login(self) -> None:
        try:
            self.docker_repositories()
        except RegistryError as exc:
            if self.keys:  # the URL named the key: whether it is a remote one is asked of its cache
                log.debug("Artifactory's repository list is not readable: %s", exc)
                self._remote_or_not(self.keys[0])
            elif exc.status == 404:
                self.at_root = True  # no Artifactory API here: a subdomain serving one repository at /v2/
            else:
                raise
        self.ping("" if self.at_root else self.base(self.keys[0]))

    def _remote_or_not(self, key: str) -> None:
        """Whether a key the URL names is a remote repository, when the repository list cannot tell: only
        a remote has a `<key>-cache` (its folder's info answers 200; 404 for any other key)."""
        what = f"cache of {key}"
        try:
            self._rest(f"/artifactory/api/storage/{quote(key)}-cache", what)
        except RegistryError as exc:
            if exc.status not in (401, 404):  # (401: the run's own credentials are refused, and it says so)
                log.warning(
                    "Cannot tell whether %s is a remote repository (%s): if it is, its lists ask its upstream "
                    "registry", key, exc,
                )  # fmt: skip
            return
        self.remotes.add(key)

    def repositories(self) -> Iterable[str] | None:
        if self.at_root:
            return None  # plain V2 at the root
        if self.target.image:
            return self._repositories(self._named)
        return self._repositories(lambda key: self._cache(key) if key in self.remotes else self.catalog(key))

    def _named(self, key: str) -> Iterator[str]:
        """The image the URL names, in one repository: a remote's as its cache holds it, if it does (never
        upstream); another's as it is (a repository without it lists no tags for it)."""
        image = f"{key}/{self.target.image}"
        if key not in self.remotes:
            yield image
        elif cached := [name for name in self._cache(key, self.target.image) if name == image]:
            yield from cached
        elif len(self.keys) == 1:  # (a virtual repository's remote member may well not have it: no news)
            log.warning("The remote repository's cache holds no %s: its upstream is not asked", image)

    def _repositories(self, listing: Callable[[str], Iterable[str]]) -> Iterator[str]:
        """Each repository's images (``listing``), one that cannot be listed leaving the others listed."""
        failed: dict[str, RegistryError] = {}
        for key in self.keys:
            try:
                yield from listing(key)
            except RegistryError as exc:  # one repository that cannot be listed leaves the others listed
                log.error("Listing the Docker repository %s failed error=%s", key, exc)
                failed[key] = exc
        if failed:  # the run ends partial, having done everything listed
            first = next(iter(failed.values()))
            which = ", ".join(failed)
            raise type(first)(
                f"could not list {len(failed)} of {len(self.keys)} Docker repositories ({which}): {first}",
                first.status,
                code=first.code,
            )

    def _cache(self, key: str, folder: str = "") -> Iterator[str]:
        """The images a remote repository's cache holds (below ``folder``: one image's), their tags kept
        for `tags`."""
        images = self._cached_images(key, folder)
        log.info("Listing the remote repository %s from its cache: %s", key, plural(len(images), "image"))
        self._cached.update(images)
        yield from sorted(images)

    def _cached_images(self, key: str, folder: str = "") -> dict[str, list[str]]:
        """The images and tags a remote repository's cache holds (below ``folder``), from Artifactory's
        storage (File List, each file's uri relative to the folder), in the Docker layout
        <image>/<tag>/manifest.json (list.manifest.json for an index)."""
        what = f"cache of the remote repository {key}"
        try:
            listing = self._rest(
                f"/artifactory/api/storage/{quote(key)}-cache/{quote(folder)}?list&deep=1&listFolders=0", what
            )
        except RegistryError as exc:
            if not folder or exc.status != 404:
                raise
            # no such folder, or no cache to look in (a 404 too: ArtifactResource, a blacked-out repository):
            self._rest(f"/artifactory/api/storage/{quote(key)}-cache", what)  # the cache is there: not cached
            return {}
        files = listing.get("files") if isinstance(listing, dict) else None
        images: dict[str, list[str]] = {}
        for entry in json_list(files, what):
            uri = f"{folder}/{str(json_field(entry, 'uri', what)).strip('/')}"
            *image, tag, name = ["", "", *uri.strip("/").split("/")]
            if name in MANIFESTS and any(image) and not tag.startswith("sha256__"):  # by digest: not a tag
                tags = images.setdefault(f"{key}/{'/'.join(p for p in image if p)}", [])
                if tag not in tags:  # manifest.json and list.manifest.json in one folder: one tag
                    tags.append(tag)
        return images

    def still_listed(self, repository: str, tag: str) -> bool:
        """A remote's image as its cache holds it (its own tags list would ask the upstream registry)."""
        key, _, image = repository.partition("/")
        if self.at_root or key not in self.remotes or not image:
            return super().still_listed(repository, tag)
        return tag in self._cached_images(key, image).get(repository, ())

    def tags(self, repository: str) -> list[str] | None:
        if repository in self._cached:
            return self._cached.pop(repository)
        return None  # plain V2 tags/list under the key
