"""A reverse proxy in front of the real registry that can change chosen answers (a catch-all facade)."""

from __future__ import annotations

from collections.abc import Callable

import requests

from ..oci import MANIFEST_ACCEPT
from .facade import Answer, Facade, Request

# A rewrite gets (path with query, upstream session, upstream base URL) and returns an Answer
# (status, headers, body) to answer itself, or None to pass the request through unchanged.
Rewrite = Callable[[str, requests.Session, str], "Answer | None"]


def upstream_answer(session: requests.Session, upstream: str, path: str) -> Answer:
    """The real registry's answer to ``path`` (a manifest in any format the tool accepts), for a rewrite
    to change."""
    answer = session.get(upstream + path, headers={"Accept": MANIFEST_ACCEPT})
    return answer.status_code, dict(answer.headers), answer.content


class Proxy(Facade):
    def __init__(self, upstream: str, rewrite: Rewrite) -> None:
        super().__init__(upstream, name="proxy")
        self.rewrite = rewrite
        self.route("GET", r"/.*")(self._any)

    def _any(self, request: Request) -> Answer:
        answer = self.rewrite(request.target, self.session, self.upstream)
        if answer is not None:
            return answer
        upstream = self.session.get(
            self.upstream + request.target,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            allow_redirects=False,
        )
        return upstream.status_code, dict(upstream.headers), upstream.content

    @property
    def paths(self) -> list[str]:
        return [r.target for r in self.requests]

    @property
    def authorizations(self) -> list[str | None]:
        return [r.headers.get("Authorization") for r in self.requests]
