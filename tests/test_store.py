"""The store, on both engines: SQLite (the default) and a real PostgreSQL cluster started for the session.
Every test here runs on each."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tcs_registry.models import ImageDescription, Inventory
from tcs_registry.store import LayerCache, Store, store_url
from tcs_registry.testing.helpers import csv_rows, failures_path
from tcs_registry.testing.images import Entry, tar_layer
from tcs_registry.testing.proxy import Proxy
from tcs_registry.testing.vulnerable import DEBIAN9_FINDINGS, push_debian9

OS = Entry("etc/os-release", b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n')
BASE = tar_layer([OS, Entry("lib/apk/db/installed", b"P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\n")])


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> str:
    """A --store URL: a SQLite file outside every state directory, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared' / 'state.db'}"
    return request.getfixturevalue("postgres").database()


def _open(url: str) -> Store:
    return Store(store_url(url, Path("/nonexistent")))


def _sql(url: str, statement: str) -> list[tuple]:
    """What a statement returns, on the store's database as it is (no upgrade, no refusal)."""
    engine = sa.create_engine(store_url(url, Path("/nonexistent")))
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _push(pusher, tags: int = 2) -> None:
    for n in range(tags):
        own = tar_layer([Entry(f"srv/app{n}", b"x" * n)])
        pusher.image("team/app", f"1.{n}", created="2024-01-01T00:00:00Z", layers=[BASE, own])
    push_debian9(pusher)


def _summary(out: str) -> dict[str, str]:
    """The summary's counts: its lines after "Registry Summary:"."""
    lines = out.splitlines()
    counted = lines[lines.index("Registry Summary:") + 1 :][:2]
    return {k.strip(): v.split()[0] for k, _, v in (line.partition(":") for line in counted)}  # the counts


def test_scans_are_recorded_shown_and_compared(tcs, pusher, fresh_registry, store, vulnerability_database):
    _push(pusher)
    first = tcs("registry", fresh_registry.url, f"--store={store}")
    assert first.code == 0, first.err
    assert _summary(first.out) == {"Total images found": "3", "New images found": "3"}
    again = tcs("registry", fresh_registry.url, f"--store={store}")
    assert _summary(again.out) == {"Total images found": "3", "New images found": "0"}
    # what `results` reads is the store's: the state directory has no state.db
    shown = tcs("results", f"--store={store}")
    assert shown.code == 0, shown.err
    lines = shown.out.splitlines()
    assert [line.split()[0::3] for line in lines[2:4]] == [["2", "scan", "3"], ["1", "scan", "3"]]
    host = fresh_registry.host
    rows = [line.split()[:2] + line.split()[-3:] for line in lines if line.startswith(host)]
    assert rows == [
        [f"{host}/apps/debian9:1", "2", "3", "unknown", "0"],
        [f"{host}/team/app:1.0", "2", "1", "0", "3"],
        [f"{host}/team/app:1.1", "2", "1", "0", "3"],
    ]
    assert lines[-1] == "No changes in run 2 since run 1"
    image = tcs("results", f"--store={store}", "--image=apps/debian9:1", "--format=json")
    found = json.loads(image.out)["vulnerabilities"]
    assert [(v["package"], v["installed_version"], v["id"], v["fixed_version"]) for v in found] == DEBIAN9_FINDINGS


def test_a_digest_met_by_several_workers_at_once_is_new_once(store):
    """Eight workers, each with its own connections, record the same new digest at the same moment."""
    stores = [_open(store) for _ in range(8)]
    try:
        runs = [s.begin_run("p", "http://r", "v2", "scan", "{}") for s in stores]
        start, answers = threading.Barrier(len(stores)), []

        def record(worker: int) -> None:
            image = ImageDescription("team/app", f"tag{worker}", "sha256:" + "a" * 64, "oci")
            start.wait()
            answers.append(stores[worker].record(runs[worker], "p", "http://r", [image]) == 1)

        threads = [threading.Thread(target=record, args=(n,)) for n in range(len(stores))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(answers) == [False] * 7 + [True]
    finally:
        for s in stores:
            s.close()
    assert _sql(store, "SELECT COUNT(*) FROM digests") == [(1,)]
    assert _sql(store, "SELECT COUNT(*) FROM images") == [(8,)]


def test_every_write_is_idempotent(store):
    """A write asked again (a retry after a lost connection, a second worker) changes nothing."""
    s = _open(store)
    try:
        run = s.begin_run("p", "http://r", "v2", "scan", "{}")
        image = ImageDescription("team/app", "1", "sha256:" + "b" * 64, "oci")
        alpine = ("Alpine Linux", "alpine", "3.19", "Alpine:v3.19")
        inventory = Inventory("team/app", "1", image.digest, None, *alpine, (), ())
        document = {"packages": [{"name": "musl"}]}
        found = {"vulnerabilities": [], "violations": []}
        cache = LayerCache(s)
        for _ in range(2):
            s.record(run, "p", "http://r", [image])
            s.record(run, "p", "http://r", scanned=[(inventory, document, found)])
            s.record_failure(run, "http://r/team/gone", "", "listing failed")
            cache.put_layer("sha256:" + "c" * 64, "v1", {"packages": []})
        assert [(row["repository"], row["tag"]) for row, _ in s.scanned("p")] == [("team/app", "1")]
        assert [f["reason"] for f in s.failures([run])] == ["listing failed"]
        assert cache.get_layer("sha256:" + "c" * 64, "v1") == {"packages": []}  # written or not yet
        cache.close()  # written now
        assert cache.get_layer("sha256:" + "c" * 64, "v1") == {"packages": []}
    finally:
        s.close()
    counts = "SELECT (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM scans), (SELECT COUNT(*) FROM layers)"
    assert _sql(store, counts) == [(1, 1, 1)]


def test_a_layer_analysed_by_one_worker_is_reused_by_another(tcs, pusher, fresh_registry, store, tmp_path):
    """Two machines (two state directories) on one store: the second analyses no layer again."""
    _push(pusher, tags=3)

    def scan(machine: str) -> list[str]:
        where = [f"--state-dir={tmp_path / machine}", f"--output-dir={tmp_path / machine / 'out'}"]
        done = tcs("registry", fresh_registry.url, f"--store={store}", *where, isolate=False)
        assert done.code == 0, done.err
        return [m for m in done.infos if "Layers analysed" in m]

    assert scan("one") == ["info\tLayers analysed=5 reused=2"]  # the base layer, analysed once for three
    assert scan("two") == ["info\tLayers analysed=0 reused=7"]


def test_a_killed_worker_resumes_its_own_share(tcs, pusher, fresh_registry, store):
    _push(pusher, tags=6)
    first = tcs("registry", fresh_registry.url, f"--store={store}", "--mode=dry-run", "--shard=1/2", "--scan-id=s1")
    assert first.code == 0, first.err
    _sql(store, "UPDATE runs SET status = 'running' WHERE id = 1")  # as SIGKILL leaves it
    other = tcs("registry", fresh_registry.url, f"--store={store}", "--mode=dry-run", "--shard=2/2", "--scan-id=s1")
    assert not any("Resuming" in m for m in other.messages)
    again = tcs("registry", fresh_registry.url, f"--store={store}", "--mode=dry-run", "--shard=1/2", "--scan-id=s1")
    assert "info\tResuming run 1: the images it finished are not fetched again" in again.messages
    assert _sql(store, "SELECT id, status, shard, shards FROM runs ORDER BY id") == [
        (1, "resumed by run 3", 1, 2),
        (2, "complete", 2, 2),
        (3, "complete", 1, 2),
    ]


def test_a_store_of_a_newer_release_is_refused_and_left_alone(tcs, pusher, fresh_registry, store):
    _push(pusher, tags=1)
    assert tcs("registry", fresh_registry.url, f"--store={store}", "--mode=dry-run").code == 0
    _sql(store, "UPDATE alembic_version SET version_num = '0099'")
    before = _sql(store, "SELECT * FROM runs")
    shown = tcs("results", f"--store={store}")
    run = tcs("registry", fresh_registry.url, f"--store={store}", "--mode=dry-run")
    refusal = (
        f"error\tthe store {store} has schema revision 0099, which this tcs-registry (0.1.0) does not know: "
        "a newer release wrote it; upgrade tcs-registry"
    )
    assert (shown.code, shown.messages) == (2, [refusal])
    assert (run.code, run.messages[-1:]) == (2, [refusal])
    assert _sql(store, "SELECT * FROM runs") == before
    assert _sql(store, "SELECT version_num FROM alembic_version") == [("0099",)]


def test_a_refused_sqlite_store_is_not_changed_at_all(tcs, tmp_path):
    """Not even its journal mode: a newer release may have chosen another."""
    path = tmp_path / "newer.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES ('0099')")
    db.close()
    before = path.read_bytes()
    assert tcs("results", f"--store=sqlite:///{path}").code == 2
    assert path.read_bytes() == before
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    db.close()


# what one worker is told (not retried, unlike a 5xx, to keep the test short)
UNKNOWN = (404, {"Content-Type": "application/json"}, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}')
GARBLED = (200, {"Content-Type": "application/json"}, b"<html>a proxy's error page</html>")


def test_a_worker_that_cannot_list_a_repository_says_so_for_its_share(tcs, anonymous_registry, store, out_dir):
    """team/api's tags list fails for worker 1 alone (its network, a proxy of its own): worker 1 reports the
    repository failed (exit 4), though the repository's own share is worker 2's."""
    failing = {"on": True}

    def rewrite(target, session, upstream):
        return GARBLED if failing["on"] and target.startswith("/v2/team/api/tags/list") else None

    with Proxy(anonymous_registry.url, rewrite) as proxy:
        flags = ("--mode=dry-run", f"--store={store}", "--scan-id=x1")
        first = tcs("registry", proxy.url, *flags, "--shard=1/2")
        failing["on"] = False
        second = tcs("registry", proxy.url, *flags, "--shard=2/2")
    assert (first.code, second.code) == (4, 0)
    assert "    Failed repositories   : 1" in first.out.splitlines()
    failures = out_dir / failures_path(out_dir, proxy.host).name.replace(".csv", ".shard-1-of-2.csv")
    assert [row[:2] for row in csv_rows(failures)[1:]] == [[f"{proxy.host}/team/api", ""]]


def test_a_scan_shows_the_latest_run_of_each_share(tcs, anonymous_registry, store):
    """Worker 1 fails an image, is run again under the same scan id (GitHub's "re-run failed jobs", a
    Kubernetes retry) and scans it: the scan shows the image, and no failure."""
    failing = {"on": True}

    def rewrite(target, session, upstream):
        return UNKNOWN if failing["on"] and target == "/v2/alpine/manifests/3.20" else None

    with Proxy(anonymous_registry.url, rewrite) as proxy:
        flags = (f"--store={store}", "--scan-id=gh-1")
        shares = [tcs("registry", proxy.url, *flags, f"--shard={k}/2").code for k in (1, 2)]
        failing["on"] = False
        again = tcs("registry", proxy.url, *flags, "--shard=1/2")
    assert (shares, again.code) == ([4, 0], 0)
    shown = tcs("results", f"--store={store}")
    assert "Failed" not in shown.out
    assert f"{proxy.host}/alpine:3.20" in shown.out
    assert (
        shown.out.splitlines()[-1]
        == "Scan gh-1 (runs 2, 3) is the first scan of its registry in project 'default': nothing to compare"
    )


def test_a_batch_counts_each_new_digest_once(store):
    """Images recorded together (as a run does under load): two tags of one new digest, a known one."""
    s = _open(store)
    try:
        run = s.begin_run("p", "http://r", "v2", "dry-run", "{}")
        known = ImageDescription("team/app", "old", "sha256:" + "1" * 64, "oci")
        assert s.record(run, "p", "http://r", [known]) == 1
        fresh = "sha256:" + "2" * 64
        batch = [
            ImageDescription("team/app", "1.0", fresh, "oci"),
            ImageDescription("team/app", "latest", fresh, "oci"),
            ImageDescription("team/app", "old-too", known.digest, "oci"),
        ]
        assert s.record(run, "p", "http://r", batch) == 1
        assert s.record(run, "p", "http://r", batch) == 0  # again (a retried transaction): nothing new
    finally:
        s.close()
    assert _sql(store, "SELECT COUNT(*) FROM images") == [(4,)]


def test_a_run_on_another_machine_is_running_still_while_it_says_so():
    """A run whose process is on another machine (a worker of a shared store) is running while it said so
    within the last three heartbeats; one silent for longer was killed, and may be resumed."""
    from datetime import UTC, datetime, timedelta

    from tcs_registry.store import ALIVE, RUNNER, running_still

    said = lambda seconds: (datetime.now(UTC) - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    assert running_still("worker-7:4026531836:4242", said(5)) == "on worker-7, 5 s ago"
    assert running_still("worker-7:4026531836:4242", said(ALIVE + 1)) is None
    assert running_still(None, None) is None  # (a run an earlier version began)
    # this machine's name, another PID namespace (a container sharing the host's name): its numbers are not
    # ours to look up, the heartbeat says
    here = socket.gethostname()
    assert running_still(f"{here}:elsewhere:{os.getpid()}", said(5)) == f"on {here}, 5 s ago"
    # this machine and namespace: a process that is gone ran it (killed a moment ago), whatever it said last
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert running_still(f"{RUNNER.rsplit(':', 1)[0]}:{gone.pid}", said(1)) is None
    assert running_still(RUNNER, said(1)) is None  # this very process: its run before this one is over


def test_a_failing_run_says_it_is_alive_until_its_images_under_way_end(tcs, fresh_registry, state_dir, monkeypatch):
    """A plugin breaks listing the second repository while the first one's image is being described (for a
    second): the run fails, and says it is alive until that image is done (another run would otherwise take
    it for dead and resume it meanwhile)."""
    import time
    from datetime import UTC, datetime, timedelta

    from tcs_registry import hookimpl
    from tcs_registry import store as stored
    from tcs_registry.errors import PluginError
    from tcs_registry.oci import parse_time
    from tcs_registry.plugins import get_plugin_manager
    from tcs_registry.testing.images import Pusher, make_layer

    pusher = Pusher(fresh_registry.url)
    for repository in ("app", "zz"):
        pusher.image(repository, "1", created="2024-01-01T00:00:00Z", layers=[make_layer({"a": b"a"})])
    described: list[datetime] = []

    class SlowThenBroken:
        @hookimpl(tryfirst=True)
        def describe_image(self, registry, client, repository, tag):
            time.sleep(1.0)
            described.append(datetime.now(UTC))

        @hookimpl(tryfirst=True)
        def list_tags(self, registry, client, repository):
            if repository == "zz":
                raise PluginError("a plugin broke")

    monkeypatch.setattr(stored, "HEARTBEAT", 0.1)
    pm = get_plugin_manager(load_entrypoints=False, plugins=[SlowThenBroken()])
    failed = tcs("registry", fresh_registry.url, "--mode=dry-run", pm=pm)
    assert failed.code == 2 and failed.messages[-1] == "error\ta plugin broke", failed.err
    store = Store(store_url(None, state_dir))
    run = store._rows(sa.select(stored.runs.c.status, stored.runs.c.alive_at))[-1]
    assert run["status"] == "failed" and described
    assert parse_time(run["alive_at"]) >= described[0] - timedelta(seconds=0.3), (run["alive_at"], described)


def test_a_running_run_says_it_is_alive_every_heartbeat(tmp_path, monkeypatch):
    import time

    from tcs_registry import store as stored
    from tcs_registry.store import Heartbeat, Store, store_url

    store = Store(store_url(f"sqlite:///{tmp_path}/state.db", tmp_path))
    run = store.begin_run("p", "http://r", "DEFAULT_V2", "dry-run", "")
    said = lambda: store._rows(sa.select(stored.runs.c.alive_at).where(stored.runs.c.id == run))[0]["alive_at"]  # noqa: E731
    began = said()
    monkeypatch.setattr(stored, "HEARTBEAT", 0.1)
    with Heartbeat(store, run):
        time.sleep(0.5)
    assert said() > began
    last = said()
    time.sleep(0.3)
    assert said() == last  # (out of its block, it says nothing more)
