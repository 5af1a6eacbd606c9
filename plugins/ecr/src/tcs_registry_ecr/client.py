"""Amazon ECR: boto3 lists, the V2 API (with a password from get_authorization_token) gives configs."""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from botocore.config import Config

from tcs_registry import (
    AuthError,
    Credentials,
    ImageDescription,
    ImageError,
    Registry,
    RegistryClient,
    RegistryError,
    UsageError,
    oci,
)
from tcs_registry.default_plugins import v2
from tcs_registry.http import CACHED_MANIFEST_BYTES, BoundedCache
from tcs_registry.oci import (
    IMAGE_TYPES,
    INDEX_TYPES,
    Manifest,
    compute_digest,
    in_namespace,
    parse_manifest,
)

from .hosts import EcrHost, parse_host

PAGE_SIZE = 1000  # the largest maxResults ECR accepts
BATCH = 100  # imageIds per batch_get_image call
PASSWORD_HOURS = 12  # get_authorization_token's password lasts 12 hours
REFUSED_GAP = 30.0  # seconds between two renewals of a password the registry refused
CACHE = 10_000
log = logging.getLogger("tcs_registry.ecr")
# Every type we read, as awslabs/amazon-ecr-containerd-resolver asks for them: without the list ECR
# answers Docker schema 2 only, converting or refusing OCI manifests and indexes.
ACCEPTED_MEDIA_TYPES = [*INDEX_TYPES, *IMAGE_TYPES]
MAX_REPOSITORY_NAME = 256  # botocore service-2.json RepositoryName: distribution's grammar, 256 characters


# the failures report's codes of ECR's errors (botocore's ecr service model names them)
AWS_CODES = {
    "RepositoryNotFoundException": "not-found",
    "ImageNotFoundException": "not-found",
    "LayersNotFoundException": "not-found",
    "ThrottlingException": "rate-limited",
}


def _aws_error(exc: Exception, what: str, password_given: bool = False) -> RegistryError:
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        given = "; a registry password (--password) cannot list ECR" if password_given else ""
        return AuthError(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
            f"or run where an instance or container role is available{given}"
        )
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", "")
        kind = AuthError if code in ("AccessDeniedException", "UnrecognizedClientException") else RegistryError
        return kind(f"{what}: AWS answered {code}: {message}", code=AWS_CODES.get(code))
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return RegistryError(f"{what}: {exc}")
    raise exc


def _client_config(session: boto3.session.Session, host: EcrHost, timeout: tuple[float, float]) -> Config:
    """Our defaults only where the user set nothing: a client Config wins over the environment and the
    profile in botocore, so a value given here would silently override AWS_USE_FIPS_ENDPOINT or a
    profile's retry_mode."""
    core = session._session  # botocore's session: it resolves env > profile > default
    settings: dict[str, Any] = {"connect_timeout": timeout[0], "read_timeout": timeout[1]}  # the run's, not 60 s
    if host.fips:  # the host name itself asks for FIPS; otherwise the user's setting decides
        settings["use_fips_endpoint"] = True
    if host.dual_stack:  # (AWS's "Making API requests over IPv6": the API's own dual-stack endpoint)
        settings["use_dualstack_endpoint"] = True
    retries: dict[str, Any] = {}
    if not _user_set(core, "retry_mode", "AWS_RETRY_MODE"):
        retries["mode"] = "adaptive"  # ECR throttles per API: back off on ThrottlingException
    if not _user_set(core, "max_attempts", "AWS_MAX_ATTEMPTS"):
        retries["max_attempts"] = 10
    if retries:
        settings["retries"] = retries
    return Config(**settings)


def _user_set(core: Any, key: str, variable: str) -> bool:
    if os.environ.get(variable):
        return True
    try:
        return key in core.get_scoped_config()
    except botocore.exceptions.ProfileNotFound:
        return False  # the client itself will say so, in its own words


class EcrClient(RegistryClient):
    describe_skipped = False  # a manifest read is a pull to ECR (LastRecordedPullTime): admitted images only

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        host = parse_host(registry.host)
        if host is None:
            raise UsageError(f"{registry.host} is not an ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com)")
        self.ecr_host = host
        self.namespace = registry.path.strip("/")  # a URL's path names a namespace: its repositories alone
        override = os.environ.get("TCS_ECR_REGISTRY_URL")
        if override:
            parts = urlsplit(override)
            registry = replace(registry, scheme=parts.scheme, host=parts.netloc, path="")
        super().__init__(replace(registry, path=""), Credentials(), **kwargs)
        try:
            session = boto3.session.Session()
            config = _client_config(session, host, self.timeout)
            self.ecr = session.client("ecr", region_name=host.region, config=config)
            self.ecr.meta.events.register("before-send", self._paced)
        except botocore.exceptions.BotoCoreError as exc:  # a profile that is not there, an unreadable config
            raise UsageError(f"AWS's settings cannot be used: {exc}") from None
        self._token_lock = threading.Lock()
        self._renew_at = self._fetched_at = self._expires_at = 0.0
        self.given = not credentials.anonymous  # a password given on the command line serves nothing here
        self._manifests = BoundedCache(CACHE)  # the core's cache, larger: a listing fills it in batches

    # -- the registry password ---------------------------------------------------------------------
    def _paced(self, **_: Any) -> None:
        """Every attempt of every API call takes its turn under --max-rate, as the V2 requests do (botocore
        takes what a before-send handler returns for the answer: None, to send)."""
        self.traffic.turn()

    def _refresh_password(self, refused: bool = False) -> None:
        """The registry password from get_authorization_token, renewed half-way through its life (12
        hours), timed by the local clock as AWS's credential helper does; again when the registry refused
        it (at most every REFUSED_GAP seconds)."""
        with self._token_lock:
            now = time.time()
            if now < self._renew_at and not (refused and now - self._fetched_at >= REFUSED_GAP):
                return
            try:
                answer = self.ecr.get_authorization_token(registryIds=[self.ecr_host.account])
            except Exception as exc:
                error = _aws_error(exc, "ECR get_authorization_token", self.given)
                if refused or now >= self._expires_at:
                    raise error from None
                # an early renewal that failed: the password in hand lasts till its end; asked again later
                log.warning("%s; the registry password in hand is kept until it expires", error)
                self._renew_at = time.time() + REFUSED_GAP  # (from the answer: the call may have taken long)
                return
            data = answer["authorizationData"][0]
            user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
            self.credentials = Credentials(user, password, source="ecr-authorization-token")
            expires = data.get("expiresAt")
            lifetime = expires.timestamp() - now if expires is not None else PASSWORD_HOURS * 3600
            self._fetched_at = now
            lifetime = min(max(lifetime, 0.0), PASSWORD_HOURS * 3600)
            self._renew_at, self._expires_at = now + lifetime / 2, now + lifetime - REFUSED_GAP

    def _authorization(self, scope: str | None, *, fresh: bool) -> str | None:
        self._refresh_password(refused=fresh)
        return super()._authorization(scope, fresh=fresh)

    def login(self) -> None:
        self._refresh_password()
        self.ping()

    def request(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """ECR answers a password it no longer takes (expired, or its role's session ended) with 403
        DENIED, not with 401 and a challenge (AWS's "Troubleshooting Docker commands", error 403:
        "Your authorization token has expired"): a new one is asked for, and the request sent once more."""
        sent_with = self._fetched_at  # (the password this request goes with, or an older one)
        response = super().request(method, path_or_url, **kwargs)
        if response.status_code != 403 or kwargs.get("auth") is not None:
            return response
        if "authorization token has expired" not in response.text.lower():
            return response
        self._refresh_password(refused=True)
        if self._fetched_at == sent_with:  # (none newer, here or by another thread: refused for another reason)
            return response
        response.close()
        return super().request(method, path_or_url, **kwargs)

    # -- listing through the ECR API ---------------------------------------------------------------
    def _pages(self, operation: str, what: str, **params: Any) -> Iterator[dict[str, Any]]:
        paginator = self.ecr.get_paginator(operation)
        try:
            yield from paginator.paginate(
                registryId=self.ecr_host.account, PaginationConfig={"PageSize": PAGE_SIZE}, **params
            )
        except Exception as exc:
            raise _aws_error(exc, what) from None

    def repositories(self) -> Iterator[str]:
        pages = self._pages("describe_repositories", "ECR describe_repositories")
        names = (repository["repositoryName"] for page in pages for repository in page.get("repositories", ()))
        yield from in_namespace(names, self.namespace)

    def name_problem(self, repository: str, tag: str | None = None) -> str | None:
        return oci.name_problem(repository, tag, longest=MAX_REPOSITORY_NAME)

    def tags(self, repository: str) -> list[str]:
        """Tagged images only (their details kept for describe())."""
        tags: list[str] = []
        what = f"ECR describe_images of {repository}"
        for page in self._pages("describe_images", what, repositoryName=repository, filter={"tagStatus": "TAGGED"}):
            for detail in page.get("imageDetails", ()):
                for tag in detail.get("imageTags") or ():
                    self.listed.put((repository, tag), detail)
                    tags.append(tag)
        return tags

    def read_ahead(self, repository: str, tags: list[str]) -> None:
        """The manifests of the images the run will describe, in batches: batch_get_image is how ECR
        counts a pull (it sets LastRecordedPullTime, which lifecycle rules on pull time go by), so the
        images the patterns, the shard or a signature's tag leave out are never read."""
        digests = {str(d["imageDigest"]) for d in (self.listed.get((repository, t)) for t in tags) if d}
        manifests = self._batch_manifests(repository, digests)
        children = {p.digest for m in manifests if m.is_index for p in m.platforms() if p.digest}
        self._batch_manifests(repository, children)

    def _batch_manifests(self, repository: str, digests: set[str]) -> list[Manifest]:
        """Manifests read ahead, 100 a call. One that cannot be used here (schema 1, not byte-exact,
        a failure) is left to describe(), which asks the V2 API and fails that image alone."""
        wanted = sorted(d for d in digests if self._manifests.get((repository, d)) is None)
        found = []
        failed: list[tuple[Exception, int]] = []
        for start in range(0, len(wanted), BATCH):
            ids = [{"imageDigest": d} for d in wanted[start : start + BATCH]]
            try:
                answer = self.ecr.batch_get_image(
                    registryId=self.ecr_host.account,
                    repositoryName=repository,
                    imageIds=ids,
                    acceptedMediaTypes=ACCEPTED_MEDIA_TYPES,
                )
            except Exception as exc:  # the read-ahead only: describe() asks the V2 API for this batch's
                failed.append((_aws_error(exc, f"ECR batch_get_image of {repository}"), len(ids)))
                continue
            for image in answer.get("images", ()):
                body = str(image.get("imageManifest") or "").encode()
                digest = str((image.get("imageId") or {}).get("imageDigest") or "")
                if len(body) > CACHED_MANIFEST_BYTES or compute_digest(body) != digest:
                    continue  # too big to keep, or not byte-exact (converted): the V2 API is asked instead
                try:
                    manifest = parse_manifest(body, image.get("imageManifestMediaType", ""), digest, repository)
                except ImageError:
                    continue
                self._manifests.put((repository, digest), manifest)
                found.append(manifest)
        if failed:  # (one line a repository, the first reason)
            log.warning("%s; %d of its images are read over the V2 API", failed[0][0], sum(n for _, n in failed))
        return found

    def describe(self, repository: str, tag: str) -> ImageDescription | None:
        """The generic description by digest (the manifests come from the read-ahead, else the V2 API),
        with ECR's push time."""
        detail = self.listed.pop((repository, tag))
        if detail is None:
            return None  # not from our listing: plain V2 describes it
        image = v2.describe(self, repository, tag, detail["imageDigest"])
        return replace(image, push_time=detail.get("imagePushedAt"))
