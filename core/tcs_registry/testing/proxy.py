"""A reverse proxy in front of the real registry that can change chosen answers (a catch-all facade),
and the rewrites that make it a registry under pressure: a rate limit, faults at random, an answer held
back."""

from __future__ import annotations

import bisect
import itertools
import random
import threading
import time
from collections.abc import Callable

import requests

from ..oci import MANIFEST_ACCEPT
from .facade import CUT_AFTER, RESET, Answer, Facade, Request, arrived

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
        self.route("HEAD", r"/.*")(self._head)  # passed on as it is: the rewrites are of answers with a body

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

    def _head(self, request: Request) -> Answer:
        upstream = self.session.head(
            self.upstream + request.target,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            allow_redirects=False,
        )
        return upstream.status_code, dict(upstream.headers), b""

    @property
    def paths(self) -> list[str]:
        return [r.target for r in self.requests]

    @property
    def authorizations(self) -> list[str | None]:
        return [r.headers.get("Authorization") for r in self.requests]


TOO_MANY = b'{"errors": [{"code": "TOOMANYREQUESTS", "message": "too many requests"}]}'


class TokenBucket:
    """A rewrite refusing what is over a fixed rate limit, as nginx's ``limit_req`` (with
    ``limit_req_status 429``; its token bucket refills ``rate`` a second and saves up to ``burst``), Quay's
    and most gateways' limits do: 429 with no Retry-After. Records when each request was let through
    and refused. ``take`` is the bucket alone, on ``clock`` (a simulated one, for `Pace`'s unit tests)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.at = burst, clock()
        self.accepted: list[float] = []
        self.refused: list[float] = []
        self._lock = threading.Lock()

    def __call__(self, path: str, session: requests.Session, upstream: str) -> Answer | None:
        if self.take(arrived()):
            return None
        return 429, {"Content-Type": "application/json"}, TOO_MANY

    def take(self, now: float | None = None) -> bool:
        """A token for a request that came at ``now`` (the clock's now by default), if one is left."""
        with self._lock:
            # as the request came (the threads of this server may take them in another order: one
            # taken after a later one came at once after it)
            now = max(self.clock() if now is None else now, self.at)
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                self.accepted.append(now)
                return True
            self.refused.append(now)
            return False

    def achieved(self) -> float:
        """Requests let through a second, from the first refusal (the limit met) to the last request."""
        start = self.refused[0] if self.refused else self.accepted[0]
        after = [t for t in self.accepted if t >= start]
        return len(after) / (after[-1] - start) if len(after) > 1 else 0.0


class RandomFaults:
    """A rewrite answering a share of the requests with a fault, drawn at random whatever the rate:
    429 (half with Retry-After: 1), 503, a connection hung up without an answer, and an answer broken off
    mid-body. ``on`` switches it (the same proxy, with and without faults)."""

    def __init__(self, seed: int = 5, too_many: float = 0.08, unavailable: float = 0.06, reset: float = 0.04,
                 truncated: float = 0.04) -> None:  # fmt: skip
        self.draw = random.Random(seed)
        self.shares = (too_many / 2, too_many / 2, unavailable, reset, truncated)
        self.on = True
        self.injected = 0
        self._lock = threading.Lock()

    def __call__(self, path: str, session: requests.Session, upstream: str) -> Answer | None:
        if not self.on or path == "/v2/":
            return None
        with self._lock:
            kind = bisect.bisect(list(itertools.accumulate(self.shares)), self.draw.random())
            if kind == len(self.shares):
                return None
            self.injected += 1
        if kind < 2:
            return 429, {"Content-Type": "application/json", **({"Retry-After": "1"} if kind else {})}, TOO_MANY
        if kind == 2:
            return 503, {"Content-Type": "text/plain"}, b"busy"
        if kind == 3:
            return 200, {RESET: "1"}, b""
        status, headers, body = upstream_answer(session, upstream, path)
        return status, {**headers, CUT_AFTER: str(len(body) // 2)}, body


class HeldBack:
    """A rewrite holding the first manifest asked for until ``others`` more have been asked for (or
    ``longest`` seconds have passed), and ``linger`` seconds more: an image waiting out its retries, the
    run going on meanwhile."""

    def __init__(self, others: int, longest: float, linger: float = 0.0) -> None:
        self.others, self.longest, self.linger = others, longest, linger
        self.asked_meanwhile = -1  # (the held one)
        self.enough = threading.Event()
        self.went_on: bool | None = None  # the others were asked for while it was held
        self.asked_while_held = 0
        self.released: float | None = None  # when the held one went on (time.time())
        self._lock = threading.Lock()

    def __call__(self, path: str, session: object, upstream: str) -> None:
        if "/manifests/" in path:
            with self._lock:
                self.asked_meanwhile += 1
                first = self.asked_meanwhile == 0
                if self.asked_meanwhile >= self.others:
                    self.enough.set()
            if first:
                self.went_on = self.enough.wait(self.longest)
                time.sleep(self.linger)
                self.asked_while_held = self.asked_meanwhile
                self.released = time.time()
