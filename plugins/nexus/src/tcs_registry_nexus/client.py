"""Nexus 3: Docker repositories under /repository/<name>/v2/ and the REST API /service/rest/v1."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlencode

from tcs_registry import AuthError, Credentials, ImageDescription, Registry, RegistryError, oci
from tcs_registry.default_plugins.v2 import describe
from tcs_registry.http import RoutedRegistryClient, json_field, json_list
from tcs_registry.oci import parse_time

REST = "/service/rest/v1"
SEARCH_HITS = 10_000  # the search answers an empty last page past this many hits (ElasticSearchQueryServiceImpl)
log = logging.getLogger("tcs_registry.nexus")
# [/<context path>][/repository/<name>]: Nexus may run under a context path (nexus-context-path=/nexus)
_PATH = re.compile(r"^(?P<context>(?:/(?!repository/)[^/]+)*?)(?:/repository/(?P<name>[^/]+))?/?$")
BROWSE_HINT = (
    "Nexus lists only the repositories an account may browse (nx-repository-view-docker-<name>-browse); "
    "with read rights alone, name the repository in the URL (https://<host>/repository/<name>)"
)


class NexusClient(RoutedRegistryClient):
    route = "/repository/{key}"
    # every manifest and blob read marks its asset downloaded (LastDownloadedHandler), which "last
    # downloaded" cleanup policies read: a dry run does not describe the images the patterns leave out
    describe_skipped = False

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        match = _PATH.match(registry.path)
        if not match:
            raise RegistryError(
                f"cannot tell the Docker repository from the URL path {registry.path!r}: "
                "use https://<host>[/<context>]/repository/<name> or the repository's connector port"
            )
        name = match.group("name")
        super().__init__(replace(registry, path=match.group("context")), credentials, [name] if name else [], **kwargs)
        self.named = bool(name)  # the URL names the one repository to read
        self.unavailable: list[str] = []  # repositories that answered 503 (set offline, or out of order)
        # each Docker repository's type, hosted, proxy or group, as far as the account may see: a proxy's
        # blob times are when it cached the image, its V2 tag list the upstream's; a group's merges them
        self.kinds: dict[str, str] = {}

    @property
    def link_paths_are_right(self) -> bool:  # type: ignore[override]
        # A connector port's next links wrongly carry /repository/<name>/ (sonatype/nexus-public#1011).
        return not self.at_root

    def _rest(self, path: str, what: str, **params: Any) -> Any:
        return self.api_json(REST + path, what, params=params, auth=self.api_auth())

    def find_repositories(self) -> None:
        """The Docker repositories of the instance (groups left out: they repeat their members), or
        connector mode when there is no REST API."""
        what = "Nexus repositories"
        try:
            listed = json_list(self._rest("/repositories", what), what)
        except RegistryError as exc:
            if self.keys:  # named in the URL: its kind is asked of it alone
                log.debug("Nexus's repository list is not readable: %s", exc)
                self._named_kind(self.keys[0])
                return
            if exc.status not in (400, 404):
                raise
            self.at_root = True
            return
        docker = [r for r in listed if isinstance(r, dict) and r.get("format") == "docker"]
        self.kinds = kinds = {json_field(r, "name", what): str(r.get("type")) for r in docker}
        for key in self.keys:  # named in the URL, and not among those the account may browse
            if key not in kinds:
                self._named_kind(key)
        urls = [(str(r["name"]), str(r.get("url") or "")) for r in docker]
        if not self.keys and (key := self.subdomain_key(urls)):
            self.keys = [key]  # a subdomain connector's host: that repository (path routing works there too)
        if not self.keys:  # groups repeat their members: listed only when no member is visible
            self.keys = [n for n, kind in kinds.items() if kind != "group"] or [n for n in kinds]
        if not self.keys:
            raise RegistryError(f"no Docker repository is visible to this account: {BROWSE_HINT}")

    def _named_kind(self, key: str) -> None:
        """The kind of a repository the URL names that the account may read but not browse: Nexus gives a
        repository's own entry to read rights too (RepositoriesResource.getRepository, getReadableRepository;
        since 3.38, and a 404 before). A proxy or a group is refused: its V2 tag list is the upstream
        registry's (sonatype/nexus-public#1011; a group's merges its proxies'), every tag of which read
        through it would be fetched there, and what it holds is listed by the search, which shows an account
        nothing without browse rights."""
        try:
            entry = self._rest(f"/repositories/{quote(key, safe='')}", f"Nexus repository {key}")
        except RegistryError as exc:  # (a Nexus before 3.38: 404)
            log.warning(
                "Nexus does not say what kind of repository %s is (%s): if it is a proxy or a group, its tags are"
                " the upstream registry's, each fetched into Nexus as it is read; an account that may browse it"
                " lists what it holds",
                key, exc,
            )  # fmt: skip
            return
        entry = entry if isinstance(entry, dict) else {}
        if entry.get("format") != "docker":
            raise RegistryError(
                f"Nexus repository {key} is not a Docker repository (its format: {entry.get('format')})"
            )
        kind = str(entry.get("type") or "")
        if kind in ("proxy", "group"):
            upstream = (
                "the upstream registry's" if kind == "proxy" else "its members' merged, proxies' upstream ones too"
            )
            raise AuthError(
                f"{key} is a {kind} repository this account may pull from but not browse: its V2 tag list is"
                f" {upstream}, not what it holds, which only Nexus's search lists, for accounts that may browse it"
                f" (nx-repository-view-docker-{key}-browse)"
            )
        if kind:
            self.kinds[key] = kind

    def login(self) -> None:
        self.find_repositories()
        if self.at_root:
            self.ping("")
            return
        for key in list(self.keys):  # the first repository that answers (one set offline does not)
            try:
                self.ping(self.base(key))
                return
            except RegistryError as exc:
                if not self._unavailable(key, exc):
                    raise

    def repositories(self) -> Iterable[str] | None:
        if self.at_root:
            return None  # a connector port: plain V2 at the root
        return self._catalogs()

    def _catalogs(self) -> Iterator[str]:
        """Each repository's images; one that answers 503 is left, the others listed, and the listing
        then ends with its error (the run is partial: a 503 may be an outage as well as an offline one)."""
        for key in list(self.keys):
            listed = False
            try:
                for name in self.catalog(key):
                    listed = True
                    yield name
            except RegistryError as exc:
                if listed or not self._unavailable(key, exc):
                    raise
        if self.unavailable:
            keys = ", ".join(self.unavailable)
            raise RegistryError(
                f"Nexus answered 503 for {keys}, left unread (a repository set offline answers so; name the "
                "repositories to read in the URL: https://<host>/repository/<name>)",
                503,
            )

    def _unavailable(self, key: str, exc: RegistryError) -> bool:
        """Whether ``key`` is left unread for now: a repository that answers 503 (as Nexus answers for one
        set offline, which its repository list still names: ViewServlet), when the URL did not name it
        and another is left to read."""
        if exc.status != 503 or self.named or len(self.keys) < 2:
            return False
        self.keys.remove(key)
        self.unavailable.append(key)
        return True

    def tags(self, repository: str) -> list[str] | None:
        return None if self.at_root else self._search_tags(repository)

    def describe(self, repository: str, tag: str) -> ImageDescription | None:
        """A proxy's tag (a group's, held by a proxy member alone) by the digest the search found: by tag,
        a proxy whose metadata has aged asks the upstream registry whether the tag moved, and fetches what
        it finds (ProxyFacetSupport.isStale), not what it holds. Others by tag: a hosted repository's (the
        search may lag behind a push), one of a kind unknown, a group's tag that several members hold
        (the group serves its first member's in its own order, which the search does not follow)."""
        if self.at_root:
            return None
        manifest, member = self.listed.pop((repository, tag)) or ({}, "")
        checksum = manifest.get("checksum")
        sha256 = str(checksum.get("sha256") or "") if isinstance(checksum, dict) else ""
        digest = f"sha256:{sha256}"
        by_digest = self.kinds.get(member) == "proxy" and oci.is_digest(digest)
        described = describe(self, repository, tag, digest if by_digest else None)
        return replace(described, push_time=self._pushed(manifest, member))

    def _search_tags(self, repository: str) -> list[str]:
        """Tags of ``<key>/<image>``. The search API gives each tag's manifest asset (kept for describe: its
        push time), and the tags a proxy repository holds; a hosted repository's own V2 tag list is read
        too and is the one listed: the search index lags behind pushes and stops at SEARCH_HITS hits."""
        key, _, image = repository.partition("/")
        url = f"{REST}/search?" + urlencode({"repository": key, "format": "docker", "name": image})
        components = self.paginate(
            url,
            "items",
            size_param=None,
            next_key="continuationToken",
            cursor_param="continuationToken",
            what=f"Nexus search for {repository}",
            auth=self.api_auth(),
        )
        found: dict[str, str] = {}  # tag: its member, in the search's order (a group's members may hold it each)
        hits = 0
        for component in components:
            hits += 1
            version = component.get("version") if isinstance(component, dict) else None
            # manifests pushed by digest (an index's platforms) show as sha256:... versions: not tags
            if not isinstance(version, str) or version.startswith("sha256:") or component.get("name") != image:
                continue
            member = str(component.get("repository") or key)  # a group's hits name the member holding them
            if version not in found:
                assets = [a for a in component.get("assets") or () if isinstance(a, dict)]
                manifest = next((a for a in assets if "/manifests/" in str(a.get("path") or "")), {})
                self.listed.put((repository, version), (manifest, member))
                found[version] = member
            elif found[version] != member:  # held by two members: which the group serves, it alone knows
                self.listed.put((repository, version), ({}, ""))
        kind = self.kinds.get(key)
        if kind == "hosted" or not (hits or kind in ("proxy", "group")):
            # a hosted repository, or one the search found nothing of (an account that may not browse):
            # not a proxy, whose V2 tag list is the upstream registry's (sonatype/nexus-public#1011), nor
            # a group, whose list merges its proxies'; nor one the search holds only digests of
            return list(self.paginate(f"/v2/{repository}/tags/list", "tags", what=f"tags of {repository}"))
        if hits >= SEARCH_HITS:
            log.warning(
                "Nexus's search stops at %d results: the tags of %s past them are not listed", SEARCH_HITS, repository
            )
        return list(found)

    def still_listed(self, repository: str, tag: str) -> bool:
        """A hosted repository's own V2 tag list says; a proxy's is the upstream registry's and a group's
        merges its proxies': not asked (True: the image not found stays a failure)."""
        if self.kinds.get(repository.partition("/")[0]) == "hosted":
            return super().still_listed(repository, tag)
        return True

    def _pushed(self, manifest: dict[str, Any], member: str) -> Any:
        """When the manifest the search found was pushed: its blob's creation (blobCreated, or lastModified
        where the search leaves that out, as Elasticsearch's does), in a hosted repository; none from a
        proxy repository, where that is when it was cached, nor from one of a kind unknown (an account
        that may browse a group alone does not see what its members are)."""
        if self.kinds.get(member) != "hosted":
            return None
        return parse_time(manifest.get("blobCreated") or manifest.get("lastModified"))
