"""Real package databases (tests/fixtures/pkgdb, sources in tests/fixtures/SOURCES.md) placed where their
distribution keeps them, in images pushed to the real CNCF registry, then scanned: the inventory must be
exactly the golden list that came with each database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcs_registry.analysis.parsers import dpkg
from tcs_registry.testing.helpers import inventory, package_rows
from tcs_registry.testing.images import Entry, Pusher, tar_layer
from tcs_registry.testing.registry import RegistryServer

PKGDB = Path(__file__).parent / "fixtures" / "pkgdb"

OS_RELEASE = {
    "debian12": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
    "ubuntu1804": 'NAME="Ubuntu"\nVERSION="18.04.6 LTS (Bionic Beaver)"\nID=ubuntu\nID_LIKE=debian\n'
    'PRETTY_NAME="Ubuntu 18.04.6 LTS"\nVERSION_ID="18.04"\nVERSION_CODENAME=bionic\n',
    "distroless": 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="11"\n'
    'VERSION="Debian GNU/Linux 11 (bullseye)"\n',
    "alpine318": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.0\nPRETTY_NAME="Alpine Linux v3.18"\n',
    "fedora32": 'NAME=Fedora\nVERSION="32 (Container Image)"\nID=fedora\nVERSION_ID=32\n'
    'PRETTY_NAME="Fedora 32 (Container Image)"\nCPE_NAME="cpe:/o:fedoraproject:fedora:32"\n',
    "rhel8": 'NAME="Red Hat Enterprise Linux"\nVERSION="8.8 (Ootpa)"\nID="rhel"\nVERSION_ID="8.8"\n'
    'PRETTY_NAME="Red Hat Enterprise Linux 8.8 (Ootpa)"\nCPE_NAME="cpe:/o:redhat:enterprise_linux:8::baseos"\n',
    "sles153": 'NAME="SLES"\nVERSION="15-SP3"\nVERSION_ID="15.3"\nPRETTY_NAME="SUSE Linux Enterprise Server 15 SP3"\n'
    'ID="sles"\nCPE_NAME="cpe:/o:suse:sles:15:sp3"\n',
    "mariner2": 'NAME="Common Base Linux Mariner"\nVERSION="2.0.20220226"\nID=mariner\nVERSION_ID=2.0\n'
    'PRETTY_NAME="CBL-Mariner/Linux"\n',
}


def _file(name: str, fixture: str) -> Entry:
    return Entry(name, (PKGDB / fixture).read_bytes())


# repository -> (layer entries, expected ecosystem)
IMAGES: dict[str, tuple[list[Entry], str]] = {
    "debian12": (
        # etc/os-release is a symlink, as in Debian's own images
        [
            Entry("usr/lib/os-release", OS_RELEASE["debian12"].encode()),
            Entry("etc/os-release", symlink="../usr/lib/os-release"),
            _file("var/lib/dpkg/status", "dpkg-status-debian12"),
        ],
        "Debian:12",
    ),
    "ubuntu1804": (
        [
            Entry("etc/os-release", OS_RELEASE["ubuntu1804"].encode()),
            _file("var/lib/dpkg/status", "dpkg-status-ubuntu18.04"),
        ],
        "Ubuntu:18.04:LTS",
    ),
    "distroless": (
        [Entry("etc/os-release", OS_RELEASE["distroless"].encode())]
        + [
            _file(f"var/lib/dpkg/status.d/{p.name}", f"dpkg-status.d-distroless/{p.name}")
            for p in sorted((PKGDB / "dpkg-status.d-distroless").iterdir())
        ],
        "Debian:11",
    ),
    "alpine318": (
        [
            Entry("etc/os-release", OS_RELEASE["alpine318"].encode()),
            _file("lib/apk/db/installed", "apk-installed-alpine-3.18"),
        ],
        "Alpine:v3.18",
    ),
    # no os-release at all: the release comes from etc/alpine-release
    "alpine34": (
        [Entry("etc/alpine-release", b"3.4.6\n"), _file("lib/apk/db/installed", "apk-installed-alpine-3.4")],
        "Alpine:v3.4",
    ),
    "fedora32": (
        [
            Entry("etc/os-release", OS_RELEASE["fedora32"].encode()),
            _file("var/lib/rpm/Packages", "rpm-Packages-bdb-fedora32-hello-epoch"),
        ],
        "",
    ),
    # var/lib/rpm is a symlink to the merged-usr location, as on newer RHEL-family images
    "rhel8": (
        [
            Entry("etc/os-release", OS_RELEASE["rhel8"].encode()),
            Entry("var/lib/rpm", symlink="../../usr/lib/sysimage/rpm"),
            _file("usr/lib/sysimage/rpm/Packages", "rpm-Packages-bdb-rhel8-libuuid"),
        ],
        "Red Hat:enterprise_linux:8::baseos",
    ),
    "sles153": (
        [
            Entry("etc/os-release", OS_RELEASE["sles153"].encode()),
            _file("usr/lib/sysimage/rpm/Packages.db", "rpm-Packages.db-ndb-sles15.3"),
        ],
        "SUSE:Linux Enterprise Server 15 SP3",
    ),
    "mariner2": (
        [
            Entry("etc/os-release", OS_RELEASE["mariner2"].encode()),
            _file("var/lib/rpm/rpmdb.sqlite", "rpmdb.sqlite-cbl-mariner-2.0"),
        ],
        "Azure Linux:2",
    ),
}


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """One scan of a registry holding every fixture image; yields (host, output directory)."""
    from tcs_registry.cli import main

    work = tmp_path_factory.mktemp("pkgdb")
    with RegistryServer(work / "storage", work) as server:
        pusher = Pusher(server.url)
        for repository, (entries, _) in IMAGES.items():
            pusher.image(f"pkgdb/{repository}", "1", created="2024-05-01T00:00:00Z", layers=[tar_layer(entries)])
        code = main(
            [
                "registry",
                server.url,
                f"--state-dir={work / 'state'}",
                f"--output-dir={work / 'out'}",
                "--format=json,cyclonedx",
                "-q",
            ]
        )
        assert code == 0
        yield server.host, work / "out"


def _golden(fixture: str) -> list[dict]:
    return json.loads((PKGDB / f"{fixture}.expected.json").read_text())["packages"]


def _scanned(scanned, repository: str) -> dict:
    host, out = scanned
    document = inventory(out, host, f"pkgdb/{repository}", "1")
    assert document["ecosystem"] == IMAGES[repository][1]
    return document


@pytest.mark.parametrize(
    ("repository", "fixture"),
    [("debian12", "dpkg-status-debian12"), ("ubuntu1804", "dpkg-status-ubuntu18.04")],
)
def test_dpkg_status_is_listed_exactly_with_source_packages(scanned, repository, fixture):
    document = _scanned(scanned, repository)
    expected = sorted(
        (p["name"], p["version"], p["source_name"] or p["name"], p["source_version"] or p["version"], p["arch"])
        for p in _golden(fixture)
    )
    assert package_rows(document, "name", "version", "source_name", "source_version", "arch") == expected


def test_dpkg_purls_carry_distro_arch_and_upstream(scanned):
    document = _scanned(scanned, "debian12")
    purls = {p["name"]: p["purl"] for p in document["packages"]}
    assert purls["util-linux-extra"] == (
        "pkg:deb/debian/util-linux-extra@2.38.1-5%2Bb1?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5"
    )
    assert purls["attr"] == "pkg:deb/debian/attr@1:2.5.1-4?arch=amd64&distro=debian-12"
    assert {p["location"] for p in document["packages"]} == {"var/lib/dpkg/status"}


def test_ubuntu_skips_packages_that_are_not_installed(scanned):
    names = [p["name"] for p in _scanned(scanned, "ubuntu1804")["packages"]]
    assert len(names) == 90
    assert "git" not in names  # Status: deinstall ok config-files


def test_dpkg_lists_every_package_whose_files_are_on_disk():
    """A package unpacked but not configured (its postinst failed, hidden by `|| true`; `dpkg --unpack`), or
    whose triggers wait, ships its files all the same: listed, as Trivy and Syft list it. Only config files
    left, or nothing: not listed."""
    states = ["install ok installed", "install ok unpacked", "install ok half-configured",
              "install ok triggers-pending", "install ok triggers-awaited", "install reinstreq half-installed",
              "deinstall ok installed", "deinstall ok config-files", "purge ok not-installed",
              "install ok"]  # fmt: skip
    status = "\n".join(f"Package: p{n}\nStatus: {state}\nVersion: 1.0-{n}\n" for n, state in enumerate(states))
    assert [p["name"] for p in dpkg.parse_status(status.encode())] == ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]


def test_distroless_status_d_has_no_status_field_and_md5sums_are_not_packages(scanned):
    document = _scanned(scanned, "distroless")
    assert package_rows(document, "name", "version") == sorted(
        (p["name"], p["version"]) for p in _golden("dpkg-status.d-distroless")
    )
    sqlite = next(p for p in document["packages"] if p["name"] == "libsqlite3-0")
    assert (sqlite["source_name"], sqlite["source_version"], sqlite["arch"]) == ("sqlite3", "3.34.1-3", "arm64")
    assert sqlite["location"] == "var/lib/dpkg/status.d/libsqlite3-0"


@pytest.mark.parametrize(
    ("repository", "fixture"), [("alpine318", "apk-installed-alpine-3.18"), ("alpine34", "apk-installed-alpine-3.4")]
)
def test_apk_installed_is_listed_exactly_with_origins(scanned, repository, fixture):
    document = _scanned(scanned, repository)
    expected = sorted((p["name"], p["version"], p["origin"], p["arch"]) for p in _golden(fixture))
    assert package_rows(document, "name", "version", "source_name", "arch") == expected


def test_apk_purl(scanned):
    purls = {p["name"]: p["purl"] for p in _scanned(scanned, "alpine318")["packages"]}
    assert purls["musl-utils"] == "pkg:apk/alpine/musl-utils@1.2.4-r0?arch=x86_64&distro=alpine-3.18.0&upstream=musl"


@pytest.mark.parametrize(
    ("repository", "fixture"),
    [
        ("fedora32", "rpm-Packages-bdb-fedora32-hello-epoch"),
        ("rhel8", "rpm-Packages-bdb-rhel8-libuuid"),
        ("sles153", "rpm-Packages.db-ndb-sles15.3"),
    ],
)
def test_rpm_databases_berkeley_and_ndb_are_listed_exactly(scanned, repository, fixture):
    document = _scanned(scanned, repository)
    expected = sorted(
        (
            p["name"],
            p["evr"],
            p.get("epoch") or "",
            p["arch"],
            p["source_rpm"].removesuffix(".src.rpm").rsplit("-", 2)[0],
        )
        for p in _golden(fixture)
    )
    assert package_rows(document, "name", "version", "epoch", "arch", "source_name") == expected


def test_rpm_epoch_goes_to_the_purl_qualifier(scanned):
    (hello,) = _scanned(scanned, "fedora32")["packages"]
    assert hello["version"] == "1:0.0.1-rls"
    assert hello["purl"] == "pkg:rpm/fedora/hello@0.0.1-rls?arch=x86_64&distro=fedora-32&epoch=1"


def test_rpm_sqlite_database(scanned):
    """The golden names one package (curl); the database holds 129 header rows (counted with sqlite3)."""
    document = _scanned(scanned, "mariner2")
    (golden,) = _golden("rpmdb.sqlite-cbl-mariner-2.0")
    curl = [p for p in document["packages"] if p["name"] == "curl"]
    assert [(p["version"], p["arch"], p["source_name"], p["license"]) for p in curl] == [
        (golden["evr"], golden["arch"], "curl", golden["license"])
    ]
    assert len(document["packages"]) == 129


def test_every_sbom_is_valid_cyclonedx(scanned):
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    host, out = scanned
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    sboms = sorted(out.glob("*-scan/pkgdb/*/*.cdx.json"))
    assert len(sboms) == len(IMAGES)
    for path in sboms:
        assert validator.validate_str(path.read_text()) is None, path.name
    bom = json.loads(
        (out / f"{host.replace('.', '-').replace(':', '-')}-scan" / "pkgdb/debian12/1.cdx.json").read_text()
    )
    purls = sorted(c["purl"] for c in bom["components"] if c["type"] == "library")
    assert purls == sorted(p["purl"] for p in _scanned(scanned, "debian12")["packages"])


def test_an_rpm_built_for_a_module_stream_says_which():
    from tcs_registry.analysis.parsers import rpm

    tags = {rpm.NAME: "nodejs", rpm.VERSION: "18.20.4", rpm.RELEASE: "1.module+el9.4.0+21744+a3d9a7b8",
            rpm.EPOCH: [1], rpm.SOURCERPM: "nodejs-18.20.4-1.module+el9.4.0+21744+a3d9a7b8.src.rpm",
            rpm.MODULARITYLABEL: "nodejs:18:9040020240614121305:rhel9"}  # fmt: skip
    found = rpm.package(tags)
    assert (found["version"], found["module"]) == ("1:18.20.4-1.module+el9.4.0+21744+a3d9a7b8", "nodejs:18")
    assert "module" not in rpm.package({**tags, rpm.MODULARITYLABEL: ""})
