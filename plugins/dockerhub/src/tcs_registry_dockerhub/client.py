"""Docker Hub: the Hub API (hub.docker.com) lists, the registry (registry-1.docker.io) describes."""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
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
    UsageError,
)
from tcs_registry.default_plugins.v2 import list_tags
from tcs_registry.dockerconfig import DOCKER_HUB
from tcs_registry.http import NO_AUTH, origin, sendable, token_lifetime
from tcs_registry.oci import INDEX_TYPES, build_time, parse_time
from tcs_registry.pacing import asked_to_wait

HUB_HOSTS = DOCKER_HUB  # its web site's name and its registry's
REGISTRY_HOSTS = DOCKER_HUB - {"hub.docker.com"}
HUB_API = "https://hub.docker.com"
REGISTRY = "registry-1.docker.io"
PAGE_SIZE = 100  # the Hub API's maximum page_size
log = logging.getLogger("tcs_registry.dockerhub")
API_TOKEN_LIFETIME = 10 * 60  # the Hub API's access token lasts 10 minutes (docker/docs hub/latest.yaml)
API_TOKEN_MARGIN = 60  # renewed this long before its end (a tenth of its life, if that is shorter)
API_ATTEMPTS = 4  # asks of one Hub API call that the per-minute limit refuses (429)
MAX_API_WAIT = 60.0
OAT_PREFIX = "dckr_oat_"  # an organization access token's (docker/docs, organization access tokens)
UNIX_TIME = 1e9  # a Retry-After this large is a Unix time, not seconds (2001 on)
ABUSE_ATTEMPTS = 4  # asks of one manifest that Docker Hub's abuse limit refuses (a bare 429)
# The web pages people copy from hub.docker.com: /r/<ns>/<repo>, /_/<repo>, /repository/docker/<ns>/<repo>/...,
# /layers/<ns>/<repo>/<tag>/... (and the older /layers/<repo>/<ns>/<repo>/<tag>/...), /u/<ns>, /orgs/<ns>/...,
# /repositories/<ns>, /r/<ns>
_PAGE = re.compile(
    r"^/(?:(?P<official>_)/(?P<official_repo>[^/]+)"
    r"|layers/(?P<old>[^/]+)/(?P<old_ns>[^/]+)/(?P=old)/[^/]+/images/.*"
    r"|(?:r|repository/docker|layers)/(?P<ns>[^/]+)/(?P<repo>[^/]+)"
    r"|(?:u|orgs|repositories|r)/(?P<owner>[^/]+))(?:/.*)?$"
)
NOT_REPOSITORIES = {"_", "search", "explore", "settings", "hardened-images", "extensions", "billing", "support"}


def target(host: str, path: str, username: str | None) -> tuple[str, str | None]:
    """(namespace, repository or None) that a Docker Hub URL names.

    A page of hub.docker.com names what it shows; on the registry's own hosts (docker.io...) the path is
    an image reference, as docker reads it: ``docker.io/alpine`` is ``library/alpine``
    (distribution/reference normalize.go), a tag or digest after it is left out. Another host (a stand-in
    for the Hub) is read as hub.docker.com is."""
    path = path.rstrip("/")
    web = host not in REGISTRY_HOSTS
    page = _PAGE.match(path) if web else None
    if page:
        if page.group("official"):
            return "library", page.group("official_repo").lower()
        if page.group("old"):
            return page.group("old_ns").lower(), page.group("old").lower()
        if page.group("ns"):
            return page.group("ns").lower(), page.group("repo").lower()
        return page.group("owner").lower(), None
    reference = re.sub(r"(@[^/]*|:[^/:]*)$", "", path)  # docker.io/bitnami/redis:7.2, ...@sha256:...
    parts = [p.lower() for p in reference.split("/") if p and p != "v1"]  # index.docker.io/v1/: docker's key
    if web and parts and parts[0] in NOT_REPOSITORIES:
        raise UsageError(f"{path!r} is not a Docker Hub namespace or repository page")
    if web and len(parts) == 1:
        return parts[0], None  # hub.docker.com/<namespace>
    if len(parts) == 1:
        return "library", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    if parts:
        raise UsageError(f"which Docker Hub repository is {path!r}? Use <namespace>/<repository>")
    if os.environ.get("TCS_DOCKERHUB_NAMESPACE"):
        return os.environ["TCS_DOCKERHUB_NAMESPACE"].lower(), None
    if username:
        return username.lower(), None
    raise RegistryError(
        "which Docker Hub namespace? Name it in the URL (https://hub.docker.com/u/<namespace>), "
        "set TCS_DOCKERHUB_NAMESPACE, or log in with --username"
    )


def _unix_retry_after(response: requests.Response) -> float | None:
    """A Retry-After that is a Unix time, as the Hub API has sent its reset time (docker/hub-feedback#2459),
    not the seconds its reference says."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isascii() and value.isdigit() and float(value) >= UNIX_TIME else None


def _reset_in(response: requests.Response) -> float:
    """Seconds until the Hub API takes calls again: by Retry-After (seconds, or a Unix time), else by
    X-Retry-After or X-RateLimit-Reset (Unix times), else 1."""
    if (reset := _unix_retry_after(response)) is not None:
        return reset - time.time()
    if (asked := asked_to_wait(response)) is not None:
        return asked
    headers = response.headers
    for name in ("X-Retry-After", "X-RateLimit-Reset"):
        with suppress(ValueError):
            if math.isfinite(reset := float(headers.get(name, ""))):
                return reset - time.time()
    return 1.0


def _pulls_left(response: requests.Response) -> int | None:
    """The pulls left in the window, by ``ratelimit-remaining`` (``76;w=21600``), if the answer says."""
    remaining = response.headers.get("ratelimit-remaining", "").split(";")[0].strip()
    return int(remaining) if remaining.isascii() and remaining.isdigit() else None


class DockerHubClient(RegistryClient):
    retry_statuses = (500, 502, 503, 504)  # a 429 from Docker Hub means hours, not seconds
    describe_skipped = False  # each description costs a pull from the quota

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        host = urlsplit(registry.url).hostname or ""
        self.namespace, self.repository = target(host, registry.path, credentials.username)
        hub = host in HUB_HOSTS
        # Docker Hub's names mean registry-1.docker.io; any other host (a mirror) is its own registry.
        registry = replace(registry, scheme="https", host=REGISTRY, path="") if hub else replace(registry, path="")
        super().__init__(registry, credentials, **kwargs)
        self.api = os.environ.get("TCS_DOCKERHUB_API_URL", HUB_API).rstrip("/")
        # The user's credentials go to the Hub API only when the URL is Docker Hub's (or the API
        # was named explicitly): a mirror's password is not Docker Hub's business.
        self.hub_login = hub or "TCS_DOCKERHUB_API_URL" in os.environ
        if self.hub_login and credentials.identity_token:  # (a refresh token is no Hub API secret)
            log.warning("An identity token cannot log in to the Hub API: only public repositories are listed")
            self.hub_login = False
        self._api_token: str | None = None
        self._api_token_until = 0.0  # time.monotonic() at which to renew it
        self._api_lock = threading.Lock()
        self._quota_lock = threading.Lock()
        self.remaining: int | None = None  # pulls left in the window, from ratelimit-remaining
        self._tags_from_registry = False  # anonymous, and the Hub API lists no tags without a token

    # -- the Hub API ---------------------------------------------------------------------------
    def login(self) -> None:
        """Exchange the user name and password/PAT for a Hub API token (10 minutes), then check the
        registry."""
        if not self.credentials.anonymous and self.hub_login:
            with self._api_lock:
                self._hub_login()
        self.ping()

    def _hub_login(self) -> None:
        response = self._api_call(
            f"{self.api}/v2/auth/token",
            method="POST",
            signed=False,
            json={"identifier": self.credentials.username, "secret": self.credentials.password},
            headers={"Accept": "application/json"},
        )
        if response.status_code in (401, 403):
            raise AuthError(self.credentials.refused("Docker Hub"))
        body = self.json(self.check(response, "Docker Hub login"), "Docker Hub login")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError("Docker Hub login answered without a token")
        sendable(token, "Docker Hub login")
        lifetime = token_lifetime(token, floor=0.0)
        lifetime = API_TOKEN_LIFETIME if lifetime == float("inf") else lifetime
        self._api_token = token
        self._api_token_until = time.monotonic() + lifetime - min(API_TOKEN_MARGIN, lifetime / 10)

    def _api_authorization(self, stale: str | None = None) -> str | None:
        """The Hub API token, renewed when near its end (or when ``stale``, the one just refused)."""
        with self._api_lock:
            if self._api_token and (self._api_token == stale or time.monotonic() >= self._api_token_until):
                self._hub_login()
            return f"Bearer {self._api_token}" if self._api_token else None

    def _api_call(self, url: str, *, method: str = "GET", signed: bool = True, **kwargs: Any) -> requests.Response:
        """A Hub API call with a current token (``signed``: all but the login), waiting out the per-minute
        rate limit (429: a minute's limit, not the pull quota) by its Retry-After or reset time, asked again
        once if the token was refused. The login's POST is sent again as a GET would be: a second token,
        nothing more."""
        refused: str | None = None
        asked = dict(kwargs.pop("headers", None) or {})
        for attempt in range(API_ATTEMPTS):
            authorization = self._api_authorization(refused) if signed else None
            headers = {**asked, "Authorization": authorization} if authorization else asked
            response = RegistryClient._send(self, method, url, headers=headers, resendable=True, **kwargs)
            if response.status_code == 401 and authorization and refused is None:
                refused = authorization.removeprefix("Bearer ")
                continue
            if response.status_code != 429 or attempt + 1 == API_ATTEMPTS:
                return response
            wait = _reset_in(response)
            if wait > MAX_API_WAIT:  # (not the per-minute limit: an abuse limit, a day's)
                if _unix_retry_after(response) is None and asked_to_wait(response) is not None:
                    return response  # (its check says what the Retry-After asks for)
                raise RegistryError(f"Docker Hub's API refuses calls (429) for {wait:,.0f} s more; run again then", 429)
            wait = max(wait, 1.0)  # a reset time in whole seconds may be this very second
            log.info("Docker Hub's API asks for fewer requests (429): waiting %.0f s", wait)
            self.traffic.pace.pause(wait)  # (cut short if the run stops meanwhile: every answer 429 for minutes)
        return response

    def _api_pages(self, path: str, what: str, query: str = "") -> Iterator[dict[str, Any]]:
        for item in self.paginate(
            f"{self.api}{path}?{query}page=1",
            "results",
            page_size=PAGE_SIZE,
            size_param="page_size",
            next_key="next",
            what=what,
            headers={"Accept": "application/json"},
            auth=NO_AUTH,
        ):
            if not isinstance(item, dict):
                raise RegistryError(f"{what}: the registry answered an entry that is not an object")
            yield item

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        url = self.url(path_or_url)
        if url.startswith(self.api + "/") and self.api != self.registry.api_root:
            return self._api_call(url, **kwargs)
        return super().get(path_or_url, **kwargs)

    def repositories(self) -> Iterator[str]:
        if self.repository:  # the URL named one
            yield f"{self.namespace}/{self.repository}"
            return
        path = f"/v2/namespaces/{quote(self.namespace)}/repositories"
        # by name: a set order (the default is none the reference names) over pages read one after another
        for repository in self._api_pages(path, f"Docker Hub repositories of {self.namespace}", "ordering=name&"):
            if repository.get("repository_type") in (None, "image") and isinstance(repository.get("name"), str):
                yield f"{self.namespace}/{repository['name']}"

    def tags(self, repository: str) -> Iterator[str]:
        """From the Hub API (digests, platforms, push times: no pull); anonymously, where the Hub API
        wants a token for them (its reference gives the tags list bearerAuth alone), from the registry's
        /v2/ tags list, which costs no pull either."""
        owner, _, name = repository.partition("/")
        path = f"/v2/namespaces/{quote(owner)}/repositories/{quote(name)}/tags"
        if self._api_token is None and self._tags_from_registry:
            yield from list_tags(registry=self.registry, client=self, repository=repository)
            return
        listed = 0
        try:
            for listed, tag in enumerate(self._hub_tags(repository, path), 1):  # noqa: B007
                yield tag
        except AuthError as exc:
            if exc.status == 403 and (self.credentials.password or "").startswith(OAT_PREFIX):
                raise AuthError(
                    f"Docker Hub tags of {repository}: refused to the organization access token (403): it needs "
                    'the "Tag Read" scope (scope-tag-read) on the repository',
                    403,
                ) from None
            if self._api_token is not None or listed:
                raise
            with self._api_lock:
                if not self._tags_from_registry:
                    log.warning("The Hub API lists no tags anonymously: tags come from the registry's /v2/ instead")
                self._tags_from_registry = True
            yield from list_tags(registry=self.registry, client=self, repository=repository)

    def _hub_tags(self, repository: str, path: str) -> Iterator[str]:
        for tag in self._api_pages(path, f"Docker Hub tags of {repository}"):
            if not isinstance(tag.get("digest"), str) or not isinstance(tag.get("name"), str):
                continue  # a tag without a manifest (never pushed as V2) or a malformed entry
            self.listed.put((repository, tag["name"]), tag)
            yield str(tag["name"])

    def describe(self, repository: str, tag: str) -> ImageDescription:
        """From the Hub listing (digest, platforms, push time) plus one counted pull for the build time
        (two for an index the listing names no platforms of, as for a tag it did not list)."""
        listed = self.listed.pop((repository, tag)) or {}
        platforms = self.platforms(listed)
        media_type = str(listed.get("media_type") or "")
        # One counted pull per image: for an index, straight to the platform image that dates it.
        target = self.representative(platforms) if media_type in INDEX_TYPES else None
        manifest = self.manifest(repository, target or str(listed.get("digest") or tag))
        digest = str(listed.get("digest") or manifest.digest)
        if manifest.is_index:  # the listing named no platforms
            child = self.representative(manifest.platforms())
            media_type, platforms = media_type or manifest.media_type, platforms or manifest.platforms()
            manifest = self.manifest(repository, child) if child else manifest
        artifact = manifest.not_an_image()
        created = None
        if not artifact and manifest.config is not None:
            created = build_time(self.config(repository, manifest.config.digest))
        return ImageDescription(
            repository=repository,
            tag=tag,
            digest=digest,
            media_type=media_type or manifest.media_type,
            platforms=() if artifact else platforms,
            build_time=created,
            push_time=parse_time(listed.get("tag_last_pushed")),
            artifact=artifact,
        )

    # -- the registry, minding the pull quota ----------------------------------------------------
    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        counted = method == "GET" and "/manifests/" in url  # Docker Hub counts manifest GETs as pulls
        if counted:
            with self._quota_lock:
                if self.remaining == 0:
                    raise QuotaExhausted(self._quota_message())
        response = super()._send(method, url, **kwargs)
        # the abuse limit answers any of the registry's requests (a blob, a tags list, a token too)
        if method not in ("GET", "HEAD") or not (origin(url) == self._origin or kwargs.get("token_service")):
            return response
        for attempt in range(1, ABUSE_ATTEMPTS):
            if response.status_code != 429 or self._pull_limit(response):
                break
            # Docker Hub's abuse limit, for every kind of account: "a simple 429 Too Many Requests
            # response. The pull limit returns a longer error message" (docker/docs, docker-hub/usage):
            # fewer requests, and this one again after a while, as for any registry's 429
            pace = self.traffic.pace
            pace.refused()
            pace.slow_down()
            pace.pause(min(asked_to_wait(response) or 2.0 ** (attempt - 1), MAX_API_WAIT))
            self.traffic.halt_if_starved()
            response.close()
            response = super()._send(method, url, **kwargs)
        if not counted:
            return response
        if (remaining := _pulls_left(response)) is not None:
            with self._quota_lock:
                self.remaining = remaining
        if response.status_code == 429 and self._pull_limit(response):
            with self._quota_lock:
                self.remaining = 0
            raise QuotaExhausted(self._quota_message())
        return response

    @staticmethod
    def _pull_limit(response: requests.Response) -> bool:
        """Whether a 429 is the pull quota (TOOMANYREQUESTS, "You have reached your pull rate limit"; or
        no pulls left by its headers), not the abuse limit's bare answer."""
        return _pulls_left(response) == 0 or "TOOMANYREQUESTS" in response.text[:4096].upper()

    def _quota_message(self) -> str:
        if self.credentials.anonymous:
            return (
                "Docker Hub's pull quota is used up for anonymous pulls from this address; log in or run again "
                "when the window resets"
            )
        return "Docker Hub's pull quota is used up for this account; run again when the window resets"

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
