"""--platform: an image none of whose platforms is named is skipped with the reason, an index and a
single image alike, in a scan and in a dry run; what is scanned still decides the exit code."""

from __future__ import annotations

import json

from tcs_registry.testing.helpers import csv_rows, failures_path, report_path
from tcs_registry.testing.images import make_layer

CREATED = "2026-11-01T00:00:00Z"


def _push(pusher) -> None:
    layer = make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"})
    amd = pusher.image("apps/index", None, created=CREATED, layers=[layer])
    pusher.index("apps/index", "1", [(amd, {"os": "linux", "architecture": "amd64"})])
    pusher.image("apps/arm", "1", created=CREATED, layers=[layer], architecture="arm64", variant="v8")
    pusher.image("apps/amd", "1", created=CREATED, layers=[layer])


def test_images_without_the_platform_are_skipped_alike_and_fail_on_still_counts(tcs, fresh_registry, pusher, out_dir):
    _push(pusher)
    host = fresh_registry.host
    result = tcs("registry", fresh_registry.url, "--platform=linux/arm64", "--fail-on=high")
    assert result.code == 1, result.err  # the arm64 image runs as root (HIGH): not hidden by a failure
    assert [m for m in result.messages if m.startswith("info\tSkipped")] == [
        f"info\tSkipped image={host}/apps/amd:1 reason=no platform matches --platform (it has: linux/amd64)",
        f"info\tSkipped image={host}/apps/index:1 reason=no platform matches --platform (it has: linux/amd64)",
    ]
    assert [m.split()[3] for m in result.messages if "Scanned image" in m] == [f"image={host}/apps/arm:1"]
    assert not failures_path(out_dir, host).exists()
    assert "    Total images found    : 3 tags\n" in result.out

    dry = tcs("registry", fresh_registry.url, "--mode=dry-run", "--platform=linux/arm64")
    assert dry.code == 0, dry.err
    assert [(row[0], row[2], row[3]) for row in csv_rows(report_path(out_dir, host))[1:]] == [
        (f"{host}/apps/amd", CREATED, "true"),  # described, then left out: dated as the others
        (f"{host}/apps/arm", CREATED, "false"),
        (f"{host}/apps/index", CREATED, "true"),
    ]
    assert not [m for m in dry.messages if m.startswith("warn")]  # (one image has the platform)
    for mode in ("scan", "dry-run"):  # a typo in --platform leaves every image out: said, as a pattern's
        typo = tcs("registry", fresh_registry.url, f"--mode={mode}", "--platform=linux/amd46")
        assert typo.code == 0, typo.err
        assert [m for m in typo.messages if m.startswith("warn") and "platform" in m] == [
            "warn\tNo image has a platform --platform names (linux/amd46): 3 images left out"
        ]


def test_a_sparse_index_is_described_and_scanned_for_the_platforms_the_registry_holds(
    tcs, fresh_registry, pusher, out_dir
):
    """An index whose arm64 image is not in the registry (a mirror of some platforms only, as Quay's
    FEATURE_SPARSE_INDEX keeps them): its amd64 image is described and scanned, the arm64 left out with
    one line; an index none of whose images is there fails alone."""
    layer = make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"})
    amd = pusher.image("apps/mirror", None, created=CREATED, layers=[layer])
    arm = pusher.image("apps/mirror", None, created="2026-11-02T00:00:00Z", layers=[layer], architecture="arm64")
    platforms = [(amd, {"os": "linux", "architecture": "amd64"}), (arm, {"os": "linux", "architecture": "arm64"})]
    index_digest = pusher.index("apps/mirror", "1", platforms).digest
    gone = pusher.image("apps/gone", None, created=CREATED, layers=[layer])
    pusher.index("apps/gone", "1", [(gone, platforms[0][1])])
    pusher.delete("apps/mirror", arm.digest)
    pusher.delete("apps/gone", gone.digest)
    host = fresh_registry.host

    dry = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert dry.code == 4, dry.err
    assert [row[:3] for row in csv_rows(report_path(out_dir, host))[1:]] == [
        [f"{host}/apps/mirror", "1", "2026-11-01T00:00:00Z"]  # the arm64 image's newer build time is not there
    ]
    left_out = f"image={host}/apps/mirror:1 platforms=linux/arm64 (a sparse index: left out)"
    assert f"warn\tPlatforms not in the registry {left_out}" in dry.messages
    assert [row[2] for row in csv_rows(failures_path(out_dir, host))[1:]] == ["not-found"]

    scan = tcs("registry", fresh_registry.url, "--allowList=apps/mirror")
    assert scan.code == 0, scan.err
    scanned = [m.split()[3:5] for m in scan.messages if "Scanned image" in m]
    assert scanned == [[f"image={host}/apps/mirror:1", "platform=linux/amd64"]]

    # the platform asked for is in the index but not in the registry: that image fails, it is not skipped
    arm64 = tcs("registry", fresh_registry.url, "--allowList=apps/mirror", "--platform=linux/arm64")
    assert arm64.code == 4, arm64.err
    assert [row[2:] for row in csv_rows(failures_path(out_dir, host))[1:]] == [
        ["not-found", f"{host}/apps/mirror@{index_digest}: manifest not found for any platform of the index"]
    ]


def test_an_index_naming_a_platform_twice_is_scanned_at_its_first(tcs, fresh_registry, pusher, out_dir, state_dir):
    """An index listing linux/amd64 twice (a hand-made or buggy one): a runtime pulling that platform gets
    the first, and so is it scanned: one platform, one row, its packages, nothing lost."""
    first = pusher.image(
        "apps/twice", None, created=CREATED, layers=[make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"})]
    )
    second = pusher.image(
        "apps/twice",
        None,
        created="2026-11-02T00:00:00Z",
        layers=[make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.18.0\n"})],
    )
    amd64 = {"os": "linux", "architecture": "amd64"}
    pusher.index("apps/twice", "1", [(first, amd64), (second, amd64)])
    scan = tcs("registry", fresh_registry.url, "--format=json")
    assert scan.code == 0, scan.err
    assert [m.split()[3:5] for m in scan.messages if "Scanned image" in m] == [
        [f"image={fresh_registry.host}/apps/twice:1", "platform=linux/amd64"]
    ]
    latest = tcs("results", f"--state-dir={state_dir}", "--image=apps/twice:1", "--format=json")
    assert latest.code == 0, latest.err
    assert json.loads(latest.out)["os_version"] == "3.19.1"
    dry = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert dry.code == 0, dry.err
