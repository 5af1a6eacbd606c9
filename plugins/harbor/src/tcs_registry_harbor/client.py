"""Harbor's REST API v2.0 on top of the core RegistryClient (which keeps serving the /v2/ API)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from tcs_registry import Credentials, ImageDescription, Platform, Registry, RegistryClient, RegistryError
from tcs_registry.http import json_field
from tcs_registry.oci import INDEX_TYPES, parse_time

API = "/api/v2.0"
PAGE_SIZE = 100  # Harbor's maximum page_size (swagger)
ARTIFACT_CACHE = 10_000  # artifacts listed but not yet described, per run


def repository_path(repository: str) -> tuple[str, str]:
    """``team/sub/app`` -> (``team``, ``sub%252Fapp``): Harbor wants the name double-encoded."""
    project, _, name = repository.partition("/")
    return project, quote(quote(name, safe=""), safe="")


class HarborClient(RegistryClient):
    """A URL path names a project to list (``https://harbor.example.com/team``): Harbor serves /v2/
    and /api/v2.0 at the host's root, so the path is taken off the API root."""

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        self.project = registry.path.strip("/").split("/")[0] or None
        super().__init__(replace(registry, path=""), credentials, **kwargs)
        self._artifacts: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

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
        """Projects to list: the URL's path, the project of a project robot, else every visible one."""
        if self.project:
            yield self.project
            return
        user = self.credentials.username or ""
        if user.startswith("robot$") and "+" in user:
            yield user[len("robot$") :].split("+", 1)[0]
            return
        for project in self.pages("/projects", "Harbor projects"):
            yield json_field(project, "name", "Harbor projects")

    def repositories(self) -> Iterator[str]:
        for project in self.projects():
            path = f"/projects/{quote(project, safe='')}/repositories"
            what = f"Harbor repositories of project {project}"
            for repository in self.pages(path, what):
                yield json_field(repository, "name", what)  # the full name, project/...

    def tags(self, repository: str) -> Iterator[str]:
        """Tags of the repository's image artifacts; each artifact is kept for describe()."""
        project, name = repository_path(repository)
        path = f"/projects/{quote(project, safe='')}/repositories/{name}/artifacts"
        what = f"Harbor artifacts of {repository}"
        for artifact in self.pages(path, what, with_tag="true"):
            if artifact.get("type") != "IMAGE":
                continue
            json_field(artifact, "digest", what)
            for tag in artifact.get("tags") or ():  # untagged artifacts have none
                name = json_field(tag, "name", what)
                self._artifacts[(repository, name)] = artifact
                while len(self._artifacts) > ARTIFACT_CACHE:
                    self._artifacts.popitem(last=False)
                yield name

    def artifact(self, repository: str, reference: str) -> dict[str, Any]:
        project, name = repository_path(repository)
        path = f"{API}/projects/{quote(project, safe='')}/repositories/{name}/artifacts/{reference}"
        return self.api_json(path, f"Harbor artifact {repository}@{reference}", auth=self.api_auth())

    def describe(self, repository: str, tag: str) -> ImageDescription | None:
        """From the listed artifact: no manifest or config fetch. None if it was not listed here."""
        artifact = self._artifacts.pop((repository, tag), None)
        if artifact is None:
            return None
        media_type = str(artifact.get("manifest_media_type") or "")
        extra = artifact.get("extra_attrs") if isinstance(artifact.get("extra_attrs"), dict) else {}
        if media_type in INDEX_TYPES:
            references = [r for r in artifact.get("references") or () if isinstance(r, dict)]
            platforms = tuple(
                Platform(
                    os=str(ref["platform"].get("os", "")),
                    architecture=str(ref["platform"].get("architecture", "")),
                    variant=ref["platform"].get("variant") or None,
                    digest=ref.get("child_digest"),
                )
                for ref in references
                if isinstance(ref.get("platform"), dict) and not _is_attestation(ref)
            )
            children = [self.artifact(repository, p.digest) for p in platforms if p.digest]
            times = [t for t in (parse_time((c.get("extra_attrs") or {}).get("created")) for c in children) if t]
            build_time = max(times) if times else None
        else:
            platform = Platform(str(extra.get("os", "")), str(extra.get("architecture", "")), digest=artifact["digest"])
            platforms = (platform,) if extra else ()
            build_time = parse_time(extra.get("created"))
        return ImageDescription(
            repository=repository,
            tag=tag,
            digest=str(artifact["digest"]),
            media_type=media_type,
            platforms=platforms,
            build_time=build_time,
            push_time=parse_time(artifact.get("push_time")),
        )


def _is_attestation(reference: dict[str, Any]) -> bool:
    annotations = reference.get("annotations") or {}
    platform = reference.get("platform") or {}
    if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
        return True
    return platform.get("os") == "unknown" and platform.get("architecture") == "unknown"
