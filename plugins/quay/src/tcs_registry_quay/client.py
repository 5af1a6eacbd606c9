"""Quay's REST API /api/v1 (OAuth bearer tokens) on top of the core RegistryClient (the V2 API)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from tcs_registry import (
    AuthError,
    Credentials,
    ImageDescription,
    Registry,
    RegistryClient,
    RegistryError,
    TokenRefused,
    UsageError,
    oci,
)
from tcs_registry.default_plugins import v2
from tcs_registry.http import NO_AUTH, json_field, json_list

API = "/api/v1"
TAGS_PER_PAGE = 100  # the maximum `limit` Quay accepts for tags
OAUTH_USER = "$oauthtoken"  # docker login's user name for a Quay OAuth token
ACCESS_USER = "$token"  # a repository's access token (auth/credential_consts.py)
WEB_PAGES = ("repository", "organization", "user")  # a web page's URL: quay.io/repository/<org>/<repo>
log = logging.getLogger("tcs_registry.quay")


class QuayClient(RegistryClient):
    """A URL path names the organization, or one repository (read alone, with no listing); Quay serves
    /v2/ and /api/v1 at the host's root.

    Four ways in: an OAuth token (user ``$oauthtoken``) lists through the REST API; robots, users and
    application tokens (``$app``), which the REST API does not take, through the V2 catalog; anonymous
    users through the REST API's public listing; a (legacy) repository access token (``$token``) reads
    the one repository the URL names, as nothing lists for it. With an organization named, its public
    repositories are listed too, as anyone may pull them.
    """

    anonymous_ping = False  # endpoints/v2/v2auth.py: no scope, no anonymous token

    def __init__(self, registry: Registry, credentials: Credentials, **kwargs: Any) -> None:
        user = credentials.username or ""
        parts = registry.path.strip("/").split("/")
        parts = parts[1:] if len(parts) > 1 and parts[0] in WEB_PAGES else parts
        self.path = "/".join(parts)  # the organization, or a repository (names may hold "/")
        self.namespace = parts[0] or (user.split("+")[0] if "+" in user else None)
        self.oauth = user == OAUTH_USER and bool(credentials.password)
        self.access_token = user == ACCESS_USER
        if "/" in self.path and oci.name_problem(self.path):  # (Quay's token service: 400 NAME_INVALID)
            raise UsageError(
                f"the URL names the repository {self.path!r}, which is no repository name: lower-case letters,"
                " digits and . _ - (and / between the parts)"
            )
        if self.access_token and "/" not in self.path:
            # its context has no user: the catalog lists nothing for it (endpoints/v2/catalog.py), and
            # the REST API takes no Basic credentials
            raise UsageError(
                "a Quay access token ($token) reads the one repository it was made for: name it in the URL "
                f"({registry.scheme}://{registry.host}/<organization>/<repository>)"
            )
        if self.namespace is None and "/" not in self.path and (self.oauth or credentials.anonymous):
            # (listed by the REST API, organization by organization: refused before anything is asked)
            raise UsageError("Quay lists repositories per organization: name it in the URL (https://quay.io/<org>)")
        super().__init__(replace(registry, path=""), credentials, **kwargs)

    def scope_for(self, url: str) -> str | None:
        # Quay's token service refuses registry:catalog:* (400): its catalog wants a signed-in token with
        # no scope at all (quay endpoints/v2/v2auth.py, endpoints/v2/catalog.py).
        return None if urlsplit(url).path.endswith("/v2/_catalog") else super().scope_for(url)

    def _auth(self) -> dict[str, Any]:
        """Request options for /api/v1: the OAuth token if there is one (Quay ignores Basic there), and
        no V2 challenge handling."""
        headers = {"Authorization": f"Bearer {self.credentials.password}"} if self.oauth else {}
        return {"headers": headers, "auth": NO_AUTH}

    def _api(self, path: str, what: str, **params: Any) -> Any:
        return self.api_json(API + path, what, params=params, **self._auth())

    def repositories(self) -> Iterable[str]:
        if "/" in self.path:  # one repository: read as it is, not looked for in its organization's listing
            return [self.path]
        listing = self._rest_repositories() if self.oauth or self.credentials.anonymous else self._catalog_and_public()
        return self._or_no_namespace(listing) if self.path else listing

    def _or_no_namespace(self, listing: Iterable[str]) -> Iterator[str]:
        """The listing; if it is empty, an error when the URL's namespace is no organization or user at all
        (Quay's listings filter by a namespace without asking whether it exists: a typo lists nothing)."""
        found = False
        for name in listing:
            found = True
            yield name
        if not found and not self._namespace_exists(self.path):
            raise RegistryError(f"Quay has no organization or user named {self.path!r} (the URL's path)", 404)

    def _namespace_exists(self, namespace: str) -> bool:
        """Unless Quay answers 404 both as an organization (endpoints/api/organization.py, NotFound) and as
        a user (endpoints/api/user.py Users.get, users alone): another answer (401, anonymous access off)
        does not say."""
        for kind in ("organization", "users"):
            try:
                self._api(f"/{kind}/{quote(namespace, safe='')}", f"Quay {kind} {namespace}")
                return True
            except RegistryError as exc:
                if exc.status != 404:
                    return True
        return False

    def tags(self, repository: str) -> Iterable[str]:
        if self.oauth or self.credentials.anonymous:
            return self._rest_tags(repository)
        return self._v2_tags(repository)  # robots, users and application tokens: no push times

    def _v2_tags(self, repository: str) -> Iterator[str]:
        """``tags/list``. Its 401 after the log-in is no pull granted on the repository: Quay grants none
        on one that does not exist either, and says nothing else (endpoints/v2/v2auth.py)."""
        try:
            yield from v2.list_tags(registry=self.registry, client=self, repository=repository)
        except TokenRefused:  # (no token at all: the credentials, or anonymous access off, not this repository)
            raise
        except AuthError:
            who = "anonymous users" if self.credentials.anonymous else "this account"
            raise RegistryError(
                f"tags of {repository}: Quay grants {who} no pull on it (no such repository, or no read"
                " permission on it)",
                401,
            ) from None

    def describe(self, repository: str, tag: str) -> ImageDescription:
        described = v2.describe(self, repository, tag)
        return replace(described, push_time=self.pushed(repository, tag, described.digest))

    def _catalog_and_public(self) -> Iterator[str]:
        """What the V2 catalog lists (the repositories the account has a permission on), kept to the
        namespace, then the namespace's public repositories the catalog leaves out."""
        prefix = f"{self.namespace}/" if self.namespace else ""
        seen = set()
        for name in self.paginate("/v2/_catalog", "repositories", what="repository catalog"):
            if name.startswith(prefix):
                seen.add(name)
                yield name
        if self.namespace is None:
            return  # every public repository of the instance is not what was asked for
        try:
            yield from (name for name in self._rest_repositories() if name not in seen)
        except RegistryError as exc:
            if exc.status not in (401, 403):  # a failure of the listing, not a closed door: the run is partial
                raise
            # the REST API closed to anonymous users (FEATURE_ANONYMOUS_ACCESS off): the catalog is all
            # there is; public repositories the account holds no permission on stay unlisted (it could pull
            # them: v2auth grants pull on a public repository), and the user is told so
            log.warning(
                "Quay's public repositories of %s are not listed, but those this account has a permission on:"
                " its API answered %d to the anonymous listing (anonymous access is off); grant the account"
                " read on the others to scan them",
                self.namespace,
                exc.status,
            )

    def _rest_repositories(self) -> Iterator[str]:
        assert self.namespace is not None  # (refused at the start otherwise)
        what = f"Quay repositories of {self.namespace}"
        query = {"namespace": self.namespace, "public": "true", "repo_kind": "image"}
        pages = self.paginate(
            f"{API}/repository?" + urlencode(query),
            "repositories",
            size_param=None,
            next_key="next_page",
            cursor_param="next_page",
            what=what,
            **self._auth(),
        )
        for repository in pages:
            yield f"{json_field(repository, 'namespace', what)}/{json_field(repository, 'name', what)}"

    def _rest_tags(self, repository: str) -> list[str]:
        """The tags, by name from ``tags/list`` (paged by name: stable while tags come and go), each with
        its push time from /api/v1 (``start_ts``). Quay's REST tag list pages by offset, newest first:
        a tag pushed, deleted or expired while its pages are read shifts the rest, so it could repeat or
        miss a tag (quay data/model/oci/tag.py). It is read first, for the push times only."""
        what = f"Quay tags of {repository}"
        page, more = 1, True
        try:
            while more:
                body = self._api(
                    f"/repository/{repository}/tag/", what, onlyActiveTags="true", limit=TAGS_PER_PAGE, page=page
                )
                tags = json_list(body.get("tags") if isinstance(body, dict) else None, what)
                for tag in tags:
                    self.listed.put((repository, json_field(tag, "name", what)), tag)
                more = bool(tags) and body.get("has_additional") is True  # an empty page ends it
                page += 1
        except RegistryError as exc:  # (the names come from tags/list: only push times are lost)
            if not (self.credentials.anonymous and exc.status == 401):  # (anonymous access off: tags/list says)
                log.warning("Push times of %s are not known: %s", repository, exc)
        return list(self._v2_tags(repository))

    def pushed(self, repository: str, tag: str, digest: str) -> datetime | None:
        """When the tag was pushed (``start_ts``), if the tag came from the REST listing and still points
        where it did then (``manifest_digest``: a tag pushed again since has a push time unknown)."""
        listed = self.listed.pop((repository, tag))
        if not listed or listed.get("manifest_digest") not in (None, digest):
            return None
        start = listed.get("start_ts")
        return datetime.fromtimestamp(start, UTC) if isinstance(start, int | float) else None
