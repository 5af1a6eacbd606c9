"""Choosing the registry type: --registry-type, else the most confident `sniff_registry`, else DEFAULT_V2."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pluggy
import requests
import urllib3

from .deadlines import DEADLINES, WatchedAdapter
from .default_plugins.v2 import TYPE as DEFAULT_TYPE
from .errors import PluginError, UsageError
from .http import NO_AUTH, USER_AGENT
from .models import Confidence, ProbeResponse, RegistryMatch
from .plugins import registry_types

log = logging.getLogger(__name__)
PROBE_BODY_BYTES = 512


class HttpProbe:
    """Anonymous requests for sniffing, each made at most once and shared by every plugin; each answer
    gets ``timeout`` seconds in all (a server trickling it is cut off: no answer)."""

    def __init__(self, api_root: str, verify: bool | str, timeout: float = 10.0) -> None:
        self.api_root = api_root  # the URL as given: scheme://host[:port][/path]
        parts = urlsplit(api_root)
        self.host_root = f"{parts.scheme}://{parts.netloc}"
        self.verify = verify
        self.timeout = timeout
        self._answers: dict[str, ProbeResponse | None] = {}
        self.silent = False  # the host did not answer one probe at all: none more is sent to it
        self._session = requests.Session()
        for scheme in ("http://", "https://"):
            self._session.mount(scheme, WatchedAdapter())

    @property
    def unanswered(self) -> bool:
        """Probes were sent and none had an answer (the host refused them, or is not there)."""
        return bool(self._answers) and not any(self._answers.values())

    def v2(self) -> ProbeResponse | None:
        return self._fetch(self.api_root + "/v2/")

    def not_a_registry(self) -> str:
        """What the /v2/ of the URL answered, if it is what no registry answers (its client asks there):
        a 404, or a web page; else "" (a redirect, a 5xx or a 429 may well stand in front of one). Asked
        once, as for the plugins."""
        answer = self.v2()
        if answer is None:
            return ""
        if answer.status == 404:
            return "answered 404"
        html = answer.status == 200 and answer.header("Content-Type").startswith("text/html")
        return "answered a web page" if html else ""

    def registry_at_root(self) -> bool:
        """Whether the host's root /v2/ answers as a registry (200 or 401) where the URL has a path: the
        path is then a namespace pasted into the URL, not where the registry's API is."""
        answer = self.get("/v2/") if self.api_root != self.host_root else None
        return answer is not None and answer.status in (200, 401)

    def get(self, path: str) -> ProbeResponse | None:
        return self._fetch(self.host_root + path)

    def v2_or_root(self) -> ProbeResponse | None:
        answer = self.v2()
        if (answer is None or answer.status == 404) and self.api_root != self.host_root:
            return self.get("/v2/")
        return answer

    def _fetch(self, url: str) -> ProbeResponse | None:
        if self.silent and url not in self._answers:  # (each vendor's probe would wait as long for nothing)
            return None
        if url not in self._answers:
            scope = None
            try:
                with DEADLINES.scope(self.timeout) as scope:
                    response = self._session.get(
                        url,
                        verify=self.verify,
                        timeout=self.timeout,
                        allow_redirects=False,
                        auth=NO_AUTH,
                        headers={"User-Agent": USER_AGENT},
                        stream=True,
                    )
                    with response:
                        head = response.raw.read(PROBE_BODY_BYTES, decode_content=True) or b""
                if scope.cut:  # what came before the deadline is not the answer
                    raise requests.exceptions.ConnectionError("cut off at its deadline")
                body = head.decode("utf-8", "replace")
                self._answers[url] = ProbeResponse(response.status_code, dict(response.headers), body)
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                log.debug("Probe failed url=%s error=%s", url, type(exc).__name__)
                self._answers[url] = None
                # no answer within the timeout (a refusal, a name or TLS failure come at once: no silence)
                self.silent = self.silent or isinstance(exc, requests.Timeout) or bool(scope and scope.cut)
        return self._answers[url]


class OfflineProbe:
    """Answers nothing: what sniffing can decide from the URL alone."""

    def v2(self) -> ProbeResponse | None:
        return None

    def get(self, path: str) -> ProbeResponse | None:
        return None

    def v2_or_root(self) -> ProbeResponse | None:
        return None


OFFLINE = OfflineProbe()


def select_registry_type(pm: pluggy.PluginManager, url: str, probe: HttpProbe, explicit: str | None = None) -> str:
    known = registry_types(pm)
    if explicit:
        wanted = explicit.strip().upper().replace("-", "_")
        if wanted not in known:
            hint = f"; is its plugin installed? (pip install tcs-registry-{wanted.lower().replace('_', '-')})"
            raise UsageError(
                f"unknown --registry-type {explicit!r}: installed types are {', '.join(sorted(known))}{hint}"
            )
        return wanted
    # URL rules first, with a probe that cannot reach anything: a host name that a vendor owns
    # (EXACT) settles it without a single request; otherwise ask again with the real probe.
    matches: list[RegistryMatch] = [m for m in pm.hook.sniff_registry(url=url, probe=OFFLINE) if m]
    if not any(m.confidence >= Confidence.EXACT for m in matches):
        matches = [m for m in pm.hook.sniff_registry(url=url, probe=probe) if m]
    stray = sorted({m.registry_type for m in matches} - set(known))
    if stray:
        raise PluginError(f"a plugin sniffed undeclared registry types: {', '.join(stray)}")
    if not matches:
        return DEFAULT_TYPE
    best = max(m.confidence for m in matches)
    top = sorted({m.registry_type for m in matches if m.confidence == best})
    if len(top) > 1:
        raise UsageError(f"{url} looks like several registry types ({', '.join(top)}); pass --registry-type")
    return top[0]
