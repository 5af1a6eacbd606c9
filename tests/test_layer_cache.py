"""The layer cache: a base layer shared by many images is downloaded and analysed once per run, and not
at all by the next run (counted in the request log of a proxy in front of the real registry)."""

from __future__ import annotations

from tcs_registry.testing.helpers import inventory, package_rows, store_rows
from tcs_registry.testing.images import Entry, Pusher, digest_of, tar_layer
from tcs_registry.testing.proxy import Proxy

ALPINE = Entry("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n")
DB = b"P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\n"


def test_twenty_images_sharing_a_base_layer_fetch_it_once_then_never(tcs, fresh_registry, out_dir, state_dir):
    base = tar_layer([ALPINE, Entry("lib/apk/db/installed", DB), Entry("padding", bytes(2_000_000))])
    pusher = Pusher(fresh_registry.url)
    tops = []
    for i in range(20):
        meta = f"Metadata-Version: 2.1\nName: app{i}\nVersion: 1.{i}\n".encode()
        top = tar_layer([Entry(f"srv/app{i}-1.{i}.dist-info/METADATA", meta)])
        tops.append(top)
        pusher.image(f"team/app{i:02d}", "1", created="2024-01-01T00:00:00Z", layers=[base, top])
    base_blob = f"/blobs/{digest_of(base[0])}"
    layer_blobs = {base_blob} | {f"/blobs/{digest_of(blob)}" for blob, _ in tops}

    with Proxy(fresh_registry.url, lambda *_: None) as proxy:
        first = tcs("registry", proxy.url, "--format=json", "--concurrency=8")
        first_paths = list(proxy.paths)
        second = tcs("registry", proxy.url, "--format=json", "--concurrency=8")
        second_paths = proxy.paths[len(first_paths) :]

    assert first.code == second.code == 0
    assert sum(p.endswith(base_blob) for p in first_paths) == 1
    fetched = [p[p.index("/blobs/") :] for p in first_paths if any(p.endswith(b) for b in layer_blobs)]
    assert sorted(fetched) == sorted(layer_blobs)  # every layer once, the shared base included
    assert not [p for p in second_paths if any(p.endswith(b) for b in layer_blobs)]
    # describing an image and scanning it read its manifest once: by tag, never again by digest
    manifests = sorted(p for p in first_paths if "/manifests/" in p)
    assert manifests == [f"/v2/team/app{i:02d}/manifests/1" for i in range(20)]
    assert "info\tLayers analysed=21 reused=19" in first.messages
    assert "info\tLayers analysed=0 reused=40" in second.messages
    for i in (0, 19):
        document = inventory(out_dir, proxy.host, f"team/app{i:02d}", "1")
        assert package_rows(document, "name", "version", "layer") == sorted(
            [
                ("busybox", "1.36.1-r15", base[1]),
                ("musl", "1.2.4_git20230717-r4", base[1]),
                (f"app{i}", f"1.{i}", tops[i][1]),
            ]
        )
    assert store_rows(state_dir, "SELECT COUNT(*) FROM layers") == [(21,)]
    assert store_rows(state_dir, "SELECT COUNT(DISTINCT run), COUNT(*) FROM scans") == [(2, 40)]


def test_a_layer_analysed_again_by_a_newer_analyser_drops_the_older_records(tcs, fresh_registry, state_dir):
    import sqlite3

    from tcs_registry.analysis import ANALYSER_VERSION

    layer = tar_layer([ALPINE, Entry("lib/apk/db/installed", DB)])
    Pusher(fresh_registry.url).image("app", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    newer = str(int(ANALYSER_VERSION) + 1)
    with sqlite3.connect(state_dir / "state.db") as db:  # records of other releases of the analyser
        for version in ("1", "2-no-secrets", newer):
            db.execute(
                "INSERT INTO layers SELECT diff_id, ?, record, analysed_at FROM layers WHERE analyser = ?",
                (version, ANALYSER_VERSION),
            )
        db.execute("DELETE FROM layers WHERE analyser = ?", (ANALYSER_VERSION,))  # as if never read by this one
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    # read again by this release: its record kept, the older ones dropped, a newer release's left alone
    assert store_rows(state_dir, "SELECT analyser FROM layers ORDER BY analyser") == [(ANALYSER_VERSION,), (newer,)]


def test_the_layer_records_kept_decoded_in_memory_are_bounded_by_the_paths_they_hold():
    """32 records are kept decoded (the base layers most images share), but not 32 of a layer of
    node_modules (200,000 paths, 22 MB each): at most RECENT_PATHS paths in all, the newest kept."""
    from tcs_registry.analysis.inventory import RECENT_PATHS, Analyser
    from tcs_registry.analysis.walk import LayerRecord

    analyser = Analyser()
    records = [LayerRecord(f"sha256:{n}", entries=["x"] * (RECENT_PATHS * 2 // 5)) for n in range(4)]
    for record in records:
        analyser._store(record)
    assert [record.diff_id for record in records if analyser._cached(record.diff_id)] == ["sha256:2", "sha256:3"]
    small = [LayerRecord(f"sha256:small{n}", entries=["x"] * 100) for n in range(40)]
    for record in small:
        analyser._store(record)
    assert sum(analyser._cached(record.diff_id) is not None for record in small) == 32  # (RECENT_LAYERS)
    huge = LayerRecord("sha256:huge", entries=["x"] * (RECENT_PATHS + 1))
    analyser._store(huge)
    assert analyser._cached("sha256:huge") is huge  # the one in use, whatever it weighs
    assert not any(analyser._cached(record.diff_id) for record in small)
