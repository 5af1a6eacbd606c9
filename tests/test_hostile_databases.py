"""Package databases written to hurt the scanner: each is refused or read within bounds, quickly, and the
image is still scanned, with the refused file named in the inventory's problems."""

from __future__ import annotations

import io
import sqlite3
import struct
import zipfile

from tcs_registry.testing.helpers import inventory, package_rows
from tcs_registry.testing.images import Entry, Pusher, tar_layer

RHEL = Entry("etc/os-release", b'ID="rhel"\nVERSION_ID="9.3"\nCPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"\n')


def _sqlite(tmp_path, schema: str) -> bytes:
    path = tmp_path / "rpmdb.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(schema)
    return path.read_bytes()


def _ndb_with_slots_on_one_blob(slots: int) -> bytes:
    """An NDB file whose every slot points at the same (valid) header blob: without a guard, the
    same big header would be parsed once per slot."""
    store = b"busybox\x001.36.1\x00"
    header = (
        struct.pack(">ii", 2, len(store)) + struct.pack(">iIiI", 1000, 6, 0, 1) + struct.pack(">iIiI", 1001, 6, 8, 1)
    )
    header += store
    pages = (slots * 16 + 32 + 4095) // 4096
    data = bytearray(struct.pack("<4sIII", b"RpmP", 0, 1, pages) + bytes(16))
    block = pages * 4096 // 16
    for i in range(slots):
        data += struct.pack("<4sIII", b"Slot", i + 1, block, 1)
    while len(data) < pages * 4096:  # the rest of the slot pages: free slots
        data += struct.pack("<4sIII", b"Slot", 0, 0, 0)
    return bytes(data + struct.pack("<4sIII", b"BlbS", 1, 0, len(header)) + header)


def test_hostile_databases_are_refused_or_bounded_and_the_image_is_still_scanned(
    tcs, fresh_registry, out_dir, tmp_path
):
    endless_view = _sqlite(
        tmp_path,
        "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
        " SELECT zeroblob(100000) AS blob FROM c;",
    )
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "META-INF/maven/x/y/pom.properties", "groupId=x\nartifactId=y\nversion=1\n" + " " * 200_000_000
        )
    layer = tar_layer(
        [
            RHEL,
            Entry("usr/lib/sysimage/rpm/rpmdb.sqlite", endless_view),
            Entry("usr/share/rpm/Packages.db", _ndb_with_slots_on_one_blob(20_000)),
            Entry("opt/bomb.jar", bomb.getvalue()),
            Entry("var/lib/dpkg/status", b"\xff\xfe not utf-8 \x00\n\nPackage"),
        ]
    )
    Pusher(fresh_registry.url).image("evil", "1", created="2024-01-01T00:00:00Z", layers=[layer])
    result = tcs("registry", fresh_registry.url, "--format=json")
    assert result.code == 0
    document = inventory(out_dir, fresh_registry.host, "evil", "1")
    # the NDB blob is read once however many slots name it; the jar's text is read up to 64 KiB
    assert package_rows(document, "type", "name", "version", "location") == [
        ("maven", "x:y", "1", "opt/bomb.jar"),
        ("rpm", "busybox", "1.36.1", "usr/share/rpm/Packages.db"),
    ]
    assert not [m for m in result.messages if "deb822" in m or "decoding" in m]
    assert document["problems"] == ["usr/lib/sysimage/rpm/rpmdb.sqlite: RpmError: rpmdb.sqlite has no Packages table"]
