"""Distribution release files (as the distributions ship them) to the OSV ecosystem the findings use."""

from __future__ import annotations

import pytest

from tcs_registry.analysis.osrelease import detect
from tcs_registry.testing.helpers import inventory
from tcs_registry.testing.images import Entry, tar_layer
from tcs_registry.testing.vulnerable import dpkg

CASES = [
    # (release files, os id, OSV ecosystem, purl distro)
    (
        {
            "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
            "VERSION_CODENAME=bookworm\n"
        },
        "debian",
        "Debian:12",
        "debian-12",
    ),
    # testing and sid: no VERSION_ID; the codename says the release, debian_version only says "trixie/sid"
    (
        {
            "etc/os-release": 'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nID=debian\nVERSION_CODENAME=trixie\n',
            "etc/debian_version": "trixie/sid\n",
        },
        "debian",
        "Debian:13",
        "debian-trixie",
    ),
    # distroless images are Debian underneath
    (
        {
            "etc/os-release": 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\nHOME_URL="https://github.com/GoogleContainerTools/distroless"\n'
        },
        "debian",
        "Debian:12",
        "debian-12",
    ),
    (
        {
            "etc/os-release": 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n',
            "etc/debian_version": "bookworm/sid\n",
        },
        "ubuntu",
        "Ubuntu:22.04:LTS",
        "ubuntu-22.04",
    ),
    ({"etc/os-release": 'NAME="Ubuntu"\nVERSION_ID="23.10"\nID=ubuntu\n'}, "ubuntu", "Ubuntu:23.10", "ubuntu-23.10"),
    # Ubuntu Pro's ESM on (as `pro enable esm-infra` leaves its status file): Pro's advisories are the image's
    (
        {
            "etc/os-release": 'NAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\n',
            "var/lib/ubuntu-advantage/status.json": '{"attached": true, "services": [{"name": "esm-apps", '
            '"status": "disabled"}, {"name": "esm-infra", "status": "enabled"}]}',
        },
        "ubuntu",
        "Ubuntu:Pro:20.04:LTS",
        "ubuntu-20.04",
    ),
    (
        {
            "etc/os-release": 'NAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\n',
            "var/lib/ubuntu-advantage/status.json": '{"services": [{"name": "esm-infra", "status": "disabled"}]}',
        },
        "ubuntu",
        "Ubuntu:20.04:LTS",
        "ubuntu-20.04",
    ),
    (
        {"etc/lsb-release": "DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=20.04\nDISTRIB_CODENAME=focal\n"},
        "ubuntu",
        "Ubuntu:20.04:LTS",
        "ubuntu-20.04",
    ),
    (
        {"etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n'},
        "alpine",
        "Alpine:v3.19",
        "alpine-3.19.1",
    ),
    ({"etc/alpine-release": "3.18.4\n"}, "alpine", "Alpine:v3.18", "alpine-3.18.4"),
    (
        {"etc/os-release": 'ID=wolfi\nNAME="Wolfi"\nPRETTY_NAME="Wolfi"\nVERSION_ID="20230201"\n'},
        "wolfi",
        "Wolfi",
        "wolfi-20230201",
    ),
    (
        {"etc/os-release": 'ID=chainguard\nNAME="Chainguard"\nPRETTY_NAME="Chainguard"\nVERSION_ID="20230214"\n'},
        "chainguard",
        "Chainguard",
        "chainguard-20230214",
    ),
    (
        {
            "etc/os-release": 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nVERSION_ID="9.3"\n'
            'CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"\n'
        },
        "rhel",
        "Red Hat:enterprise_linux:9::baseos",
        "rhel-9.3",
    ),
    (
        {"etc/os-release": 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n'},
        "rocky",
        "Rocky Linux:9",
        "rocky-9.3",
    ),
    (
        {"etc/os-release": 'NAME="AlmaLinux"\nID="almalinux"\nVERSION_ID="9.3"\n'},
        "almalinux",
        "AlmaLinux:9",
        "almalinux-9.3",
    ),
    (
        {"etc/os-release": 'NAME="openSUSE Leap"\nVERSION="15.5"\nID="opensuse-leap"\nVERSION_ID="15.5"\n'},
        "opensuse-leap",
        "openSUSE:Leap 15.5",
        "opensuse-leap-15.5",
    ),
    # SUSE's advisories name the product without "SUSE" in it, and the service pack: VERSION_ID 15.5 is SP5
    # (SUSE-SU records: "SUSE:Linux Enterprise Server 15 SP5", its modules "... Module for Basesystem 15 SP5")
    (
        {
            "etc/os-release": 'NAME="SLES"\nVERSION="15-SP5"\nVERSION_ID="15.5"\n'
            'PRETTY_NAME="SUSE Linux Enterprise Server 15 SP5"\nID="sles"\nID_LIKE="suse"\n'
        },
        "sles",
        "SUSE:Linux Enterprise Server 15 SP5",
        "sles-15.5",
    ),
    (
        {
            "etc/os-release": 'NAME="SLE Micro"\nVERSION_ID="5.5"\nPRETTY_NAME="SUSE Linux Enterprise Micro 5.5"\n'
            'ID="sle-micro"\n'
        },
        "sle-micro",
        "SUSE:Linux Enterprise Micro 5.5",
        "sle-micro-5.5",
    ),
    (
        {"etc/os-release": 'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nVERSION_ID="20240901"\n'},
        "opensuse-tumbleweed",
        "openSUSE:Tumbleweed",
        "opensuse-tumbleweed-20240901",
    ),
    # CBL-Mariner 2.0's advisories are Azure Linux's (AZL-10003: "Azure Linux:2"), by major release
    (
        {"etc/os-release": 'NAME="Common Base Linux Mariner"\nVERSION="2.0.20240123"\nID=mariner\nVERSION_ID="2.0"\n'},
        "mariner",
        "Azure Linux:2",
        "mariner-2.0",
    ),
    (
        {"etc/os-release": 'NAME="Microsoft Azure Linux"\nVERSION="3.0.20240824"\nID=azurelinux\nVERSION_ID="3.0"\n'},
        "azurelinux",
        "Azure Linux:3",
        "azurelinux-3.0",
    ),
    # openEuler's LTS stream is in its name (OESA records: "openEuler:24.03-LTS", "openEuler:22.03-LTS-SP3")
    (
        {
            "etc/os-release": 'NAME="openEuler"\nVERSION="22.03 (LTS-SP3)"\nID="openEuler"\nVERSION_ID="22.03"\n'
            'PRETTY_NAME="openEuler 22.03 (LTS-SP3)"\n'
        },
        "openEuler",
        "openEuler:22.03-LTS-SP3",
        "openEuler-22.03",
    ),
    # Amazon Linux: detected, but OSV publishes no Amazon Linux ecosystem
    (
        {"etc/os-release": 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'},
        "amzn",
        "",
        "amzn-2023",
    ),
    # old CentOS without os-release
    ({"etc/redhat-release": "CentOS release 6.10 (Final)\n"}, "centos", "", "centos-6.10"),
]


@pytest.mark.parametrize(("files", "os_id", "ecosystem", "distro"), CASES, ids=[c[2] or c[1] for c in CASES])
def test_release_files_name_the_osv_ecosystem(files, os_id, ecosystem, distro):
    found = detect(files)
    assert found is not None
    assert (found.id, found.ecosystem, found.purl_distro) == (os_id, ecosystem, distro)


def test_no_release_file_means_no_distribution():
    assert detect({}) is None
    assert detect({"etc/os-release": "# nothing here\n"}) is None


def test_ubuntu_pro_s_status_file_is_read_from_the_image(tcs, fresh_registry, pusher, out_dir):
    status = b'{"services": [{"name": "esm-infra", "status": "enabled"}]}'
    layer = tar_layer([
        Entry("etc/os-release", b'NAME="Ubuntu"\nVERSION_ID="20.04"\nID=ubuntu\n'),
        Entry("var/lib/ubuntu-advantage/status.json", status),
        dpkg(("libc6", "glibc", "2.31-0ubuntu9.16")),
    ])  # fmt: skip
    pusher.image("pro", "20.04", created="2024-01-01T00:00:00Z", layers=[layer])
    assert tcs("registry", fresh_registry.url, "--format=json").code == 0
    document = inventory(out_dir, fresh_registry.host, "pro", "20.04")
    assert (document["ecosystem"], [p["ecosystem"] for p in document["packages"]]) == (
        "Ubuntu:Pro:20.04:LTS",
        ["Ubuntu:Pro:20.04:LTS"],
    )
