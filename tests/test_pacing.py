"""Rate limits: --max-rate paces requests across all workers, and a registry's 429 answers slow the run
down (Retry-After obeyed) instead of failing it."""

from __future__ import annotations

import pytest

from tcs_registry.http import Pace
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path
from tcs_registry.testing.proxy import Proxy


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_max_rate_spaces_requests_evenly_across_threads():
    clock = FakeClock()
    pace = Pace(10, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        pace.wait()  # four workers asking at the same instant
    assert clock.slept == [0.1, 0.2, 0.3]
    unlimited = Pace(None, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        unlimited.wait()
    assert clock.slept == [0.1, 0.2, 0.3]


def test_a_429_halves_the_rate_seen_then_it_grows_back():
    clock = FakeClock()
    pace = Pace(None, clock=clock, sleep=clock.sleep)
    for _ in range(50):  # 50 requests over the last 5 seconds: 10 a second
        pace.wait()
        clock.now += 0.1
    pace.slow_down()
    assert pace.rate == pytest.approx(5.0, rel=0.03)
    pace.slow_down()  # the other workers hearing the same 429
    assert pace.rate == pytest.approx(5.0, rel=0.03)
    clock.now += 2.0
    pace.slow_down()  # a new 429 a while later: half of the 5 a second it has been seeing at most
    assert pace.rate == pytest.approx(2.5, rel=0.03)
    clock.now += Pace.QUIET
    pace.wait()
    assert pace.rate == pytest.approx(2.5 * 1.25, rel=0.03)
    limited = Pace(4.0, clock=clock, sleep=clock.sleep)
    for _ in range(20):  # at its limit: 4 a second
        limited.wait()
        clock.now += 0.25
    limited.slow_down()
    assert limited.rate == 2.0
    for _ in range(5):
        clock.now += Pace.QUIET
        limited.wait()
    assert limited.rate == 4.0  # never above the user's --max-rate


def test_a_registry_answering_429_slows_the_run_down_and_it_finishes(tcs, anonymous_registry, standard, out_dir):
    refused: list[str] = []

    def busy(path, session, upstream):
        if "/manifests/" in path and len(refused) < 3:
            refused.append(path)
            return (
                429,
                {"Retry-After": "0", "Content-Type": "application/json"},
                b'{"errors": [{"code": "TOOMANYREQUESTS"}]}',
            )
        return None

    with Proxy(anonymous_registry.url, busy) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--concurrency=1", "--allowList=alpine")
        rows = csv_rows(report_path(out_dir, proxy.host))
    assert result.code == 0, result.err
    assert len(refused) == 3
    slowed = [m for m in result.messages if "slowing down" in m]
    assert slowed and slowed[0].startswith("warn\tThe registry asks for fewer requests (429): slowing down to ")
    assert rows == expected_rows(proxy.host, standard.expected, skipped=lambda e: e.repository != "alpine")
    assert [r[:2] for r in rows if r[-1] == "false"] == [
        [f"{proxy.host}/alpine", t] for t in ("3.19", "3.20", "latest")
    ]


def test_bad_max_rate_is_one_line(tcs, anonymous_registry):
    for value in ("0", "-3", "fast"):
        result = tcs("registry", anonymous_registry.url, f"--max-rate={value}")
        assert (result.code, result.messages) == (
            2,
            [f"error\t--max-rate must be a number of requests a second above 0, not {value}"],
        )
