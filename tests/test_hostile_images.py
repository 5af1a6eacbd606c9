"""Hostile images and registries, pushed to the real registry beside benign ones: the benign ones are always
scanned, one bad image fails alone (with its code), and nothing of it reaches the terminal raw."""

from __future__ import annotations

from tcs_registry.results import results_dir
from tcs_registry.testing.helpers import csv_rows, failures_path
from tcs_registry.testing.images import Entry, Pusher, tar_layer

ALPINE = Entry("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n")


def test_a_platform_name_too_long_for_a_file_name_is_scanned_under_a_bounded_one(tcs, fresh_registry, out_dir):
    pusher = Pusher(fresh_registry.url)
    layer = tar_layer([ALPINE])
    image = pusher.image("multi", None, created="2024-01-01T00:00:00Z", layers=[layer])
    architecture = "a" * 300  # "linux-aaa...": a result file name over the file system's 255 bytes
    pusher.index("multi", "1", [(image, {"os": "linux", "architecture": architecture})])
    pusher.image("plain", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    result = tcs("registry", fresh_registry.url, "--format=json")
    assert result.code == 0, result.err
    names = sorted(path.name for path in (results_dir(out_dir, fresh_registry.host) / "multi").iterdir())
    assert len(names) == 1 and len(names[0]) <= 210 and names[0].startswith("1@linux-aaaa")
    assert (results_dir(out_dir, fresh_registry.host) / "plain" / "1.json").exists()
    # and the next run scans it again (the seed's behaviour was exit 3 on every run)
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0


def test_results_that_cannot_be_written_fail_that_image_only(tcs, fresh_registry, out_dir, state_dir):
    pusher = Pusher(fresh_registry.url)
    layer = tar_layer([ALPINE])
    for repository in ("blocked", "fine"):
        pusher.image(repository, "1", created="2024-01-01T00:00:00Z", layers=[layer])
    results = results_dir(out_dir, fresh_registry.host)
    results.mkdir(parents=True)
    (results / "blocked").write_text("a file where the repository's directory goes\n")
    result = tcs("registry", fresh_registry.url, "--format=json")
    assert result.code == 4, result.err
    assert (results / "fine" / "1.json").exists()
    rows = csv_rows(failures_path(out_dir, fresh_registry.host))
    assert [row[1:3] for row in rows[1:]] == [["1", "output-error"]]
    assert "cannot write its results" in rows[1][3] and "Not a directory" in rows[1][3]
    assert "Failures by code      : output-error 1" in result.out
    (results / "blocked").unlink()  # nothing of it was recorded: the next run scans it
    again = tcs("registry", fresh_registry.url, "--format=json")
    assert again.code == 0, again.err
    assert (results / "blocked" / "1.json").exists()
