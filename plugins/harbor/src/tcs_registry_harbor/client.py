"""Harbor's REST API v2.0 on top of the core RegistryClient (which keeps serving the /v2/ API)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import islice
from typing import Any
from urllib.parse import quote

from tcs_registry import (
    AuthError,
    Credentials,
    ImageDescription,
    ImageError,
    Platform,
    Registry,
    RegistryClient,
    RegistryError,
)
from tcs_registry.default_plugins import v2
from tcs_registry.http import json_field
from tcs_registry.oci import (
    IMAGE_TYPES,
    INDEX_TYPES,
    OCI_MANIFEST,
    SCHEMA1,
    Manifest,
    build_time,
    descriptor,
    parse_time,
    schema1,
)

API = "/api/v2.0"
PAGE_SIZE = 100  # Harbor's maximum page_size (swagger)
MOST_PLATFORMS_LISTED = 50  # in one list's query (nginx's 8 KB request line); an index with more: /v2/
FIRST_PAGE_AGAIN = 3  # times the first page of artifacts is read again at most, for tags moved meanwhile
ROBOT_PREFIX = "robot$"  # Harbor's robot_name_prefix (ROBOT_NAME_PREFIX), unless the instance sets another
ROBOT_PREFIX_VARIABLE = "TCS_HARBOR_ROBOT_PREFIX"
log = logging.getLogger("tcs_registry.harbor")


def artifacts_path(repository: str) -> str:
    """``team/sub/app`` -> its artifacts' list, ``/projects/team/repositories/sub%252Fapp/artifacts``:
    Harbor wants the repository's name double-encoded."""
    project, _, name = repository.partition("/")
    return f"/projects/{quote(project, safe='')}/repositories/{quote(quote(name, safe=''), safe='')}/artifacts"


class HarborClient(RegistryClient):
    """A URL path names a project to list (``https://harbor.example.com/team``): Harbor serves /v2/
    and /api/v2.0 at the host's root, so the path is taken off the API root.

    Only Harbor's lists are used (projects, repositories, artifacts): an OIDC user's CLI secret is taken
    on those and on /v2/, nowhere else (goharbor/harbor src/server/middleware/security/oidc_cli.go).
    What the lists do not say (an arm image's variant, what Harbor could not read) comes from /v2/.
    """

    anonymous_ping = False  # core/service/token/creator.go: no scope, no anonymous token

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        self.project = registry.path.strip("/").split("/")[0] or None
        super().__init__(replace(registry, path=""), credentials, **kwargs)
        self.robot_prefix = os.environ.get(ROBOT_PREFIX_VARIABLE) or ROBOT_PREFIX
        self.unlisted: set[str] = set()  # projects where Harbor refuses artifact:list: tags come from /v2/
        self._fallback_lock = threading.Lock()
        self._indexes: dict[tuple[str, str], ImageDescription | None] = {}  # (repository, digest) -> _index's

    def pages(self, path: str, what: str, **params: str) -> Iterator[dict[str, Any]]:
        query = "".join(f"&{k}={quote(v, safe='')}" for k, v in params.items())
        url = f"{API}{path}?page=1{query}"
        headers = {"Accept": "application/json"}
        pages = self.paginate(
            url, None, page_size=PAGE_SIZE, size_param="page_size", what=what, auth=self.api_auth(), headers=headers
        )
        for item in pages:
            if not isinstance(item, dict):
                raise RegistryError(f"{what}: the registry answered an entry that is not an object")
            yield item

    def projects(self) -> Iterator[str]:
        """Projects to list: the URL's path, the project of a project robot, else every visible one
        (anonymously: the public ones)."""
        if self.project:
            yield self.project
            return
        user = self.credentials.username or ""
        if user.startswith(self.robot_prefix) and "+" in user:  # robot$<project>+<name>
            yield user[len(self.robot_prefix) :].rsplit("+", 1)[0]
            return
        # new ones last; a sort replaces Harbor's default whole, its tie-breaker too (lib/orm/query.go
        # setSorts): the id breaks ties of equal times, which pages by offset would repeat or skip
        for project in self.pages("/projects", "Harbor projects", sort="creation_time,project_id"):
            name = json_field(project, "name", "Harbor projects")
            self._warn_of_policies(name, project.get("metadata"))
            yield name

    @staticmethod
    def _warn_of_policies(project: str, metadata: Any) -> None:
        """Project policies that refuse the manifests of some images to every account but Harbor's own
        scanner (server/registry/route.go: vulnerable.Middleware and contenttrust.ContentTrust on every
        manifest read; only a scanner-pull token passes, middleware/util SkipPolicyChecking): said once,
        as a scan reports those images failed (412). Metadata values are strings (project/models)."""
        metadata = metadata if isinstance(metadata, dict) else {}
        on = {key for key, value in metadata.items() if str(value).lower() in ("true", "1")}
        if "prevent_vul" in on:
            log.warning(
                "Harbor project %s gives every account but its own scanner only the images that scanner passed"
                " (Prevent vulnerable images from running: none found at %s or above, scanned, the scan not failed):"
                " a scan reports the others failed (412)",
                project, str(metadata.get("severity") or "any severity"),
            )  # fmt: skip
        if "enable_content_trust_cosign" in on or "enable_content_trust" in on:
            log.warning(
                "Harbor project %s refuses images not signed (Enforce content trust): a scan reports them failed (412)",
                project,
            )

    def repositories(self) -> Iterator[str]:
        """Each project's repositories, oldest first (Harbor pages by offset: what is created meanwhile
        comes last instead of shifting the pages). A project that refuses the account leaves the others
        listed; then the run ends partial with that project's line."""
        projects = list(self.projects())
        refused: AuthError | None = None
        for project in projects:
            path = f"/projects/{quote(project, safe='')}/repositories"
            what = f"Harbor repositories of project {project}"
            try:
                for repository in self.pages(path, what, sort="creation_time,repository_id"):
                    yield json_field(repository, "name", what)  # the full name, project/...
            except AuthError as exc:
                refused = self._needs(exc, "repository:list", "List Repository", project)
                if len(projects) > 1:
                    log.error("%s", refused)
        if refused:
            raise refused

    def tags(self, repository: str) -> Iterable[str]:
        """Tags of the repository's image artifacts, each artifact kept for describe(); from /v2/ in a
        project where the account may pull but not list artifacts."""
        project = repository.split("/")[0]
        if project not in self.unlisted:
            try:
                return list(dict.fromkeys(self._artifact_tags(repository)))  # a tag once, whatever the paging
            except AuthError as exc:
                self._unlisted(project, exc)
        return v2.list_tags(registry=self.registry, client=self, repository=repository)

    def _unlisted(self, project: str, exc: AuthError) -> None:
        """A project whose artifacts the account may not list (403, said once): its tags and images come
        from /v2/ from now on. Another refusal is raised."""
        if exc.status != 403:
            raise exc
        with self._fallback_lock:
            if project not in self.unlisted:
                self.unlisted.add(project)
                log.warning(
                    "%s; tags and images come from /v2/ instead",
                    self._needs(exc, "artifact:list", "List Artifact", project),
                )

    def _artifact_tags(self, repository: str) -> Iterator[str]:
        """Tagged artifacts (``q=tags=*``: untagged pushes by digest are not asked for), accessories left
        out, in Harbor's own order: newest push first, the id breaking ties (``sort=`` would replace
        both, lib/orm/query.go). Its pages are by offset: artifacts leave the list while it is read
        (retention deletes old ones; a tag moved to a new push untags an old one), and oldest first
        each would shift the pages not read yet up, one artifact never read. Newest first, an old one
        gone is mostly on a page not read yet, and a new push shifts the pages down (a tag read twice,
        listed once); but a tag moved to a new push, from an artifact not read yet, would be on a page
        read already: once several pages were read, the first is read again, till it has no new tag."""
        path = artifacts_path(repository)
        what = f"Harbor artifacts of {repository}"
        query = {"with_tag": "true", "with_accessory": "false", "q": "tags=*"}
        seen: set[str] = set()
        read = 0

        def tags(artifacts: Iterable[dict[str, Any]]) -> Iterator[str]:
            nonlocal read
            for artifact in artifacts:
                read += 1
                if artifact.get("type") != "IMAGE":
                    continue  # Helm charts and other artifacts are left out
                json_field(artifact, "digest", what)
                for tag in artifact.get("tags") or ():  # untagged artifacts have none
                    name = json_field(tag, "name", what)
                    if name not in seen:
                        seen.add(name)
                        self.listed.put((repository, name), (artifact, tag))
                        yield name

        yield from tags(self.pages(path, what, **query))
        for _ in range(FIRST_PAGE_AGAIN if read > PAGE_SIZE else 0):
            before = len(seen)
            yield from tags(islice(self.pages(path, what, **query), PAGE_SIZE))  # (page 1 alone)
            if len(seen) == before:
                break

    def _needs(self, exc: AuthError, permission: str, label: str, project: str) -> AuthError:
        """The one line for a permission Harbor refused (403), or a private project for anonymous (401).
        Harbor answers the same for a project that does not exist (handler/base.go: project id 0)."""
        if exc.status == 401 and self.credentials.anonymous:
            return AuthError(
                f"Harbor project {project} is not public (or does not exist): log in with --username and --password",
                401,
            )
        who = self.credentials.username or "anonymous"
        return AuthError(
            f"Harbor refused {who!r} the {label} permission ({permission}) in project {project} (or the project "
            "does not exist): grant it to the account (a robot: in its permissions)",
            exc.status,
        )

    def _index_of(self, repository: str, artifact: dict[str, Any]) -> ImageDescription | None:
        """``_index``, once for all the tags of one index (each would list its platforms again)."""
        key = (repository, str(artifact.get("digest")))
        if key not in self._indexes:
            self._indexes[key] = self._index(repository, artifact)
        return self._indexes[key]

    def _index(self, repository: str, artifact: dict[str, Any]) -> ImageDescription | None:
        """An index from its listed ``references`` (each platform, its variant too) and one list of its
        platforms' artifacts (``base=*``: untagged children too), for their build times: no manifest is
        read, which Harbor would count as a pull of each (``pull_time``, read by retention rules). None
        where the lists do not say it all (a platform not there, a config Harbor could not read)."""
        what = f"Harbor artifacts of {repository}"
        references = artifact.get("references")
        if not isinstance(references, list) or not all(isinstance(r, dict) for r in references):
            return None
        digest, media_type = json_field(artifact, "digest", what), str(artifact.get("manifest_media_type"))
        try:  # (references name no media type: each platform's artifact, listed below, says it is an image)
            entries = [
                descriptor({**r, "digest": r.get("child_digest"), "mediaType": OCI_MANIFEST}, what) for r in references
            ]
        except ImageError:
            return None
        platforms = Manifest(digest, media_type, manifests=tuple(entries)).platforms()
        if not 0 < len(platforms) <= MOST_PLATFORMS_LISTED:
            return None
        path = artifacts_path(repository)
        digests = " ".join(p.digest for p in platforms)
        query = {"with_tag": "false", "with_accessory": "false", "q": f"base=*,digest={{{digests}}}"}
        try:
            children = {child.get("digest"): child for child in self.pages(path, what, **query)}
        except AuthError:
            raise
        except RegistryError as exc:  # (a gateway's limit on the URL's length, ...): as before, from /v2/
            log.debug("Harbor's list of %s@%s's platforms failed, read from /v2/: %s", repository, digest, exc)
            return None
        listed = [children.get(p.digest) or {} for p in platforms]
        configs = [child.get("extra_attrs") for child in listed]
        # an image's (not an artifact's riding in the index: Harbor's references name no media type)
        if not all(c.get("type") == "IMAGE" and c.get("manifest_media_type") in IMAGE_TYPES for c in listed):
            return None
        if not all(isinstance(c, dict) and c for c in configs):
            return None
        times = [t for t in map(build_time, configs) if t is not None]  # type: ignore[arg-type]
        return ImageDescription(
            repository=repository,
            tag="",  # (its tags' own: describe's)
            digest=digest,
            media_type=media_type,
            platforms=platforms,
            build_time=max(times) if times else None,
        )

    def _listed_again(self, repository: str, tag: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The artifact of one tag listed again, where its listing was not kept till now (more tags were
        listed ahead of it than are kept): ``q=tags=<tag>``, an exact match (artifact/dao/dao.go
        setTagQuery), a list like the first, where a manifest read would count as a pull. None where tags
        came from /v2/ (or now must: the list refused, 403), for the tag "nil" (the query's word for untagged
        artifacts), and where the list fails."""
        if repository.split("/")[0] in self.unlisted or tag == "nil":
            return None
        path = artifacts_path(repository)
        query = {"with_tag": "true", "with_accessory": "false", "q": f"tags={tag}"}
        try:
            for artifact in self.pages(path, f"Harbor artifacts of {repository}", **query):
                tags = artifact.get("tags") if artifact.get("type") == "IMAGE" else None
                for listed_tag in tags if isinstance(tags, list) else ():
                    if isinstance(listed_tag, dict) and listed_tag.get("name") == tag:
                        return artifact, listed_tag
        except AuthError as exc:  # (a plan's images are described with nothing listed first)
            self._unlisted(repository.split("/")[0], exc)
        except RegistryError as exc:  # as before: from /v2/
            log.debug("Harbor's list of %s:%s failed, read from /v2/: %s", repository, tag, exc)
        return None

    def describe(self, repository: str, tag: str) -> ImageDescription | None:
        """From the listed artifact, without a manifest or config fetch (an index: from its platforms'
        artifacts, listed); an arm image's variant (which Harbor's extra_attrs leave out), an image whose
        config Harbor could not read (extra_attrs {}) and an index whose platforms are not all listed
        from /v2/, by the listed digest: by
        tag, a proxy-cache project asks the upstream registry whether the tag moved (and fetches it if
        so), by digest it answers from its cache (controller/proxy UseLocalManifest). None if it was not
        listed here (plain V2 describes it)."""
        listed = self.listed.pop((repository, tag)) or self._listed_again(repository, tag)
        if listed is None:
            return None
        artifact, listed_tag = listed
        pushed = parse_time(listed_tag.get("push_time")) or parse_time(artifact.get("push_time"))
        extra = artifact.get("extra_attrs") if isinstance(artifact.get("extra_attrs"), dict) else {}
        media_type = str(artifact.get("manifest_media_type") or "")
        if media_type in SCHEMA1:  # (Harbor keeps such images, pushed before it refused them: manifest_v1.go)
            raise schema1(f"{self.registry.host}/{repository}:{tag}")
        if media_type in INDEX_TYPES and (index := self._index_of(repository, artifact)):
            return replace(index, tag=tag, push_time=pushed)
        if media_type in INDEX_TYPES or not extra or str(extra.get("architecture") or "").startswith("arm"):
            return replace(v2.describe(self, repository, tag, str(artifact["digest"])), push_time=pushed)
        platform = Platform(str(extra.get("os", "")), str(extra.get("architecture", "")), digest=artifact["digest"])
        return ImageDescription(
            repository=repository,
            tag=tag,
            digest=str(artifact["digest"]),
            media_type=media_type,
            platforms=(platform,) if extra else (),
            build_time=build_time(extra),  # extra_attrs: the config's created, os, ... and its config (labels)
            push_time=pushed,
        )
