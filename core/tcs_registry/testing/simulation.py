"""A registry's answers to `Pace` simulated on a clock of its own: seconds of requests in a few
milliseconds, the same every time (tests and `benchmarks/pacing.py`; a rate limit is the proxy's
`TokenBucket` on this clock)."""

from __future__ import annotations

from collections.abc import Callable

from tcs_registry.pacing import Pace


class FakeClock:
    """A clock that moves only when told; its sleeps are recorded (`drive` makes them move it)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def drive(
    pace: Pace, clock: FakeClock, refuse: Callable[[], bool], seconds: float, cost: float = 0.002
) -> tuple[list[float], list[float]]:
    """Workers asking as fast as the pace lets them for ``seconds`` (each request ``cost`` seconds of
    work); a refused request is asked again in its turn (PacedRetry), as urllib3 does with Retry-After: 0.
    Returns the times of the accepted requests and of the refusals."""
    accepted: list[float] = []
    refusals: list[float] = []
    clock.sleep = lambda seconds_: setattr(clock, "now", clock.now + seconds_)
    pace.sleep = clock.sleep
    while clock.now < 100.0 + seconds:
        pace.wait()
        clock.now += cost
        while refuse():
            refusals.append(clock.now)
            pace.slow_down()
            pace.wait()
            clock.now += cost
        accepted.append(clock.now)
    return accepted, refusals
