"""Artifactory: Docker repositories by key, each under /artifactory/api/docker/<key>/v2/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from tcs_registry import Credentials, Registry, RegistryError
from tcs_registry.http import RoutedRegistryClient, json_field, json_list

DOCKER_API = "/artifactory/api/docker/{key}"
_KEY_IN_PATH = re.compile(r"^(?:/artifactory/api/docker)?/(?P<key>[^/]+)$")


def keys_in_url(path: str) -> list[str]:
    """``/artifactory/api/docker/<key>`` or ``/<key>`` name one repository; no path (or
    ``/artifactory``) means every Docker repository."""
    if path in ("", "/artifactory"):
        return []
    match = _KEY_IN_PATH.match(path)
    if not match:
        raise RegistryError(
            f"cannot tell the Docker repository from the URL path {path!r}: "
            "use https://<host>/artifactory/api/docker/<repo-key> or https://<host>/<repo-key>"
        )
    return [match.group("key")]


class ArtifactoryClient(RoutedRegistryClient):
    route = DOCKER_API
    # Artifactory's next links leave out the /artifactory/api/docker/<key> prefix (and, for virtual
    # repositories, the key: JFrog RTFACT-18971): only their query is followed.
    link_paths_are_right = False

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        super().__init__(replace(registry, path=""), credentials, keys_in_url(registry.path), **kwargs)
        # an access token alone is sent as a Bearer token; with a user name it is a Basic password
        self.access_token = credentials.password if credentials.password and not credentials.username else None

    def _authorization(self, scope: str | None, *, fresh: bool) -> str | None:
        if self.access_token:
            return f"Bearer {self.access_token}"
        return super()._authorization(scope, fresh=fresh)

    def api_auth(self) -> Any:
        return None if self.access_token else super().api_auth()

    def docker_repositories(self) -> list[str]:
        """Keys of the Docker repositories to list: the URL's, else every non-virtual one."""
        if self.keys:
            return self.keys
        what = "Artifactory Docker repositories"
        headers = {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}
        listed = json_list(
            self.api_json(
                "/artifactory/api/repositories",
                what,
                params={"packageType": "docker"},
                headers=headers,
                auth=self.api_auth(),
            ),
            what,
        )
        keyed = [(json_field(r, "key", what), str(r.get("type", "")).upper()) for r in listed]
        self.keys = [key for key, kind in keyed if kind != "VIRTUAL"]
        if not self.keys:
            raise RegistryError("no Docker repository is visible to this account")
        return self.keys

    def login(self) -> None:
        self.ping(self.base(self.docker_repositories()[0]))

    def repositories(self) -> Iterator[str]:
        for key in self.docker_repositories():
            yield from self.catalog(key)
