"""Faults of a registry the tool does not control, against the real CNCF registry behind a proxy that
injects them: answers broken off mid-body are asked again, endless ones are refused, and each
failure costs only its image, which the failures report lists with the reason."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tcs_registry import http, oci
from tcs_registry.results import results_dir
from tcs_registry.testing.facade import CUT_AFTER, NO_LENGTH, TRICKLE, TRICKLE_BODY
from tcs_registry.testing.helpers import csv_rows, expected_rows, failures_path, report_path
from tcs_registry.testing.proxy import Proxy, upstream_answer

pytestmark = pytest.mark.timing  # asserts on rates and times: run apart from the parallel run


def test_an_answer_broken_off_once_is_asked_again(tcs, anonymous_registry, standard, out_dir):
    broken: list[str] = []

    def cut(path, session, upstream):
        if "/manifests/" in path and path not in broken:
            broken.append(path)
            status, headers, body = upstream_answer(session, upstream, path)
            return status, {**headers, CUT_AFTER: "10"}, body
        return None

    with Proxy(anonymous_registry.url, cut) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        rows = csv_rows(report_path(out_dir, proxy.host))
        paths = proxy.paths
    assert result.code == 0, result.err
    assert len(broken) >= len(standard.expected)  # every tag's manifest, and the platforms' of the index
    assert all(paths.count(p) == 2 for p in broken)  # broken, then asked again
    assert rows == expected_rows(proxy.host, standard.expected)


def test_an_answer_always_broken_off_fails_that_image_with_its_reason(tcs, anonymous_registry, out_dir):
    def cut(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19":
            return 200, {"Content-Type": "application/json", CUT_AFTER: "5"}, b'{"schemaVersion": 2}' * 10
        return None

    with Proxy(anonymous_registry.url, cut) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        failed = csv_rows(failures_path(out_dir, proxy.host))
        attempts = proxy.paths.count("/v2/alpine/manifests/3.19")
    assert result.code == 4
    assert attempts == http.BODY_ATTEMPTS
    reason = f"{proxy.host} broke off its answer {http.BODY_ATTEMPTS} times: "
    assert failed[0] == ["repository", "tag", "code", "reason"]
    assert failed[1][:3] == [f"{proxy.host}/alpine", "3.19", "registry-error"] and failed[1][3].startswith(reason)
    assert [m for m in result.messages if m.startswith("error")] == [
        f"error\tFailed to describe image image={proxy.host}/alpine:3.19 error={failed[1][3]}"
    ]


def test_an_enormous_page_is_refused_in_one_line(tcs, anonymous_registry, monkeypatch):
    monkeypatch.setattr(http, "MAX_BODY_BYTES", 100_000)

    def huge(path, session, upstream):
        if path.startswith("/v2/_catalog"):
            names = [f"r{i:06d}" for i in range(20_000)]  # ~300 KB of JSON
            return 200, {"Content-Type": "application/json"}, json.dumps({"repositories": names}).encode()
        return None

    with Proxy(anonymous_registry.url, huge) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
    assert result.code == 3
    assert result.messages[-1].startswith(f"error\t{proxy.host} answered ")
    assert result.messages[-1].endswith("bytes, more than the 100000 this tool reads")
    assert "Traceback" not in result.err


def flaky(times: int, status: int, headers: dict[str, str] | None = None, path: str = "/v2/alpine/manifests/3.19"):
    """A rewrite answering `status` to the first `times` requests for `path`, then passing them on."""
    seen: list[int] = []

    def rewrite(target, session, upstream):
        if target == path and len(seen) < times:
            seen.append(status)
            return (
                status,
                {"Content-Type": "application/json", **(headers or {})},
                b'{"errors": [{"code": "UNAVAILABLE"}]}',
            )
        return None

    return rewrite


def test_server_errors_and_429s_are_retried_until_the_registry_answers(tcs, anonymous_registry, standard, out_dir):
    # a Retry-After that is no time ("soon", "-5", "1.5"): the usual backoff, as if there were none
    answers = [(500, None), (502, None), (503, {"Retry-After": "1"}), (429, None), (429, {"Retry-After": "soon"})]
    answers += [(429, {"Retry-After": "9" * 5000}), (503, {"Retry-After": "Fri, 31 Dec 10000 23:59:59 GMT"})]
    for status, headers in answers:
        with Proxy(anonymous_registry.url, flaky(2, status, headers)) as proxy:
            result = tcs("registry", proxy.url, "--mode=dry-run")
            attempts = proxy.paths.count("/v2/alpine/manifests/3.19")
            rows = csv_rows(report_path(out_dir, proxy.host))
        assert (status, result.code, attempts) == (status, 0, 3), result.err
        assert rows == expected_rows(proxy.host, standard.expected)
        # two 429s among the run's requests are sporadic: retried, the run is not slowed (tests/test_pacing.py
        # has a limit met in earnest)
        assert not any("slowing down" in m for m in result.messages)


def test_a_retry_after_beyond_a_minute_is_the_answer_not_a_wait(tcs, anonymous_registry, out_dir):
    """A registry asking to be asked again in an hour (or at a date years away) means it: the image fails
    at once with that in its reason, rather than the run waiting a minute six times over for each."""
    for status, after, code, seconds in (
        (429, "3600", "rate-limited", "3,600"),
        (503, "Wed, 21 Oct 2099 07:28:00 GMT", "registry-error", "more than a year"),
        (429, "9" * 400, "rate-limited", "more than a year"),
    ):
        with Proxy(anonymous_registry.url, flaky(99, status, {"Retry-After": after})) as proxy:
            started = time.monotonic()
            result = tcs("registry", proxy.url, "--mode=dry-run", "--allowList=alpine:3.19")
            took = time.monotonic() - started
            attempts = proxy.paths.count("/v2/alpine/manifests/3.19")
            failed = csv_rows(failures_path(out_dir, proxy.host))
        assert (result.code, attempts) == (4, 1), result.err
        assert failed[1][:3] == [f"{proxy.host}/alpine", "3.19", code]
        assert f"; it asks to be asked again in {seconds}" in failed[1][3]
        assert failed[1][3].endswith(", run again then")
        assert took < 10


def test_a_registry_that_never_answers_is_asked_three_times_not_seven(tcs, anonymous_registry, out_dir):
    """Each attempt at an answer that never comes costs the whole --timeout: three of them, not the six
    retries a refusal gets (with --timeout 60 that was seven minutes a request)."""

    def silent(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19":
            time.sleep(1.5)  # the client has given up by then
        return None

    with Proxy(anonymous_registry.url, silent) as proxy:
        started = time.monotonic()
        result = tcs("registry", proxy.url, "--mode=dry-run", "--timeout=1", "--allowList=alpine:3.19")
        took = time.monotonic() - started
        attempts = proxy.paths.count("/v2/alpine/manifests/3.19")
        failed = csv_rows(failures_path(out_dir, proxy.host))
    assert result.code == 4
    assert attempts == 3
    assert failed[1:] == [
        [
            f"{proxy.host}/alpine",
            "3.19",
            "timeout",
            f"{proxy.host} took longer than 1 s to answer, every time it was asked",
        ]
    ]
    assert took < 8


def test_a_gateway_that_timed_out_is_asked_three_times_not_seven(tcs, anonymous_registry, out_dir):
    """A 504 after a wait of its own (a gateway that gave up on the registry behind it: nginx's
    proxy_read_timeout is 60 s) costs about a timeout: three such attempts in all with the others, not
    the six retries a refusal gets. A 504 that comes at once is a refusal like any other: retried."""
    seen = []

    def gateway(path, session, upstream):
        if path in ("/v2/alpine/manifests/3.19", "/v2/alpine/manifests/3.20"):
            seen.append(path)
            tries = seen.count(path)
            if path.endswith("3.19") and tries == 1:
                time.sleep(1.5)  # the client gives up on the first attempt: the first of three
                return None
            if path.endswith("3.19"):
                time.sleep(0.7)  # over half of --timeout=1
            elif tries > 3:  # 3.20: three quick 504s, then its answer
                return None
            return 504, {"Content-Type": "text/html"}, b"<html><h1>504 Gateway Time-out</h1></html>"
        return None

    with Proxy(anonymous_registry.url, gateway) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--timeout=1", "--allowList=alpine:3.19,alpine:3.20")
        failed = csv_rows(failures_path(out_dir, proxy.host))
        rows = csv_rows(report_path(out_dir, proxy.host))
    assert result.code == 4
    assert (seen.count("/v2/alpine/manifests/3.19"), seen.count("/v2/alpine/manifests/3.20")) == (3, 4)
    assert failed[1:] == [
        [f"{proxy.host}/alpine", "3.19", "registry-error", f"{proxy.host}/alpine:3.19: the registry answered 504"]
    ]
    kept = [row[:2] for row in rows[1:] if row[3] == "false"]  # (the others are listed as skipped)
    assert kept == [[f"{proxy.host}/alpine", "3.20"]]  # described after its three quick 504s


@pytest.mark.parametrize(
    "status, wait, body",
    [(200, 0.0, b'{"schemaVersion": 2}'), (504, 0.7, b"<html>504 Gateway Time-out</html>")],
    ids=["answer", "slow-504"],
)
def test_timeouts_before_and_during_an_answer_count_together(tcs, anonymous_registry, out_dir, status, wait, body):
    """Silent twice, then an answer trickled past its deadline: three attempts that ran out of time,
    whichever way, and no more (each kind had three of its own: nine). A 504 after over half of
    --timeout, counted when it came, whose page is then cut, is one attempt, not two."""
    seen = []

    def slow(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19":
            seen.append(path)
            if len(seen) % 3:
                time.sleep(1.5)
                return None
            time.sleep(wait)
            return status, {"Content-Type": "application/json", TRICKLE_BODY: "0.2"}, body
        return None

    with Proxy(anonymous_registry.url, slow) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--timeout=1", "--allowList=alpine:3.19")
        failed = csv_rows(failures_path(out_dir, proxy.host))
    assert result.code == 4
    assert len(seen) == 3
    assert failed[1][:3] == [f"{proxy.host}/alpine", "3.19", "timeout"]
    assert failed[1][3].startswith(f"{proxy.host} took longer than 1 s to answer 3 times: ")


def test_a_server_error_that_does_not_heal_fails_that_image_only(tcs, anonymous_registry, out_dir):
    with Proxy(anonymous_registry.url, flaky(99, 500)) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        failed = csv_rows(failures_path(out_dir, proxy.host))
    assert result.code == 4
    assert failed[1][:3] == [f"{proxy.host}/alpine", "3.19", "registry-error"]
    assert "500" in failed[1][3]
    assert "Failed images         : 1\n" in result.out
    assert "Failures by code      : registry-error 1\n" in result.out


def test_truncated_json_fails_its_image_or_its_listing_in_one_line(tcs, anonymous_registry, out_dir):
    def truncated(path, session, upstream):
        if path == "/v2/alpine/manifests/3.20":
            _, headers, body = upstream_answer(session, upstream, path)
            return 200, {"Content-Type": headers["Content-Type"]}, body[:-7]
        return None

    with Proxy(anonymous_registry.url, truncated) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        failed = csv_rows(failures_path(out_dir, proxy.host))
    assert result.code == 4
    assert failed[1] == [
        f"{proxy.host}/alpine",
        "3.20",
        "invalid-image",
        f"{proxy.host}/alpine:3.20: the manifest is not valid JSON",
    ]

    def cut_catalog(path, session, upstream):
        if path.startswith("/v2/_catalog"):
            return 200, {"Content-Type": "application/json"}, b'{"repositories": ["alpine", "tea'
        return None

    with Proxy(anonymous_registry.url, cut_catalog) as proxy:
        listing = tcs("registry", proxy.url, "--mode=dry-run")
    assert listing.code == 3
    assert listing.messages[-1].startswith("error\t") and "invalid JSON" in listing.messages[-1]
    assert "Traceback" not in listing.err


def test_an_answer_that_is_too_slow_is_asked_again(tcs, anonymous_registry, standard, out_dir):
    slow: list[str] = []

    def sleepy(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19" and len(slow) < 2:
            slow.append(path)
            time.sleep(2.5)  # past --timeout=1: the client gives up and asks again
        return None

    with Proxy(anonymous_registry.url, sleepy) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--timeout=1")
        attempts = proxy.paths.count("/v2/alpine/manifests/3.19")
        rows = csv_rows(report_path(out_dir, proxy.host))
    assert result.code == 0, result.err
    assert attempts == 3
    assert rows == expected_rows(proxy.host, standard.expected)


def test_a_bad_timeout_is_one_line(tcs, anonymous_registry):
    result = tcs("registry", anonymous_registry.url, "--timeout=never")
    assert (result.code, result.messages) == (
        2,
        ["error\t--timeout must be a number of seconds over 0 and at most 3600, not never"],
    )


def _packages(directory) -> dict[str, list]:
    """Every result file's packages, by the file's path under ``directory``."""
    return {
        str(p.relative_to(directory)): json.loads(p.read_text())["packages"] for p in sorted(directory.rglob("*.json"))
    }


def test_a_layer_download_broken_off_is_fetched_again(tcs, anonymous_registry, tmp_path, out_dir):
    cut: list[str] = []

    def cut_once(path, session, upstream):
        if "/blobs/" in path and path not in cut:
            answer = session.get(upstream + path)
            if answer.content[:2] == b"\x1f\x8b":  # a gzip layer, not a config
                cut.append(path)
                return 200, {**answer.headers, CUT_AFTER: "100"}, answer.content
        return None

    reference = tmp_path / "reference"
    clean = tcs(
        "registry", anonymous_registry.url, "--format=json", f"--state-dir={reference}", f"--output-dir={reference}",
        isolate=False,
    )  # fmt: skip
    with Proxy(anonymous_registry.url, cut_once) as proxy:
        result = tcs("registry", proxy.url, "--format=json")
        paths = proxy.paths
        found = _packages(results_dir(out_dir, proxy.host))
    assert (clean.code, result.code) == (0, 0), result.err
    assert cut and all(paths.count(p) == 2 for p in cut)  # broken, then fetched again
    assert found == _packages(results_dir(reference, anonymous_registry.host))  # the same analysis


def test_a_layer_download_always_broken_off_fails_its_images_with_the_reason(tcs, anonymous_registry, out_dir):
    def cut_always(path, session, upstream):
        if path.startswith("/v2/alpine/blobs/"):
            answer = session.get(upstream + path)
            if answer.content[:2] == b"\x1f\x8b":
                return 200, {**answer.headers, CUT_AFTER: "100"}, answer.content
        return None

    with Proxy(anonymous_registry.url, cut_always) as proxy:
        result = tcs("registry", proxy.url, "--allowList=alpine")
        failed = csv_rows(failures_path(out_dir, proxy.host))
    assert result.code == 4
    assert [row[:3] for row in failed[1:]] == [
        [f"{proxy.host}/alpine", tag, "registry-error"] for tag in ("3.19", "3.20", "latest")
    ]
    broke = f" the download broke off {http.BODY_ATTEMPTS} times (Connection broken: IncompleteRead("
    assert all(broke in row[3] for row in failed[1:])
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "faults",
    [{TRICKLE: "0.2"}, {TRICKLE_BODY: "0.2", NO_LENGTH: "1"}],
    ids=["the whole answer", "a body that ends with its connection"],
)
def test_an_answer_trickled_past_the_timeout_is_cut_off_and_asked_again(
    tcs, anonymous_registry, standard, out_dir, faults
):
    trickled: list[str] = []

    def trickle(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19" and len(trickled) < 2:
            trickled.append(path)  # a byte every 0.2 s: each read is quick, the answer never ends
            status, headers, body = upstream_answer(session, upstream, path)
            return status, {**headers, **faults}, body
        return None

    with Proxy(anonymous_registry.url, trickle) as proxy:
        started = time.monotonic()
        result = tcs("registry", proxy.url, "--mode=dry-run", "--timeout=1")
        elapsed = time.monotonic() - started
        attempts = proxy.paths.count("/v2/alpine/manifests/3.19")
        rows = csv_rows(report_path(out_dir, proxy.host))
    assert result.code == 0, result.err
    assert attempts == 3  # cut off at 1 s twice, then answered
    assert rows == expected_rows(proxy.host, standard.expected)
    assert elapsed < 10


def test_an_answer_always_trickled_fails_its_image_with_the_reason(tcs, anonymous_registry, out_dir):
    def trickle(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19":
            return 200, {"Content-Type": "application/json", TRICKLE: "0.2"}, b'{"schemaVersion": 2}'
        return None

    with Proxy(anonymous_registry.url, trickle) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--timeout=1", "--allowList=alpine")
        failed = csv_rows(failures_path(out_dir, proxy.host))
    assert result.code == 4
    assert failed[1:] == [
        [
            f"{proxy.host}/alpine",
            "3.19",
            "timeout",
            f"{proxy.host} took longer than 1 s to answer, every time it was asked",
        ]
    ]


def test_a_layer_trickled_slower_than_the_minimum_rate_is_a_broken_download():
    import io

    import pytest

    from tcs_registry.analysis.stream import Download
    from tcs_registry.errors import ImageError

    class Trickle(io.RawIOBase):  # a byte every 20 ms: each read quick, the whole hopeless
        def read1(self, n: int) -> bytes:
            time.sleep(0.02)
            return b"x"

    download = Download(Trickle(), "reg/app@sha256:1", grace=0.3, min_rate=1024)
    got = 0
    with pytest.raises(ImageError, match=r"^reg/app@sha256:1: the download broke off \(slower than 1 KiB/s\)$"):
        while download.read(1024):
            got += 1
    assert 1 <= got <= 20  # read while within the grace period, then cut
    assert download.broken == "slower than 1 KiB/s"
    with pytest.raises(ImageError):  # and it stays broken
        download.read(1024)

    class FastThenTrickle(Trickle):  # 40 KiB at once, then a byte every 20 ms
        fast = 40

        def read1(self, n: int) -> bytes:
            self.fast -= 1
            return b"x" * n if self.fast >= 0 else super().read1(n)

    # the rate counts in windows of `grace` seconds: a fast start does not buy a long trickle
    download = Download(FastThenTrickle(), "reg/app@sha256:1", grace=0.3, min_rate=1024)
    started = time.monotonic()
    with pytest.raises(ImageError, match=r"\(slower than 1 KiB/s\)$"):
        while download.read(1024):
            pass
    assert time.monotonic() - started < 5  # about two windows; averaged over the whole, 40 s


def test_a_deadline_ends_when_its_connection_goes_back_to_the_pool():
    """A connection back in the pool may serve another thread next: the deadline of the answer it
    carried must not cut it off then."""
    import socket
    from types import SimpleNamespace

    from tcs_registry.deadlines import Deadlines

    deadlines = Deadlines()
    ours, theirs = socket.socketpair()
    connection = SimpleNamespace(sock=ours)
    with deadlines.scope(0.2) as scope:
        deadlines.attach(connection)
        deadlines.release(connection)  # the answer is complete
        time.sleep(0.4)
    assert not scope.cut
    theirs.send(b"x")
    assert ours.recv(1) == b"x"  # still open
    with deadlines.scope(0.2) as scope:
        deadlines.attach(connection)
        time.sleep(0.4)  # an answer still coming at its deadline
    assert scope.cut
    assert ours.recv(1) == b""  # shut down
    ours.close()
    theirs.close()


def test_a_watched_connection_back_in_its_pool_is_not_cut_at_the_old_deadline(anonymous_registry):
    """The same, through the watched pool against the real registry: the connection of a finished
    answer serves the next request, after the first one's deadline, without being shut."""
    import requests

    from tcs_registry.deadlines import DEADLINES, WatchedAdapter

    adapter = WatchedAdapter()
    with requests.Session() as session:
        session.mount("http://", adapter)

        def socket_used() -> object:  # the socket of the one connection back in the pool
            pools = adapter.poolmanager.pools
            (pool,) = [pools[key] for key in pools.keys()]  # noqa: SIM118 - the container is not iterable
            (connection,) = [c for c in pool.pool.queue if c is not None]
            return connection.sock

        with DEADLINES.scope(0.3):
            assert session.get(anonymous_registry.url + "/v2/", timeout=5).status_code == 200
            first = socket_used()
            time.sleep(0.6)  # past the first answer's deadline
            assert session.get(anonymous_registry.url + "/v2/", timeout=5).status_code == 200
            # a socket shut at the old deadline would have been found dropped and replaced
            assert socket_used() is first


def test_a_probe_answer_trickled_past_its_time_is_no_answer():
    """Recognising the registry asks /v2/ anonymously before anything else: that answer gets its time
    in all (--timeout, at most 10 s), not per read."""
    from tcs_registry.sniffing import HttpProbe
    from tcs_registry.testing.facade import Facade, json_answer

    with Facade("http://127.0.0.1:9", name="registry") as registry:

        @registry.route("GET", r"/v2/")
        def v2(request):
            status, headers, body = json_answer({})
            return status, {**headers, TRICKLE: "0.2"}, body  # about 30 s for the whole answer

        started = time.monotonic()
        assert HttpProbe(registry.url, True, timeout=1).v2() is None
        assert time.monotonic() - started < 5


def test_a_manifest_or_a_config_larger_than_it_may_be_fails_that_image_only(tcs, anonymous_registry, out_dir):
    """A manifest over the 4 MiB the distribution spec allows, a config over 8 MiB: that image fails as
    too large, in one error line, and the run goes on with the others."""
    manifest = requests.get(
        f"{anonymous_registry.url}/v2/a/b/c/manifests/v1", headers={"Accept": oci.MANIFEST_ACCEPT}, timeout=10
    ).json()
    config = f"/v2/a/b/c/blobs/{manifest['config']['digest']}"

    def oversized(path, session, upstream):
        if path == "/v2/alpine/manifests/3.19":
            return 200, {"Content-Type": oci.OCI_MANIFEST}, b" " * (oci.MAX_MANIFEST_BYTES + 1)
        if path == config:
            return 200, {"Content-Type": "application/octet-stream"}, b" " * (oci.MAX_CONFIG_BYTES + 1)
        return None

    with Proxy(anonymous_registry.url, oversized) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        host = proxy.host
    errors = [m for m in result.messages if m.startswith("error")]
    assert errors == [
        f"error\tFailed to describe image image={host}/a/b/c:v1 error={host}/a/b/c@{manifest['config']['digest']}: "
        f"blob larger than {oci.MAX_CONFIG_BYTES} bytes",
        f"error\tFailed to describe image image={host}/alpine:3.19 error={host}/alpine:3.19: "
        f"manifest larger than {oci.MAX_MANIFEST_BYTES} bytes",
    ], result.err[-2000:]
    assert sorted(row[:3] for row in csv_rows(failures_path(out_dir, host))[1:]) == [
        [f"{host}/a/b/c", "v1", "too-large"],
        [f"{host}/alpine", "3.19", "too-large"],
    ]
    assert result.code == 4


def test_a_post_is_sent_again_only_when_it_says_it_may_be(anonymous_registry):
    """urllib3 sends a POST once, whatever comes back: a POST may change something. A token service's
    (ACR's exchange, Docker Hub's login) says it may be sent again, and is, as a GET would be."""
    from tcs_registry.models import Credentials, Registry
    from tcs_registry.testing.facade import Facade, json_answer

    with Facade(anonymous_registry.url, name="posts") as facade:
        answers: list[int] = []
        sent: list[str] = []

        @facade.route("POST", "/token")
        def token(request):
            sent.append(request.form()["grant_type"])
            return json_answer({"errors": []}, answers.pop(0)) if answers else json_answer({"token": "t"})

        client = http.RegistryClient(Registry(facade.url, "http", facade.host, "", "DEFAULT_V2"), Credentials())
        answers[:] = [503, 429]
        again = client._send("POST", f"{facade.url}/token", data={"grant_type": "again"}, resendable=True)
        assert (again.status_code, again.json(), sent) == (200, {"token": "t"}, ["again"] * 3)
        answers[:] = [503, 429]  # (after it: its leave to send again was for it alone)
        once = client._send("POST", f"{facade.url}/token", data={"grant_type": "once"})
        assert (once.status_code, sent[3:]) == (503, ["once"])
