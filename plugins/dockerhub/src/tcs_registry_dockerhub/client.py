"""Docker Hub: the Hub API (hub.docker.com) lists, the registry (registry-1.docker.io) describes."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from tcs_registry import (
    AuthError,
    Credentials,
    ImageDescription,
    Platform,
    QuotaExhausted,
    Registry,
    RegistryClient,
    RegistryError,
)
from tcs_registry.http import NO_AUTH
from tcs_registry.oci import IMAGE_CONFIG_TYPES, INDEX_TYPES, build_time, parse_time

HUB_HOSTS = ("hub.docker.com", "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")
HUB_API = "https://hub.docker.com"
REGISTRY = "registry-1.docker.io"
PAGE_SIZE = 100  # the Hub API's maximum page_size
TAG_CACHE = 10_000
_NAMESPACE_PATH = re.compile(r"^/(?:u/|orgs/|r/|repositories/)?(?P<namespace>[^/]+)")
API_TOKEN_LIFETIME = 9 * 60  # the Hub's JWT lasts 10 minutes: renew it a minute early


def namespace(path: str, username: str | None) -> str:
    match = _NAMESPACE_PATH.match(path)
    if match:
        name = match.group("namespace")
        return "library" if name == "_" else name.lower()
    if os.environ.get("TCS_DOCKERHUB_NAMESPACE"):
        return os.environ["TCS_DOCKERHUB_NAMESPACE"].lower()
    if username:
        return username.lower()
    raise RegistryError(
        "which Docker Hub namespace? Name it in the URL (https://hub.docker.com/u/<namespace>), "
        "set TCS_DOCKERHUB_NAMESPACE, or log in with --username"
    )


class DockerHubClient(RegistryClient):
    retry_statuses = (500, 502, 503, 504)  # a 429 from Docker Hub means hours, not seconds
    describe_skipped = False  # each description costs a pull from the quota

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        self.namespace = namespace(registry.path, credentials.username)
        hub = (urlsplit(registry.url).hostname or "") in HUB_HOSTS
        # Docker Hub's names mean registry-1.docker.io; any other host (a mirror) is its own registry.
        registry = replace(registry, scheme="https", host=REGISTRY, path="") if hub else replace(registry, path="")
        super().__init__(registry, credentials, **kwargs)
        self.api = os.environ.get("TCS_DOCKERHUB_API_URL", HUB_API).rstrip("/")
        # The user's credentials go to the Hub API only when the URL is Docker Hub's (or the API
        # was named explicitly): a mirror's password is not Docker Hub's business.
        self.hub_login = hub or "TCS_DOCKERHUB_API_URL" in os.environ
        self._api_token: str | None = None
        self._api_token_at = 0.0
        self._api_lock = threading.Lock()
        self._tags: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._quota_lock = threading.Lock()
        self.remaining: int | None = None  # pulls left in the window, from ratelimit-remaining

    # -- the Hub API ---------------------------------------------------------------------------
    def login(self) -> None:
        """Exchange the user name and password/PAT for a Hub API token (a 10-minute JWT), then
        check the registry."""
        if not self.credentials.anonymous and self.hub_login:
            self._hub_login()
        self.ping()

    def _hub_login(self) -> None:
        response = self._send(
            "POST",
            f"{self.api}/v2/auth/token",
            json={"identifier": self.credentials.username, "secret": self.credentials.password},
            headers={"Accept": "application/json"},
        )
        if response.status_code in (401, 403):
            raise AuthError(f"Docker Hub refused the credentials of user {self.credentials.username!r}")
        body = self.json(self.check(response, "Docker Hub login"), "Docker Hub login")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError("Docker Hub login answered without a token")
        self._api_token, self._api_token_at = token, time.monotonic()

    def _api_headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        with self._api_lock:
            if self._api_token and time.monotonic() - self._api_token_at > API_TOKEN_LIFETIME:
                self._hub_login()
            if self._api_token:
                headers["Authorization"] = f"Bearer {self._api_token}"
        return headers

    def _api_pages(self, path: str, what: str) -> Iterator[dict[str, Any]]:
        headers = self._api_headers()
        try:
            for item in self.paginate(
                f"{self.api}{path}?page=1",
                "results",
                page_size=PAGE_SIZE,
                size_param="page_size",
                next_key="next",
                what=what,
                headers=headers,
                auth=NO_AUTH,
            ):
                if not isinstance(item, dict):
                    raise RegistryError(f"{what}: the registry answered an entry that is not an object")
                yield item
        except RegistryError as exc:
            if exc.status == 429:
                raise QuotaExhausted(f"Docker Hub's API rate limit is reached ({what})", 429) from None
            raise

    def repositories(self) -> Iterator[str]:
        path = f"/v2/namespaces/{quote(self.namespace)}/repositories"
        for repository in self._api_pages(path, f"Docker Hub repositories of {self.namespace}"):
            if repository.get("repository_type") in (None, "image") and isinstance(repository.get("name"), str):
                yield f"{self.namespace}/{repository['name']}"

    def tags(self, repository: str) -> Iterator[str]:
        owner, _, name = repository.partition("/")
        path = f"/v2/namespaces/{quote(owner)}/repositories/{quote(name)}/tags"
        for tag in self._api_pages(path, f"Docker Hub tags of {repository}"):
            if not isinstance(tag.get("digest"), str) or not isinstance(tag.get("name"), str):
                continue  # a tag without a manifest (never pushed as V2) or a malformed entry
            self._tags[(repository, tag["name"])] = tag
            while len(self._tags) > TAG_CACHE:
                self._tags.popitem(last=False)
            yield str(tag["name"])

    def describe(self, repository: str, tag: str) -> ImageDescription | None:
        """From the Hub listing (digest, platforms, push time) plus one counted pull for the build time."""
        listed = self._tags.pop((repository, tag), None)
        if listed is None:
            return None  # not from our listing: plain V2 describes it
        platforms = self.platforms(listed)
        digest = str(listed["digest"])
        media_type = str(listed.get("media_type") or "")
        # One counted pull per image: for an index, straight to the platform image that dates it.
        target = self.representative(platforms) if media_type in INDEX_TYPES else None
        manifest = self.manifest(repository, target or digest)
        if manifest.is_index:  # the listing named no platforms
            child = self.representative(manifest.platforms())
            media_type = media_type or manifest.media_type
            manifest = self.manifest(repository, child) if child else manifest
        created = None
        if manifest.config is not None and manifest.config.media_type in IMAGE_CONFIG_TYPES:
            created = build_time(self.config(repository, manifest.config.digest))
        return ImageDescription(
            repository=repository,
            tag=tag,
            digest=digest,
            media_type=media_type or manifest.media_type,
            platforms=platforms,
            build_time=created,
            push_time=parse_time(listed.get("tag_last_pushed")),
        )

    # -- the registry, minding the pull quota ----------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        counted = method == "GET" and "/manifests/" in url  # Docker Hub counts manifest GETs as pulls
        if counted:
            with self._quota_lock:
                if self.remaining == 0:
                    raise QuotaExhausted(self._quota_message())
        response = super()._send(method, url, **kwargs)
        if counted:
            remaining = response.headers.get("ratelimit-remaining", "")
            if remaining.split(";")[0].strip().isdigit():
                with self._quota_lock:
                    self.remaining = int(remaining.split(";")[0])
            if response.status_code == 429:
                with self._quota_lock:
                    self.remaining = 0
                raise QuotaExhausted(self._quota_message())
        return response

    def _quota_message(self) -> str:
        who = "this account" if not self.credentials.anonymous else "anonymous pulls from this address"
        return f"Docker Hub's pull quota is used up for {who}; log in or run again when the window resets"

    def platforms(self, tag: dict[str, Any]) -> tuple[Platform, ...]:
        return tuple(
            Platform(
                str(i.get("os") or ""), str(i.get("architecture") or ""), i.get("variant") or None, i.get("digest")
            )
            for i in tag.get("images") or ()
            if isinstance(i, dict) and i.get("os") not in (None, "unknown") and i.get("architecture") != "unknown"
        )

    @staticmethod
    def representative(platforms: tuple[Platform, ...]) -> str | None:
        """The one platform image whose config dates an index: linux/amd64 if there is one."""
        ordered = sorted(platforms, key=lambda p: (p.os, p.architecture) != ("linux", "amd64"))
        return ordered[0].digest if ordered else None
