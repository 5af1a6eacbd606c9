"""What changed, and what is new, as a person running filtered CI scans, full scans and interrupted ones
expects: each image is compared with the last time it was scanned, whatever the runs' filters; a run
that finishes an interrupted one counts what that one found."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tcs_registry.testing.helpers import as_if_killed
from tcs_registry.testing.images import make_layer

ROOT = {"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n", "etc/motd": b"hello\n"}


def push(pusher, repository: str, tag: str = "1", *, user: str | None = None, version: str = "1") -> str:
    """An image of its own content (``version``); with ``user``, the config names a USER."""
    layer = make_layer({**ROOT, f"app/{repository}": version.encode()})
    extra = {"config": {"User": user}} if user else None
    return pusher.image(repository, tag, created="2026-11-01T00:00:00Z", layers=[layer], extra_config=extra).digest


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, state_dir) -> list[str]:
    """The store flag of every command: the state directory's SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return [f"--state-dir={state_dir}"]
    return [f"--state-dir={state_dir}", f"--store={request.getfixturevalue('postgres').database()}"]


def changes(tcs, store: list[str], *extra: str) -> dict:
    result = tcs("results", *store, "--changes", "--format=json", *extra)
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_a_full_scan_after_a_filtered_one_compares_each_image_with_its_own_last_scan(
    tcs, fresh_registry, pusher, store
):
    host = fresh_registry.host
    old_x, _, _ = (push(pusher, repository) for repository in ("apps/x", "apps/y", "apps/z"))
    assert tcs("registry", fresh_registry.url, *store).code == 0  # run 1: everything
    new_x = push(pusher, "apps/x", version="2")
    assert tcs("registry", fresh_registry.url, *store, "--allowList=apps/x").code == 0  # run 2: a CI run of one image
    assert changes(tcs, store)["changes"][0]["change"] == "new digest"
    old_y = push(pusher, "apps/y", version="1")
    new_y = push(pusher, "apps/y", user="app", version="2")  # the tag moves to an image with a USER
    assert tcs("registry", fresh_registry.url, *store).code == 0  # run 3: everything again

    document = changes(tcs, store)
    assert (document["run"], document["compared_with"]) == (3, [1, 2])
    assert document["changes"] == [
        {"image": f"{host}/apps/y:1", "platform": "", "change": "new digest", "detail": f"{old_y} -> {new_y}"},
        {
            "image": f"{host}/apps/y:1",
            "platform": "",
            "change": "fixed violation",
            "detail": "TCS-CFG-001 no USER is set",
        },
    ]  # apps/x as run 2 saw it, apps/z as run 1 did: unchanged
    table = tcs("results", *store, "--changes").out
    assert table.splitlines()[0] == "Changes in run 3 since each image's previous scan (runs 1, 2):"

    since = changes(tcs, store, "--since=1")  # the baseline chosen: the first full scan
    assert since["compared_with"] == [1]
    assert [(c["image"], c["change"]) for c in since["changes"]] == [
        (f"{host}/apps/x:1", "new digest"),
        (f"{host}/apps/y:1", "new digest"),
        (f"{host}/apps/y:1", "fixed violation"),
    ]
    assert since["changes"][0]["detail"] == f"{old_x} -> {new_x}"  # run 1 saw x before it moved
    table = tcs("results", *store, "--changes", "--since=1").out
    assert table.splitlines()[0] == "Changes in run 3 since run 1:"


def test_a_resumed_scan_is_compared_with_the_scan_before_the_one_it_finishes(tcs, fresh_registry, pusher, state_dir):
    host = fresh_registry.host
    push(pusher, "apps/x")
    old = push(pusher, "apps/y")
    assert tcs("registry", fresh_registry.url).code == 0  # run 1
    new = push(pusher, "apps/y", version="2")
    assert tcs("registry", fresh_registry.url).code == 0  # run 2, killed (as far as the store can tell)
    killed = as_if_killed(state_dir)
    again = tcs("registry", fresh_registry.url)  # run 3 finishes it
    assert f"info\tResuming run {killed}: the images it finished are not fetched again" in again.messages
    document = changes(tcs, [f"--state-dir={state_dir}"])
    assert (document["run"], document["compared_with"]) == (3, [1])
    assert document["changes"] == [
        {"image": f"{host}/apps/y:1", "platform": "", "change": "new digest", "detail": f"{old} -> {new}"}
    ]


@pytest.mark.parametrize("mode", ["dry-run", "scan"])
def test_a_run_that_finishes_an_interrupted_one_counts_the_images_it_found_as_new(
    tcs, fresh_registry, pusher, state_dir, mode
):
    for repository in ("apps/a", "apps/b", "apps/c", "team/deep/d"):
        push(pusher, repository)
    pusher.image("apps/a", "latest", created="2026-11-01T00:00:00Z", layers=[make_layer({**ROOT, "app/apps/a": b"1"})])
    first = tcs("registry", fresh_registry.url, f"--mode={mode}")
    assert "    New images found      : 4 digests not seen before in the project\n" in first.out
    as_if_killed(state_dir)
    resumed = tcs("registry", fresh_registry.url, f"--mode={mode}")
    assert "Resuming run 1" in resumed.err
    assert (
        "    New images found      : 4 digests not seen before in the project\n" in resumed.out
    )  # as if run 1 had never stopped
    later = tcs("registry", fresh_registry.url, f"--mode={mode}")
    assert "Resuming" not in later.err
    assert "    New images found      : 0 digests not seen before in the project\n" in later.out


def test_results_image_shows_its_latest_scan_whatever_run_it_was_in(tcs, fresh_registry, pusher, state_dir):
    host = fresh_registry.host
    push(pusher, "apps/x")
    layer = make_layer({**ROOT, "app/multi": b"1"})
    arm = pusher.image(
        "apps/multi", None, created="2026-11-01T00:00:00Z", layers=[layer], architecture="arm64", variant="v8"
    )
    amd = pusher.image("apps/multi", None, created="2026-11-01T00:00:00Z", layers=[layer])
    pusher.index(
        "apps/multi",
        "1",
        [
            (amd, {"os": "linux", "architecture": "amd64"}),
            (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        ],
    )
    assert tcs("registry", fresh_registry.url).code == 0  # run 1
    assert tcs("registry", fresh_registry.url, "--allowList=apps/x").code == 0  # run 2
    shown = tcs("results", f"--state-dir={state_dir}", "--image=apps/multi:1@linux/arm64", "--format=json")
    assert shown.code == 0, shown.err
    document = json.loads(shown.out)
    assert (document["image"], document["platform"], document["digest"]) == (
        f"{host}/apps/multi:1",
        "linux/arm64/v8",
        arm.digest,
    )
    table = tcs("results", f"--state-dir={state_dir}", f"--image={host}/apps/multi:1")
    assert [line.split()[:2] for line in table.out.splitlines() if line.startswith(host)] == [
        [f"{host}/apps/multi:1", "linux/amd64"],
        [f"{host}/apps/multi:1", "linux/arm64/v8"],
    ]


def test_an_unknown_run_is_an_error(tcs, fresh_registry, pusher, state_dir):
    push(pusher, "apps/x")
    assert tcs("registry", fresh_registry.url).code == 0
    for flags in (["--run=999"], ["--changes", "--since=999"], ["--run=999", "--format=json"]):
        result = tcs("results", f"--state-dir={state_dir}", *flags)
        assert result.code == 2
        assert result.messages == ["error\tno run 999 in project 'default'; `tcs-registry results` lists the runs"]
        assert result.out == ""


def test_a_scan_id_shared_by_two_registries_counts_each_digest_new_once(tcs, fresh_registry, pusher, state_dir):
    """Two registries (here one registry by two names) scanned in one CI run under its id: the digests
    the first met are not new again to the second, which resumes nothing."""
    for repository in ("apps/a", "apps/b"):
        push(pusher, repository)
    first = tcs("registry", fresh_registry.url, "--scan-id=ci-1", "--mode=dry-run")
    assert "New images found      : 2 digests not seen before in the project\n" in first.out
    other = f"localhost:{fresh_registry.port}"
    second = tcs("registry", other, "--scan-id=ci-1", "--mode=dry-run")
    assert "New images found      : 0 digests not seen before in the project\n" in second.out


def test_a_killed_run_of_another_scan_id_is_not_resumed(tcs, fresh_registry, pusher, state_dir):
    push(pusher, "apps/a")
    assert tcs("registry", fresh_registry.url, "--scan-id=ci-2").code == 0
    killed = as_if_killed(state_dir)
    again = tcs("registry", fresh_registry.url, "--scan-id=ci-3")
    assert f"info\tNot resuming run {killed}: it was part of scan ci-2" in again.messages
    assert "    New images found      : 0 digests not seen before in the project\n" in again.out


def test_a_scan_id_used_again_a_day_later_is_warned_about(tcs, fresh_registry, pusher, state_dir):
    push(pusher, "apps/a")
    assert tcs("registry", fresh_registry.url, "--scan-id=nightly").code == 0
    retried = tcs("registry", fresh_registry.url, "--scan-id=nightly")  # a retry, minutes later: no warning
    assert not [m for m in retried.messages if "was used by run" in m]
    with sqlite3.connect(state_dir / "state.db") as db:
        db.execute("UPDATE runs SET finished_at = '2026-01-01T02:00:00.000000Z'")
    db.close()
    reused = tcs("registry", fresh_registry.url, "--scan-id=nightly")
    assert (
        "warn\tScan id nightly was used by run 2, which finished 2026-01-01T02:00:00: a scan id names one scan, and"
        " results --changes compares scans of other ids; give each scan its own (the CI run id, the Job's name)"
    ) in reused.messages


def test_since_refuses_a_run_that_scanned_nothing_or_came_later(tcs, fresh_registry, pusher, state_dir):
    push(pusher, "apps/a")
    assert tcs("registry", fresh_registry.url).code == 0  # run 1
    assert tcs("registry", fresh_registry.url, "--mode=dry-run").code == 0  # run 2
    assert tcs("registry", fresh_registry.url).code == 0  # run 3
    dry = tcs("results", f"--state-dir={state_dir}", "--changes", "--since=2")
    assert (dry.code, dry.messages) == (
        2,
        ["error\t--since 2: run 2 scanned no image (a dry run?): nothing to compare with"],
    )
    later = tcs("results", f"--state-dir={state_dir}", "--changes", "--run=1", "--since=3")
    assert (later.code, later.messages) == (2, ["error\t--since 3: run 3's scan is not before run 1's"])


def test_results_image_with_a_host_shows_that_registrys_image_only(tcs, fresh_registry, pusher, state_dir):
    push(pusher, "apps/a")
    other = f"localhost:{fresh_registry.port}"  # the same registry under a second name: two registries
    assert tcs("registry", fresh_registry.url).code == 0
    assert tcs("registry", other).code == 0
    both = json.loads(tcs("results", f"--state-dir={state_dir}", "--image=apps/a:1", "--format=json").out)
    assert sorted(d["image"] for d in both) == [f"{fresh_registry.host}/apps/a:1", f"{other}/apps/a:1"]
    one = json.loads(tcs("results", f"--state-dir={state_dir}", f"--image={other}/apps/a:1", "--format=json").out)
    assert one["image"] == f"{other}/apps/a:1"
