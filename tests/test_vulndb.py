"""`tcs-registry db import | update | status` against a local copy of the OSV bucket's layout.

The bucket (https://osv-vulnerabilities.storage.googleapis.com, documented at
https://google.github.io/osv.dev/data/#data-dumps) holds, per ecosystem, ``<ECOSYSTEM>/all.zip`` (one
JSON file per record), ``<ECOSYSTEM>/<ID>.json``, and ``<ECOSYSTEM>/modified_id.csv``: lines
``<modified ISO time>,<ID>``, newest first, for incremental downloads. The records served are the real
ones of tests/fixtures/osv.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from tcs_registry.testing.facade import Facade, text_answer

OSV = Path(__file__).parent / "fixtures" / "osv"
DEBIAN = ["DLA-3008-1", "DLA-3012-1", "DLA-3022-1", "DLA-3051-1", "DSA-3029-1"]


def by_time(row: tuple[str, str]) -> datetime:
    return datetime.fromisoformat(row[0].replace("Z", "+00:00"))


class Bucket:
    """The OSV bucket for the Debian ecosystem; records can be changed between downloads."""

    def __init__(self) -> None:
        self.records = {name: json.loads((OSV / f"{name}.json").read_text()) for name in DEBIAN}
        self.facade = Facade("http://127.0.0.1:9", name="osv-bucket")

        @self.facade.route("GET", r"/Debian/all\.zip")
        def archive(request):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
                for name, record in self.records.items():
                    zipped.writestr(f"{name}.json", json.dumps(record))
            return 200, {"Content-Type": "application/zip"}, buffer.getvalue()

        @self.facade.route("GET", r"/Debian/modified_id\.csv")
        def modified(request):
            rows = sorted(((r["modified"], name) for name, r in self.records.items()), key=by_time, reverse=True)
            return text_answer("".join(f"{when},{name}\n" for when, name in rows), headers={"Content-Type": "text/csv"})

        @self.facade.route("GET", r"/Debian/(?P<name>[A-Z0-9-]+)\.json")
        def record(request, name):
            if name not in self.records:
                return None
            return 200, {"Content-Type": "application/json"}, json.dumps(self.records[name]).encode()

    def paths(self) -> list[str]:
        return [r.path for r in self.facade.requests]


@pytest.fixture
def bucket():
    served = Bucket()
    with served.facade:
        yield served


def test_update_downloads_the_archive_then_only_what_changed(tcs, bucket, state_dir):
    source = f"--source={bucket.facade.url}"
    result = tcs("db", "update", "--ecosystem=Debian", source, f"--state-dir={state_dir}")
    assert result.code == 0, result.err
    assert "info\tUpdated OSV ecosystem=Debian how=archive records=5" in result.messages
    assert bucket.paths() == ["/Debian/all.zip"]

    bucket.facade.requests.clear()
    bucket.records["DLA-3008-1"] = dict(bucket.records["DLA-3008-1"], modified="2099-01-01T00:00:00Z", summary="new")
    # published after our first download, though its `modified` is older than that download's clock
    late = dict(bucket.records["DLA-3051-1"], id="DLA-9999-1", modified="2026-06-01T00:00:00.5Z")
    bucket.records["DLA-9999-1"] = late
    # without --ecosystem: the ecosystems already downloaded
    result = tcs("db", "update", source, f"--state-dir={state_dir}")
    assert result.code == 0, result.err
    assert "info\tUpdated OSV ecosystem=Debian how=incremental records=2" in result.messages
    # what changed since the archive's newest record (DLA-3022-1, fetched again: another may share its time)
    assert bucket.paths() == [
        "/Debian/modified_id.csv",
        "/Debian/DLA-3008-1.json",
        "/Debian/DLA-9999-1.json",
        "/Debian/DLA-3022-1.json",
    ]

    status = tcs("db", "status", f"--state-dir={state_dir}", "--json")
    (debian,) = json.loads(status.out)
    assert (debian["ecosystem"], debian["records"], debian["newest"], debian["origin"]) == (
        "Debian",
        6,
        "2099-01-01T00:00:00Z",
        bucket.facade.url,
    )


def test_update_offline_or_of_an_unknown_ecosystem_is_one_error_line(tcs, bucket, state_dir):
    offline = tcs("db", "update", "--ecosystem=Debian", "--source=http://127.0.0.1:9", f"--state-dir={state_dir}")
    assert offline.code == 3  # the network, as for a registry that cannot be reached
    assert offline.messages == [
        "error\tcannot download OSV data from http://127.0.0.1:9 (ConnectionError); offline, import archives "
        "or records with `tcs-registry db import PATH`"
    ]
    unknown = tcs("db", "update", "--ecosystem=Nope", f"--source={bucket.facade.url}", f"--state-dir={state_dir}")
    assert unknown.code == 2
    assert unknown.messages == [
        f"error\tthe OSV bucket has no ecosystem 'Nope' ({bucket.facade.url}/Nope/all.zip: 404)"
    ]


def test_a_mirrors_credentials_are_neither_shown_nor_kept(tcs, bucket, state_dir):
    """--source with user:password@ (a mirror behind Basic auth): used to download, then kept and shown as
    ***@ (db status, its JSON, osv.db), and an incremental update still follows from it."""
    host = bucket.facade.url.split("//", 1)[1]
    source = f"--source=http://mirror:MirrorPw123@{host}"
    first = tcs("db", "update", "--ecosystem=Debian", source, f"--state-dir={state_dir}")
    assert first.code == 0, first.err
    again = tcs("db", "update", source, f"--state-dir={state_dir}")
    assert "info\tUpdated OSV ecosystem=Debian how=incremental records=0" in again.messages  # (its cursor kept)
    status = tcs("db", "status", f"--state-dir={state_dir}", "--json")
    assert json.loads(status.out)[0]["origin"] == f"http://***@{host}"
    shown = first.err + again.err + status.out + tcs("db", "status", f"--state-dir={state_dir}").out
    assert "MirrorPw123" not in shown and b"MirrorPw123" not in (state_dir / "osv.db").read_bytes()
    token = tcs("db", "update", "--ecosystem=Nope", f"--source=http://ghp_T0KEN123@{host}", f"--state-dir={state_dir}")
    assert token.code == 2 and "ghp_T0KEN123" not in token.err  # a token as the user part: hidden as well
    assert token.messages == [f"error\tthe OSV bucket has no ecosystem 'Nope' (http://***@{host}/Nope/all.zip: 404)"]


@pytest.mark.parametrize("source", ["file:///srv/osv", "/srv/osv", "http://[::1", "http://mirror:99999/"])
def test_a_source_that_is_no_web_address_is_one_usage_line(tcs, state_dir, source):
    result = tcs("db", "update", "--ecosystem=Debian", f"--source={source}", f"--state-dir={state_dir}")
    assert (result.code, result.messages) == (
        2,
        [
            f"error\t--source {source!r}: use the http(s) URL of the OSV bucket or of a mirror of it (files and "
            "directories: tcs-registry db import PATH)"
        ],
    )


def test_import_archives_files_and_directories_then_status(tcs, tmp_path, state_dir):
    archive = tmp_path / "Debian-all.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name in DEBIAN:
            zipped.write(OSV / f"{name}.json", f"{name}.json")
    result = tcs("db", "import", str(archive), str(OSV / "GHSA-jjg7-2v4v-x38h.json"), f"--state-dir={state_dir}")
    assert (result.code, result.out) == (0, "6 records imported, 0 already up to date, 0 skipped\n")
    again = tcs("db", "import", str(OSV), f"--state-dir={state_dir}")
    assert again.out == "83 records imported, 6 already up to date, 0 skipped\n"
    status = tcs("db", "status", f"--state-dir={state_dir}")
    rows = [line.split()[:2] for line in status.out.splitlines()[2:-2]]
    assert rows == [
        ["Alpine", "3"],
        ["Debian", "5"],
        ["Go", "27"],
        ["Maven", "8"],
        ["NuGet", "1"],
        ["OSS-Fuzz", "2"],
        ["Packagist", "5"],
        ["PyPI", "17"],
        ["RubyGems", "1"],
        ["Ubuntu", "7"],  # 8 records; UBUNTU-CVE-2020-36325 is withdrawn
        ["crates.io", "3"],
        ["npm", "6"],
    ]
    assert status.out.splitlines()[-1] == f"89 records in {state_dir / 'osv.db'} (1 withdrawn, ignored)"


def test_bad_import_and_missing_database_are_one_line(tcs, tmp_path, state_dir):
    missing = tcs("db", "import", str(tmp_path / "nope.zip"), f"--state-dir={state_dir}")
    assert (missing.code, missing.messages) == (2, [f"error\tno such file or directory: '{tmp_path / 'nope.zip'}'"])
    junk = tmp_path / "junk.json"
    junk.write_text("<html>not json</html>")
    bad = tcs("db", "import", str(junk), f"--state-dir={state_dir}")
    assert bad.code == 2
    assert bad.messages == [
        f"warn\tSkipped {junk}: Expecting value: line 1 column 1 (char 0)",
        "error\tnothing was imported: no readable OSV record in the given paths",
    ]
    assert bad.out == "0 records imported, 0 already up to date, 1 skipped\n"  # said once, on standard output
    for empty in (tmp_path / "empty", state_dir):  # no database file; a database of no record
        status = tcs("db", "status", f"--state-dir={empty}")
        assert status.code == 3
        assert status.messages == [
            f"error\tno vulnerability database in '{empty}': run `tcs-registry db update` or `db import`"
        ]
