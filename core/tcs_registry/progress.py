"""What a run is doing, for the person waiting for it: on a terminal, one live line at the bottom of
standard error (tqdm, with the log lines written above it); elsewhere (CI, ``| tee``), and with JSON log
lines (a collector reading a terminal: `docker run -t`, a pod with a tty), a plain log line every PERIOD
seconds. Off with ``--quiet``. The report, the summary and the log lines stay as they are."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TextIO

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from .logs import json_lines
from .report import plural

log = logging.getLogger("tcs_registry")
LIVE = 0.5  # seconds between two redraws of the live line
UNSIZED = 160  # columns assumed on a terminal that says it has none
RATE_SECONDS = 5.0  # the requests a second shown are those of about the last five seconds
PERIOD = 30.0  # seconds between two progress log lines when standard error is not a terminal
ESTIMATE_AFTER = 2.0  # seconds of the run before a time left is shown: the first images say little of the pace
# (in flight still growing from 4: estimates at 1 s were twice the time left)


@dataclass
class Counts:
    """The run's counters at one moment."""

    repositories: int = 0  # listed so far
    found: int = 0  # tags found so far
    done: int = 0  # of those, dealt with: described (and scanned), skipped or failed (rows written or not)
    scanned: int = 0
    failed: int = 0
    listed: bool = False  # the listing has finished: `found` is the total
    catalog: int | None = None  # the repositories of the whole registry, once the catalog is read to its end
    tagged: int = 0  # of those, the ones whose tags are all counted in `found`
    work: int = 0  # of `found`, the images that cost requests or a scan (not those left out at a look)
    worked: int = 0  # of `work`, those done

    def total(self) -> float | None:
        """The images of the whole registry that cost something (`work`): those found once the listing
        has finished; before, as many a repository as those listed so far have, once the catalog says
        how many repositories there are."""
        if self.listed:
            return self.work
        if self.catalog is not None and self.tagged:
            return self.work * self.catalog / self.tagged
        return None


def per_second(value: float, grouped: bool = True) -> str:
    """A rate as a person reads it: whole numbers (``grouped`` in thousands), but with a decimal or two
    under 10 or 1 (a limit of half a request a second is not 0)."""
    if value >= 10 or value == 0:
        return f"{value:,.0f}" if grouped else f"{value:.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _per_second(samples: deque[tuple[float, int]], now: float, count: int) -> float:
    """A count's growth a second over about the last RATE_SECONDS (``samples``: (when, count) so far,
    this one added)."""
    samples.append((now, count))
    while len(samples) > 2 and now - samples[1][0] >= RATE_SECONDS:
        samples.popleft()
    then, before = samples[0]
    return (count - before) / (now - then) if now > then else 0.0


def _size(stream: TextIO) -> tuple[int, int]:
    """The terminal's columns and lines (0 where it does not say)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return 0, 0
    return size.columns, size.lines


def _columns(stream: TextIO) -> int:
    return _size(stream)[0]


class Progress:
    def __init__(
        self, counts: Callable[[], Counts], traffic: Any, scanning: bool, stream: TextIO | None = None
    ) -> None:
        self.counts, self.traffic, self.scanning = counts, traffic, scanning
        self.stream = stream or sys.stderr
        self.began = time.monotonic()
        # (when, requests sent by then) over the last RATE_SECONDS: the request rate, steadier than a tick's
        # (the requests of the log-in, before, are not of this span)
        self._sent: deque[tuple[float, int]] = deque([(self.began, self._requests())])
        self._worked: deque[tuple[float, int]] = deque([(self.began, 0)])  # likewise, the images done
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stack = ExitStack()
        self._bar: tqdm | None = None

    def __enter__(self) -> Progress:
        if not log.isEnabledFor(logging.INFO):  # --quiet
            return self
        live = bool(getattr(self.stream, "isatty", lambda: False)()) and not json_lines()
        if live:
            # a terminal that does not say its size, or says 0 lines (`script`, some CI ptys): tqdm would
            # show nothing
            columns, lines = _size(self.stream)
            width = {"dynamic_ncols": True} if columns and lines else {"ncols": columns or UNSIZED, "nrows": 24}
            self._bar = self._stack.enter_context(
                tqdm(file=self.stream, bar_format="{desc}", leave=False, disable=None, **width)
            )
            loggers = [log, logging.getLogger()]  # ours, and the libraries' (the root logger's handler)
            self._stack.enter_context(logging_redirect_tqdm(loggers=loggers, tqdm_class=tqdm))
        self._thread = threading.Thread(
            target=self._run, args=(LIVE if live else PERIOD,), name="progress", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._bar is not None:  # the last state, drawn once: a run quicker than a redraw ends with it
            self._bar.set_description_str(self.line())
        self._stack.close()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            if self._bar is not None:
                self._bar.set_description_str(self.line())
            else:
                self._log()

    # -- what is shown -------------------------------------------------------------------------
    def _figures(self, c: Counts) -> dict[str, Any]:
        """What the counts (one snapshot, taken once) and the traffic say now."""
        now = time.monotonic()
        elapsed = now - self.began
        total, left, tail = c.total(), None, 0
        # the images that cost something, at the pace of the run so far or of its last seconds, whichever
        # is faster (the first seconds, at a few requests in flight, are the slowest)
        pace = max(c.worked / elapsed, _per_second(self._worked, now, c.worked)) if elapsed > 0 else 0.0
        if total is not None and c.worked and pace > 0 and elapsed >= ESTIMATE_AFTER:
            left = max(0.0, total - c.worked) / pace
            if c.listed and left < 1:  # the last images, which may be waiting out retries: how many, not ~00:00
                tail = max(0, round(total - c.worked))
        return {
            "elapsed": tqdm.format_interval(elapsed),
            "left": tqdm.format_interval(left) if left is not None else None,
            "tail": tail,
            "requests_per_second": self._request_rate(now),
            "rate": self.traffic.pace.rate if self.traffic is not None else None,
            "in_flight": self.traffic.concurrency.in_flight if self.traffic is not None else None,
            "limit": self.traffic.concurrency.limit if self.traffic is not None else None,
            "most": self.traffic.concurrency.most if self.traffic is not None else None,
        }

    def _requests(self) -> int:
        return self.traffic.pace.sent if self.traffic is not None else 0

    def _request_rate(self, now: float) -> float:
        """Requests a second of late. Never above --max-rate, which spaces them: over the first short span,
        the first request (which goes at once) would show as more."""
        measured = _per_second(self._sent, now, self._requests())
        most = self.traffic.pace.limit if self.traffic is not None else None
        return min(measured, most) if most else measured

    def line(self, columns: int | None = None) -> str:
        """The live line, shortened to fit ``columns`` (the terminal's): the counts and the times last to go."""
        c = self.counts()
        f = self._figures(c)
        images = f"{c.done:,}/{c.found:,}{'' if c.listed else '+'} images"
        what = (f"{c.scanned:,} scanned, " if self.scanning else "") + f"{c.failed:,} failed"
        speed = f"{per_second(f['requests_per_second'])} req/s"
        limit = f"limit {per_second(f['rate'])}/s" if f["rate"] else "no rate limit"
        flight = f["in_flight"] is not None
        left = f", {plural(f['tail'], 'image')} left" if f["tail"] else f", ~{f['left']} left" if f["left"] else ""
        when = f["elapsed"] + left
        in_flight = f", {f['in_flight']}/{f['limit']} in flight" if flight else ""
        lines = [
            f"{plural(c.repositories, 'repository')}, {images} ({what}) | {speed}, {limit}"
            + (f", {f['in_flight']} in flight (limit {f['limit']}/{f['most']})" if flight else "")
            + f" | {when}",
            f"{images} ({what}) | {speed}" + (f" ({limit})" if f["rate"] else "") + f"{in_flight} | {when}",
            f"{images}, {c.failed:,} failed | {speed}{in_flight} | {when}",  # (scanned left out: a scan's)
            f"{images} ({what}) | {speed} | {when}",
            f"{images} | {when}",
        ]
        columns = columns if columns is not None else (_columns(self.stream) or UNSIZED)
        return next((line for line in lines if len(line) < columns), lines[-1])

    def _log(self) -> None:
        c = self.counts()
        f = self._figures(c)
        log.info(
            "Progress repositories=%d found=%d done=%d scanned=%d failed=%d listed=%s requests_per_second=%s "
            "rate_limit=%s in_flight=%s concurrency=%s elapsed=%s left=%s",
            c.repositories,
            c.found,
            c.done,
            c.scanned,
            c.failed,
            "yes" if c.listed else "no",
            per_second(f["requests_per_second"], grouped=False),
            per_second(f["rate"], grouped=False) if f["rate"] else "none",
            f["in_flight"] if f["in_flight"] is not None else "-",
            f["limit"] if f["limit"] is not None else "-",
            f["elapsed"],
            f["left"] or "-",
        )
