"""How hard one registry is asked: the request rate (`Pace`) and the requests in flight at once
(`Concurrency`), both found by watching its answers, and the retries that obey them (`PacedRetry`).

Two controllers, because registries push back in two ways. A rate limit (a token bucket: nginx
``limit_req``, Quay, GHCR, most gateways) answers 429 however few requests are in flight: only the rate
helps. A registry short of capacity (CPU, a database, a slow backend) answers later and later as more
requests wait in it: only fewer requests in flight help, whatever the rate.
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from .errors import QuotaExhausted, RegistryUnreachable

log = logging.getLogger("tcs_registry")
DEFAULT_CONCURRENCY = 64  # the most requests in flight to a registry at once (how many are: measured)
OVERLOADED = (502, 503, 504)  # answers that say "too much at once"
STARVED = 300.0  # seconds of nothing but 429s from a registry: a quota spent, not a rate to find (the run stops)
STILL = 120.0  # 429s this far apart (twice the longest Retry-After obeyed) are refusals one after the other
GONE = 60.0  # seconds a registry that answered before cannot be connected to: the run stops (longer than a restart)
AWAIT = 5.0  # seconds at most between two tries to connect to a registry that has gone meanwhile


def origin(url: str) -> tuple[str, str]:
    """(scheme, host:port) with the default port made explicit (an IPv6 host without its brackets)."""
    parts = urlsplit(url)
    return origin_of(parts.scheme, parts.hostname or "", parts.port)


def origin_of(scheme: str, host: str, port: int | None) -> tuple[str, str]:
    return scheme, f"{host.strip('[]').lower()}:{port or (443 if scheme == 'https' else 80)}"


class Pace:
    """The request rate to one registry, shared by every thread. As fast as the workers go (or
    ``--max-rate``, a hard ceiling) until the registry refuses requests with 429 in earnest; then an AIMD
    controller on windows of WINDOW seconds (SAMPLES requests at least):

    * more than REFUSED of a window refused means a limit is met (once one has been, HOLD is enough),
      beyond the background below and beyond chance (two standard deviations of it): the rate is set a
      little under what the registry accepted, halving at most unless most were refused. A bucket that
      saves up no burst (nginx's ``limit_req`` without ``burst=``) accepts every other request asked a
      little too fast: what it accepted is then half its limit, and the rate clean just before is used;
    * the window after a cut judges it. A rate limit (a token bucket: nginx, Quay, GHCR, most gateways)
      accepts as much after the cut and refuses fewer; a gateway refusing at random, whatever the rate,
      accepts less and refuses as many. Then the cut is undone and that share of refusals becomes the
      background, counted out of every later window: such 429s cost only their own retries, never the run;
    * the first cut is made on requests sent together (the first ones of a run): it may be far too deep.
      The rate then doubles each window with none refused beyond chance, in which requests went at BOUND
      of the rate or more, till refusals come back;
    * from then on, such a window probes upward by PROBE of the rate, twice as far after each in a row
      (up to PROBE x MAX_STEP), CALM windows after a cut at the earliest; a window with a few refused
      holds the rate (it is at the limit), and so does one that asked for less than the rate (layers
      being analysed): a rate never reached proves nothing;
    * a few refused beyond chance (and beyond FEW), under the share that cuts, in PERSIST windows in a row
      that reached the rate, are put to the test: a cut of a tenth, judged as any cut on those windows
      together. A cut made on what the registry accepted while a burst it had saved up was spent too
      leaves the rate a little over the limit, where without the test 8% to 11% would be refused to the
      end of the run.

    Requests take their turns one at a time, each spaced from the one before at the rate as it is then
    (no turn is booked ahead at a rate since changed), and a 429 counts in the window under way unless
    its request went before the latest cut (it says nothing of the rate the cut set). The rate never goes
    under MIN_RATE: a limit below it is met with refusals, each retried after its backoff.
    """

    MIN_RATE = 1.0
    WINDOW = 1.0  # seconds of requests each decision is made on, and
    SAMPLES = 30  # requests at least (a handful of answers says nothing)
    REFUSED = 0.25  # the share of refusals that means a limit is met (random ones stay well under it)
    HOLD = 0.1
    PROBE = 0.05
    MAX_STEP = 4
    CLIMB = 2  # after the first cut, each clean window multiplies the rate by this, till refusals come back
    CALM = 5  # clean windows after a cut before the next probe: each probe past the limit costs a window
    MARGIN = 0.95  # below what the registry accepted, to leave its bucket room to refill
    BOUND = 0.9  # the share of the rate a window must reach for the rate to be what held it back
    HELPED = 0.75  # a cut after which refusals fell below this share of what they were came from the rate
    KEPT = 0.9  # and so did one after which the registry accepted this share of what it did, or more (or
    # more than half of what the cut took off, if that is less); a cut can tell only if it is this deep
    PERSIST = 3  # windows in a row with a few refused beyond chance: the rate is tried KEPT of itself
    FEW = 0.025  # and beyond this share (a stray one, of 40 or more, is a request early by a millisecond)
    WARN_EVERY = 30.0  # seconds between two warnings about slowing down (the others are debug lines)

    def __init__(self, rate: float | None = None, clock: Any = time.monotonic, sleep: Any = time.sleep) -> None:
        self.limit = self.rate = rate
        self.clock, self.sleep = clock, sleep
        self.sent = 0  # requests (and retries) so far
        self.background = 0.0  # the share of requests refused whatever the rate (a gateway at random)
        self._lock = threading.Lock()
        self._turns = threading.Lock()  # held by the one request waiting for its turn
        self._spacing = threading.Lock()  # the same, for `space`
        self._went = self._spaced = -math.inf  # when the latest turn came, and the latest request went
        self._window: float | None = None  # when the window began
        self._windows = 0  # windows begun so far
        self._since = 0  # the first window after the latest cut
        self._local = threading.local()  # .window: the one this thread's request took its turn in
        self._last = 0.0  # when the latest request went
        self._in_window = self._refused = 0
        self._step = 1
        self._found = False  # a limit was met: from now on a few refusals are the limit, not chance
        self._doubling = False  # since the first cut, until refusals come back
        self._clean: float | None = None  # the rate of the latest window with none refused, since a cut (or
        # a cut tried)
        self._calm = 0  # windows to wait after a cut before probing again
        self._over: list[tuple[int, int, float]] = []  # windows in a row with a few refused beyond chance,
        # and no cut: their refusals, requests and accepted rates
        self._cut: tuple[float | None, float, float, int] | None = None  # to judge: the rate, share refused,
        # rate accepted and requests in the window before the latest cut
        self._warned = -self.WARN_EVERY
        self._refused_since: float | None = None  # the first 429 since the registry last answered otherwise
        self._refused_last = -math.inf  # the latest 429
        self._spent: float | None = None  # _refused_since, once starved: it stays so (nothing more is asked)
        self.answered = False  # the registry has answered a request of ours (it was there, and may be again)
        self._unreachable_since: float | None = None  # the first failed connection since its latest answer
        self.unreachable_why = ""  # the latest failed connection's reason
        self._gone: float | None = None  # _unreachable_since, once GONE: it stays so (nothing more is asked)

    def wait(self) -> None:
        """This request's turn (with one taken by every request and retry: the count, the windows); none
        once the registry is starved (the run stops: no request waiting for a turn should wait on)."""
        with self._turns:
            if self.halted():
                return
            with self._lock:
                now = self.clock()
                # idle a while (logging in, one page at a time): the window says nothing of the registry's
                # rate, unless it was refused meanwhile; a pause of a few turns at a low rate is no idling
                if not self._refused and now - self._last > max(self.WINDOW, 3.0 / self.rate if self.rate else 0.0):
                    self._new_window(now)
                    self._over.clear()
                self._decide(now)
                self._last = now
                self._in_window += 1
                self._local.window = self._windows
                self.sent += 1
                at = self._went = self._after(self._went, now)
            if at > now:
                self.sleep(at - now)

    def space(self) -> None:
        """Called once the request has its slot: no closer to the request before it than the rate
        allows. Turns are taken before the wait for a slot; requests whose turns came while they waited
        (a registry that stalled, then answered all it held at once) would otherwise go in one burst."""
        if self.rate is None:
            return
        with self._spacing:
            with self._lock:
                now = self.clock()
                at = self._spaced = self._after(self._spaced, now)
            if at > now:
                self.sleep(at - now)

    def pause(self, seconds: float) -> None:
        """Sleep ``seconds`` (a retry's backoff or Retry-After), or less once the registry is found starved:
        the run stops then, not after the longest Retry-After its requests were asked to wait out."""
        while seconds > 0 and not self.halted():
            self.sleep(min(seconds, 1.0))
            seconds -= 1.0

    def _after(self, last: float, now: float) -> float:
        """When the next request may go: now, or one interval at the rate as it is now after ``last``."""
        return max(now, last + 1.0 / self.rate) if self.rate else now

    def slow_down(self) -> None:
        """The registry refused this thread's request with 429 (it is retried by urllib3). Counted in the
        window under way (answers come late: a second or more over the internet), unless the request went
        before the latest cut: refused after it, it says nothing of the rate the cut set."""
        with self._lock:
            if getattr(self._local, "window", self._since) >= self._since:
                self._refused += 1

    def refused(self) -> None:
        """A request to the registry (its token service, its vendor API too) was answered 429."""
        self.reached()
        with self._lock:
            now = self.clock()
            if self._refused_since is None or now - self._refused_last > STILL:  # (not after a pause: idle)
                self._refused_since = now
            self._refused_last = now

    def accepted(self) -> None:
        """A request of the registry's own (not its token service's) was answered with anything but 429."""
        self._refused_since = None
        self.reached()

    def reached(self) -> None:
        """The registry answered (anything, a 429 too)."""
        self.answered, self._unreachable_since = True, None

    def unreachable(self, why: str) -> None:
        """A connection to the registry failed (refused, its name unknown, no answer to connecting)."""
        with self._lock:
            if self._unreachable_since is None:
                self._unreachable_since = self.clock()
            self.unreachable_why = why

    def halted(self) -> bool:
        """Nothing more is asked of the registry: its quota is spent (`starved`) or it is gone (`gone`)."""
        return self.starved() is not None or self.gone() is not None

    @property
    def awaiting(self) -> bool:
        """The registry, which answered before, cannot be connected to now: it is waited for."""
        return self.answered and self._unreachable_since is not None

    def gone(self) -> float | None:
        """The seconds the registry, which answered before, has not been connected to, if GONE or more."""
        since = self._gone or self._unreachable_since
        if since is None or not self.answered:
            return None
        now = self.clock()
        if now - since < GONE:
            return None
        self._gone = since
        return now - since

    def starved(self) -> float | None:
        """The seconds the registry has answered nothing but 429, if STARVED or more: its quota is spent,
        not a rate to find. Asking on, at a request a second and seven times an image, would take hours to
        fail every image."""
        since = self._spent or self._refused_since
        if since is None:  # (every request asks: no clock read when nothing was refused)
            return None
        now = self.clock()
        if now - since < STARVED or (self._spent is None and now - self._refused_last > STILL):
            return None
        self._spent = since
        return now - since

    def _decide(self, now: float) -> None:
        if self._window is None:
            self._window = now
        elapsed = now - self._window
        if elapsed < self.WINDOW or self._in_window < (self.SAMPLES // 3 if self._doubling else self.SAMPLES):
            return
        samples, refused = self._in_window, self._refused
        share = refused / samples  # retries wait their turn too (PacedRetry): each is counted
        # what the registry accepted while we were asking (a pause at the end, every worker waiting out a
        # backoff, is not the registry's doing; n requests spread over n - 1 gaps)
        span = min(elapsed, (self._last - self._window) * samples / max(1, samples - 1))
        accepted = (samples - self._refused) / max(span, self.WINDOW / 2)
        reached = self.rate is not None and self._in_window >= self.BOUND * self.rate * elapsed
        self._new_window(now)
        if self._cut is not None:
            rate, refused, accepted_before, before = self._cut
            self._cut = None
            deep = rate is None or self.rate is None or self.rate <= self.KEPT * rate  # a cut that can tell:
            # refused at random, as many are refused after it, and fewer accepted by more than half of what it
            # took off the rate (a tenth at most; none accepted at all is no gateway at random: a quota spent,
            # or a limit far below the rate)
            kept = self.KEPT if rate is None or self.rate is None else max(self.KEPT, (1.0 + self.rate / rate) / 2)
            if deep and share < 1.0 and share >= self.HELPED * refused and accepted < kept * accepted_before:
                # as many refused, fewer accepted: refusals whatever the rate, not a limit (still known to
                # be met if refusals come beyond them: a window straddling a limit's change misleads)
                pooled = (refused * before + share * samples) / (before + samples)  # the share, from both
                self.rate, self._doubling, self.background = rate, False, min(pooled, self.REFUSED)
                log.debug("429s come whatever the rate (%.0f%% of requests): back to the rate before", 100 * pooled)
                return
            if share <= self.HOLD / 2:  # next to none refused at a lower rate: they were all the limit's doing
                self.background = min(self.background, share)
        # refusals at random come in windows of a few dozen requests by chance several points above their
        # share: beyond it by HOLD (REFUSED), and by two standard deviations, is a limit
        noise = 2 * math.sqrt(self.background * (1 - self.background) / samples)
        if share - self.background > max(self.HOLD if self._found else self.REFUSED, noise):
            self._cut, self._since = (self.rate, share, accepted, samples), self._windows
            before = self.rate or accepted
            # a bucket that saves up none accepts every other request asked a little too fast: what it
            # accepted is then half its limit, and the rate that was clean just before is nearer it
            clean = self._clean if self._clean is not None and self._clean < before else 0.0  # probed past it
            # halving at most, unless most were refused (the registry said plainly how much it takes)
            deepest = before / 2 if share <= 0.5 else before * (1 - share) * self.MARGIN
            self.rate = max(self.MIN_RATE, deepest, min(before, max(accepted, clean)) * self.MARGIN)
            # (the first cut of all may be far too deep; one that ends the doubling has the limit between
            # the rate before and this one: no need to wait before probing)
            self._step, self._calm = 1, 0 if self._doubling or not self._found else self.CALM
            self._doubling, self._found, self._clean = not self._found, True, None
            level = logging.WARNING if now - self._warned >= self.WARN_EVERY else logging.DEBUG
            self._warned = now if level == logging.WARNING else self._warned
            log.log(
                level,
                "The registry asks for fewer requests (429): slowing down to %.1f requests a second",
                self.rate,
            )
        elif self.rate is not None and share <= self.background + noise / 2 and reached:  # none beyond chance
            self._clean = self.rate
            if self._doubling:
                self.rate *= self.CLIMB
            elif self._calm > 0:
                self._calm -= 1
            else:
                self.rate += self.PROBE * self.rate * self._step
                self._step = min(2 * self._step, self.MAX_STEP)
        else:
            self._step = 1
        # a few refused beyond chance, window after window, too few to cut for in any one: a rate a little
        # over a limit (a cut made on a burst the registry had saved up) or refusals at random, to be told
        # apart by a cut that can tell, judged on the windows together (the last alone was picked for its
        # refusals: the window after it would seem to refuse fewer by chance)
        beyond = share - self.background > max(noise, self.FEW) and reached and self._cut is None
        if not beyond or self.rate is None or self.KEPT * self.rate < self.MIN_RATE:
            self._over.clear()
        else:
            self._over.append((refused, samples, accepted))
        if len(self._over) >= self.PERSIST and self.rate is not None:
            refusals, requests = sum(w[0] for w in self._over), sum(w[1] for w in self._over)
            accepting = statistics.fmean(w[2] for w in self._over)
            self._cut, self._since = (self.rate, refusals / requests, accepting, requests), self._windows
            self._doubling, self._clean, self._calm = False, None, self.CALM
            self.rate *= self.KEPT
            log.debug(
                "A few 429s (%.0f%% of requests) %d windows in a row: trying a tenth fewer, %.1f requests a second",
                100 * refusals / requests,
                len(self._over),
                self.rate,
            )
            self._over.clear()
        if self.limit is not None and self.rate is not None:
            self.rate = min(self.rate, self.limit)

    def _new_window(self, now: float) -> None:
        self._window, self._in_window, self._refused = now, 0, 0
        self._windows += 1


class TimeAverage:
    """A quantity's average over time since it was made, each value weighted by how long it held (the
    caller keeps it under its own lock)."""

    def __init__(self, value: float, clock: Any) -> None:
        self.clock = clock
        self._began = self._changed = clock()
        self._value, self._area = value, 0.0

    def set(self, value: float) -> None:
        now = self.clock()
        self._area += self._value * (now - self._changed)
        self._changed, self._value = now, value

    def mean(self) -> float:
        now = self.clock()
        area, elapsed = self._area + self._value * (now - self._changed), now - self._began
        return area / elapsed if elapsed > 0 else float(self._value)


class Concurrency:
    """How many requests may be in flight to one registry at once, found as TCP Vegas finds its window
    (Brakmo and Peterson, 1995; Netflix's concurrency-limits `VegasLimit` for servers): the latency of
    the requests (each from when it went to when its slot was given back) against the lowest latency
    seen (the registry with nothing waiting in it) says how many of our requests are queueing, inside
    the registry or in this process, rather than being worked on:
    ``queued = limit x (1 - baseline / latency)``. Every window of answers (SAMPLES at least, and three
    times the limit) is judged by its median latency:

    * queued at most ALPHA x log10(limit), and requests had to wait for a slot: one more slot (doubling
      at first, from START, until a window first shows a queue: slow start);
    * queued at least BETA x log10(limit), or a latency above SLOWEST times the baseline: the registry is
      working at its capacity and the rest wait in it; the limit drops by the excess (to ALPHA's queue,
      and to where the latency would be SLOWEST times the baseline), halving at most;
    * more than REFUSED of the window refused (429, 5xx, timeouts, broken connections): the limit drops
      in proportion to the refusals (halving at most); refusals now and then change nothing.

    Tolerating a few requests queued (not a latency ratio) lets a registry whose answers slow a little as
    they come faster be used at the concurrency where its throughput stops growing, however small or
    large that is; one that answers slower and slower under load is kept where it still answers promptly.
    A latency that does not fall when the limit is cut for it, twice running, did not come from our load:
    it becomes the baseline (a longer route, a slower backend) and the limit grows back as at the start,
    so the run never crawls at a few requests at a time for a baseline gone stale. Once is not enough: a
    window that straddles the registry's slowing down shows less than the latency that follows, and the
    cut it makes is too small to bring the latency below it. `--concurrency` is the most slots there are.
    """

    START = 4
    SAMPLES = 32
    ALPHA = 4.0
    BETA = 8.0
    SLOWEST = 2.0  # answers slower than this times the baseline: too many in flight, however few
    STALE = 0.9  # a latency that fell less than this after a cut did not come from our load
    REFUSED = 0.25

    def __init__(self, most: int, clock: Any = time.monotonic) -> None:
        self.most = max(1, most)
        self.limit = min(self.most, self.START)
        self.baseline: float | None = None  # seconds: the lowest window median seen
        self.in_flight = 0
        self.waiting = 0  # requests waiting for a slot
        self._slow_start = True
        self._mixed = False  # the window under way began before the limit changed
        self._cut_at: float | None = None  # the latency that made the latest cut, for the next window
        self._unmoved = 0  # cuts running that did not bring the latency down
        self._cond = threading.Condition(threading.Lock())
        self._latencies: list[float] = []
        self._refused = 0
        self._queued = False  # a request waited for a slot in this window: the limit held the run back
        self.clock = clock
        self._limits = TimeAverage(self.limit, clock)
        self._flights = TimeAverage(0, clock)

    def acquire(self) -> None:
        with self._cond:
            if self.in_flight >= self.limit:
                self._queued = True
                self.waiting += 1
                try:
                    while self.in_flight >= self.limit:
                        self._cond.wait()
                finally:
                    self.waiting -= 1
            self.in_flight += 1
            self._flights.set(self.in_flight)

    def release(self, since: float | None = None, refused: bool = False) -> None:
        """A request's slot back, and whether the registry refused it. ``since``: when the request went (on
        `clock`; None: not a clean sample, e.g. it was retried). Its latency is timed to now, with this
        lock in hand: a slot is held until it is given back, and a process short of CPU gives its slots
        back late (the thread that holds this lock may wait for the interpreter with it in hand, and every
        thread giving a slot back waits behind it). Timed to the answer alone, that wait went unseen: in a
        dry run with a little more work for each request (a timer of its own), the limit grew to 60 on
        answers that came no faster, and each slot was held three times as long as its answer took."""
        with self._cond:
            self.in_flight -= 1
            self._flights.set(self.in_flight)
            if since is not None:
                self._latencies.append(self.clock() - since)
            self._refused += refused
            if len(self._latencies) + self._refused >= max(self.SAMPLES, 3 * self.limit):
                self._decide()
            self._cond.notify(max(0, self.limit - self.in_flight))  # a waiter for each free slot: no herd

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The slot given back while its request waits (Retry-After, backoff) and taken again after."""
        self.release()
        try:
            yield
        finally:
            self.acquire()

    def average(self) -> float:
        """The limit averaged over the run so far."""
        with self._cond:
            return self._limits.mean()

    def busy(self) -> float:
        """The requests in flight, averaged over the run so far (below `average`: slots left unused)."""
        with self._cond:
            return self._flights.mean()

    def _set(self, limit: int) -> None:
        limit = max(1, min(self.most, limit))
        if limit != self.limit:
            self._limits.set(limit)
            log.debug("Requests in flight at once: %d (was %d)", limit, self.limit)
            self.limit, self._mixed = limit, True

    def _decide(self) -> None:
        samples = len(self._latencies) + self._refused
        share = self._refused / samples
        median = statistics.median(self._latencies) if self._latencies else None
        queued = self._queued or self.waiting > 0
        self._latencies, self._refused, self._queued = [], 0, False
        if self._mixed:  # its requests began under the limit before the latest change: not a fair judge
            self._mixed = False
            return
        if share > self.REFUSED:
            self._slow_start = False
            self._set(int(self.limit * min(0.9, max(0.5, 1.0 - share))))
            return
        if median is None or median <= 0:  # a clock too coarse to time a request says nothing
            return
        if self.baseline is None or median < self.baseline:
            self.baseline = median
        unmoved = self._cut_at is not None and median >= self.STALE * self._cut_at
        self._unmoved, self._cut_at = self._unmoved + 1 if unmoved else 0, None
        if self._unmoved >= 2:  # no faster since we asked less, twice: the registry's latency now, not our load
            self.baseline, self._unmoved, self._slow_start = median, 0, True
        waiting = self.limit * (1.0 - self.baseline / median)  # our requests queueing in the registry
        scale = max(1.0, math.log10(self.limit))
        ratio = median / self.baseline
        if waiting >= self.BETA * scale or ratio > self.SLOWEST:
            self._slow_start = False
            cut = min(self.limit - (waiting - self.ALPHA * scale), self.limit * self.SLOWEST / ratio)
            before = self.limit
            self._set(max(self.limit // 2, round(cut)))
            self._cut_at = median if self.limit < before else None
        elif waiting <= self.ALPHA * scale:
            if queued:
                self._set(self.limit * 2 if self._slow_start else self.limit + 1)
        else:
            self._slow_start = False


class Attempt:
    """One request's passage through a registry's `Traffic`: what its answer said."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.began = clock()
        self.went: float | None = None  # when it went, once answered at the first try: its time to its
        # slot given back is a sample of the latency (a retried request's is not)
        self.refused = True  # until an answer says otherwise (an exception is a refusal)
        self.accepted = False  # the answer was anything but 429

    def credentials(self, authorize: Any) -> Any:
        """``authorize()``, called now that the request holds its slot (a token must not end while it
        waits for one): a token service failing is not the registry refusing, and the time it takes is
        not the registry's latency."""
        self.refused = False
        authorization = authorize()
        self.began, self.refused = self.clock(), True
        return authorization

    def answered(self, response: Any) -> None:
        retries = getattr(getattr(response, "raw", None), "retries", None)
        history = retries.history if retries is not None else ()
        statuses = [h.status for h in history] + [response.status_code]
        # 429 is a rate limit's answer (Pace's business), not a registry short of capacity
        self.refused = any(s in OVERLOADED for s in statuses) or any(h.error is not None for h in history)
        self.went = None if history else self.began
        self.accepted = response.status_code != 429


class Traffic:
    """The requests to one registry: paced, at most `Concurrency.limit` of them in flight at once."""

    def __init__(self, max_rate: float | None, most: int, clock: Any = time.monotonic) -> None:
        self.pace = Pace(max_rate)
        self.concurrency = Concurrency(most, clock=clock)
        self.clock = clock
        self.home: tuple[str, str] | None = None  # the registry's origin (scheme, host:port): waited for when gone
        self._local = threading.local()  # .gated: this thread's request holds a slot (urllib3 retries
        # run in the thread that sent the request, whatever host a proxy or a redirect puts in between)

    @property
    def gated(self) -> bool:
        """The current thread's request is one of the registry's own, holding a slot."""
        return getattr(self._local, "gated", False)

    @property
    def resendable(self) -> bool:
        """The current thread's request may be sent again whatever its method (`Traffic.request`)."""
        return getattr(self._local, "resendable", False)

    @property
    def of_registry(self) -> bool:
        """The current thread's request is the registry's (its own host, or its token service): its 429s
        are the registry's. A vendor API elsewhere (Docker Hub's) has limits of its own."""
        return getattr(self._local, "of_registry", True)

    @contextmanager
    def request(self, gated: bool = True, resendable: bool = False, of_registry: bool = True) -> Iterator[Attempt]:
        """Waits for the request's turn and (``gated``: to the registry's own host) a slot, then no
        closer to the request before it than the rate allows (`Pace.space`: --max-rate is a ceiling
        however the answers come); `Attempt.answered` is told what came back. ``resendable``: a POST
        that asking again does no harm (a token service's exchange: a second token, nothing more), retried
        as a GET is. ``of_registry``: see `Traffic.of_registry`."""
        self.pace.wait()
        self.halt_if_starved()
        if gated:
            self.concurrency.acquire()
        attempt: Attempt | None = None
        # ungated (a token service, a vendor API) while the thread holds a slot (credentials are chosen
        # after the wait): its retries must not give back and wait again for that slot
        holding, self._local.gated = self.gated, gated
        again, self._local.resendable = self.resendable, resendable
        whose, self._local.of_registry = self.of_registry, of_registry
        try:
            self.pace.space()
            attempt = Attempt(self.clock)
            yield attempt
        finally:
            self._local.gated, self._local.resendable, self._local.of_registry = holding, again, whose
            if gated:
                self.concurrency.release(*((attempt.went, attempt.refused) if attempt else (None, False)))
                if attempt is not None and attempt.accepted:  # (a token renewed proves nothing of the registry)
                    self.pace.accepted()

    def turn(self) -> None:
        """Waits for the turn of a request sent by other means (a vendor's SDK, which sends its own): its
        place under --max-rate, as every request's, but no slot (it is not a read of the registry)."""
        self.pace.wait()
        self.halt_if_starved()
        self.pace.space()

    def halt_if_starved(self, detail: str = "") -> None:
        """Stop the run (QuotaExhausted) if the registry's quota is spent (`Pace.starved`): nothing more is
        asked of it. The message is the registry's, not one image's: the images left undone repeat it."""
        if (refused_for := self.pace.starved()) is not None:
            minutes = refused_for / 60
            raise QuotaExhausted(
                f"the registry has answered nothing but 429 (too many requests) for {minutes:.1f} minutes{detail}"
            )
        if (gone_for := self.pace.gone()) is not None:
            why = f": {self.pace.unreachable_why}" if self.pace.unreachable_why else ""
            raise RegistryUnreachable(f"the registry cannot be connected to for {gone_for / 60:.1f} minutes{why}")


class PacedRetry(Retry):
    """urllib3's retries, telling the registry's Pace about every 429 its own requests get (a vendor API
    elsewhere has limits of its own); a retry gives its slot back while it waits, then waits its turn as
    any other request. ``Retry-After`` is obeyed up to ``retry_after_max`` seconds; an answer asking for
    longer is the answer (the registry means minutes or hours: an error saying so beats a run that
    waits for ever), and one that is no time (not a number of seconds nor an HTTP date) is the usual
    backoff. ``on_timeout(error, response)`` is told of every error and every answer retried and says
    whether it was an attempt that ran out of time, the last one its request may make (its client counts
    them)."""

    traffic: Traffic | None = None
    on_timeout: Callable[[Exception | None, Any], bool] | None = None

    def new(self, **kwargs: Any) -> Retry:
        retry = super().new(**kwargs)
        retry.traffic, retry.on_timeout = self.traffic, self.on_timeout  # type: ignore[attr-defined]
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if response is not None and response.status == 429 and self.traffic is not None and self.traffic.of_registry:
            pace = self.traffic.pace
            pace.refused()
            if self.traffic.gated:
                pace.slow_down()
            if pace.starved() is not None:  # this answer is the answer: the run stops (RegistryClient.check)
                raise MaxRetryError(_pool, url or "", ResponseError("nothing but 429s"))
        asked = asked_to_wait(response) if response is not None else None
        if asked is not None and asked > self.retry_after_max:
            raise MaxRetryError(_pool, url or "", ResponseError(f"Retry-After asks for {asked:.0f} s"))
        awaited = self._awaited(error, _pool)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        retry.awaiting = awaited  # type: ignore[attr-defined]
        if awaited:  # (not counted: the registry is waited for, up to GONE)
            retry.total, retry.connect = self.total, self.connect
        if self.on_timeout is not None and self.on_timeout(error, response):
            # the answer, if any, is returned as it came (raise_on_status=False): the caller says what it was
            raise MaxRetryError(_pool, url or "", error or ResponseError(f"{response.status} answers")) from error
        return retry

    def _awaited(self, error: Exception | None, pool: Any) -> bool:
        """Whether a failed connection is to the registry's own host (its reads, and a token service or API
        there), which answered before, and is waited for: it may be restarting. GONE seconds of them stop
        the run (`Traffic.halt_if_starved`), unless it answers. Another host (a blob store a redirect sends
        reads to, a token service elsewhere) is not the registry: its failure is the request's."""
        if error is None or not self._is_connection_error(error) or self.traffic is None or pool is None:
            return False
        if self.traffic.home != origin_of(pool.scheme, pool.host or "", getattr(pool, "port", None)):
            return False
        pace = self.traffic.pace
        pace.unreachable(_why(error))
        return pace.awaiting and pace.gone() is None

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        """Only the statuses the client retries: urllib3 also retries any 413, 429 or 503 that has a
        Retry-After, which a vendor whose 429 means hours (Docker Hub's pull quota) left out on purpose."""
        return status_code in (self.status_forcelist or ()) and super().is_retry(method, status_code, has_retry_after)

    def _is_method_retryable(self, method: str) -> bool:
        return super()._is_method_retryable(method) or (self.traffic is not None and self.traffic.resendable)

    def parse_retry_after(self, retry_after: str) -> float:
        seconds = _seconds(retry_after)
        return 0.0 if seconds is None else min(seconds, self.retry_after_max)  # 0: the backoff instead

    def sleep(self, response: Any = None) -> None:
        if self.traffic is None:
            return super().sleep(response)
        pace = self.traffic.pace  # its pause ends early once the registry is found starved (the run stops)
        if not self.traffic.gated:  # (a token service, a vendor API)
            pace.pause(self._wait(response))
            return self.traffic.halt_if_starved()
        with self.traffic.concurrency.paused():
            pace.pause(self._wait(response))
            pace.wait()  # a retry is a request like any other: its turn, its slot, spaced
        self.traffic.halt_if_starved()  # found starved while this one waited: it does not go
        pace.space()

    def _wait(self, response: Any) -> float:
        """What urllib3 waits before a retry: the answer's Retry-After if it has one, else the backoff (at
        most AWAIT while the registry is waited for)."""
        asked = self.get_retry_after(response) if self.respect_retry_after_header and response else None
        backoff = self.get_backoff_time()
        if getattr(self, "awaiting", False):  # (this retry's own: another thread's answer may have come since)
            backoff = min(backoff, AWAIT)
        return asked or backoff


def _why(error: Exception) -> str:
    """A failed connection's reason in a few words: `Connection refused`, `Name or service not known`,
    `Connection to host timed out. (connect timeout=10.0)` (never the connection object urllib3 names)."""
    if found := re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error)):
        return found.group(1).strip()
    last = error.args[-1] if error.args else None
    return last.strip() if isinstance(last, str) and last.strip() else type(error).__name__


YEAR = 365 * 24 * 3600.0
_RETRY_AFTER = Retry(retry_after_max=int(YEAR) + 1)  # urllib3's reading of a Retry-After, capped past a year


def asked_to_wait(response: Any) -> float | None:
    """The seconds an answer's Retry-After asks for, or None (none, or no time)."""
    value = response.headers.get("Retry-After")
    return None if value is None else _seconds(value)


def _seconds(value: str) -> float | None:
    """A Retry-After as seconds (a number of them, or an HTTP date), more than a year counted as a year
    and a second; None for what is no time: "soon", "-5", "1.5", a date past year 9999, 5,000 digits
    (urllib3 raises on some, fails on others)."""
    try:
        return float(_RETRY_AFTER.parse_retry_after(value))
    except (InvalidHeader, ValueError, OverflowError):
        return None
