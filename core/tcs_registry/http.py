"""The shared registry HTTP client: V2 auth (Basic, Bearer token flow), retries, pagination, blobs.

Every plugin talks to its registry through a `RegistryClient`, so auth, retries, TLS settings and
error messages behave the same for every vendor.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import math
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from . import oci, redaction
from .deadlines import DEADLINES, Scope, WatchedAdapter
from .errors import AuthError, ImageError, RegistryError, TokenRefused
from .models import Credentials, Platform, Registry
from .pacing import DEFAULT_CONCURRENCY, YEAR, PacedRetry, Traffic, asked_to_wait, origin
from .terminal import printable

USER_AGENT = "tcs-registry"
DEFAULT_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
DEFAULT_PAGE_SIZE = 1000  # the largest page distribution allows by default; shrunk on a 400
TOKEN_LEEWAY = 10.0  # refresh a token this many seconds before it expires
log = logging.getLogger("tcs_registry")
RETRY_STATUSES = (429, 500, 502, 503, 504)
K = TypeVar("K")
V = TypeVar("V")
CACHED_CONFIGS = 512  # image configs kept by digest (tags sharing a config cost one fetch)
CACHED_CONFIG_BYTES = 256 * 1024
CACHED_MANIFESTS = 512  # manifests kept by (repository, digest): describing then scanning costs one fetch
CACHED_MANIFEST_BYTES = 64 * 1024
TOKENS_PER_SLOT = 64  # bearer tokens kept by scope, for each --concurrency slot: one per repository, needed
# only while its images are described; a dry run has up to 18 repositories a slot under way (16 images a
# slot described, 2 repositories listed ahead, one tag each), not every one a run over 100,000 met
LISTED = 10_000  # vendor listing entries (tag -> digest, push time...) kept until their image is described
MAX_PAGES = 100_000  # pages of one listing: beyond this a registry is looping in disguise
MAX_RETRY_AFTER = 60  # seconds: a registry asking for longer gets its answer as an error instead
MAX_BODY_BYTES = 64 * 1024 * 1024  # an answer read whole (JSON, manifests, tokens): more is refused
# a page of a listing (the tags of a repository of 100,000 in one page: 4 MB; a page of tiny names decoded
# takes ~15 times its size in memory)
MAX_PAGE_BYTES = 16 * 1024 * 1024
BODY_ATTEMPTS = 5
# attempts of one request that may run out of time (no answer, or none whole, within --timeout, or a 5xx
# after half of it), however they end: each costs about the whole --timeout, so fewer than the refusals a
# registry gets retried for
TIMEOUTS = 3
# a registry refusing one request in seven at random still fails one in a million after these
RETRIES = 6

_CHALLENGE_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_VENDOR_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # Artifactory and Nexus repository names
_REPOSITORY_PATH = re.compile(r"/v2/(.+)/(?:tags/list|manifests/[^/]+|blobs/[^/]+|referrers/[^/]+)$")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` header: ``Bearer realm="...",service="...",scope="a:b:pull,push"``."""
    challenges: list[Challenge] = []
    rest = header.strip()
    while rest:
        match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)(?:\s+|$)", rest)
        if not match:
            break
        scheme, rest = match.group(1).lower(), rest[match.end() :]
        params: dict[str, str] = {}
        while (param := _CHALLENGE_PARAM.match(rest)) and param.group(0).strip():
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[param.group(1).lower()] = value
            rest = rest[param.end() :]
        challenges.append(Challenge(scheme, params))
        rest = rest.lstrip(", ")
    return challenges


def scope_for(url: str) -> str | None:
    """The token scope a V2 request needs: ``registry:catalog:*`` or ``repository:<name>:pull``."""
    path = urlsplit(url).path
    if path.endswith("/v2/_catalog"):
        return "registry:catalog:*"
    match = _REPOSITORY_PATH.search(path)
    return f"repository:{match.group(1)}:pull" if match else None


def with_page_size(url: str, n: int | str, param: str = "n") -> str:
    """``url`` with the query parameter ``param`` (the page size, a page token) set to ``n``; the rest
    of the URL is left byte for byte."""
    value = quote(str(n), safe="")
    pattern = rf"([?&]){re.escape(param)}=[^&]*"
    if re.search(pattern, url):
        return re.sub(pattern, lambda m: f"{m.group(1)}{param}={value}", url, count=1)
    return f"{url}{'&' if '?' in url else '?'}{param}={value}"


def json_field(item: Any, key: str, what: str, kind: type = str) -> Any:
    """``item[key]`` from a vendor's JSON, or a one-line RegistryError if the answer is malformed."""
    value = item.get(key) if isinstance(item, dict) else None
    if not isinstance(value, kind):
        raise RegistryError(f"{what}: the registry answered an entry without a usable {key!r}")
    return value


def json_list(value: Any, what: str) -> list[Any]:
    """A list from a vendor's JSON, or a one-line RegistryError."""
    if not isinstance(value, list):
        raise RegistryError(f"{what}: the registry answered something that is not a list")
    return value


MIN_TOKEN_LIFETIME = 60.0  # distribution's token spec: a token lives at least this long


def token_lifetime(token: str, expires_in: Any = None, floor: float = MIN_TOKEN_LIFETIME) -> float:
    """Seconds a token may be used: ``expires_in`` if the token service said, else the JWT's own
    ``exp - iat`` (Quay, ACR), at least ``floor`` either way (a registry token: a minute); else for as
    long as it works (a 401 brings a new one)."""
    with suppress(TypeError, ValueError):
        if expires_in is not None and not isinstance(expires_in, bool):
            return max(float(expires_in), floor)
    expiry, issued = _jwt_times(token)
    if expiry is None:
        return float("inf")
    return max(expiry - (issued if issued is not None else time.time()), floor)


def token_expiry(token: str) -> float | None:
    """When a JWT says it expires (its ``exp``, a Unix time), if it is one that says."""
    return _jwt_times(token)[0]


def _jwt_times(token: str) -> tuple[float | None, float | None]:
    """A JWT's ``exp`` and ``iat`` claims, read without checking its signature (not ours to check)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"]), (float(claims["iat"]) if "iat" in claims else None)
    except (IndexError, ValueError, KeyError, TypeError, AttributeError):
        return None, None


def _later(response: requests.Response) -> str:
    """What an answer taken as it came, not retried, asks for: being asked again beyond a minute."""
    asked = asked_to_wait(response)
    if asked is None or asked <= MAX_RETRY_AFTER:
        return ""
    return f"; it asks to be asked again in {'more than a year' if asked > YEAR else f'{asked:,.0f} s'}, run again then"


def _first_error(response: requests.Response) -> dict[str, Any]:
    """The first entry of a V2 error body (``{"errors": [{"code", "message"}]}``), or {}."""
    try:
        first = response.json()["errors"][0]
    except (ValueError, KeyError, IndexError, TypeError):
        return {}
    return first if isinstance(first, dict) else {}


def error_code(response: requests.Response) -> str:
    """The first V2 error code of the body (``PAGINATION_NUMBER_INVALID``...), or ''."""
    return str(_first_error(response).get("code", ""))


def error_detail(response: requests.Response) -> str:
    """The registry's own error code and message: the V2 error format's, else a vendor API's one-line
    ``message`` (GitHub, Docker Hub), ``error_message`` or ``error`` (Quay), else a plain text answer's
    first line (Artifactory's "available only in Artifactory Pro"), cut to one short line."""
    first = _first_error(response)
    detail = " ".join(str(first.get(k, "")) for k in ("code", "message")).strip()
    if not detail:
        with suppress(ValueError, AttributeError):
            body = response.json()
            detail = next(
                (v for k in ("message", "error_message", "error", "detail") if isinstance(v := body.get(k), str)), ""
            )
    if not detail and response.headers.get("Content-Type", "").startswith("text/plain"):
        detail = next(iter(response.text[:1000].strip().splitlines()), "")
    # secrets hidden before the spaces are squeezed, the cut (a token cut in two is not found) and the
    # escapes (nor one escaped)
    return printable(" ".join(redaction.hide(detail).split())[:200])


# what servers answer a plain-HTTP request on a TLS port: Go's net/http (the CNCF registry, Harbor,
# Quay's), nginx, Apache httpd
_PLAIN_TO_TLS = re.compile(
    r"HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS port|speaking plain HTTP to an SSL",
    re.IGNORECASE,
)


def _reason(exc: Exception) -> str:
    """A short human reason from a requests/urllib3 exception chain."""
    text = str(exc)
    for pattern in (
        r"certificate verify failed: ([^(')\]]+)",
        r"\[Errno -?\d+\] ([^'\")]+)",
        r"hostname .+ doesn't match[^'\")]*",
    ):
        match = re.search(pattern, text)
        if match:
            return (match.group(1) if match.groups() else match.group(0)).strip()
    return type(exc).__name__


def _hung_up(exc: Exception, where: str) -> str | None:
    """What a host that was connected to did instead of answering (closed the connection, or spoke
    something other than HTTP), if that is what happened: not a connection refused."""
    cause = exc.args[0] if exc.args else None
    cause = getattr(cause, "reason", None) or cause  # (urllib3's MaxRetryError after its retries)
    if not isinstance(cause, ProtocolError):
        return None
    inner = cause.args[1] if len(cause.args) > 1 else None
    if isinstance(inner, http.client.BadStatusLine) and not isinstance(inner, http.client.RemoteDisconnected):
        return f"{where} does not answer in HTTP (it is not a registry, or not at this port)"
    return f"{where} closed the connection without an answer, every time it was asked"


HEADER_SAFE = re.compile(r"[!-~]+")  # visible ASCII: what a token may hold to be sent as it is


def sendable(token: str, who: str) -> str:
    """The token a service gave, if it can be sent as it is in a header: visible ASCII, all RFC 6750 allows
    (a line break would add a header of the registry's choosing; requests' refusal would echo it)."""
    if not HEADER_SAFE.fullmatch(token):
        raise RegistryError(f"{who} answered a token with spaces or control characters in it")
    return token


class NoAuth(requests.auth.AuthBase):
    """Sends the request as built: keeps requests from adding ``~/.netrc`` credentials."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


NO_AUTH = NoAuth()


class OneAtATime(Generic[K]):
    """A lock for each key in use (a token's scope, a config's digest): the threads that want the same
    thing fetched wait for the one fetching it, then find it kept. A key's lock goes once no thread holds
    it or waits for it, so that a registry's thousands of digests leave nothing behind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._locks: dict[K, tuple[threading.Lock, list[int]]] = {}  # key -> (its lock, [threads using it])

    @contextmanager
    def __call__(self, key: K) -> Iterator[None]:
        with self._lock:
            lock, users = self._locks.setdefault(key, (threading.Lock(), [0]))
            users[0] += 1
        try:
            with lock:
                yield
        finally:
            with self._lock:
                users[0] -= 1
                if not users[0]:
                    del self._locks[key]


class BoundedCache(Generic[K, V]):
    """A thread-safe LRU mapping of at most ``size`` entries, and, with ``weight``, of entries whose weights
    add up to ``budget`` at most (the last one put is kept whatever it weighs)."""

    def __init__(self, size: int, weight: Callable[[V], int] = lambda _: 0, budget: float = math.inf) -> None:
        self.size = size
        self._weight, self._budget, self._weighs = weight, budget, 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._forget(key)
            self._items[key] = value
            self._weighs += self._weight(value)
            while len(self._items) > self.size or (self._weighs > self._budget and len(self._items) > 1):
                self._forget(next(iter(self._items)))

    def pop(self, key: K) -> V | None:
        with self._lock:
            return self._forget(key)

    def _forget(self, key: K) -> V | None:
        if key not in self._items:
            return None
        value = self._items.pop(key)
        self._weighs -= self._weight(value)
        return value

    def __len__(self) -> int:
        return len(self._items)


class AnswerTooLarge(RegistryError):
    """An answer read whole that is larger than its limit."""


def _read_body(response: requests.Response, host: str, limit: int = MAX_BODY_BYTES) -> requests.Response:
    """Reads a (streamed) answer whole, refusing one larger than ``limit``: a listing page, a manifest
    or a token answer of gigabytes is a broken or hostile registry, not data."""
    declared = response.headers.get("Content-Length") or ""
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise AnswerTooLarge(f"{host} answered {int(declared)} bytes, more than the {limit} this tool reads")
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            response.close()
            raise AnswerTooLarge(f"{host} answered more than the {limit} bytes this tool reads")
        chunks.append(chunk)
    response._content = b"".join(chunks)  # what Response.content would have read, now bounded
    response._content_consumed = True
    return response


# a URL that requests' preparing would leave as it is: lower-case host, nothing to quote or requote (and
# no "." or ".." segment to remove)
PLAIN_URL = re.compile(r"https?://[a-z0-9.\-]+(:[0-9]+)?/[A-Za-z0-9\-._~/:@!$&'()*+,;=?]*")


class Adapter(WatchedAdapter):
    """requests' adapter without the work a registry client has no use for on every answer: each pool is
    looked up once (not parsed out of the URL again per request), and no answer's cookies are stored
    (registry APIs need none; the requests of a Transport send none)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pools: dict[tuple[str, bool | str, Any], Any] = {}

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: bool | str | None, proxies: Any = None, cert: Any = None
    ) -> Any:
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        scheme, _, host, *_ = (request.url or "").split("/", 3)
        key = (f"{scheme}//{host}", verify if verify is not None else True, cert)
        pool = self._pools.get(key)
        if pool is None:
            if len(self._pools) >= self._pool_connections:  # as many as the pool manager keeps: a pool it
                self._pools.clear()  # dropped for another host's is not kept alive here
            pool = self._pools[key] = super().get_connection_with_tls_context(request, verify, proxies, cert)
        return pool

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        return super().request_url(request, proxies) if proxies else request.path_url  # (as requests does)

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = requests.Response()  # what requests builds, but for the cookie jar
        response.status_code = resp.status
        response.headers = requests.structures.CaseInsensitiveDict(resp.headers)
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.raw, response.reason, response.url = resp, resp.reason, req.url or ""
        response.request, response.connection = req, self
        return response

    def close(self) -> None:
        self._pools.clear()
        super().close()


class Transport:
    """requests' HTTPAdapter (pooled keep-alive connections, TLS, proxies, urllib3's retries) without
    requests.Session's work on every request, which is half of what a request costs this process in a
    big run: no cookies (registry APIs have no use for them), no ~/.netrc, the environment's proxy and CA
    variables read once per host instead of scanning os.environ each time, and redirects followed here,
    where Authorization is dropped whenever the redirect leaves the origin it was meant for."""

    MAX_REDIRECTS = 10

    def __init__(self, adapter: HTTPAdapter | None = None, user_agent: str = USER_AGENT) -> None:
        self.adapter = adapter or HTTPAdapter()
        self.headers = {**requests.utils.default_headers(), "User-Agent": user_agent}
        self._environment: dict[tuple[str, str], tuple[dict[str, str], str | None]] = {}

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        auth: Any = None,
        timeout: Any = DEFAULT_TIMEOUT,
        verify: bool | str = True,
    ) -> requests.Response:
        """The answer, streaming: its body is the caller's to read (or to close)."""
        prepared = requests.PreparedRequest()
        sent = {**self.headers, **(headers or {})}
        plain = params is None and data is None and json is None and auth in (None, NO_AUTH)
        if plain and method in ("GET", "HEAD") and PLAIN_URL.fullmatch(url) and "/." not in url:
            # what prepare() would make of it (most requests: a manifest, a config), without its parsing
            prepared.method, prepared.url = method, url
            prepared.headers = requests.structures.CaseInsensitiveDict(sent)
            for header in sent.items():
                requests.utils.check_header_validity(header)  # (as prepare() checks each: no line breaks)
        else:
            prepared.prepare(method=method, url=url, headers=sent, params=params, data=data, json=json, auth=auth)
        redaction.authorization(prepared.headers.get("Authorization"))  # whatever a registry echoes of it
        for _hop in range(self.MAX_REDIRECTS + 1):
            proxies, bundle = self._settings(prepared.url or "")
            response = self.adapter.send(
                prepared,
                stream=True,
                timeout=timeout,
                verify=bundle if verify is True and bundle else verify,
                proxies=proxies,
            )
            if not response.is_redirect:
                return response
            prepared = self._redirected(prepared, response)
        raise requests.exceptions.TooManyRedirects(f"more than {self.MAX_REDIRECTS} redirects")

    @staticmethod
    def _redirected(prepared: requests.PreparedRequest, response: requests.Response) -> requests.PreparedRequest:
        """The request a redirect asks for (RFC 9110 15.4): a 303, or a 301/302 after a POST, becomes a
        GET without body; Authorization goes only where the original request was going."""
        target = urljoin(prepared.url or "", response.headers["Location"])
        with suppress(urllib3.exceptions.HTTPError, OSError):  # read: an unread body keeps its connection
            response.raw.read(64 * 1024, decode_content=False)  # out of the pool (too big: closed instead)
        response.close()
        following = prepared.copy()
        following.prepare_url(target, None)
        to_get = response.status_code == 303 or (response.status_code in (301, 302) and prepared.method == "POST")
        if to_get and prepared.method != "HEAD":
            following.method, following.body = "GET", None
            for header in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                following.headers.pop(header, None)
        if origin(following.url or "") != origin(prepared.url or ""):
            following.headers.pop("Authorization", None)
        return following

    def _settings(self, url: str) -> tuple[dict[str, str], str | None]:
        """The environment's proxies for ``url`` and its CA bundle, read once per scheme and host."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._environment:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            self._environment[key] = (requests.utils.get_environ_proxies(url), bundle)
        return self._environment[key]

    def close(self) -> None:
        self.adapter.close()


class RegistryClient:
    """An authenticated HTTP client for one registry; safe to share between threads."""

    retry_statuses: tuple[int, ...] = RETRY_STATUSES  # a vendor whose 429 means "hours" leaves it out
    # a dry run describes the images the patterns leave out too, for their build time in its report;
    # False where describing costs what the user counts (Docker Hub: a pull from the quota each)
    describe_skipped = True
    # False where the token service gives anonymous users no token without a repository scope (Quay,
    # Harbor): their /v2/ is then only checked for an answer
    anonymous_ping = True
    link_paths_are_right = True  # False for vendors whose next links carry a wrong path (Artifactory)

    def __init__(
        self,
        registry: Registry,
        credentials: Credentials,
        *,
        timeout: tuple[float, float] | None = None,
        retries: int = RETRIES,
    ) -> None:
        self.registry = registry
        self.credentials = credentials
        read = registry.options.get("timeout")  # --timeout: how long an answer may keep us waiting
        self.timeout = timeout or ((DEFAULT_TIMEOUT[0], float(read)) if read else DEFAULT_TIMEOUT)
        workers = int(registry.options.get("concurrency", DEFAULT_CONCURRENCY))
        self.traffic = Traffic(registry.options.get("max_rate"), workers)
        retry = PacedRetry(
            total=retries,
            connect=min(retries, 2),  # a refused connection rarely heals in seconds
            read=retries,
            other=0,  # TLS verification failures and the like do not heal by retrying
            status=retries,
            backoff_factor=0.25,  # a first retry at once, then after 0.5, 1, 2, 4, 8 s (or what Retry-After says)
            status_forcelist=self.retry_statuses,
            allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True,
            retry_after_max=MAX_RETRY_AFTER,
            raise_on_status=False,
        )
        retry.traffic, retry.on_timeout = self.traffic, self._timed_out
        self._request = threading.local()  # .timeouts: of the request this thread is sending
        # every request in flight keeps its connection: at most `workers` reads, and tokens and API calls
        adapter = Adapter(max_retries=retry, pool_connections=4, pool_maxsize=max(2 * workers + 4, 16))
        self.transport = Transport(adapter)
        self._lock = threading.Lock()
        self._challenge: Challenge | None = None
        self._tokens: BoundedCache[tuple[str, str, str], tuple[str, float]] = BoundedCache(TOKENS_PER_SLOT * workers)
        self._fetching_token: OneAtATime[tuple[str, str, str]] = OneAtATime()
        self._configs: BoundedCache[str, dict[str, Any]] = BoundedCache(CACHED_CONFIGS)
        self._fetching_config: OneAtATime[str] = OneAtATime()
        self._manifests: BoundedCache[tuple[str, str], oci.Manifest] = BoundedCache(CACHED_MANIFESTS)
        # what a vendor's listing said of each tag, kept for describing it without asking again
        self.listed: BoundedCache[tuple[str, str], Any] = BoundedCache(LISTED)
        self._origin = self.traffic.home = origin(registry.api_root)

    # -- transport ---------------------------------------------------------------------------
    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.registry.api_root + path_or_url

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        # per request: a session-level verify loses to REQUESTS_CA_BUNDLE (requests issue 3829)
        kwargs.setdefault("verify", self.registry.verify)
        if kwargs.get("auth") is None:
            kwargs["auth"] = NO_AUTH
        token_service = kwargs.pop("token_service", False)
        host = urlsplit(url).netloc  # as errors name it
        host = f"the registry's token service {host}" if token_service else host
        limit = kwargs.pop("max_bytes", MAX_BODY_BYTES)
        stream = kwargs.pop("stream", False)  # the caller reads the body itself (layers), with limits of its own
        # a slot is for reading the registry; a token asked for while it waits must not wait for one too
        home = origin(url) == self._origin
        gated = kwargs.pop("gated", True) and method in ("GET", "HEAD") and home
        of_registry = token_service or home  # (a vendor API elsewhere: its 429s are its own)
        authorize = kwargs.pop("authorize", None)
        resendable = kwargs.pop("resendable", False) or method in ("GET", "HEAD")
        with self._own_timeouts():
            for attempt in range(1 if stream else BODY_ATTEMPTS):  # a connection broken mid-body is tried again
                turn_of = self.traffic.request(gated, resendable, of_registry)
                with turn_of as turn, DEADLINES.scope(self.timeout[1]) as scope:
                    if authorize is not None:
                        self._authorize(kwargs["headers"], turn.credentials(authorize))
                    response = self._transport(method, url, host, scope, **kwargs)
                    if stream:  # the deadline and the slot are for the status line and headers, that is
                        turn.answered(response)
                        return response
                    try:
                        answer = _read_body(response, host, limit)
                        if scope.cut:  # an answer that ends with its connection ended where the deadline shut it
                            raise requests.exceptions.ConnectionError("shut at its deadline")
                        turn.answered(answer)
                        return answer
                    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError) as exc:
                        response.close()
                        spent = scope.cut and self._count_timeout()
                        if attempt + 1 == BODY_ATTEMPTS or spent or not resendable:
                            what = self._too_slow(host) if scope.cut else f"{host} broke off its answer"
                            code = "timeout" if scope.cut else None
                            # (a slow 5xx counted already, whose body was then cut, is one attempt)
                            times = min(self._request.timeouts, TIMEOUTS) if scope.cut else attempt + 1
                            what += " once" if times == 1 else f" {times} times"
                            raise RegistryError(f"{what}: {_reason(exc)}", code=code) from None
                        log.debug("Answer from %s broken off (%s); asking again", host, _reason(exc))
            raise AssertionError("unreachable")

    @contextmanager
    def _own_timeouts(self) -> Iterator[None]:
        """This thread's request counts its attempts that ran out of time from 0 (a token asked for while
        it is sent counts its own, and the request's count is back after it)."""
        outer, self._request.timeouts = getattr(self._request, "timeouts", 0), 0
        try:
            yield
        finally:
            self._request.timeouts = outer

    def _timed_out(self, error: Exception | None, response: Any = None) -> bool:
        """urllib3's retries tell of each error and each answer retried: whether it was an attempt that ran
        out of time (no answer within --timeout, one cut at its deadline, or a 5xx after half of it), the
        last its request may make."""
        cut = isinstance(error, ProtocolError) and DEADLINES.cut()  # not a refused connection after a cut
        # a 5xx that came after half of --timeout or more costs about as much as a timeout: a gateway that
        # gave up waiting for the registry behind it (504 after nginx's or an AWS load balancer's 60 s); one
        # that came at once is a refusal like any other, retried as often
        slow = response is not None and response.status >= 500 and DEADLINES.waited() >= self.timeout[1] / 2
        return (isinstance(error, ReadTimeoutError) or cut or slow) and self._count_timeout()

    def _count_timeout(self) -> bool:
        """One more attempt of this thread's request ran out of time: True once it has had TIMEOUTS."""
        self._request.timeouts += 1
        return self._request.timeouts >= TIMEOUTS

    @staticmethod
    def _authorize(headers: dict[str, str], authorization: str | None) -> None:
        if authorization:
            headers["Authorization"] = authorization
        else:
            headers.pop("Authorization", None)

    def _too_slow(self, host: str) -> str:
        return f"{host} took longer than {self.timeout[1]:g} s to answer"

    def _transport(self, method: str, url: str, host: str, scope: Scope, **kwargs: Any) -> requests.Response:
        try:
            return self.transport.request(method, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            if "WRONG_VERSION_NUMBER" in str(exc) or "record layer failure" in str(exc):
                # (a token service's or vendor API's URL is not the user's to mend)
                users = origin(url) == self._origin
                hint = "; if it is a plain-HTTP registry, use an http:// URL" if users else ""
                raise RegistryError(f"{host} does not speak TLS{hint}") from None
            raise RegistryError(
                f"TLS verification failed for {host}: {_reason(exc)}; if the registry uses a private CA, "
                "pass --ca-cert PATH (or --insecure to skip verification)"
            ) from None
        except requests.exceptions.Timeout:
            raise RegistryError(f"{host} did not answer within {self.timeout[1]:.0f} s", code="timeout") from None
        except requests.exceptions.ConnectionError as exc:
            if scope.cut or isinstance(getattr(exc.args[0] if exc.args else None, "reason", None), ReadTimeoutError):
                # no answer (or none whole) within --timeout, every time it was asked
                raise RegistryError(f"{self._too_slow(host)}, every time it was asked", code="timeout") from None
            self.traffic.halt_if_starved()  # waited for till it was gone: the run stops, this image is undone
            # a redirect's host, where it was one (a blob store the registry sends its blobs' reads to)
            failed = urlsplit(getattr(exc.request, "url", None) or url).netloc
            where = host if failed == urlsplit(url).netloc else f"{failed} (where {host} redirected the request)"
            raise RegistryError(_hung_up(exc, where) or f"cannot connect to {where}: {_reason(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise RegistryError(f"request to {host} failed: {_reason(exc)}") from None

    def request(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send a request, answering the registry's auth challenge once if it asks for one."""
        url = self.url(path_or_url)
        if kwargs.get("auth") is not None:  # a vendor API call with its own auth: no V2 challenge dance
            return self._send(method, url, **kwargs)
        scope = self.scope_for(url)
        headers = dict(kwargs.pop("headers", None) or {})
        home = origin(url) == self._origin  # credentials go to the registry itself, nowhere else
        authorize = (lambda: self._authorization(scope, fresh=False)) if home else None
        response = self._send(method, url, headers=headers, authorize=authorize, **kwargs)
        if response.status_code != 401 or not home or origin(response.url) != self._origin:
            return response
        challenge = self._pick(parse_challenges(response.headers.get("WWW-Authenticate", "")))
        if challenge is None:
            return response
        if challenge.scheme == "basic" and headers.get("Authorization", "").startswith("Bearer "):
            # a refused token, not a change of scheme: Harbor answers Basic to any request that carried
            # credentials (v2auth/auth.go), and Basic on every request would bind LDAP each time
            challenge = self._challenge if self._challenge and self._challenge.scheme == "bearer" else challenge
        with self._lock:
            self._challenge = challenge
        wanted = challenge.params.get("scope") or scope
        # a new token only if the one just refused was for this very scope (else the cached one may do);
        # a request that carried none was not refused anything,
        # then, if cached credentials were refused too (a token revoked early, a password renewed since),
        # once more with fresh ones; never the same credentials twice
        for fresh in dict.fromkeys(("Authorization" in headers and wanted == scope, True)):
            authorization = self._authorization(wanted, fresh=fresh)
            if not authorization or authorization == headers.get("Authorization"):
                return response
            response.close()
            headers["Authorization"] = authorization
            response = self._send(method, url, headers=headers, **kwargs)
            if response.status_code != 401:
                break
        return response

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path_or_url, **kwargs)

    def scope_for(self, url: str) -> str | None:
        """The token scope a request needs; vendors with API paths of their own extend it."""
        return scope_for(url)

    # -- auth --------------------------------------------------------------------------------
    def _pick(self, challenges: list[Challenge]) -> Challenge | None:
        by_scheme = {c.scheme: c for c in challenges}
        if "bearer" in by_scheme and by_scheme["bearer"].params.get("realm"):
            return by_scheme["bearer"]
        return by_scheme.get("basic")

    def _basic(self) -> str | None:
        if self.credentials.anonymous:
            return None
        if self.credentials.identity_token:  # a refresh token, for a token service: never sent as a password
            raise AuthError(
                f"{self.registry.host} asks for a user and password (Basic), and the credentials are an identity "
                f"token (docker login's, from {self.credentials.origin}): pass --username and --password"
            )
        raw = f"{self.credentials.username or ''}:{self.credentials.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _authorization(self, scope: str | None, *, fresh: bool) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self._basic()
        return "Bearer " + self.token(challenge, scope, fresh=fresh)

    def token(self, challenge: Challenge, scope: str | None, *, fresh: bool = False) -> str:
        """A Bearer token for ``scope``, cached per (realm, service, scope) until shortly before expiry."""
        key = (challenge.params["realm"], challenge.params.get("service", ""), scope or "")
        stale = self._tokens.get(key) if fresh else None
        with self._fetching_token(key):  # one fetch per scope, however many threads want it at once
            cached = self._tokens.get(key)
            if cached and cached is not stale and cached[1] - TOKEN_LEEWAY > time.time():
                return cached[0]
            token, expires = self._fetch_token(challenge, scope)
            token = sendable(token, f"token service {urlsplit(challenge.params['realm']).netloc}")
            self._tokens.put(key, (token, expires))
            return token

    def _fetch_token(self, challenge: Challenge, scope: str | None) -> tuple[str, float]:
        realm = challenge.params["realm"]
        params: list[tuple[str, str]] = []
        if challenge.params.get("service"):
            params.append(("service", challenge.params["service"]))
        params += [("scope", one) for one in (scope or "").split()]  # a challenge may ask for several
        auth = None
        if not self.credentials.anonymous:
            if self.registry.scheme == "https" and not realm.startswith("https://"):
                raise AuthError(
                    f"the registry's token service {realm} is not HTTPS; refusing to send credentials over it"
                )
            auth = (self.credentials.username or "", self.credentials.password or "")
            if self.credentials.username:
                params.append(("account", self.credentials.username))
        fetched_at = time.time()
        identity = self.credentials.identity_token
        if identity:  # OAuth2's refresh grant (distribution's docs/spec/auth/oauth.md): a POST, scopes in one field
            form = {"grant_type": "refresh_token", "refresh_token": self.credentials.password or ""}
            form.update(service=challenge.params.get("service", ""), scope=scope or "", client_id=USER_AGENT)
            response = self._send("POST", realm, data=form, gated=False, resendable=True, token_service=True)
        else:
            response = self._send("GET", realm, params=params, auth=auth, gated=False, token_service=True)
        service = urlsplit(realm).netloc
        # (an OAuth2 server refuses a refresh token with 400 invalid_grant: RFC 6749 section 5.2)
        refused = identity and response.status_code == 400 and "invalid_grant" in response.text[:1000]
        if response.status_code in (401, 403) or refused:
            # (anonymous: the service's reason says why none is given, "Anonymous access is not allowed")
            detail = error_detail(response) if self.credentials.anonymous else ""
            reason = f" ({detail})" if detail else ""
            # (no status: not one read's 401, which a plugin may take for that repository's permission)
            raise TokenRefused(self._refused("the registry's token service") + reason)
        if identity and response.status_code in (404, 405):  # (the spec: POST unknown to GET-only servers)
            raise AuthError(f"the registry's token service {service} takes no identity token (docker login's)")
        if not response.ok:
            detail = error_detail(response)
            if response.status_code == 429:
                self.traffic.halt_if_starved(f" ({detail})" if detail else "")
            raise RegistryError(
                f"token service {service} answered {response.status_code}"
                + (f" ({detail})" if detail else "")
                + _later(response),
                response.status_code,
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            expires_in = body.get("expires_in")
        except (ValueError, AttributeError, TypeError):
            token = expires_in = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token service {service} answered without a usable token")
        # Expiry by the local clock: the token server's issued_at may come from a skewed clock.
        return token, fetched_at + token_lifetime(token, expires_in)

    def _refused(self, who: str) -> str:
        return self.credentials.refused(who)

    # -- checks ------------------------------------------------------------------------------
    def check(self, response: requests.Response, what: str, missing: str = "") -> requests.Response:
        """Return ``response`` if it is a success; otherwise raise an error naming ``what`` (a 404 is
        the image's own ImageError, "<missing> not found", when ``missing`` names the content)."""
        if response.ok:
            return response
        status = response.status_code
        if status == 404 and missing:
            raise ImageError(f"{what}: {missing} not found", code="not-found")
        if status == 400 and self.registry.scheme == "http" and _PLAIN_TO_TLS.search(response.text[:1000]):
            raise RegistryError(f"{self.registry.host} speaks TLS on this port: use https://{self.registry.host}")
        detail = error_detail(response)
        suffix = f" ({detail})" if detail else ""
        if status == 401:
            raise AuthError(f"{what}: {self._refused('the registry')}{suffix}", status)
        if status == 403:
            raise AuthError(f"{what}: access denied{suffix}", status)
        later = _later(response)
        if status == 429:
            self.traffic.halt_if_starved(suffix + later)
            retried = "" if later else " after retries"
            raise RegistryError(f"{what}: rate limited by the registry (429){retried}{suffix}{later}", status)
        raise RegistryError(f"{what}: the registry answered {status}{suffix}{later}", status)

    def json(self, response: requests.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "unknown content type")
            raise RegistryError(f"{what}: the registry answered with invalid JSON ({kind})") from None

    def login(self) -> None:
        """Check that the registry answers and takes the credentials; vendors may do more."""
        self.ping()

    def ping(self, prefix: str = "") -> None:
        """``GET <prefix>/v2/``: reachability, V2 support and (through the challenge) the credentials.
        ``prefix`` is a vendor's per-repository V2 base, if the registry has one."""
        if self.credentials.anonymous and not self.anonymous_ping:
            # a token service that gives anonymous users a token for a repository scope only (Quay,
            # Harbor): /v2/ answering at all will do
            response = self._send("GET", self.url(f"{prefix}/v2/"))
            if response.status_code not in (200, 401):
                self.check(response, f"{self.registry.host}{prefix}/v2/")
            return
        response = self.get(f"{prefix}/v2/")
        if response.status_code == 404:
            raise RegistryError(f"{self.url(prefix + '/v2/')} answered 404: not a Docker Registry V2 / OCI endpoint")
        if response.status_code == 401:
            raise AuthError(self._refused("the registry"))
        self.check(response, f"{self.registry.host}{prefix}/v2/")

    def api_json(self, url: str, what: str, *, method: str = "GET", **kwargs: Any) -> Any:
        """A vendor REST API call (its own ``auth``/``headers``, no V2 challenge handling) -> its JSON."""
        headers = {"Accept": "application/json", **(kwargs.pop("headers", None) or {})}
        response = self._send(method, self.url(url), headers=headers, **kwargs)
        return self.json(self.check(response, what), what)

    # -- listing -----------------------------------------------------------------------------
    def api_auth(self) -> tuple[str, str] | NoAuth:
        """``auth=`` for a vendor REST API that takes Basic auth: the user's credentials, or
        explicitly none (either way the request skips the /v2/ challenge handling)."""
        if self.credentials.anonymous:
            return NO_AUTH
        return self.credentials.username or "", self.credentials.password or ""

    def paginate(
        self,
        path: str,
        key: str | None,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        size_param: str | None = "n",
        next_key: str | None = None,
        cursor_param: str | None = None,
        what: str = "",
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Yield the ``key`` list of every page (the body itself if ``key`` is None), following
        ``Link: <...>; rel="next"`` (or the URL in the body's ``next_key``, as REST APIs such as
        Docker Hub's put it; with ``cursor_param``, the body's ``next_key`` is a cursor that goes into that
        query parameter, as Quay's ``next_page`` and Nexus's ``continuationToken`` do). ``size_param``
        names the page-size parameter (None: the API has none); ``kwargs`` go to every request (a
        vendor API's ``auth`` or ``headers``).

        Asks for ``page_size`` entries and halves it when the registry refuses the size with a 400
        (distribution's PAGINATION_NUMBER_INVALID). A short page does not end the listing; only the
        absence of a next link does. A link that points back to a page already read is an error.
        With ``missing_ok``, a 404 on the first page means an empty listing.
        """
        what = what or path
        kwargs.setdefault("max_bytes", min(MAX_PAGE_BYTES, MAX_BODY_BYTES))
        url = with_page_size(self.url(path), page_size, size_param) if size_param else self.url(path)
        seen = {url}
        home = origin(url)
        while True:
            if len(seen) > MAX_PAGES:
                raise RegistryError(f"{what}: more than {MAX_PAGES} pages; the listing does not end")
            if origin(url) != home:  # a page on another host gets none of this API's credentials
                headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
                kwargs = {**kwargs, "headers": headers, **({"auth": NO_AUTH} if "auth" in kwargs else {})}
                home = origin(url)
            response = self.get(url, **kwargs)
            # only distribution's own word for it: a REST API's 400 may name the size and mean something else
            # (GitHub: "per_page multiplied by page cannot be greater than 10000"), and asking again with
            # smaller pages would list everything again
            size_refused = error_code(response) == "PAGINATION_NUMBER_INVALID"
            if response.status_code == 400 and size_param and page_size > 1 and size_refused:
                page_size //= 2
                url = with_page_size(url, page_size, size_param)
                continue
            if response.status_code == 404 and missing_ok and len(seen) == 1:
                return
            self.check(response, what)
            body = self.json(response, what)
            items = body if key is None else body.get(key) if isinstance(body, dict) else "not an object"
            if not isinstance(items, list | None):
                raise RegistryError(f"{what}: the registry answered a page without a {key or 'JSON'!r} list")
            yield from items or ()
            link = (
                body.get(next_key) if next_key and isinstance(body, dict) else response.links.get("next", {}).get("url")
            )
            if not link:
                return
            url = with_page_size(url, link, cursor_param) if cursor_param else self._follow(response.url, link, what)
            if url in seen:
                raise RegistryError(f"{what}: the registry's pagination loops back to {link}")
            seen.add(url)

    def _follow(self, current: str, link: str, what: str) -> str:
        """The absolute URL of a ``Link`` target, refusing a downgrade from HTTPS to HTTP."""
        unusable = RegistryError(f"{what}: the registry linked to an unusable URL {link}")
        try:
            if not self.link_paths_are_right:  # keep our own URL, take only the link's query
                query = urlsplit(urljoin(current, link)).query
                return urlunsplit(urlsplit(current)._replace(query=query))
            if link.startswith("/v2/") and self.registry.path:
                link = self.registry.path + link  # a registry behind a path prefix that does not know it
            url = urljoin(current, link)
            scheme = urlsplit(url).scheme
        except ValueError:  # e.g. "//[x": not a URL at all
            raise unusable from None
        if scheme not in ("http", "https"):
            raise unusable
        if self.registry.scheme == "https" and scheme != "https":
            raise RegistryError(f"{what}: the registry linked from HTTPS to plain HTTP ({link}); refusing")
        return url

    # -- content -----------------------------------------------------------------------------
    def manifest(self, repository: str, reference: str) -> oci.Manifest:
        """Fetch and parse a manifest or index; its digest is checked against the body. Kept by digest
        (small ones, a bounded number), so a manifest read to describe an image is not fetched again
        to scan it."""
        cached = self._manifests.get((repository, reference))
        if cached is not None:
            return cached
        what = self._image(repository, reference)
        # no more read than a manifest may hold (a failed image's answer stays alive with its error)
        path, accept = f"/v2/{repository}/manifests/{reference}", {"Accept": oci.MANIFEST_ACCEPT}
        response = self._content(path, what, "manifest", oci.MAX_MANIFEST_BYTES, headers=accept)
        body = response.content
        digest = response.headers.get("Docker-Content-Digest") or ""
        if oci.is_digest(reference):
            oci.verify_digest(body, reference, what)
            digest = reference
        elif digest:
            oci.verify_digest(body, digest, what)
        else:
            digest = oci.compute_digest(body)
        manifest = oci.parse_manifest(body, response.headers.get("Content-Type", ""), digest, what)
        if len(body) <= CACHED_MANIFEST_BYTES:
            self._manifests.put((repository, digest), manifest)
        return manifest

    def platform_manifests(
        self, repository: str, index: oci.Manifest, platforms: Iterable[Platform]
    ) -> list[tuple[Platform, oci.Manifest]]:
        """The manifests ``index`` names for ``platforms``, but those the registry does not hold: an index
        may be sparse (a mirror of some platforms only, Quay's FEATURE_SPARSE_INDEX); ImageError if it
        holds none of them."""
        platforms = list(platforms)
        found = []
        for platform in platforms:
            try:
                found.append((platform, self.manifest(repository, platform.digest or "")))
            except ImageError as exc:
                if exc.code != "not-found" or not platform.digest:  # (an index entry with no digest is broken)
                    raise
                log.debug("No manifest for platform %s of %s (a sparse index)", platform, index.digest)
        if platforms and not found:
            what = f"{self.registry.host}/{repository}@{index.digest}"
            raise ImageError(f"{what}: manifest not found for any platform of the index", code="not-found")
        return found

    def _image(self, repository: str, reference: str) -> str:
        """An image as errors name it: host/repository:tag or host/repository@digest."""
        return f"{self.registry.host}/{repository}{'@' if oci.is_digest(reference) else ':'}{reference}"

    def name_problem(self, repository: str, tag: str | None = None) -> str | None:
        """Why a listed repository (or its tag) cannot be asked for, or None: see oci.name_problem."""
        return oci.name_problem(repository, tag)

    def describes_left_out(self, repository: str) -> bool:
        """Whether a dry run describes the images of ``repository`` the patterns leave out (for their build
        time in the report): `describe_skipped`, unless describing there costs what the user counts (an
        Artifactory remote's upstream pulls)."""
        return self.describe_skipped

    def read_ahead(self, repository: str, tags: list[str]) -> None:
        """The tags of ``repository`` the run will describe, once its listing is done and the patterns,
        the shard and the attached tags have been applied: a vendor that reads manifests in batches (ECR)
        reads these, and only these (a read may count as a pull)."""

    def still_listed(self, repository: str, tag: str) -> bool:
        """Whether ``repository``'s tags list names ``tag`` still (asked of a tag whose manifest is not found:
        deleted since it was listed, or lost by the registry). A vendor whose lists cost more says it its way."""
        listed = self.paginate(f"/v2/{repository}/tags/list", "tags", what=f"tags of {repository}", missing_ok=True)
        return tag in listed

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest ``reference`` names now, from a HEAD request (no body, and not counted as a pull on
        Docker Hub), or None if the registry does not say; ImageError if it names nothing any more."""
        path = f"/v2/{repository}/manifests/{reference}"
        response = self.request("HEAD", path, headers={"Accept": oci.MANIFEST_ACCEPT})
        if response.status_code == 404:
            self.check(response, self._image(repository, reference), missing="manifest")
        digest = response.headers.get("Docker-Content-Digest", "") if response.ok else ""
        return digest if oci.is_digest(digest) else None

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[requests.Response]:
        """A blob's response, streaming (redirects followed); read ``response.raw`` for its bytes."""
        what = f"{self.registry.host}/{repository}@{digest}"
        response = self.get(f"/v2/{repository}/blobs/{digest}", stream=True)
        with response:
            self.check(response, what, missing="blob")
            yield response

    def blob(self, repository: str, digest: str, *, max_bytes: int = oci.MAX_CONFIG_BYTES) -> bytes:
        """Fetch a small blob whole (configs), verifying its digest; like every answer read whole, it has
        --timeout in all to come, and is asked again if broken off."""
        what = f"{self.registry.host}/{repository}@{digest}"
        response = self._content(f"/v2/{repository}/blobs/{digest}", what, "blob", max_bytes)
        oci.verify_digest(response.content, digest, what)
        return response.content

    def _content(self, path: str, what: str, kind: str, max_bytes: int, **kwargs: Any) -> requests.Response:
        """A manifest or a blob read whole, up to ``max_bytes`` (more is the image's own error), and checked."""
        try:
            response = self.get(path, max_bytes=max_bytes, **kwargs)
        except AnswerTooLarge:
            raise ImageError(f"{what}: {kind} larger than {max_bytes} bytes", code="too-large") from None
        return self.check(response, what, missing=kind)

    def config(self, repository: str, digest: str) -> dict[str, Any]:
        """An image config as JSON; cached by digest, so tags sharing a config cost one fetch."""
        cached = self._configs.get(digest)
        if cached is not None:
            return cached
        # tags sharing a config are described together: one fetches it, the others wait and find it kept
        with self._fetching_config(digest):
            cached = self._configs.get(digest)
            if cached is not None:
                return cached
            body = self.blob(repository, digest)
            config = oci.json_object(body, f"{self.registry.host}/{repository}@{digest}: config")
            if len(body) <= CACHED_CONFIG_BYTES:  # bounded memory: big configs are not kept
                self._configs.put(digest, config)
            return config

    def close(self) -> None:
        self.transport.close()


class RoutedRegistryClient(RegistryClient):
    """A registry that serves each of its repositories (Artifactory repository keys, Nexus
    repositories) under a V2 base of its own: image ``<key>/<name>`` is reached at
    ``<route with key>/v2/<name>/...``, so the generic V2 code works on ``<key>/<name>`` unchanged.
    """

    route = "/{key}"  # a subclass sets its vendor's path, e.g. "/artifactory/api/docker/{key}"

    def __init__(self, registry: Registry, credentials: Credentials, keys: list[str], **kwargs: Any) -> None:
        super().__init__(registry, credentials, **kwargs)
        self.keys = keys  # the repositories (keys) to list; empty means ask the vendor API
        # True when the URL serves one repository's V2 API at its root (a Nexus connector port, an
        # Artifactory subdomain): plain V2 names there, no key in front
        self.at_root = False

    def base(self, key: str) -> str:
        return self.route.format(key=key)

    def subdomain_key(self, repositories: list[tuple[str, str]]) -> str | None:
        """The repository whose own host the URL is (``<key>.art.example.com``, JFrog Cloud's
        ``<server>-<key>.jfrog.io``, a Nexus subdomain connector): it serves its V2 API at the root.
        ``repositories``: (key, URL) as the vendor lists them; their URLs name the main host, so a host
        that is not it but is named after a key is that key's."""
        host = (urlsplit(self.registry.api_root).hostname or "").lower()
        label = host.split(".")[0]
        # the longest key first: `acme-docker-local.jfrog.io` is docker-local's, not local's
        for key, url in sorted(repositories, key=lambda r: -len(r[0])):
            main = (urlsplit(url).hostname or "").lower()
            named = label == key.lower() or (host.endswith(".jfrog.io") and label.endswith(f"-{key.lower()}"))
            if main and main != host and named:
                return key
        return None

    def name_problem(self, repository: str, tag: str | None = None) -> str | None:
        """The key is the vendor's repository name, a path segment of its own (``Docker-Hosted``); only
        what follows it is a distribution name."""
        if self.at_root:
            return super().name_problem(repository, tag)
        key, _, name = repository.partition("/")
        if tag is None and not _VENDOR_KEY.fullmatch(key):
            return f"the registry listed an invalid repository key {key[: oci.MAX_REPOSITORY_NAME]!r}"
        return oci.name_problem(name, tag)

    def url(self, path_or_url: str) -> str:
        if self.at_root:
            return super().url(path_or_url)
        if path_or_url.startswith("/v2/") and not path_or_url.startswith("/v2/_catalog"):
            key, _, rest = path_or_url[len("/v2/") :].partition("/")
            if rest:
                return self.registry.api_root + self.base(key) + "/v2/" + rest
        return super().url(path_or_url)

    def catalog(self, key: str) -> Iterator[str]:
        """``<key>/<name>`` for every image of one repository, through its own ``_catalog``."""
        names = self.paginate(f"{self.base(key)}/v2/_catalog", "repositories", what=f"catalog of {key}")
        return (f"{key}/{name}" for name in names)
