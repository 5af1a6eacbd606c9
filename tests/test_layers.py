"""How layers become one filesystem: whiteouts, opaque directories, links, compressions, platforms, and
archives written to escape the image — each an image pushed to the real registry and scanned."""

from __future__ import annotations

import gzip
import uuid
from pathlib import Path

import pytest
import requests

from tcs_registry.oci import OCI_INDEX
from tcs_registry.testing.helpers import inventory, package_rows
from tcs_registry.testing.images import Entry, Pusher, digest_of, tar_layer
from tcs_registry.testing.proxy import Proxy

ALPINE = Entry("etc/os-release", b'ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n')
SITE = "usr/local/lib/python3.12/site-packages"


def apk_db(*packages: tuple[str, str, str]) -> bytes:
    """An apk installed database of (name, version, origin), in apk's own field layout."""
    return "".join(f"C:Q1abc=\nP:{n}\nV:{v}\nA:x86_64\no:{o}\nL:MIT\n\n" for n, v, o in packages).encode()


def metadata(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


def dist_info(name: str, version: str, site: str = SITE) -> Entry:
    return Entry(f"{site}/{name}-{version}.dist-info/METADATA", metadata(name, version))


def scan(tcs, registry, *args: str) -> object:
    return tcs("registry", registry.url, "--format=json", *args)


def test_whiteouts_remove_lower_files_and_opaque_directories_hide_lower_contents(tcs, fresh_registry, out_dir):
    base = tar_layer(
        [
            ALPINE,
            Entry("lib/apk/db/installed", apk_db(("musl", "1.2.4_git20230717-r4", "musl"))),
            dist_info("flask", "2.0.0"),
            dist_info("jinja2", "3.1.2"),
            dist_info("gone", "1.0", "opt/venv/lib"),
            dist_info("hidden", "1.0", "srv/app/lib"),
            Entry("srv/app/node_modules/left-pad/package.json", b'{"name": "left-pad", "version": "1.3.0"}'),
        ]
    )
    top = tar_layer(
        [
            Entry(f"{SITE}/.wh.flask-2.0.0.dist-info"),  # pip uninstall flask
            Entry("opt/.wh.venv"),  # rm -rf /opt/venv: the whole subtree
            dist_info("kept", "2.0", "srv/app/lib"),  # written before the marker, still kept
            Entry("srv/app/lib/.wh..wh..opq"),  # the directory was replaced as a whole
            Entry("srv/app/node_modules", symlink="/usr/lib/node_modules"),  # a link replaces a directory
        ]
    )
    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[base, top])
    assert scan(tcs, fresh_registry).code == 0
    document = inventory(out_dir, fresh_registry.host, "app", "1")
    assert package_rows(document, "name", "version", "type", "layer") == [
        ("jinja2", "3.1.2", "pypi", base[1]),
        ("kept", "2.0", "pypi", top[1]),
        ("musl", "1.2.4_git20230717-r4", "apk", base[1]),
    ]
    assert document["ecosystem"] == "Alpine:v3.19"


def test_each_package_is_attributed_to_the_layer_that_introduced_it(tcs, fresh_registry, out_dir):
    db1 = apk_db(("musl", "1.2.4-r1", "musl"), ("zlib", "1.3-r0", "zlib"))
    db2 = apk_db(("musl", "1.2.4-r1", "musl"), ("zlib", "1.3.1-r0", "zlib"), ("curl", "8.5.0-r0", "curl"))
    layers = [
        tar_layer([ALPINE, Entry("lib/apk/db/installed", db1)]),
        tar_layer([Entry("etc/motd", b"hello\n")]),
        tar_layer([Entry("lib/apk/db/installed", db2)]),  # apk upgrade zlib && apk add curl
    ]
    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=layers)
    assert scan(tcs, fresh_registry).code == 0
    document = inventory(out_dir, fresh_registry.host, "app", "1")
    assert package_rows(document, "name", "version", "layer") == [
        ("curl", "8.5.0-r0", layers[2][1]),
        ("musl", "1.2.4-r1", layers[0][1]),
        ("zlib", "1.3.1-r0", layers[2][1]),
    ]
    assert document["layers"] == [diff_id for _, diff_id in layers]


@pytest.mark.parametrize("compression", ["gzip", "gzip-multi", "zstd", "none"])
def test_layer_compressions_are_sniffed_and_verified(tcs, fresh_registry, out_dir, compression):
    entries = [ALPINE, Entry("lib/apk/db/installed", apk_db(("busybox", "1.36.1-r15", "busybox")) * 200)]
    blob, diff_id = tar_layer(entries, compression)
    if compression == "gzip-multi":
        assert blob.count(b"\x1f\x8b\x08") > 1  # really several gzip members
    Pusher(fresh_registry.url).image("app", compression, created="2024-01-01T00:00:00Z", layers=[(blob, diff_id)])
    assert scan(tcs, fresh_registry).code == 0
    rows = package_rows(inventory(out_dir, fresh_registry.host, "app", compression), "name", "version")
    assert rows == [("busybox", "1.36.1-r15")] * 200


def test_hard_linked_package_files_are_read(tcs, fresh_registry, out_dir):
    layer = tar_layer(
        [
            ALPINE,
            Entry("lib/apk/db/installed.new", apk_db(("musl", "1.2.4-r1", "musl"))),  # not a path we read
            Entry("lib/apk/db/installed", hardlink="lib/apk/db/installed.new"),
            dist_info("six", "1.16.0"),
            Entry(f"{SITE}/six-copy/six-1.16.0.dist-info/METADATA", hardlink=f"{SITE}/six-1.16.0.dist-info/METADATA"),
        ]
    )
    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    assert scan(tcs, fresh_registry).code == 0
    document = inventory(out_dir, fresh_registry.host, "app", "1")
    assert package_rows(document, "name", "version", "location") == [
        ("musl", "1.2.4-r1", "lib/apk/db/installed"),
        ("six", "1.16.0", f"{SITE}/six-1.16.0.dist-info/METADATA"),
        ("six", "1.16.0", f"{SITE}/six-copy/six-1.16.0.dist-info/METADATA"),
    ]


def test_a_hostile_archive_is_analysed_inside_the_image_only(tcs, fresh_registry, out_dir):
    escape = f"tcs-escape-{uuid.uuid4().hex}"
    layer = tar_layer(
        [
            Entry("usr/lib/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
            # resolved inside the image: ../ stops at the image root, so this is usr/lib/os-release
            Entry("etc/os-release", symlink="../../../../../../../../usr/lib/os-release"),
            Entry(f"../../../../../../tmp/{escape}", b"written outside?\n"),
            Entry("../../lib/apk/db/installed", apk_db(("evil", "6.6.6-r0", "evil"))),
            Entry("lib/apk/db/installed", hardlink="../../../../etc/passwd"),
            Entry("var/lib/dpkg", symlink="/../../../../var/lib/dpkg"),  # a link to itself, not to the host's
            Entry("/abs/node_modules/abs/package.json", b'{"name": "abs", "version": "1.0.0"}'),
            Entry("dev/evil", b""),
        ]
    )
    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    result = scan(tcs, fresh_registry)
    assert result.code == 0
    document = inventory(out_dir, fresh_registry.host, "app", "1")
    # only the absolute name survives, as a path of the image (tar's /abs means the image's /abs)
    assert package_rows(document, "name", "version", "location") == [
        ("abs", "1.0.0", "abs/node_modules/abs/package.json")
    ]
    assert (document["os_id"], document["ecosystem"]) == ("alpine", "Alpine:v3.19")
    assert sorted(document["problems"]) == [
        "'../../../../../../tmp/" + escape + "': outside the image root, ignored",
        "'../../lib/apk/db/installed': outside the image root, ignored",
        "lib/apk/db/installed: hard link out of the image root, ignored",
    ]
    assert not Path("/tmp", escape).exists()
    warnings = [m for m in result.messages if m.startswith("warn\tAnalysis skipped a file image=")]
    assert len(warnings) == 3


def _multi_arch(registry) -> None:
    pusher = Pusher(registry.url)
    images = []
    for architecture, package in (("amd64", "amd-only"), ("arm64", "arm-only")):
        layer = tar_layer([ALPINE, Entry("lib/apk/db/installed", apk_db((package, "1.0-r0", package)))])
        pushed = pusher.image("multi", None, created="2024-01-01T00:00:00Z", layers=[layer], architecture=architecture)
        images.append((pushed, {"architecture": architecture, "os": "linux"}))
    windows = pusher.image("multi", None, created="2024-01-01T00:00:00Z", layers=[], os="windows")
    images.append((windows, {"architecture": "amd64", "os": "windows"}))
    pusher.index("multi", "1", images, [(pusher.attestation("multi", images[0][0]), images[0][0])])


def test_a_multi_arch_index_is_scanned_per_linux_platform(tcs, fresh_registry, out_dir):
    _multi_arch(fresh_registry)
    with Proxy(fresh_registry.url, lambda *_: None) as proxy:
        result = tcs("registry", proxy.url, "--format=json")
    assert result.code == 0
    # the index and each platform's manifest are read once, for describing and scanning alike
    assert sorted(p for p in proxy.paths if "/manifests/" in p) == sorted(
        ["/v2/multi/manifests/1"] + [f"/v2/multi/manifests/{d}" for d in _platform_digests(fresh_registry)]
    )
    host = proxy.host
    amd = inventory(out_dir, host, "multi", "1", "linux/amd64")
    arm = inventory(out_dir, host, "multi", "1", "linux/arm64")
    assert package_rows(amd, "name") == [("amd-only",)] and package_rows(arm, "name") == [("arm-only",)]
    index = requests.head(f"{fresh_registry.url}/v2/multi/manifests/1", headers={"Accept": OCI_INDEX}, timeout=10)
    assert amd["index_digest"] == arm["index_digest"] == index.headers["Docker-Content-Digest"] != amd["digest"]
    assert sorted(p.name for p in (out_dir / f"{host.replace('.', '-').replace(':', '-')}-scan/multi").iterdir()) == [
        "1@linux-amd64.json",
        "1@linux-arm64.json",
    ]


def _platform_digests(registry) -> list[str]:
    index = requests.get(f"{registry.url}/v2/multi/manifests/1", headers={"Accept": OCI_INDEX}, timeout=10).json()
    return [m["digest"] for m in index["manifests"] if m["platform"]["os"] != "unknown"]


def test_platform_flag_selects_platforms_and_an_index_without_one_is_skipped(tcs, fresh_registry, out_dir):
    _multi_arch(fresh_registry)
    assert scan(tcs, fresh_registry, "--platform=linux/arm64").code == 0
    scan_dir = out_dir / f"{fresh_registry.host.replace('.', '-').replace(':', '-')}-scan"
    assert [p.name for p in (scan_dir / "multi").iterdir()] == ["1@linux-arm64.json"]

    result = scan(tcs, fresh_registry, "--platform=linux/s390x")
    assert result.code == 0
    assert "Skipped images        : 1\n" in result.out
    assert (
        f"info\tSkipped image={fresh_registry.host}/multi:1 reason=no platform matches --platform (it has:"
        " linux/amd64, linux/arm64, windows/amd64)" in result.messages
    )


def test_a_config_whose_diff_id_does_not_match_the_layer_fails_that_image_only(tcs, fresh_registry, out_dir):
    blob, diff_id = tar_layer([ALPINE, Entry("lib/apk/db/installed", apk_db(("musl", "1.2.4-r1", "musl")))])
    wrong = "sha256:" + "0" * 64
    pusher = Pusher(fresh_registry.url)
    pusher.image("bad", "1", created="2024-01-01T00:00:00Z", layers=[(blob, wrong)])
    pusher.image("good", "1", created="2024-01-01T00:00:00Z", layers=[(blob, diff_id)])
    result = scan(tcs, fresh_registry)
    assert result.code == 4
    assert package_rows(inventory(out_dir, fresh_registry.host, "good", "1"), "name") == [("musl",)]
    errors = [m for m in result.messages if m.startswith("error\t")]
    assert len(errors) == 1
    assert f"uncompressed layer does not match the config's diff_id {wrong} (got {diff_id})" in errors[0]


def test_a_layer_whose_bytes_do_not_match_its_digest_fails_that_image(tcs, fresh_registry):
    """A proxy re-compresses one layer: it still unpacks to the same tar, but it is not the blob the
    manifest names, so the analysis is not trusted (and not cached)."""
    layer = tar_layer([ALPINE, Entry("lib/apk/db/installed", apk_db(("musl", "1.2.4-r1", "musl")))])
    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    digest = digest_of(layer[0])

    def recompress(path, session, upstream):
        if not path.endswith(f"/blobs/{digest}"):
            return None
        body = gzip.compress(gzip.decompress(session.get(upstream + path).content), compresslevel=1, mtime=1)
        return 200, {"Content-Type": "application/octet-stream"}, body

    with Proxy(fresh_registry.url, recompress) as proxy:
        result = tcs("registry", proxy.url)
    assert result.code == 4
    assert "Failed images         : 1\n" in result.out
    errors = [m for m in result.messages if m.startswith("error\t")]
    assert len(errors) == 1
    assert f"{proxy.host}/app@{digest}: layer content does not match its digest (got sha256:" in errors[0]


def test_an_upper_file_replacing_a_lower_one_or_its_directory_hides_what_was_below(
    tcs, fresh_registry, out_dir, go_binary
):
    lower = tar_layer(
        [
            Entry("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            Entry("var/lib/dpkg/status.d/tzdata", b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"),
            Entry("var/lib/dpkg/status.d/netbase", b"Package: netbase\nVersion: 6.4\nArchitecture: all\n"),
            Entry("usr/local/bin/app", go_binary.read_bytes(), mode=0o755),
        ]
    )
    upper = tar_layer(
        [
            Entry("var/lib/dpkg/status.d", b"not a directory any more\n"),  # hides both entries below
            Entry("usr/local/bin/app", b"#!/bin/sh\nexec true\n", mode=0o755),  # no longer a Go binary
        ]
    )
    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[lower, upper])
    assert scan(tcs, fresh_registry).code == 0
    assert inventory(out_dir, fresh_registry.host, "app", "1")["packages"] == []


def test_a_layer_of_many_files_is_read_in_no_more_memory_than_its_record():
    """tarfile keeps every member it has read for a later extractall, about 500 bytes each: six times
    the layer's record (its paths), 1 GB for a layer at the 2,000,000-entry limit, for each of the
    layers read at once. A layer is read once, so none is kept; hard links are still resolved."""
    import io
    import tracemalloc

    from tcs_registry.analysis.walk import read_hardlinks, walk

    files = [Entry(f"srv/app/node_modules/p{n // 20:05}/lib/file-{n:06}.js", b"x") for n in range(20_000)]
    links = [
        Entry("usr/lib/python3/m/METADATA", metadata("six", "1.16.0")),
        Entry(f"{SITE}/six-1.16.0.dist-info/METADATA", hardlink="usr/lib/python3/m/METADATA"),
    ]
    blob, _ = tar_layer([*links, *files], compression="none")
    tracemalloc.start()
    try:
        record, hardlinks = walk(io.BytesIO(blob), "sha256:x", secrets=False)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(record.entries) == 20_002
    assert peak < 1.5 * kept, (peak, kept)  # (6.6x before)
    read_hardlinks(io.BytesIO(blob), record, hardlinks)
    assert record.files[f"{SITE}/six-1.16.0.dist-info/METADATA"]["packages"] == [{"name": "six", "version": "1.16.0"}]
