"""What the foundation already guarantees: tampered content is refused per image, secrets stay out
of every output, an interrupted run keeps its work, an auth-override plugin answers first."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from tcs_registry import Credentials, RegistryClient, hookimpl, signals
from tcs_registry.plugins import get_plugin_manager
from tcs_registry.testing.fixtures import USERS
from tcs_registry.testing.helpers import (
    as_if_killed,
    console_script,
    csv_rows,
    failures_path,
    report_path,
    store_rows,
)
from tcs_registry.testing.proxy import Proxy


def test_manifest_that_does_not_match_its_digest_fails_that_image_only(tcs, anonymous_registry, out_dir, state_dir):
    def tamper(path, session, upstream):
        if path != "/v2/alpine/manifests/3.19":
            return None
        answer = session.get(upstream + path, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        body = json.loads(answer.content)
        body["annotations"] = {"injected": "yes"}  # the body changes, the advertised digest does not
        return (
            200,
            {
                "Content-Type": answer.headers["Content-Type"],
                "Docker-Content-Digest": answer.headers["Docker-Content-Digest"],
            },
            json.dumps(body).encode(),
        )

    with Proxy(anonymous_registry.url, tamper) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
        failures = failures_path(out_dir, proxy.host)
        reported = csv_rows(failures)
        clean = tcs("registry", proxy.url, "--mode=dry-run", "--denyList=alpine:3.19")
    assert result.code == 4
    errors = [m for m in result.messages if m.startswith("error\t")]
    assert len(errors) == 1
    assert errors[0].startswith("error\tFailed to describe image image=127.0.0.1:")
    assert "alpine:3.19: content does not match its digest (expected sha256:" in errors[0]
    assert "Total images found    : 10 tags\n" in result.out
    assert "Failed images         : 1\n" in result.out
    # the failure, and why, in a report of its own and in the store
    reason = errors[0].split(" error=", 1)[1]
    assert f"    Failure details       : {failures}\n" in result.out
    assert reported == [
        ["repository", "tag", "code", "reason"],
        [f"{proxy.host}/alpine", "3.19", "invalid-image", reason],
    ]
    assert store_rows(state_dir, "SELECT repository, tag, code, reason FROM failures") == [
        (f"{proxy.host}/alpine", "3.19", "invalid-image", reason)
    ]
    assert clean.code == 0
    assert not failures.exists()  # a run without failures leaves no stale failures report


def test_credentials_never_reach_logs_report_or_store(tcs, basic_registry, state_dir, out_dir):
    password = USERS["alice"]
    result = tcs(
        "registry",
        basic_registry.url,
        "--mode=dry-run",
        "--username=alice",
        f"--password={password}",
        "--token=console-api-token-123",
        "-v",
    )
    assert result.code == 0, result.err
    basic = f"alice:{password}".encode()
    secrets = [password, "console-api-token-123", base64.b64encode(basic).decode()]
    haystacks = [result.out, result.err, (out_dir / f"127-0-0-1-{basic_registry.port}-report.csv").read_text()]
    haystacks += [p.read_bytes().decode("latin-1") for p in state_dir.iterdir()]
    for secret in secrets:
        assert all(secret not in text for text in haystacks), secret


def dry_run_command(server, state, out) -> list[str]:
    """The console script's dry run of `server`, its state and output in the test's directories."""
    return [console_script(), "registry", server.url, "--mode=dry-run", f"--state-dir={state}", f"--output-dir={out}"]


@pytest.mark.parametrize(
    ("stop", "code", "said"),
    [
        (signal.SIGINT, 130, "Interrupted"),
        (signal.SIGTERM, 143, "Terminated (SIGTERM)"),  # a CI job cancelled, `timeout`, `docker stop`
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_interrupted_run_keeps_its_work_and_the_next_run_continues(big_registry, tmp_path, stop, code, said):
    server = big_registry
    state, out = tmp_path / "state", tmp_path / "out"
    command = [*dry_run_command(server, state, out), "--concurrency=1"]
    # Ctrl-C as a terminal sends it: with SIGINT's default disposition, even if whoever started the
    # tests runs them in the background (where a shell has the children ignore SIGINT)
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    process = subprocess.Popen(  # (JSON logs: a log collector reads one object a line, to the last)
        [*command, "--log-format=json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    # its standard error read as it comes: a full pipe would hold the run up on a log line
    read: list[str] = []
    reader = threading.Thread(target=lambda: read.append(process.stderr.read()), daemon=True)
    reader.start()
    report = out / f"127-0-0-1-{server.port}-report.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not report.exists() or len(report.read_text().splitlines()) < 51):
        time.sleep(0.02)
    process.send_signal(stop)
    process.wait(timeout=60)
    reader.join(timeout=60)
    [stderr] = read
    assert process.returncode == code, stderr[-2000:]
    lines = [json.loads(line) for line in stderr.splitlines()]  # (click wrote an empty line on Ctrl-C)
    assert (lines[-1]["level"], lines[-1]["message"]) == (
        "error",
        f"{said}: what was done is recorded; run the same command again to continue",
    )
    assert "Traceback" not in stderr
    [(status,)] = store_rows(state, "SELECT status FROM runs")
    recorded = store_rows(state, "SELECT COUNT(*) FROM images")[0][0]
    assert status == "interrupted"
    assert 50 <= recorded < 1000
    # where it got to, as the summary a finished run prints would have said
    stopped = lines[-2]
    assert stopped["level"] == "info"
    assert re.fullmatch(
        rf"Run 1 stopped after [\d,]+ of (1,000 images|the [\d,]+ images found so far), 0 failed; "
        rf"the report so far: {re.escape(str(report))}",
        stopped["message"],
    ), stopped
    assert recorded <= int(stopped["message"].split()[4].replace(",", "")) < 1000
    rows = csv_rows(report)
    assert len(rows) - 1 >= recorded - 1  # the report holds every image recorded (rows are flushed)

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    _estimates_the_resumed_images(again)
    new = int(again.stdout.splitlines()[2].split(":")[1].split()[0])
    distinct = store_rows(state, "SELECT COUNT(*) FROM digests")[0][0]
    assert distinct == 850
    assert new == 850  # the digests the interrupted run met first are new to the run that finishes its work
    assert store_rows(state, "SELECT COUNT(*) FROM digests WHERE first_run = 1") == [(0,)]
    assert len(csv_rows(report)) == 1001


def test_a_ctrl_c_whose_exception_python_dropped_still_stops_the_run(tcs, anonymous_registry, state_dir):
    """Python drops an exception raised while a finalizer runs ("Exception ignored in ..."), a Ctrl-C's
    too when it comes then, and the run went on to its end (exit 0). The signal is remembered: the run
    stops at its next step, as it does when the exception is not lost."""

    class DroppedOnce:
        described = 0

        @hookimpl(tryfirst=True)
        def describe_image(self, registry, client, repository, tag):
            self.described += 1
            if self.described == 3:  # the handler ran, and its exception was lost (here: caught)
                with contextlib.suppress(KeyboardInterrupt):
                    signals._on_signal(signal.SIGINT, None)
            return None  # described as ever, by the V2 plugin

    pm = get_plugin_manager(load_entrypoints=False, plugins=[DroppedOnce()])
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", pm=pm)
    assert result.code == 130, result.err
    said = "error\tInterrupted: what was done is recorded; run the same command again to continue"
    assert result.messages[-1] == said
    assert store_rows(state_dir, "SELECT status FROM runs") == [("interrupted",)]


@pytest.fixture
def ctrl_c():
    """Ctrl-C delivered to this process as a terminal delivers it, even where the tests run with SIGINT
    ignored (a shell's background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupted_scan_keeps_the_images_scanned_behind_one_under_way(ctrl_c, tcs, anonymous_registry):
    """Results are written in listing order: Ctrl-C while the first image is still being described
    kept none of the images scanned after it (and the stop line counted them done). They are kept, and
    the next run does not scan them again."""
    others = {("alpine", "3.20"), ("alpine", "latest"), ("team/api", "1.0.0"), ("team/api", "1.1.0")}
    others.add(("team/api", "1.1.0-debug"))
    scanned: set[tuple[str, str]] = set()
    all_scanned, release = threading.Event(), threading.Event()

    class SlowFirst:
        @hookimpl(tryfirst=True)
        def describe_image(self, registry, client, repository, tag):
            if (repository, tag) == ("alpine", "3.19"):
                all_scanned.wait(30)  # the images after it are scanned meanwhile
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C (the run's handler takes it)
                release.wait(30)
            return None

        @hookimpl(wrapper=True)
        def submit_scan(self, registry, client, image, options):
            result = yield
            scanned.add((image.repository, image.tag))
            if scanned >= others:
                all_scanned.set()
            return result

    pm = get_plugin_manager(plugins=[SlowFirst()])
    try:
        result = tcs("registry", anonymous_registry.url, "--allowList=alpine:*,team/*", pm=pm)
    finally:
        release.set()
    assert all_scanned.is_set(), scanned
    assert result.code == 130, result.err
    stopped = next(m for m in result.messages if " stopped after " in m)
    assert stopped.startswith("info\tRun 1 stopped after 9 of 10 images, 0 failed;"), stopped
    host = anonymous_registry.host
    kept = {m.split("image=")[1].split()[0] for m in result.infos if m.startswith("info\tScanned image image=")}
    assert kept == {f"{host}/{repository}:{tag}" for repository, tag in others}
    again = tcs("registry", anonymous_registry.url, "--allowList=alpine:*,team/*", pm=get_plugin_manager())
    assert again.code == 0, again.err
    assert "info\tResumed images=5 from run 1" in again.infos  # (not asked for again: alpine:3.19 alone is)


def test_a_signal_lost_in_a_finalizer_is_remembered(ctrl_c, monkeypatch):
    """What the run's loops ask at each step: a real SIGINT, its KeyboardInterrupt raised inside a
    finalizer, where Python drops it (printing its traceback, raw, among JSON log lines: left out)."""
    printed = []
    monkeypatch.setattr(sys, "unraisablehook", printed.append)

    class Finalized:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # the handler runs here, inside the finalizer

    with signals.stopped_by_signals():
        signals.raise_if_stopped()  # nothing asked yet
        Finalized()  # (collected at once)
        with pytest.raises(KeyboardInterrupt):
            signals.raise_if_stopped()
    assert printed == []
    signals.raise_if_stopped()  # the command over, nothing is left to stop


def test_a_killed_run_leaves_a_sound_store_and_the_next_run_completes(big_registry, tmp_path):
    """SIGKILL half way: nothing is cleaned up, yet the store is intact (WAL journal, a transaction per
    image) and the next run finishes the job, without fetching again what was done, one row per image."""
    server = big_registry
    state, out = tmp_path / "state", tmp_path / "out"
    command = dry_run_command(server, state, out)
    process = subprocess.Popen([*command, "--concurrency=1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    recorded = 0
    while time.monotonic() < deadline and recorded < 100:
        time.sleep(0.05)
        if (state / "state.db").exists():
            try:
                recorded = store_rows(state, "SELECT COUNT(*) FROM images")[0][0]
            except sqlite3.OperationalError:  # the schema is being created
                continue
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert 100 <= recorded < 1000
    assert store_rows(state, "PRAGMA integrity_check") == [("ok",)]
    assert store_rows(state, "SELECT status FROM runs") == [("running",)]  # it had no chance to say more

    recorded = store_rows(state, "SELECT COUNT(*) FROM images")[0][0]
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    _estimates_the_resumed_images(again)
    # the next run finishes the job: what the killed one described is not fetched again
    lines = [line.split("\t", 1)[1] for line in again.stderr.splitlines() if "\t" in line]
    assert "info\tResuming run 1: the images it finished are not fetched again" in lines
    assert f"info\tResumed images={recorded} from run 1" in lines
    assert sum("Fetched image discovery details" in line for line in lines) == 1000 - recorded
    assert store_rows(state, "SELECT id, status FROM runs") == [(1, "resumed by run 2"), (2, "complete")]
    assert store_rows(state, "PRAGMA integrity_check") == [("ok",)]
    assert store_rows(state, "SELECT COUNT(*), COUNT(DISTINCT repository || ':' || tag) FROM images") == [(1000, 1000)]
    assert store_rows(state, "SELECT COUNT(*) FROM digests")[0][0] == 850
    assert len(csv_rows(out / f"127-0-0-1-{server.port}-report.csv")) == 1001


def test_auth_override_plugin_answers_first_for_its_host_only(tcs, basic_registry, anonymous_registry):
    class VaultAuth:
        """Credentials for one host from a secret store; every other host is left alone."""

        def __init__(self, host):
            self.host, self.calls = host, []

        @hookimpl(tryfirst=True)
        def authenticate(self, registry, credentials):
            self.calls.append(registry.host)
            if registry.host != self.host:
                return None
            client = RegistryClient(registry, Credentials("alice", USERS["alice"], source="vault"))
            client.ping()
            return client

    vault = VaultAuth(basic_registry.host)
    pm = get_plugin_manager(load_entrypoints=False, plugins=[vault])
    assert tcs("registry", basic_registry.url, "--mode=dry-run", pm=pm).code == 0
    assert tcs("registry", anonymous_registry.url, "--mode=dry-run", pm=pm).code == 0
    assert vault.calls == [basic_registry.host, anonymous_registry.host]


def test_credentials_go_to_the_registry_only_not_to_a_linked_host(tcs, basic_registry):
    """A catalog page links to another server: that page is read without the registry's credentials."""

    def empty_page(path, session, upstream):
        return 200, {"Content-Type": "application/json"}, b'{"repositories": []}'

    def link_away(path, session, upstream):
        if not path.startswith("/v2/_catalog"):
            return None
        answer = session.get(upstream + path, headers={"Authorization": "Basic " + _basic("alice")})
        link = f'<{elsewhere.url}/v2/_catalog?n=10>; rel="next"'
        return 200, {"Content-Type": "application/json", "Link": link}, answer.content

    with Proxy(basic_registry.url, empty_page) as elsewhere, Proxy(basic_registry.url, link_away) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run", "--username=alice", f"--password={USERS['alice']}")
    assert result.code == 0, result.err
    assert "Total images found    : 10 tags\n" in result.out
    assert elsewhere.paths == ["/v2/_catalog?n=10"]
    assert elsewhere.authorizations == [None]
    assert all(a == "Basic " + _basic("alice") for a in proxy.authorizations if a)


def _basic(user):
    return base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()


def test_a_password_on_the_command_line_is_warned_about_and_stdin_is_not(tcs, basic_registry):
    user, password = next(iter(USERS.items()))
    warning = (
        "warn\tA password on the command line is visible to other users (ps) and stays in shell history: "
        "prefer --password-stdin or TCS_REGISTRY_PASSWORD"
    )
    flagged = tcs("registry", basic_registry.url, "--mode=dry-run", f"--username={user}", f"--password={password}")
    assert flagged.code == 0
    assert flagged.messages[0] == warning
    piped = tcs(
        "registry", basic_registry.url, "--mode=dry-run", f"--username={user}", "--password-stdin", stdin=password
    )
    assert piped.code == 0
    assert warning not in piped.messages


def test_no_command_shows_a_secret_at_any_verbosity(tcs, token_registry, state_dir, out_dir):
    """Passwords, Basic credentials and the bearer tokens the token service issued, searched for in
    everything every command printed and wrote, the store and the vulnerability database included."""
    from tcs_registry.models import Credentials
    from tcs_registry.settings import resolve

    password, wrong = USERS["alice"], "wrong-secret-123"
    with Proxy(token_registry.url, lambda path, session, upstream: None) as proxy:  # to see the tokens sent
        login = ("--username=alice", "--password-stdin")
        outputs = [
            tcs("registry", proxy.url, "--mode=dry-run", *login, "-v", stdin=password),
            tcs("registry", proxy.url, "--format=table,json,sarif,cyclonedx", *login, "-vv", stdin=password),
            tcs("registry", proxy.url, "--mode=dry-run", "--username=alice", f"--password={password}", "-v"),
            tcs("registry", proxy.url, "--mode=dry-run", "--username=alice", f"--password={wrong}", "-v"),
        ]
        tokens = {a.split(" ", 1)[1] for a in proxy.authorizations if a and a.startswith("Bearer ")}
    assert [r.code for r in outputs] == [0, 0, 0, 3]
    assert tokens  # the scans did use bearer tokens
    outputs += [tcs("results", f"--state-dir={state_dir}"), tcs("db", "status", f"--state-dir={state_dir}")]
    basic = base64.b64encode(f"alice:{password}".encode()).decode()
    secrets = [password, wrong, basic, *tokens]
    haystacks = [r.out + r.err for r in outputs]
    written = [p for directory in (out_dir, state_dir) for p in directory.rglob("*") if p.is_file()]
    assert len(written) > 20
    haystacks += [p.read_bytes().decode("latin-1") for p in written]
    settings = resolve(proxy.url, {"username": "alice", "password": password, "token": "api-token-456"})
    haystacks += [repr(settings), repr(Credentials("alice", password)), str(settings)]
    for secret in [*secrets, "api-token-456"]:
        assert all(secret not in text for text in haystacks), secret


def test_a_resumed_run_describes_again_a_tag_that_moved(tcs, fresh_registry, pusher, state_dir, out_dir):
    from tcs_registry.testing.images import make_layer

    layer = make_layer({"etc/motd": b"hello\n"})
    for tag in ("1", "2", "3"):
        pusher.image("app", tag, created=f"2024-0{tag}-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    killed = as_if_killed(state_dir)
    pusher.image("app", "2", created="2025-06-30T12:00:00Z", layers=[layer])  # the tag moves meanwhile

    again = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert again.code == 0, again.err
    host = fresh_registry.host
    assert f"info\tResuming run {killed}: the images it finished are not fetched again" in again.messages
    assert f"info\tTag moved since run {killed}, describing it again image={host}/app:2" in again.messages
    assert [m for m in again.messages if "Fetched image discovery details" in m] == [
        f"info\tFetched image discovery details image={host}/app:2"
    ]
    rows = csv_rows(report_path(out_dir, host))
    assert rows[1:] == [
        [f"{host}/app", "1", "2024-01-01T00:00:00Z", "false"],
        [f"{host}/app", "2", "2025-06-30T12:00:00Z", "false"],  # the image the tag names now
        [f"{host}/app", "3", "2024-03-01T00:00:00Z", "false"],
    ]


def test_a_run_still_going_is_not_resumed_by_another(big_registry, tmp_path):
    """Two runs of one registry at once (from cron, the first not done): the second does not take the first
    for a killed run to finish (both would record the same images as theirs); each does its own. The first
    is interrupted once the second has said so (left to go on, it could finish its work before the second
    did, on a busy machine, and a run that has done its work is complete)."""
    server = big_registry
    state = tmp_path / "state"
    first = subprocess.Popen(
        [*dry_run_command(server, state, tmp_path / "first"), "--concurrency=1", "--max-rate=40"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    second = None
    try:
        deadline = time.monotonic() + 60
        recorded = 0
        while time.monotonic() < deadline and recorded < 50:
            time.sleep(0.05)
            with contextlib.suppress(sqlite3.OperationalError):  # (no store yet, or its schema being made)
                recorded = store_rows(state, "SELECT COUNT(*) FROM images")[0][0]
        command = dry_run_command(server, state, tmp_path / "second")
        second = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said = []  # its lines up to its word on run 1 (or its end), then the rest as it comes
        while (line := second.stderr.readline()) and "Run 1 " not in line and "Resum" not in line:
            said.append(line)
        said.append(line)
        reader = threading.Thread(target=lambda: said.append(second.stderr.read()), daemon=True)
        reader.start()  # (a full pipe would hold the second run up while the first stops)
        assert first.poll() is None, "the first run ended before the second began: the test proves nothing"
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
        if second is not None and sys.exc_info()[0] is not None:
            second.kill()
    second.wait(timeout=300)
    reader.join(timeout=60)
    stderr = "".join(said)
    assert second.returncode == 0, stderr[-2000:]
    lines = [line.split("\t", 1)[1] for line in stderr.splitlines() if "\t" in line]
    running = f"process {first.pid} on this machine"
    warned = f"warn\tRun 1 of this registry is still running ({running}): this run does not resume it"
    assert warned in lines
    assert not [line for line in lines if "Resum" in line]
    assert len(csv_rows(tmp_path / "second" / f"127-0-0-1-{server.port}-report.csv")) == 1001
    assert store_rows(state, "SELECT id, status FROM runs") == [(1, "interrupted"), (2, "complete")]


def test_a_killed_run_with_other_options_is_not_resumed(tcs, fresh_registry, pusher, state_dir):
    from tcs_registry.testing.images import make_layer

    pusher.image("app", "1", created="2024-01-01T00:00:00Z", layers=[make_layer({"etc/motd": b"hello\n"})])
    assert tcs("registry", fresh_registry.url).code == 0
    killed = as_if_killed(state_dir)
    again = tcs("registry", fresh_registry.url, "--platform=linux/arm64")
    assert again.code == 0, again.err
    assert f"info\tNot resuming run {killed}: it ran with other --platform values" in again.messages
    assert not any("Resum" in m for m in again.messages)
    assert store_rows(state_dir, "SELECT id, status FROM runs") == [
        (killed, f"superseded by run {killed + 1}"),
        (killed + 1, "complete"),
    ]
    # describing ignores --platform: a killed dry run is resumed whatever the platforms
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0
    dry = as_if_killed(state_dir)
    resumed = tcs("registry", fresh_registry.url, "--mode=dry-run", "--platform=linux/arm64")
    assert resumed.code == 0, resumed.err
    assert f"info\tResuming run {dry}: the images it finished are not fetched again" in resumed.messages


def test_the_digest_a_tag_names_now(fresh_registry, pusher):
    """What a resumed run asks before reusing an image: one HEAD; a tag gone is an ImageError."""
    import pytest

    from tcs_registry.errors import ImageError
    from tcs_registry.models import Registry
    from tcs_registry.testing.images import make_layer

    pushed = pusher.image("app", "1", created="2024-01-01T00:00:00Z", layers=[make_layer({"a": b"1"})])
    registry = Registry(fresh_registry.url, "http", fresh_registry.host, "", "DEFAULT_V2")
    client = RegistryClient(registry, Credentials())
    assert client.manifest_digest("app", "1") == pushed.digest
    with pytest.raises(ImageError, match=r"app:2: manifest not found$"):
        client.manifest_digest("app", "2")


def _estimates_the_resumed_images(resuming: subprocess.CompletedProcess) -> None:
    """The dry run that finished an interrupted one names in its estimate the images it took from the
    store (not "images whose description gives no layer sizes": the registry's gave them)."""
    resumed = int(re.search(r"Resumed images=(\d+) from run 1", resuming.stderr).group(1))
    assert re.search(
        rf"A scan would download : [\d.]+ \w+ in [\d,]+ layers?(?: \([\d,]+ more analysed already\))?, and "
        rf"{resumed:,} images taken from the interrupted run, whose layer sizes were not kept\n",
        resuming.stdout,
    ), resuming.stdout


class Gate:
    """A TCP door in front of a registry, on a port of its own: shut, connections to it are refused (the
    registry stopped, restarting) and those open are cut; opened again, on the same port, it lets them in."""

    def __init__(self, upstream_port: int) -> None:
        import socket

        self.upstream_port, self._socket = upstream_port, socket
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: list = []
        self._serving = threading.Thread(target=self._accept, args=(self._listener,), daemon=True)
        self._serving.start()

    def _accept(self, listener) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = listener.accept()
                upstream = self._socket.create_connection(("127.0.0.1", self.upstream_port))
                self._open += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(2)

    def shut(self) -> None:
        self._listener.close()
        for one in self._open:
            with contextlib.suppress(OSError):
                one.shutdown(2)
            one.close()
        self._open = []

    def reopen(self) -> None:
        self._listener = self._socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()


def _when_recorded(state, images: int, then) -> threading.Thread:
    """``then()`` once the run has recorded ``images`` images (from a thread of its own)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.OperationalError, IndexError):
                if store_rows(state, "SELECT COUNT(*) FROM images")[0][0] >= images:
                    break
            time.sleep(0.02)
        then()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_a_registry_restarting_meanwhile_is_waited_for(tcs, big_registry, state_dir, out_dir):
    """The registry stops answering part way (restarted, say) and is back 2 s later: the images whose
    connections were refused meanwhile wait for it, and the run is complete and exact, none failed."""
    gate = Gate(big_registry.port)
    url = f"http://127.0.0.1:{gate.port}"
    watcher = _when_recorded(state_dir, 100, lambda: (gate.shut(), time.sleep(2), gate.reopen()))
    result = tcs("registry", url, "--mode=dry-run", "--concurrency=4")
    watcher.join()
    assert result.code == 0, result.err
    assert len(csv_rows(report_path(out_dir, f"127.0.0.1:{gate.port}"))) == 1001
    assert not [m for m in result.messages if m.startswith("error")]


def test_a_registry_gone_for_good_stops_the_run_which_the_next_one_resumes(
    tcs, big_registry, state_dir, out_dir, monkeypatch
):
    """Gone for GONE seconds (1 here): the run stops asking, every image not done is listed undone, the
    exit code is 4, and the next run, the registry back, resumes it. Before, each image failed on its own,
    hundreds of error lines in a few seconds."""
    from tcs_registry import pacing

    monkeypatch.setattr(pacing, "GONE", 1.0)
    gate = Gate(big_registry.port)
    url = f"http://127.0.0.1:{gate.port}"
    watcher = _when_recorded(state_dir, 100, gate.shut)
    result = tcs("registry", url, "--mode=dry-run", "--concurrency=4")
    watcher.join()
    assert result.code == 4, result.err
    errors = [m for m in result.messages if m.startswith("error")]
    assert errors[0].startswith("error\tStopping: the registry cannot be connected to for 0.0 minutes: "), errors
    assert "Connection refused" in errors[0]
    assert len(errors) <= 3, errors  # the stop, and what was left undone: no line an image
    undone = csv_rows(failures_path(out_dir, f"127.0.0.1:{gate.port}"))[1:]
    assert undone and {row[2] for row in undone} == {"registry-error"}
    gate.reopen()
    again = tcs("registry", url, "--mode=dry-run", "--concurrency=4")
    assert again.code == 0, again.err
    assert "info\tResuming run 1: the images it finished are not fetched again" in again.messages
    assert len(csv_rows(report_path(out_dir, f"127.0.0.1:{gate.port}"))) == 1001
