"""Rate limits: --max-rate paces requests across all workers, and a registry's 429 answers slow the run
down (Retry-After obeyed) instead of failing it."""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time

import pytest

from tcs_registry.pacing import Pace, Traffic
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path
from tcs_registry.testing.proxy import Proxy, TokenBucket
from tcs_registry.testing.simulation import FakeClock, drive

pytestmark = pytest.mark.timing  # asserts on rates and times: run apart from the parallel run


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


@pytest.mark.parametrize(
    ("limit", "burst", "few"),
    [(50.0, 10.0, 0.05), (100.0, 20.0, 0.05), (50.0, 1.0, 0.1)],
    ids=["burst", "big", "no-burst"],
)
def test_a_fixed_limit_is_used_close_to_it_with_few_refusals(limit, burst, few):
    """A token bucket: after finding it, at least 80% of it, and few refusals. The first cut is made on
    requests sent together, the bucket's burst among them: it sets the rate over the limit, and a few
    refused window after window are put to the test (they were 10% for good, under the share that cuts).
    Without a burst (nginx's ``limit_req`` without ``burst=``) a request a little early is refused: asked
    a little over the limit, it accepts every other one."""
    clock = FakeClock()
    bucket = TokenBucket(limit, burst, clock)
    pace = Pace(None, clock=clock)
    accepted, refusals = drive(pace, clock, lambda: not bucket.take(), seconds=60.0)
    settled = [t for t in accepted if t >= 110.0]  # after ten seconds of finding the limit
    rate = len(settled) / (accepted[-1] - 110.0)
    assert rate >= 0.8 * limit
    assert len([t for t in refusals if t >= 110.0]) <= few * len(settled)  # the probing above the limit
    assert 0.8 * limit <= pace.rate <= 1.3 * limit


@pytest.mark.parametrize("share", [0.08, 0.3])
def test_random_refusals_cost_only_their_retries(share):
    """A share of the requests refused at random, whatever the rate: the rate is not held down. Past a
    quarter of them, one cut is tried and undone (as many refused after it, and fewer accepted)."""
    clock = FakeClock()
    draw = random.Random(7)
    pace = Pace(None, clock=clock)
    accepted, refusals = drive(pace, clock, lambda: draw.random() < share, seconds=20.0)
    assert pace.rate is None  # as fast as the workers go
    assert len(refusals) == pytest.approx(share / (1 - share) * len(accepted), rel=0.2)
    assert len(accepted) >= 0.9 * 20.0 * (1 - share) / 0.002  # cost 2 ms a request: nothing lost but retries


def test_a_limit_with_random_refusals_besides_is_used_close_to_it():
    """A token bucket of 50 a second behind a gateway that refuses 12% at random: the limit is found, the
    random refusals are told apart (a cut for them alone is undone), and the limit is used at >= 80%."""
    clock = FakeClock()
    draw = random.Random(3)
    bucket = TokenBucket(50.0, 10.0, clock)
    pace = Pace(None, clock=clock)
    accepted, _ = drive(pace, clock, lambda: draw.random() < 0.12 or not bucket.take(), seconds=60.0)
    settled = [t for t in accepted if t >= 110.0]
    assert len(settled) / (accepted[-1] - 110.0) >= 0.8 * 50.0
    assert 0.05 <= pace.background <= 0.25


@pytest.mark.parametrize("seed", range(6))
def test_a_limit_with_a_few_random_refusals_besides_is_used_close_to_it(seed):
    """A token bucket of 50 a second behind a gateway that refuses 5% at random: under the share that
    cuts, refused window after window. A cut to try is undone for them (as many refused, fewer
    accepted), and the limit is used at >= 80% (two of these draws made less when they were held)."""
    clock = FakeClock()
    draw = random.Random(seed)
    bucket = TokenBucket(50.0, 10.0, clock)
    pace = Pace(None, clock=clock)
    accepted, _ = drive(pace, clock, lambda: draw.random() < 0.05 or not bucket.take(), seconds=90.0)
    settled = [t for t in accepted if t >= 110.0]
    assert len(settled) / (accepted[-1] - 110.0) >= 0.8 * 50.0
    assert 0.02 <= pace.background <= 0.15  # (and the bucket's own refusals in the windows judged)


def test_a_few_refused_at_random_window_after_window_are_tried_once_and_counted_out(caplog):
    """Every 20th request refused, at --max-rate 100: 5% in every window, under the share that cuts. Three
    windows in a row, a tenth fewer are tried; as many are refused and fewer accepted, so the rate comes
    back and the 5% becomes the background: no second try."""
    caplog.set_level(logging.DEBUG, logger="tcs_registry")
    clock = FakeClock()
    pace = Pace(100.0, clock=clock)
    asked = itertools.count(1)
    accepted, _ = drive(pace, clock, lambda: next(asked) % 20 == 0, seconds=30.0)
    tried = [r.getMessage() for r in caplog.records if "trying a tenth fewer" in r.getMessage()]
    assert tried == ["A few 429s (5% of requests) 3 windows in a row: trying a tenth fewer, 90.0 requests a second"]
    assert pace.rate == 100.0
    assert pace.background == pytest.approx(0.05, abs=0.01)
    assert len(accepted) / 30.0 >= 0.9 * 95.0


def test_a_rate_a_little_over_a_limit_is_brought_under_it():
    """--max-rate 110 in front of a token bucket of 100 (burst 20): about 9% refused in every window, under
    the share that cuts. They were refused to the end; now a tenth fewer is tried, refuses none, and is
    kept: the rate probes upward again from under the limit, and few are refused."""
    clock = FakeClock()
    bucket = TokenBucket(100.0, 20.0, clock)
    pace = Pace(110.0, clock=clock)
    accepted, refusals = drive(pace, clock, lambda: not bucket.take(), seconds=60.0)
    settled = [t for t in accepted if t >= 110.0]
    assert len(settled) / (accepted[-1] - 110.0) >= 0.9 * 100.0
    assert len([t for t in refusals if t >= 110.0]) <= 0.04 * len(settled)
    assert pace.rate <= 110.0 and pace.background == 0.0


def test_a_rate_raised_applies_to_the_requests_already_waiting():
    """16 workers waiting for their turns at 4 a second; the rate is raised to 40: the turns after come at
    40 a second at once, not after the turns booked at 4 (they are not booked ahead)."""
    pace = Pace(None)
    pace.rate = 4.0  # where a cut left it
    turns: list[float] = []
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            pace.wait()
            turns.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    raised = time.monotonic()
    pace.rate = 40.0
    time.sleep(1.0)
    stop.set()
    pace.rate = 1000.0
    for thread in threads:
        thread.join()
    after = [t for t in turns if raised + 0.3 <= t < raised + 1.0]
    assert len(after) >= 0.8 * 40 * 0.7


def test_the_rate_probes_upward_and_never_above_max_rate():
    clock = FakeClock()
    bucket = TokenBucket(50.0, 10.0, clock)
    pace = Pace(20.0, clock=clock)  # --max-rate 20, under the registry's limit
    accepted, refusals = drive(pace, clock, lambda: not bucket.take(), seconds=20.0)
    assert refusals == [] and pace.rate == 20.0
    assert len(accepted) / 20.0 == pytest.approx(20.0, rel=0.05)
    limited = TokenBucket(10.0, 2.0, clock)  # then the registry's limit drops below it
    drive(pace, clock, lambda: not limited.take(), seconds=20.0 + 20.0)
    assert 8.0 <= pace.rate <= 15.0  # probing between the limit and a quarter above it


def test_a_rate_the_run_does_not_reach_is_not_raised():
    """Once a limit is found, ten minutes of asking for less (layers being analysed) leave the rate where
    it was: a burst after them is paced at it, not let loose on the registry."""
    clock = FakeClock()
    bucket = TokenBucket(50.0, 10.0, clock)
    pace = Pace(None, clock=clock)
    drive(pace, clock, lambda: not bucket.take(), seconds=20.0)
    found = pace.rate
    assert found is not None and 40.0 <= found <= 65.0
    drive(pace, clock, lambda: not bucket.take(), seconds=20.0 + 600.0, cost=1 / 40)  # 40 a second, no more
    assert pace.rate == found
    for second in range(60):  # 40 a second still, all at once at the start of each (slots freed together)
        clock.now = 100.0 + 620.0 + second
        for _ in range(40):
            pace.wait()
            clock.now += 0.00002
    assert pace.rate == found
    clock.now = 100.0 + 620.0 + 61.0
    accepted, refusals = drive(pace, clock, lambda: not bucket.take(), seconds=681.0 + 20.0)
    assert len(refusals) <= 0.2 * len(accepted)
    assert 40.0 <= pace.rate <= 65.0


def test_a_rate_cut_to_one_a_second_climbs_back():
    """Cut to the floor of one request a second (a limit that has since gone), four workers whose answers
    take 0.2 to 0.4 s: the gaps between two requests are about a second, which is the rate, not idling,
    and the rate climbs back."""
    clock, draw = FakeClock(), random.Random(1)
    slept: list[float] = []
    pace = Pace(None, clock=clock, sleep=slept.append)
    pace.rate = 1.0  # where a deep cut left it
    ready = [clock.now] * 4  # when each worker asks next: at its turn, then its answer's time later
    while clock.now < 100.0 + 300.0:
        worker = min(range(4), key=ready.__getitem__)
        clock.now = ready[worker]
        waited = len(slept)
        pace.wait()
        turn = clock.now + (slept[-1] if len(slept) > waited else 0.0)
        ready[worker] = turn + draw.uniform(0.2, 0.4)
    assert pace.rate > 10.0


def test_max_rate_holds_when_a_stalled_registry_answers_everything_at_once():
    """--max-rate 20 with 4 requests in flight and 8 more waiting: the registry stalls for a second, then
    answers the 4 together. The 8 still go a twentieth of a second apart, not in a burst."""
    traffic = Traffic(max_rate=20.0, most=4)
    stalled, sent, lock = threading.Event(), [], threading.Lock()

    def request() -> None:
        with traffic.request():
            with lock:
                sent.append(time.monotonic())
            stalled.wait()

    threads = [threading.Thread(target=request) for _ in range(12)]
    for thread in threads:
        thread.start()
        time.sleep(0.01)
    time.sleep(1.0)
    assert len(sent) == 4  # the others wait for a slot
    stalled.set()
    for thread in threads:
        thread.join()
    gaps = [b - a for a, b in zip(sorted(sent), sorted(sent)[1:], strict=False)]
    assert min(gaps) >= 0.045


def test_a_registry_answering_429_now_and_then_finishes_the_run(tcs, anonymous_registry, standard, out_dir):
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
    assert rows == expected_rows(proxy.host, standard.expected, skipped=lambda e: e.repository != "alpine")
    assert [r[:2] for r in rows if r[-1] == "false"] == [
        [f"{proxy.host}/alpine", t] for t in ("3.19", "3.20", "latest")
    ]


def test_bad_max_rate_is_one_line(tcs, anonymous_registry):
    for value in ("0", "-3", "fast", "0.0001", "99999999999999999999"):
        result = tcs("registry", anonymous_registry.url, f"--max-rate={value}")
        assert (result.code, result.messages) == (
            2,
            [f"error\t--max-rate must be a number of requests a second from 0.01 to 100,000, not {value}"],
        )


def test_a_quota_is_spent_after_five_minutes_of_nothing_but_429s_not_after_a_pause():
    """Starved: every answer a 429 for STARVED seconds, one after the other. A 429 after a long pause
    (layers being analysed, nothing asked) starts the count again, and any other answer ends it. Once
    starved, it stays so, and a request waiting for its turn does not wait on (the run stops)."""
    clock = FakeClock()
    pace = Pace(None, clock=clock, sleep=clock.sleep)
    assert pace.starved() is None
    pace.refused()
    clock.now += 200.0  # a pause: nothing asked
    for _ in range(30):
        pace.refused()
        clock.now += 10.0
    pace.accepted()  # one answered, at last
    pace.refused()
    for _ in range(29):
        clock.now += 10.0
        pace.refused()
    assert pace.starved() is None  # 290 s of 429s since
    clock.now += 10.0
    pace.refused()
    assert pace.starved() == 300.0
    slept = len(clock.slept)
    pace.rate = 1.0
    for _ in range(5):
        pace.wait()
    assert len(clock.slept) == slept  # no turn waited for
    pace.accepted()  # an answer to a request sent before the stop
    clock.now += 400.0
    assert pace.starved() == 700.0


def test_a_posts_leave_to_be_sent_again_is_its_own():
    """A token fetched (not resendable) while a resendable request is under way in the same thread, and
    the other way round: each request has its own leave, and none outlives its request."""
    traffic = Traffic(None, 4)
    with traffic.request(gated=False, resendable=True):
        with traffic.request(gated=False):
            assert not traffic.resendable
        assert traffic.resendable
        with pytest.raises(RuntimeError), traffic.request(gated=False, resendable=False):
            raise RuntimeError("refused")
        assert traffic.resendable
    assert not traffic.resendable


@pytest.mark.parametrize(("of_registry", "counted"), [(True, True), (False, False)])
def test_a_429_counts_as_the_registrys_by_the_request_not_the_connection(of_registry, counted):
    """A 429 to the registry's own request counts as the registry's, whatever connection it came through
    (an HTTP proxy's, as urllib3's pool then is); a vendor API's elsewhere (Docker Hub's) never does."""
    from types import SimpleNamespace

    from urllib3.response import HTTPResponse

    from tcs_registry.pacing import PacedRetry

    traffic = Traffic(None, 4)
    retry = PacedRetry(total=3, status_forcelist=(429,), respect_retry_after_header=True)
    retry.traffic = traffic
    through = SimpleNamespace(host="proxy.internal", port=3128)  # (the pool of a proxied http:// registry)
    with traffic.request(gated=False, of_registry=of_registry):
        retry.increment("GET", "/v2/", HTTPResponse(status=429, body=b""), _pool=through)
    assert (traffic.pace._refused_since is not None) == counted


def test_only_the_statuses_a_client_lists_are_retried_retry_after_or_not():
    """urllib3 alone retries any 413, 429 or 503 that has a Retry-After, whatever the list: Docker Hub's
    client leaves 429 out (its pull quota means hours) and asks again itself where it may."""
    from urllib3.util.retry import Retry

    from tcs_registry.http import RETRY_STATUSES
    from tcs_registry.pacing import PacedRetry

    def retry(cls: type[Retry], statuses: tuple[int, ...]) -> Retry:
        return cls(total=6, status_forcelist=statuses, allowed_methods=frozenset({"GET"}))

    default, hub = retry(PacedRetry, RETRY_STATUSES), retry(PacedRetry, (500, 502, 503, 504))
    assert default.is_retry("GET", 429, True) and default.is_retry("GET", 429) and default.is_retry("GET", 503, True)
    assert not default.is_retry("GET", 413, True) and not default.is_retry("POST", 503)
    assert not hub.is_retry("GET", 429, True) and hub.is_retry("GET", 503, True)
    assert retry(Retry, (500, 502, 503, 504)).is_retry("GET", 429, True)  # (what urllib3 alone does)
