"""End to end: dry runs of the real registry, checked row by row, line by line."""

from __future__ import annotations

import re

from tcs_registry.testing.facade import Facade, text_answer
from tcs_registry.testing.helpers import csv_rows, expected_rows, report_path, store_rows
from tcs_registry.testing.images import Pusher, make_layer


def test_dry_run_report_rows_log_and_summary(tcs, anonymous_registry, standard, out_dir):
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run")
    host = anonymous_registry.host
    assert result.code == 0, result.err
    report = out_dir / f"127-0-0-1-{anonymous_registry.port}-report.csv"
    assert csv_rows(report) == expected_rows(host, standard.expected)

    messages = result.messages
    assert messages[0] == "info\tIdentified registry as: DEFAULT_V2"
    assert messages[1] == f"info\tBeginning discovery of registry: {anonymous_registry.url}"
    fetched = [m for m in messages if m.startswith("info\tFetched image discovery details")]
    assert fetched == [
        f"info\tFetched image discovery details image={host}/{e.repository}:{e.tag}"
        for e in sorted(standard.expected, key=lambda e: (e.repository, e.tag))
    ]
    assert messages[-1] == f"info\tOutput report: {report}"
    # every log line has the seed's timestamp format
    for line in result.err.splitlines():
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}\t(info|warn|error|debug)\t", line), line

    assert result.out == (
        "Registry Summary:\n"
        "    Total images found    : 10 tags\n"
        "    New images found      : 9 digests not seen before in the project\n"
        f"    Report                : {report}\n"  # named here too: -q leaves out the log line
        "    A scan would download : 284 bytes in 2 layers\n"
        "    Violation details         : none: dry run, no images scanned\n"
        "    Vulnerability details     : none: dry run, no images scanned\n"
    )


def test_second_run_finds_nothing_new_and_new_tag_counts_one(tcs, fresh_registry, state_dir, out_dir):
    pusher = Pusher(fresh_registry.url)
    layer = make_layer({"etc/os-release": b"ID=x\n"})
    pusher.image("app", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    pusher.image("app", "2", created="2024-01-02T00:00:00Z", layers=[layer])

    first = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert "New images found      : 2 digests not seen before in the project\n" in first.out
    second = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert "Total images found    : 2 tags\n" in second.out
    assert "New images found      : 0 digests not seen before in the project\n" in second.out

    pusher.image("app", "3", created="2024-01-03T00:00:00Z", layers=[layer])  # a new digest
    pusher.image("app", "also-2", created="2024-01-02T00:00:00Z", layers=[layer])  # a known digest, new tag
    third = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert "Total images found    : 4 tags\n" in third.out
    assert "New images found      : 1 digest not seen before in the project\n" in third.out

    # "new" is per project: another project has seen nothing yet
    other = tcs("registry", fresh_registry.url, "--mode=dry-run", "--project=other")
    assert "New images found      : 3 digests not seen before in the project\n" in other.out

    runs = store_rows(state_dir, "SELECT project, status, images_found, images_new FROM runs ORDER BY id")
    assert runs == [
        ("default", "complete", 2, 2),
        ("default", "complete", 2, 0),
        ("default", "complete", 4, 1),
        ("other", "complete", 4, 3),
    ]
    report = out_dir / f"127-0-0-1-{fresh_registry.port}-report.csv"
    assert csv_rows(report)[1:] == [
        [f"{fresh_registry.host}/app", "1", "2024-01-01T00:00:00Z", "false"],
        [f"{fresh_registry.host}/app", "2", "2024-01-02T00:00:00Z", "false"],
        [f"{fresh_registry.host}/app", "3", "2024-01-03T00:00:00Z", "false"],
        [f"{fresh_registry.host}/app", "also-2", "2024-01-02T00:00:00Z", "false"],
    ]


def test_allow_deny_and_max_images_mark_rows_skipped(tcs, anonymous_registry, standard, out_dir):
    result = tcs(
        "registry",
        anonymous_registry.url,
        "--mode=dry-run",
        "--allowList=team/*,alpine:*,multi/app",
        "--denyList=*:*-debug,alpine:latest",
    )
    assert result.code == 0, result.err
    admitted = {
        ("team/api", "1.0.0"),
        ("team/api", "1.1.0"),
        ("alpine", "3.19"),
        ("alpine", "3.20"),
        ("multi/app", "2.0"),
    }
    report = out_dir / f"127-0-0-1-{anonymous_registry.port}-report.csv"
    assert csv_rows(report) == expected_rows(
        anonymous_registry.host, standard.expected, skipped=lambda e: (e.repository, e.tag) not in admitted
    )
    assert "Total images found    : 10 tags\n" in result.out
    assert "Skipped images        : 5\n" in result.out
    fetched = [m for m in result.messages if "Fetched image discovery details" in m]
    assert len(fetched) == 5

    limited = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--allowlist=*", "--max-images=3")
    assert limited.code == 0
    rows = csv_rows(report)[1:]
    assert [row[3] for row in rows] == ["false"] * 3 + ["true"] * 7
    assert (
        "warn\tImage limit reached: only the first 3 admitted images were processed (--max-images)" in limited.messages
    )


def test_multi_arch_index_is_described_with_platforms_without_attestation(tcs, anonymous_registry, state_dir):
    result = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--allowList=multi/app")
    assert result.code == 0, result.err
    rows = store_rows(state_dir, "SELECT repository, tag, media_type, platforms, build_time FROM images")
    assert rows == [
        (
            "multi/app",
            "2.0",
            "application/vnd.oci.image.index.v1+json",
            '["linux/amd64", "linux/arm64/v8"]',
            "2024-03-01T00:05:00Z",
        )
    ]


def test_quiet_and_verbose(tcs, anonymous_registry):
    quiet = tcs("registry", anonymous_registry.url, "--mode=dry-run", "--quiet")
    assert quiet.code == 0
    assert quiet.err == ""
    assert quiet.out.startswith("Registry Summary:\n    Total images found    : 10 tags\n")
    verbose = tcs("registry", anonymous_registry.url, "--mode=dry-run", "-v")
    assert f"debug\tAuthenticated registry={anonymous_registry.url} credentials=anonymous" in verbose.messages


def test_bare_loopback_host_means_http_and_a_trailing_v2_is_dropped(tcs, anonymous_registry, out_dir):
    bare = tcs("registry", f"{anonymous_registry.host}/v2/", "--mode=dry-run")
    assert bare.code == 0, bare.err
    assert bare.messages[1] == f"info\tBeginning discovery of registry: {anonymous_registry.url}"


def test_https_to_a_plain_http_registry_says_so(tcs, anonymous_registry):
    result = tcs("registry", f"https://{anonymous_registry.host}", "--mode=dry-run")
    assert result.code == 3
    assert result.messages[-1] == (
        f"error\t{anonymous_registry.host} does not speak TLS; if it is a plain-HTTP registry, use an http:// URL"
    )

    # a token service named by the registry's challenge: no URL of the user's to mend
    with Facade(anonymous_registry.url, name="registry") as facade:

        @facade.route("GET", "/v2/")
        def challenge(request):
            realm = f'Bearer realm="https://{facade.host}/token",service="registry"'
            return text_answer("", 401, {"WWW-Authenticate": realm})

        result = tcs("registry", facade.url, "--mode=dry-run", "--username=alice", "--password-stdin", stdin="pw\n")
    assert result.code == 3
    assert result.messages[-1] == f"error\tthe registry's token service {facade.host} does not speak TLS"


def test_the_report_has_unix_line_endings(tcs, anonymous_registry, out_dir):
    """Read by awk and `grep ',false$'` as much as by spreadsheets: no carriage returns."""
    assert tcs("registry", anonymous_registry.url, "--mode=dry-run").code == 0
    report = (out_dir / f"127-0-0-1-{anonymous_registry.port}-report.csv").read_bytes()
    assert b"\r" not in report
    assert report.startswith(b"repository,tag,build_time,skipped\n")
    assert len([line for line in report.split(b"\n") if line.endswith(b",false")]) == 10


def test_a_dry_run_says_what_a_scan_would_download(tcs, fresh_registry, pusher):
    """The estimate is what the scan then downloads, byte for byte: each layer once however many images
    share it, every linux platform of an index (or those --platform names), none already analysed."""
    import hashlib

    from tcs_registry.estimate import size_text
    from tcs_registry.testing.proxy import Proxy

    created = "2026-11-01T00:00:00Z"
    base = make_layer({"etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n", "big": bytes(range(256)) * 400})
    apps = {name: make_layer({"app": name.encode() * 999}) for name in ("a", "b")}
    for name, layer in apps.items():  # a base shared by two images
        pusher.image(f"apps/{name}", "1", created=created, layers=[base, layer])
    amd64_layer, arm64_layer = make_layer({"x": b"amd64" * 500}), make_layer({"x": b"arm64" * 700})
    amd64 = pusher.image("multi", None, created=created, layers=[base, amd64_layer])
    arm64 = pusher.image("multi", None, created=created, architecture="arm64", layers=[base, arm64_layer])
    pusher.index("multi", "1", [(amd64, {"os": "linux", "architecture": "amd64"}),
                                (arm64, {"os": "linux", "architecture": "arm64"})])  # fmt: skip
    blobs = {"sha256:" + hashlib.sha256(blob).hexdigest(): len(blob)
             for blob, _ in (base, *apps.values(), amd64_layer, arm64_layer)}  # fmt: skip

    def estimate(result) -> str:
        assert result.code == 0, result.err
        return next(line for line in result.out.splitlines() if "A scan would download" in line).split(" : ")[1]

    with Proxy(fresh_registry.url, lambda *_: None) as proxy:
        arm = estimate(tcs("registry", proxy.url, "--mode=dry-run", "--platform=linux/arm64"))
        assert arm == f"{size_text(len(base[0]) + len(arm64_layer[0]))} in 2 layers"  # (apps/*: amd64 only)
        planned = estimate(tcs("registry", proxy.url, "--mode=dry-run"))
        proxy.requests.clear()
        assert tcs("registry", proxy.url).code == 0
        fetched = [path.rsplit("/", 1)[1] for path in proxy.paths if "/blobs/" in path]
        after = estimate(tcs("registry", proxy.url, "--mode=dry-run"))
    downloaded = [digest for digest in fetched if digest in blobs]  # (the others: configs)
    assert sorted(downloaded) == sorted(blobs)  # each layer once
    assert planned == f"{size_text(sum(blobs.values()))} in 5 layers"
    assert after == "0 bytes in 0 layers (5 more analysed already)"


def test_a_tag_deleted_while_the_run_goes_is_skipped_not_failed(tcs, fresh_registry, out_dir, tmp_path):
    """A registry in use (a retention policy, a CI job cleaning up): app:2 is deleted just after its
    repository was listed. Its manifest is then not found and its tags list no longer names it: it is
    skipped, the run complete. A tag whose manifest the registry lost though it still lists it fails."""
    import requests

    from tcs_registry.oci import MANIFEST_ACCEPT
    from tcs_registry.testing.proxy import Proxy

    pusher = Pusher(fresh_registry.url)
    layer = [make_layer({"etc/os-release": b"ID=test\n"})]
    for tag, day in (("1", "01"), ("2", "02")):
        pusher.image("app", tag, created=f"2024-01-{day}T00:00:00Z", layers=layer)
    deleted: list[str] = []

    def rewrite(target, session, upstream):
        if target == "/v2/app/manifests/2" and not deleted:  # asked for: deleted first (distribution's own 404)
            found = requests.head(upstream + target, headers={"Accept": MANIFEST_ACCEPT}, timeout=10)
            digest = found.headers["Docker-Content-Digest"]
            requests.delete(f"{upstream}/v2/app/manifests/{digest}", timeout=10).raise_for_status()
            deleted.append(digest)
        return None

    with Proxy(fresh_registry.url, rewrite) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
    assert result.code == 0, result.err
    assert deleted
    assert f"info\tSkipped image={proxy.host}/app:2 reason=deleted since it was listed" in result.messages
    assert csv_rows(report_path(out_dir, proxy.host)) == [
        ["repository", "tag", "build_time", "skipped"],
        [f"{proxy.host}/app", "1", "2024-01-01T00:00:00Z", "false"],
        [f"{proxy.host}/app", "2", "", "true"],
    ]
    assert "    Skipped images        : 1" in result.out.splitlines(), result.out

    lost = {"/v2/app/manifests/1"}  # listed, and not found: the registry's fault, a failure as before

    def losing(target, session, upstream):
        if target in lost:
            return 404, {"Content-Type": "application/json"}, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}'
        return None

    with Proxy(fresh_registry.url, losing) as proxy:
        failed = tcs("registry", proxy.url, "--mode=dry-run")
        assert failed.code == 4, failed.err
        assert [m.split(" error=")[0] for m in failed.messages if m.startswith("error")] == [
            f"error\tFailed to describe image image={proxy.host}/app:1"
        ]
        assert [p for p in proxy.paths if "/tags/list" in p] == ["/v2/app/tags/list?n=1000"] * 2
        before = len(proxy.paths)
        left_out = tcs("registry", proxy.url, "--mode=dry-run", "--denyList=app:1")  # its row the same anyway:
        assert left_out.code == 0, left_out.err  # its tags not asked for again
        assert [p for p in proxy.paths[before:] if "/tags/list" in p] == ["/v2/app/tags/list?n=1000"]


def test_a_tag_deleted_while_its_image_is_scanned_is_skipped_not_failed(tcs, fresh_registry, tmp_path):
    """app:2 is deleted while its image is scanned, and its layer is collected (a registry's garbage
    collection): the layer not found, its tags list no longer names the tag: skipped, the run complete.
    A layer not found while its tag is still listed is the registry's fault: a failure."""
    import requests

    from tcs_registry.testing.images import digest_of
    from tcs_registry.testing.proxy import Proxy

    pusher = Pusher(fresh_registry.url)
    layers = {tag: [make_layer({"etc/os-release": f"ID=test{tag}\n".encode()})] for tag in ("1", "2")}
    digests = {tag: pusher.image("app", tag, created=None, layers=layers[tag]).digest for tag in ("1", "2")}
    blobs = {tag: f"/v2/app/blobs/{digest_of(layers[tag][0][0])}" for tag in ("1", "2")}
    deleted: list[str] = []

    def rewrite(target, session, upstream):
        if target == blobs["2"] and not deleted:  # the scan asks for its layer: deleted first, for real
            for gone in (f"/v2/app/manifests/{digests['2']}", blobs["2"]):
                requests.delete(upstream + gone, timeout=10).raise_for_status()
            deleted.append(target)
        return None

    with Proxy(fresh_registry.url, rewrite) as proxy:
        result = tcs("registry", proxy.url)
    assert result.code == 0, result.err
    assert deleted, proxy.paths
    assert f"info\tSkipped image={proxy.host}/app:2 reason=deleted since it was listed" in result.messages
    scanned = [m.split(" platform=")[0] for m in result.messages if m.startswith("info\tScanned")]
    assert scanned == [f"info\tScanned image image={proxy.host}/app:1"]
    assert "    Skipped images        : 1" in result.out.splitlines(), result.out

    def losing(target, session, upstream):
        if target == blobs["1"]:  # app:1's layer, its tag still listed
            return 404, {"Content-Type": "application/json"}, b'{"errors": [{"code": "BLOB_UNKNOWN"}]}'
        return None

    with Proxy(fresh_registry.url, losing) as proxy:
        again = (f"--state-dir={tmp_path / 'again'}", f"--output-dir={tmp_path / 'again'}")  # (no layer cached)
        failed = tcs("registry", proxy.url, *again, isolate=False)
    assert failed.code == 4, failed.err
    assert [m.split(" error=")[0] for m in failed.messages if m.startswith("error")] == [
        f"error\tFailed to describe image image={proxy.host}/app:1"
    ]


def test_a_failures_report_the_disk_refuses_is_not_named_in_the_summary(tcs, fresh_registry, monkeypatch):
    """The disk full when the first failure comes (/dev/full: every write is ENOSPC): one error line, the
    run goes on to its end, and the summary names no failures file it could not write."""
    from tcs_registry import report
    from tcs_registry.testing.proxy import Proxy

    pusher = Pusher(fresh_registry.url)
    for tag in ("1", "2"):
        pusher.image("app", tag, created=None, layers=[make_layer({"etc/os-release": f"ID={tag}\n".encode()})])
    opened = report.open_private

    def full_disk(path, *args, **kwargs):
        return (
            open("/dev/full", "w", newline="") if path.name.endswith("-failures.csv") else opened(path, *args, **kwargs)
        )

    monkeypatch.setattr(report, "open_private", full_disk)

    def losing(target, session, upstream):
        if target == "/v2/app/manifests/1":
            return 404, {"Content-Type": "application/json"}, b'{"errors": [{"code": "MANIFEST_UNKNOWN"}]}'
        return None

    with Proxy(fresh_registry.url, losing) as proxy:
        result = tcs("registry", proxy.url, "--mode=dry-run")
    assert result.code == 4, result.err
    errors = [m.split(": ")[0] for m in result.messages if m.startswith("error")]
    assert errors[-1].startswith("error\tCannot write the failures report ") and len(errors) == 2
    assert "Failed images         : 1" in result.out
    assert "Failure details" not in result.out


def test_an_empty_registry_has_a_report_of_no_rows(tcs, fresh_registry, out_dir):
    """A run that finished finding nothing: its report says so (the header alone), in place of the last."""
    last = report_path(out_dir, fresh_registry.host)
    last.parent.mkdir(parents=True, exist_ok=True)
    last.write_text("repository,tag,build_time,skipped\ngone/app,1,,false\n")
    result = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert result.code == 0, result.err
    assert csv_rows(last) == [["repository", "tag", "build_time", "skipped"]]


def test_report_file_names_are_plain_whatever_the_host():
    """An IPv6 host's brackets are glob characters and its leading colons would make a leading -, which
    reads as an option to rm or ls."""
    from tcs_registry.report import report_name

    assert report_name("localhost:5000") == "localhost-5000-report.csv"
    assert report_name("test.azurecr.io") == "test-azurecr-io-report.csv"
    assert report_name("[::1]:5000") == "1-5000-report.csv"
    assert report_name("[fe80::1]:5000", "failures", (2, 4)) == "fe80-1-5000-failures.shard-2-of-4.csv"


def test_a_relative_output_dir_is_said_and_kept_whole(tcs, fresh_registry, tmp_path, monkeypatch):
    """The summary's path, and the store's, are the directory's whole path: the run's record is read
    from elsewhere (the console, `results` run in another directory)."""
    Pusher(fresh_registry.url).image("app", "1", created=None, layers=[make_layer({"a": b"1"})])
    monkeypatch.chdir(tmp_path)
    result = tcs(
        "registry",
        fresh_registry.url,
        "--mode=dry-run",
        "--output-dir=reports",
        f"--state-dir={tmp_path}/s",
        isolate=False,
    )
    assert result.code == 0, result.err
    report = report_path(tmp_path / "reports", fresh_registry.host)
    assert f"    Report                : {report}" in result.out.splitlines(), result.out
    assert store_rows(tmp_path / "s", "SELECT report FROM runs") == [(str(report),)]


def test_a_report_the_disk_refuses_leaves_the_run_partial_and_unnamed(tcs, fresh_registry, monkeypatch):
    """The disk full at the report's first row: one error line, every image described all the same (in
    the store), exit 4, and the summary names no report."""
    from tcs_registry import report

    Pusher(fresh_registry.url).image("app", "1", created=None, layers=[make_layer({"a": b"1"})])
    opened = report.open_private

    def full_disk(path, *args, **kwargs):
        return (
            open("/dev/full", "w", newline="") if path.name.endswith("-report.csv") else opened(path, *args, **kwargs)
        )

    monkeypatch.setattr(report, "open_private", full_disk)
    result = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert result.code == 4, result.err
    errors = [m.split(": ")[0] for m in result.messages if m.startswith("error")]
    assert len(errors) == 1 and errors[0].startswith("error\tCannot write the report "), errors
    assert "Fetched image discovery details" in result.err
    assert "Report                :" not in result.out
