"""Hostile images and registries, pushed to the real registry beside benign ones: the benign ones are always
scanned, one bad image fails alone (with its code), and nothing of it reaches the terminal raw."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import resource
import subprocess
import tarfile
import time
from urllib.parse import parse_qs, urlsplit

from tcs_registry.results import results_dir
from tcs_registry.testing.helpers import console_script, csv_rows, failures_path
from tcs_registry.testing.images import Entry, Pusher, tar_layer
from tcs_registry.testing.proxy import Proxy

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


def run_bounded(command: list[str], memory: int, seconds: float) -> subprocess.CompletedProcess:
    """The CLI in a process of its own with an address-space limit: a blow-up fails it, not the machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(command, capture_output=True, text=True, timeout=seconds, preexec_fn=limit)


def old_gnu_sparse_layer(blocks: int) -> tuple[bytes, str]:
    """A layer whose opt/sparse is an old GNU sparse file (type S) whose header says an extension block
    follows, and each of ``blocks`` such blocks, of no region (as cheap to send, as costly to read), says
    another does, but the last."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("opt/sparse")
        tar.addfile(info)
    header = bytearray(raw.getvalue()[:512])
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[386:410] = tarfile.itn(0, 12, tarfile.GNU_FORMAT) + tarfile.itn(1, 12, tarfile.GNU_FORMAT)
    header[482], header[483:495] = 1, tarfile.itn(2**30, 12, tarfile.GNU_FORMAT)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % (sum(header) & 0o777777)
    body = b"".join(bytes(504) + bytes([n < blocks - 1]) + bytes(7) for n in range(blocks))
    data = bytes(header) + body + bytes(1024)
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_sparse_file_map_bomb_fails_its_image_in_bounded_memory(fresh_registry, tmp_path):
    # GNU sparse 1.0: the map (a count, then offset/size lines) heads the entry's data; tarfile believes any
    # count (99,999,999 regions here, ~26 bytes of memory per byte of map: gigabytes from 120 KiB)
    pax = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "opt/big", "GNU.sparse.realsize": "9"}
    bomb = b"99999999\n" + b"0\n" * 2_000_000  # (4 MB of map, 4 KiB gzipped)
    pusher = Pusher(fresh_registry.url)
    bombed = tar_layer([ALPINE, Entry("opt/sparse", bomb + b"\0" * (-len(bomb) % 512), pax=pax)])
    pusher.image("bomb", "1", created="2024-01-01T00:00:00Z", layers=[bombed])
    regular = b"2\n0\n5\n10\n0\n"  # a real map: two regions, the file then read as any other
    sparse = tar_layer([ALPINE, Entry("opt/data", regular + b"\0" * 500 + b"hello", pax=pax)])
    pusher.image("sparse", "1", created="2024-01-01T00:00:00Z", layers=[sparse])
    pusher.image("fine", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE])])
    # the old GNU format's map: extension blocks of 21 regions, as long as each says another follows
    pusher.image("old", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE]), old_gnu_sparse_layer(6000)])
    command = [console_script(), "registry", fresh_registry.url, "--format=json", f"--state-dir={tmp_path}/state",
               f"--output-dir={tmp_path}/out"]  # fmt: skip
    done = run_bounded(command, memory=2 * 1024**3, seconds=120)
    assert done.returncode == 4, done.stderr
    rows = csv_rows(failures_path(tmp_path / "out", fresh_registry.host))[1:]
    assert [row[:3] for row in rows] == [
        [f"{fresh_registry.host}/bomb", "1", "analysis-error"],
        [f"{fresh_registry.host}/old", "1", "analysis-error"],
    ]
    assert "a sparse file map of b'99999999' regions, over 100000" in rows[0][3]
    assert "a sparse file map truncated or of over 100000 regions" in rows[1][3]
    for repository in ("fine", "sparse"):
        assert (results_dir(tmp_path / "out", fresh_registry.host) / repository / "1.json").exists()


def test_a_tag_listing_that_goes_on_is_cut_at_the_limit_with_one_line(tcs, fresh_registry, out_dir):
    # every page of app's tags names 5,000 more and links to the next: without a limit the tags pile up in
    # memory (a listing of 1.1 MiB of gzip took a process to 11 GiB); the first 100,000 are taken
    Pusher(fresh_registry.url).image("app", "keep", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE])])

    def endless(path, session, upstream):
        parts = urlsplit(path)
        if parts.path != "/v2/app/tags/list":
            return None
        page = int(parse_qs(parts.query).get("page", ["0"])[0])
        tags = [f"t{page:04d}-{i:04d}" for i in range(5000)] + (["keep"] if page == 0 else [])
        link = {"Link": f'</v2/app/tags/list?page={page + 1}>; rel="next"'}
        return 200, {"Content-Type": "application/json", **link}, json.dumps({"name": "app", "tags": tags}).encode()

    with Proxy(fresh_registry.url, endless) as proxy:
        result = tcs("registry", proxy.url, "--format=json", "--allowList=app:keep")
        pages = sum(p.startswith("/v2/app/tags/list") for p in proxy.paths)
        host = proxy.host
    assert result.code == 4, result.err
    assert pages == 20  # 100,001 tags seen: no page asked for after that
    assert "error\tListing stopped repository=app error=over 100000 tags: the first 100000 listed are taken, " \
           "the rest left out" in result.messages  # fmt: skip
    rows = csv_rows(failures_path(out_dir, host))[1:]
    assert [row[:3] for row in rows] == [[f"{host}/app", "", "too-large"]]
    assert (results_dir(out_dir, host) / "app" / "keep.json").exists()  # the tags taken are scanned
    assert "Total images found    : 100,000 tags" in result.out


def test_layers_that_cost_minutes_of_cpu_are_cut_short(tcs, fresh_registry, out_dir, monkeypatch):
    from tcs_registry.analysis import inventory
    from tcs_registry.analysis.parsers import gobinary

    monkeypatch.setattr(inventory, "CPU_BUDGET", 3.0)  # (600 s by default)
    pusher = Pusher(fresh_registry.url)
    # a 4 MiB "Go binary" of aligned build info magics: a megabyte was copied for each (33 s)
    magics = b"\x7fELF" + b"\0" * 12 + (gobinary.MAGIC + b"\x08\x02").ljust(16, b"\0") * (4 * 1024 * 1024 // 16)
    pusher.image("magics", "1", created="2024-01-01T00:00:00Z",
                 layers=[tar_layer([ALPINE, Entry("usr/bin/app", magics, mode=0o755)])])  # fmt: skip
    # 10,000 links below, 10,000 opaque directories above: each directory was compared with every path
    links = tar_layer([ALPINE, *(Entry(f"d{i}/link", symlink="x") for i in range(10_000))])
    opaque = tar_layer([Entry(f"o{i}/.wh..wh..opq") for i in range(10_000)])
    pusher.image("opaque", "1", created="2024-01-01T00:00:00Z", layers=[links, opaque])
    # a layer whose reading alone takes longer than the image's CPU budget
    many = tar_layer([ALPINE, *(Entry(f"f/{i}", b"x") for i in range(200_000))])
    pusher.image("slow", "1", created="2024-01-01T00:00:00Z", layers=[many])
    pusher.image("fine", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE])])
    # fewer than 64 entries, each a package database that takes long to read: the budget is asked before each
    paragraphs = "".join(f"Package: p{n}\nVersion: 1.{n}\nDescription: x\n\n" for n in range(4000)).encode()
    databases = [Entry("var/lib/dpkg/status.d/p", paragraphs) for _ in range(60)]  # (one path: the last wins)
    pusher.image("heavy", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE, *databases])])
    started = time.perf_counter()
    result = tcs("registry", fresh_registry.url, "--format=json")
    assert time.perf_counter() - started < 60
    assert result.code == 4, result.err
    rows = csv_rows(failures_path(out_dir, fresh_registry.host))[1:]
    assert [row[:3] for row in rows] == [
        [f"{fresh_registry.host}/heavy", "1", "timeout"],
        [f"{fresh_registry.host}/slow", "1", "timeout"],
    ]
    assert all("the analysis took over 3 s of CPU: stopped" in row[3] for row in rows)
    for repository in ("magics", "opaque", "fine"):
        assert (results_dir(out_dir, fresh_registry.host) / repository / "1.json").exists()


def test_an_rpm_header_whose_entries_all_point_at_one_string_array_costs_its_size():
    import struct

    import pytest

    from tcs_registry.analysis.parsers import rpm

    store = b"a\0" * 500_000  # one string array of 500,000 names, a megabyte
    entries = [(rpm.BASENAMES, 8, 0, 500_000)] * 0x10000  # every index entry pointing at it: 65 GB of reading
    blob = struct.pack(">ii", len(entries), len(store))
    blob += b"".join(struct.pack(">iIiI", *entry) for entry in entries) + store
    started = time.perf_counter()
    assert len(rpm.parse_header(blob)[rpm.BASENAMES]) == 500_000  # the first entry is read, the others not
    names = [(tag, 8, 0, 500_000) for tag in (rpm.BASENAMES, rpm.DIRNAMES, rpm.NAME)]
    blob = struct.pack(">ii", 3, len(store)) + b"".join(struct.pack(">iIiI", *entry) for entry in names) + store
    with pytest.raises(rpm.RpmError, match="overlap"):
        rpm.parse_header(blob)
    assert time.perf_counter() - started < 5


OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"  # "write this to the clipboard"; then a colour, a C1 CSI, a bidi override
HOSTILE_TEXT = f"Evil{OSC52}\x1b[31mLinux\x9b2J\u202e"


def test_control_characters_from_images_and_registries_never_reach_the_terminal(tcs, fresh_registry, state_dir):
    pusher = Pusher(fresh_registry.url)
    release = f'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="{HOSTILE_TEXT}"\n'.encode()
    key = "ghp_" + "Ab3" * 12
    layer = tar_layer([Entry("etc/os-release", release), Entry(f"app/{HOSTILE_TEXT}.env", f"T={key}\n".encode())])
    pusher.image("evil", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    pusher.image("broken", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE])])

    def hostile_error(path, session, upstream):  # a V2 error whose message carries escapes
        if path.startswith("/v2/broken/manifests/"):
            body = {"errors": [{"code": "UNKNOWN", "message": f"boom {HOSTILE_TEXT}"}]}
            return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
        return None

    with Proxy(fresh_registry.url, hostile_error) as proxy:
        result = tcs("registry", proxy.url, "--format=table,json", "-v")
        shown = tcs("results", f"--state-dir={state_dir}", "--image", "evil:1")
    for text in (result.out, result.err, shown.out, shown.err):
        assert not any(c in text for c in "\x1b\x07\x9b\u202e"), repr(text)
    assert "Evil\\x1b]52;c;cm0gLXJmIH4K\\x07\\x1b[31mLinux\\x9b2J\\u202e" in result.out  # the os, shown escaped
    assert "TCS-SECRET-GITHUB-PAT" in result.out and "/app/Evil\\x1b]52" in result.out  # the detail's path
    assert "boom Evil\\x1b]52" in result.err  # the registry's error message
    assert "Evil\\x1b]52" in shown.out


def test_planted_symbolic_links_in_the_output_are_refused_never_written_through(tcs, fresh_registry, out_dir, tmp_path):
    from tcs_registry.report import report_name

    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE])])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out_dir.mkdir()
    report = out_dir / report_name(fresh_registry.host)
    report.symlink_to(victim)
    refused = tcs("registry", fresh_registry.url, "--mode=dry-run")
    assert refused.code == 2
    assert refused.messages[-1] == (
        f"error\tcannot write the report {str(report)!r}: it is a symbolic link (refused: it could point anywhere);"
        " use --output-dir"
    )
    report.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    results = results_dir(out_dir, fresh_registry.host)
    results.symlink_to(elsewhere, target_is_directory=True)  # the results directory itself
    refused = tcs("registry", fresh_registry.url, "--format=json")
    assert refused.code == 2 and "it is a symbolic link (refused" in refused.messages[-1]
    results.unlink()
    results.mkdir()
    (results / "app").symlink_to(elsewhere, target_is_directory=True)  # a repository's directory in it
    sarif = out_dir / report_name(fresh_registry.host, "scan").replace(".csv", ".sarif")
    sarif.symlink_to(victim)
    failed = tcs("registry", fresh_registry.url, "--format=json,sarif")
    assert failed.code == 4
    assert f"cannot write its results: [Errno 40] a symbolic link: '{results / 'app'}'" in failed.err
    assert (
        f"error\tCannot write {sarif}: it is a symbolic link (refused: it could point anywhere); "
        "`tcs-registry results --format sarif` writes it from the store"
    ) in failed.messages
    assert victim.read_text() == "precious\n" and list(elsewhere.iterdir()) == []


def test_an_output_directory_that_cannot_be_written_is_one_line(tcs, fresh_registry, out_dir, state_dir, tmp_path):
    """--output-dir naming a file, or the failures report's name taken by a directory: one usage line
    (it was "unexpected error: NotADirectoryError", exit 3), in a scan as in a dry run, before the
    registry is asked anything (one that is not there is not found out). A registry SARIF file that
    cannot be written makes the run partial (exit 4: a CI job would upload a stale one)."""
    from tcs_registry.report import report_name

    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE])])
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for mode in ("--mode=scan", "--mode=dry-run"):
        given = [f"--output-dir={a_file}", f"--state-dir={state_dir}"]
        for url in (fresh_registry.url, "http://127.0.0.1:9"):
            refused = tcs("registry", url, mode, "--format=table", *given, isolate=False)
            assert refused.code == 2, refused.err
            assert refused.messages[-1] == f"error\tcannot write to {str(a_file)!r}: Not a directory; use --output-dir"
            assert not [m for m in refused.messages if m.startswith("info")], refused.err  # (not even identified)
    out_dir.mkdir()
    (out_dir / report_name(fresh_registry.host, "failures")).mkdir()
    refused = tcs("registry", fresh_registry.url, "--format=table")
    assert refused.code == 2 and refused.messages[-1].endswith(": Is a directory; use --output-dir"), refused.err
    (out_dir / report_name(fresh_registry.host, "failures")).rmdir()
    (out_dir / report_name(fresh_registry.host, "scan").replace(".csv", ".sarif")).mkdir()
    partial = tcs("registry", fresh_registry.url, "--format=sarif")
    assert partial.code == 4, partial.err


def test_a_file_name_that_is_not_utf8_costs_nothing(tcs, fresh_registry, out_dir):
    # tarfile keeps such bytes as lone surrogates: the store refused them and every run ended with exit 3
    name = b"app/x\x9b2J.env".decode("utf-8", "surrogateescape")
    key = "ghp_" + "Zq9" * 12
    pusher = Pusher(fresh_registry.url)
    pusher.image("evil", "1", created="2024-01-01T00:00:00Z",
                 layers=[tar_layer([ALPINE, Entry(name, f"T={key}\n".encode())])])  # fmt: skip
    pusher.image("fine", "1", created="2024-01-01T00:00:00Z", layers=[tar_layer([ALPINE])])
    for _ in range(2):
        result = tcs("registry", fresh_registry.url, "--format=json,table", "--log-format=json")
        assert result.code == 0, result.err
        assert "\\udc9b" not in result.out + result.err and "\x9b" not in result.out + result.err
    violations = json.loads((results_dir(out_dir, fresh_registry.host) / "evil" / "1.json").read_text())["violations"]
    assert [v["detail"].split(",")[0] for v in violations if v["id"] == "TCS-SECRET-GITHUB-PAT"] == [
        "/app/x\\x9b2J.env line 1"
    ]


def test_one_platform_that_cannot_be_written_fails_the_whole_image(tcs, fresh_registry, out_dir):
    pusher = Pusher(fresh_registry.url)
    layer = tar_layer([ALPINE])
    amd = pusher.image("multi", None, created="2024-01-01T00:00:00Z", layers=[layer], architecture="amd64")
    arm = pusher.image("multi", None, created="2024-01-01T00:00:00Z", layers=[layer], architecture="arm64")
    pusher.index("multi", "1", [(amd, {"os": "linux", "architecture": "amd64"}),
                                (arm, {"os": "linux", "architecture": "arm64"})])  # fmt: skip
    results = results_dir(out_dir, fresh_registry.host)
    (results / "multi" / "1@linux-arm64.json").mkdir(parents=True)  # a directory where arm64's file goes
    result = tcs("registry", fresh_registry.url, "--format=json,table")
    assert result.code == 4
    assert sorted(p.name for p in (results / "multi").iterdir()) == ["1@linux-arm64.json"]  # amd64's removed
    assert "Failed images         : 1" in result.out and "Images scanned" not in result.out
    assert "linux/amd64" not in result.out  # nothing of it in the table either
