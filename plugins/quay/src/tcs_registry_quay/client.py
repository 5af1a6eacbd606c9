"""Quay's REST API /api/v1 (OAuth bearer tokens) on top of the core RegistryClient (the V2 API)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tcs_registry import Credentials, ImageDescription, Registry, RegistryClient, RegistryError
from tcs_registry.default_plugins.v2 import describe
from tcs_registry.http import NO_AUTH, json_field

API = "/api/v1"
TAGS_PER_PAGE = 100  # the maximum `limit` Quay accepts for tags
OAUTH_USER = "$oauthtoken"  # docker login's user name for a Quay OAuth token
TAG_CACHE = 10_000


class QuayClient(RegistryClient):
    """A URL path names the organization; Quay serves /v2/ and /api/v1 at the host's root."""

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        user = credentials.username or ""
        self.namespace = registry.path.strip("/").split("/")[0] or (user.split("+")[0] if "+" in user else None)
        self.oauth = user == OAUTH_USER and bool(credentials.password)
        super().__init__(replace(registry, path=""), credentials, **kwargs)
        self._tags: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()

    def _auth(self) -> dict[str, Any]:
        """Request options for /api/v1: the OAuth token, and no V2 challenge handling."""
        return {"headers": {"Authorization": f"Bearer {self.credentials.password}"}, "auth": NO_AUTH}

    def _api(self, path: str, what: str, **params: Any) -> Any:
        return self.api_json(API + path, what, params=params, **self._auth())

    def repositories(self) -> Iterable[str]:
        if self.oauth:
            return self._rest_repositories()
        # Robots cannot use /api/v1: the V2 catalog lists what they may see, kept to the namespace.
        catalog = self.paginate("/v2/_catalog", "repositories", what="repository catalog")
        prefix = f"{self.namespace}/" if self.namespace else ""
        return (name for name in catalog if name.startswith(prefix))

    def tags(self, repository: str) -> Iterable[str] | None:
        return self._rest_tags(repository) if self.oauth else None  # robots: plain V2 tags/list

    def describe(self, repository: str, tag: str) -> ImageDescription:
        return replace(describe(self, repository, tag), push_time=self.pushed(repository, tag))

    def _rest_repositories(self) -> Iterator[str]:
        if self.namespace is None:
            raise RegistryError("Quay lists repositories per organization: name it in the URL (https://quay.io/<org>)")
        what = f"Quay repositories of {self.namespace}"
        url = f"{API}/repository?" + urlencode({"namespace": self.namespace, "repo_kind": "image"})
        pages = self.paginate(
            url,
            "repositories",
            size_param=None,
            next_key="next_page",
            cursor_param="next_page",
            what=what,
            **self._auth(),
        )
        for repository in pages:
            yield f"{json_field(repository, 'namespace', what)}/{json_field(repository, 'name', what)}"

    def _rest_tags(self, repository: str) -> Iterator[str]:
        """Active tags only (``onlyActiveTags=true``): deleted and expired tags are history, not images."""
        page = 1
        while True:
            body = self._api(
                f"/repository/{repository}/tag/",
                f"Quay tags of {repository}",
                onlyActiveTags="true",
                limit=TAGS_PER_PAGE,
                page=page,
            )
            tags = body.get("tags") if isinstance(body, dict) else None
            for tag in tags or ():
                name = json_field(tag, "name", f"Quay tags of {repository}")
                self._tags[(repository, name)] = tag
                while len(self._tags) > TAG_CACHE:
                    self._tags.popitem(last=False)
                yield name
            if not tags or not body.get("has_additional"):  # an empty page ends it, whatever it claims
                return
            page += 1

    def pushed(self, repository: str, tag: str) -> datetime | None:
        """When the tag was pushed (``start_ts``), if the tag came from the REST listing."""
        listed = self._tags.pop((repository, tag), None)
        start = listed.get("start_ts") if listed else None
        return datetime.fromtimestamp(start, UTC) if isinstance(start, int | float) else None
